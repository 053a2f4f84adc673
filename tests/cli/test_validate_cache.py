"""`fireline validate` answers a file that did not change, with all its check read, from the user's cache:
the same report, byte for byte, without loading YAML or the checkers. Any change to the file, to a file its
check read (a policy, a scenario's runbook) or to a variable it read, makes it check again; a damaged, foreign
or unwritable cache is never trusted and never fatal. Real processes, each with its own cache directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# As the console script starts it (run_main: the command has the process to itself); on exit, the names of
# the modules loaded go to $PROBE_OUT.
_PROBE = (
    "import atexit, os, sys\n"
    "atexit.register(lambda: open(os.environ['PROBE_OUT'], 'w').write('\\n'.join(sorted(sys.modules))))\n"
    "from runner.cli import run_main\n"
    "run_main()\n"
)
CHECKERS = ("yaml", "runner.document.runbook", "runner.document.documents")

VALID = REPO / "runbooks" / "db-connection-exhaustion.yaml"
INVALID = (
    "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: broken, title: Broken}\n"
    "steps:\n"
    "  - id: wait\n    action: control.sleep\n    with: {duration: soon}\n"
    "  - id: run\n    action: shell.rnu\n    with: {argv: ['true']}\n"
)
WITH_WARNING = (  # a loop only a failure can leave: valid, with a warning
    "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: loop, title: Loop}\n"
    "steps:\n"
    "  - id: poll\n    action: control.sleep\n    with: {duration: 1ms}\n"
    "  - id: again\n    action: control.sleep\n    with: {duration: 1ms}\n    next: poll\n"
)
APPROVALS = (  # valid only where a policy's group `sre` has two members
    "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: approvals, title: Approvals}\n"
    "steps:\n"
    "  - id: restart\n    action: control.manual\n    with: {instructions: restart it}\n"
    "    approval: {required: true, approvers: [sre], min_approvers: 2}\n"
)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    loaded: frozenset[str]

    @property
    def report(self) -> tuple[int, str, str]:
        return self.code, self.out, self.err

    @property
    def checked(self) -> bool:
        """Whether this run checked a file (loaded the checkers) rather than answering from the cache."""
        return bool(self.loaded & set(CHECKERS))


def validate(tmp_path: Path, *args: str, **env: str) -> Run:
    probe_out = tmp_path / "probe.out"
    base = {k: v for k, v in os.environ.items() if k not in ("FIRELINE_POLICY", "FIRELINE_NO_CACHE")}
    base.update(XDG_CACHE_HOME=str(tmp_path / "cache"), FIRELINE_HOME=str(tmp_path / "home"),
                PROBE_OUT=str(probe_out))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _PROBE, "validate", *args], capture_output=True, text=True,
                          env={**base, **env}, cwd=tmp_path, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    loaded = frozenset(probe_out.read_text(encoding="utf-8").split())
    return Run(done.returncode, done.stdout, done.stderr, loaded)


def twice(tmp_path: Path, *args: str, **env: str) -> tuple[Run, Run]:
    return validate(tmp_path, *args, **env), validate(tmp_path, *args, **env)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rewrite_keeping_size_and_time(path: Path, old: str, new: str) -> None:
    """An edit a size-and-modification-time check cannot see."""
    assert len(old) == len(new)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "fireline" / "results").glob("*.json"))


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
@pytest.mark.parametrize("document", ["valid", "invalid", "warning"])
def test_a_second_validate_prints_what_the_first_did_without_loading_the_checkers(
    tmp_path: Path, fmt: str, document: str
) -> None:
    path = {"valid": str(VALID), "invalid": str(write(tmp_path / "broken.yaml", INVALID)),
            "warning": "loop.yaml"}[document]  # fmt: skip
    write(tmp_path / "loop.yaml", WITH_WARNING)
    first, second = twice(tmp_path, path, "--format", fmt)
    assert first.code == (1 if document == "invalid" else 0), first.err
    assert first.checked
    assert not second.checked, sorted(second.loaded & set(CHECKERS))
    assert second.report == first.report
    if document == "invalid":
        report = first.out + first.err
        assert "expected a duration" in report and "shell.rnu" in report
    if document == "warning":
        # Machine formats keep stdout to their own document: the warning goes to stderr there.
        assert "warning: steps poll -> again -> poll form a loop" in (first.out if fmt == "text" else first.err)
    if fmt == "json":
        assert json.loads(second.out)["valid"] is (document != "invalid")


def test_several_files_come_back_in_order_from_the_cache(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", INVALID)
    write(tmp_path / "loop.yaml", WITH_WARNING)
    args = (str(VALID), str(broken), "loop.yaml")
    first, second = twice(tmp_path, *args)
    assert first.code == 1 and "3 file(s) checked: 1 invalid" in first.out
    assert not second.checked
    assert second.report == first.report
    assert len(entries(tmp_path)) == 3


def test_an_edit_that_keeps_the_size_and_time_is_checked_again(tmp_path: Path) -> None:
    runbook = tmp_path / "runbook.yaml"
    shutil.copy(VALID, runbook)
    first = validate(tmp_path, "runbook.yaml")
    assert first.code == 0
    rewrite_keeping_size_and_time(runbook, "action: control.assert", "action: control.assort")
    edited = validate(tmp_path, "runbook.yaml")
    assert edited.checked
    assert edited.code == 1 and "control.assort" in edited.out, edited.out
    again = validate(tmp_path, "runbook.yaml")
    assert not again.checked and again.report == edited.report


def test_a_file_given_under_another_name_is_checked_again(tmp_path: Path) -> None:
    """The name is in every line of the report: ./broken.yaml is not broken.yaml."""
    write(tmp_path / "broken.yaml", INVALID)
    validate(tmp_path, "broken.yaml")
    other = validate(tmp_path, str(tmp_path / "broken.yaml"))
    assert other.checked and f"{tmp_path / 'broken.yaml'}:" in other.out


def test_the_policy_the_check_looked_for_is_a_dependency(tmp_path: Path) -> None:
    """Absent when first checked (the current directory's incident-policy.yaml, FIRELINE_POLICY unset), then
    created, then changed, then named by FIRELINE_POLICY: each time the runbook is checked again."""
    write(tmp_path / "approvals.yaml", APPROVALS)
    first, second = twice(tmp_path, "approvals.yaml")
    assert first.code == 1 and "needs 2 approvers but only 1 are allowed" in first.out
    assert not second.checked

    policy = write(tmp_path / "incident-policy.yaml", "apiVersion: fireline/v1\nkind: IncidentPolicy\n"
                                                      "groups: {sre: [alice, bob]}\n")  # fmt: skip
    created = validate(tmp_path, "approvals.yaml")
    assert created.checked and created.code == 0, created.out
    assert not validate(tmp_path, "approvals.yaml").checked

    rewrite_keeping_size_and_time(policy, "[alice, bob]", "[alice]     ")
    changed = validate(tmp_path, "approvals.yaml")
    assert changed.checked and changed.code == 1, changed.out

    elsewhere = write(tmp_path / "team" / "policy.yaml", policy.read_text(encoding="utf-8").replace("]", ", carol]"))
    named = validate(tmp_path, "approvals.yaml", FIRELINE_POLICY=str(elsewhere))
    assert named.checked and named.code == 0, named.out
    assert not validate(tmp_path, "approvals.yaml", FIRELINE_POLICY=str(elsewhere)).checked
    assert validate(tmp_path, "approvals.yaml").code == 1  # without the variable: the local policy again


def _scenario_and_runbook(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped scenario and the runbook it responds with, as they sit in the repository."""
    scenario = tmp_path / "scenarios" / "checkout.yaml"
    runbook = tmp_path / "runbooks" / "db-connection-exhaustion.yaml"
    scenario.parent.mkdir()
    runbook.parent.mkdir()
    shutil.copy(REPO / "scenarios" / "checkout-db-exhaustion.yaml", scenario)
    shutil.copy(VALID, runbook)
    return scenario, runbook


def test_the_runbook_a_scenario_names_is_a_dependency(tmp_path: Path) -> None:
    _, runbook = _scenario_and_runbook(tmp_path)
    first, second = twice(tmp_path, "scenarios/checkout.yaml")
    assert first.code == 0, first.out
    assert not second.checked and second.report == first.report

    rewrite_keeping_size_and_time(runbook, "threshold_pct:", "threshold_pcx:")
    renamed = validate(tmp_path, "scenarios/checkout.yaml")
    assert renamed.checked and renamed.code == 1
    assert "response runbook is invalid" in renamed.out, renamed.out

    runbook.unlink()
    gone = validate(tmp_path, "scenarios/checkout.yaml")
    assert gone.code == 1 and "does not exist" in gone.out


def test_a_scenarios_runbook_checked_in_the_same_command_is_still_its_dependency(tmp_path: Path) -> None:
    """The runbook is checked first, then read again by the scenario's check: the scenario's entry depends
    on it, though entries do not depend on the other files checked alongside."""
    _, runbook = _scenario_and_runbook(tmp_path)
    first, second = twice(tmp_path, "runbooks", "scenarios")
    assert first.code == 0 and "2 file(s) checked: all valid" in first.out, first.out
    assert not second.checked and second.report == first.report

    rewrite_keeping_size_and_time(runbook, "threshold_pct:", "threshold_pcx:")
    changed = validate(tmp_path, "runbooks", "scenarios")
    assert changed.code == 1
    assert "scenarios/checkout.yaml:41:12: response.runbook: response runbook is invalid" in changed.out


def _forge(entry: Path, *, magic: str | None = None, digest: bool = True, mode: int = 0o600) -> None:
    """Rewrite a cached entry to say its file has no problem."""
    head, body = entry.read_text(encoding="utf-8").split("\n", 1)
    data = json.loads(body)
    assert data["problems"]
    data["problems"] = []
    body = json.dumps(data)
    written_magic, written_digest = head.split(" ")
    head = f"{magic or written_magic} {hashlib.sha256(body.encode()).hexdigest() if digest else written_digest}"
    entry.write_text(f"{head}\n{body}", encoding="utf-8")
    entry.chmod(mode)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "not JSON", "digest does not match", "another format", "writable by others"],
)
def test_a_damaged_or_foreign_entry_is_not_trusted(tmp_path: Path, damage: str) -> None:
    write(tmp_path / "broken.yaml", INVALID)
    first = validate(tmp_path, "broken.yaml")
    assert first.code == 1
    [entry] = entries(tmp_path)
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif damage == "not JSON":
        entry.write_bytes(b"\x00\xff" * 64)
    elif damage == "digest does not match":
        _forge(entry, digest=False)
    elif damage == "another format":
        _forge(entry, magic="FLRESULT0")
    else:
        _forge(entry, mode=0o666)
    again = validate(tmp_path, "broken.yaml")
    assert again.checked
    assert again.report == first.report


def test_a_forged_entry_is_what_those_checks_stop(tmp_path: Path) -> None:
    """The same forgery, whole and private to the user, is believed: the refusals above are what stopped it
    (the cache is the user's own, like their shell history)."""
    write(tmp_path / "broken.yaml", INVALID)
    assert validate(tmp_path, "broken.yaml").code == 1
    [entry] = entries(tmp_path)
    _forge(entry)
    believed = validate(tmp_path, "broken.yaml")
    assert not believed.checked and believed.code == 0


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", INVALID)
    not_a_directory = write(tmp_path / "cache-file", "")
    first, second = twice(tmp_path, "broken.yaml", XDG_CACHE_HOME=str(not_a_directory))
    assert first.code == 1 and first.err == ""
    assert second.checked and second.report == first.report


def test_fireline_no_cache_turns_it_off(tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", INVALID)
    first, second = twice(tmp_path, "broken.yaml", FIRELINE_NO_CACHE="1")
    assert second.checked and second.report == first.report
    assert entries(tmp_path) == []
    validate(tmp_path, "broken.yaml")
    assert not validate(tmp_path, "broken.yaml").checked  # on by default


PLUGIN = '''
from runner.actions.base import BaseAction, Outcome


class Echo(BaseAction):
    name = "example.echo"
    params_schema = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}

    def run(self, params, ctx):
        return Outcome({"text": params["message"]}, summary=params["message"], changed=False)
'''


def test_installing_a_plugin_is_a_change_and_its_checks_are_not_kept(tmp_path: Path) -> None:
    """A runbook naming an action no installed distribution provides was checked against the plugins found on
    sys.path: installing one there (a dist-info with the entry point) makes it check again. A check that
    loaded a plugin's module from outside site-packages is not kept (its code is not in the stamp)."""
    site = tmp_path / "plugins"
    site.mkdir()
    write(tmp_path / "echo.yaml", "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: echo, title: Echo}\n"
          "steps:\n  - id: say\n    action: example.echo\n    with: {message: hi}\n")  # fmt: skip
    first, second = twice(tmp_path, "echo.yaml", PYTHONPATH=str(site))
    assert first.code == 1 and "unknown action 'example.echo'" in first.out, first.out
    assert not second.checked and second.report == first.report

    write(site / "fireline_example_echo.py", PLUGIN)
    write(site / "fireline_example_echo-1.0.dist-info" / "METADATA",
          "Metadata-Version: 2.1\nName: fireline-example-echo\nVersion: 1.0\n")  # fmt: skip
    write(site / "fireline_example_echo-1.0.dist-info" / "entry_points.txt",
          "[fireline.actions]\nexample.echo = fireline_example_echo:Echo\n")  # fmt: skip
    installed, again = twice(tmp_path, "echo.yaml", PYTHONPATH=str(site))
    assert installed.checked and installed.code == 0, installed.out
    assert again.checked and again.report == installed.report
