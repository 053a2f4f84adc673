"""The commands typed most (validate one runbook, run and plan a runbook) load only what they use: a module
they do not need costs every start, and a pre-commit hook or an editor validates one file at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "runbooks" / "db-connection-exhaustion.yaml"

# Each loaded only by what needs it: the incident, game-day and post-mortem packages; the policy file's
# checks; HTML escaping (for a secret's encoded forms); difflib (for "did you mean"); rendering libraries;
# the signing machinery (ssh-keygen through subprocess and temporary files: when a signature is made or checked);
# the schema validators' generator (their code comes from the user's cache) and decimal; OpenSSL through
# hashlib (runner.digest hashes); `secrets` and hmac (a random token is os.urandom's).
NOT_ON_THE_PATH = (
    "runner.incident", "runner.gameday", "runner.postmortem", "runner.report", "html", "difflib", "jinja2",
    "rich", "jsonschema", "runner.identity.sshsig", "fastjsonschema", "decimal", "hashlib", "_hashlib",
    "secrets", "hmac",
)  # fmt: skip
NOT_FOR_A_RUNBOOK = ("runner.policy",)
# What a run or plan of a runbook without approval gates does not use: the gate's evaluation and its prompt,
# the signed statements and their audit, the policy file's checks (there is no policy file), the traceback
# of an internal error, `select` (reading a person's answer), `getpass` (the login name: FIRELINE_ACTOR
# names who runs). Neither replays a journal (that is resuming). A run needs no planner; a plan signs
# nothing and holds no lease, and its id's random part comes from os.urandom, not Python's `secrets`.
NOT_WITHOUT_GATES = (
    "runner.engine.approvals", "runner.engine.prompt", "runner.identity.statement", "runner.identity.audit",
    "runner.policy", "runner.engine.resume", "traceback", "select", "getpass",
)  # fmt: skip
NOT_FOR_A_RUN = ("runner.engine.plan",)
NOT_FOR_A_PLAN = ("runner.engine.identities", "runner.identity.trust", "runner.journal.lease")

_PROBE = (
    "import sys\nfrom runner.cli import main\ncode = main(sys.argv[2:])\n"
    "print('LOADED', sorted({w for w in sys.argv[1].split(',') for m in list(sys.modules)"
    " if m == w or m.startswith(w + '.')}))\nsys.exit(code)\n"
)


def _loaded(tmp_path: Path, watched: tuple[str, ...], *args: str) -> str:
    """What the second of two runs loads: the first fills the user's cache (compiled checks, templates)."""
    _start(tmp_path, watched, *args)
    return _start(tmp_path, watched, *args)


def _start(tmp_path: Path, watched: tuple[str, ...], *args: str) -> str:
    # As users run it: the suite's own result checking (FIRELINE_CHECK_RESULTS) loads jsonschema by design.
    # Without an allowed-signers file: no signature is made or checked.
    env = {k: v for k, v in os.environ.items() if k not in ("FIRELINE_CHECK_RESULTS", "FIRELINE_ALLOWED_SIGNERS")}
    env.update(FIRELINE_HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"), FIRELINE_ACTOR="tester")
    done = subprocess.run([sys.executable, "-c", _PROBE, ",".join(watched), *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()[-1]


def _one_step_runbook(tmp_path: Path) -> Path:
    path = tmp_path / "one.yaml"
    path.write_text(
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: one, title: One step}\n"
        "steps:\n  - id: check\n    action: control.assert\n    with: {that: true}\n",
        encoding="utf-8",
    )
    return path


def test_validating_a_runbook_loads_no_module_it_does_not_use(tmp_path: Path) -> None:
    assert _loaded(tmp_path, NOT_ON_THE_PATH + NOT_FOR_A_RUNBOOK, "validate", str(RUNBOOK)) == "LOADED []"


def test_running_and_planning_a_runbook_load_no_module_they_do_not_use(tmp_path: Path) -> None:
    runbook = str(_one_step_runbook(tmp_path))
    assert _loaded(tmp_path, NOT_ON_THE_PATH, "run", runbook, "--output", "json") == "LOADED []"
    assert _loaded(tmp_path, NOT_ON_THE_PATH, "plan", runbook) == "LOADED []"


def test_a_runbook_without_approval_gates_loads_no_approval_machinery(tmp_path: Path) -> None:
    runbook = str(_one_step_runbook(tmp_path))
    assert _loaded(tmp_path, NOT_WITHOUT_GATES + NOT_FOR_A_RUN, "run", runbook, "--output", "json") == "LOADED []"
    assert _loaded(tmp_path, NOT_WITHOUT_GATES + NOT_FOR_A_PLAN, "plan", runbook) == "LOADED []"
