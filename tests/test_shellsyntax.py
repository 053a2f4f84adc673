"""Templated values in shell commands, end to end: `fireline validate` refuses a template the shell would
parse again (with its file:line:col and the fix), `fireline run` refuses it before any step runs, and
every value that is allowed reaches /bin/sh byte for byte — for shell.run steps and game-day probes."""

from __future__ import annotations

import atexit
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.gameday.probes import run_check
from runner.secrets import Redactor
from runner.testing import StaticConnections
from tests.conftest import Cli, write

CliRunner = Callable[..., Cli]
HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: quoting, title: Quoting}\n"
MARKER = Path(tempfile.mkdtemp(prefix="fireline-injection-")) / "pwned"  # what an injected command would create
atexit.register(shutil.rmtree, MARKER.parent, True)

# Each quoted form, as an SRE would write it; written as YAML source (line 12 of the runbook).
QUOTED_FORMS = [
    ("echo '{{ inputs.val }}'", "inside single quotes", "write: echo {{ inputs.val }}"),
    ('echo \\"{{ inputs.val }}\\"', "inside double quotes", "write: echo {{ inputs.val }}"),
    (
        'grep \\"error: {{ inputs.val }} failed\\" /etc/hostname',
        "inside double quotes",
        'write: grep "error: "{{ inputs.val }}" failed" /etc/hostname',
    ),
    ("echo `echo {{ inputs.val }}`", "inside a `…` command substitution", 'use "$v" there'),
    ("echo $(echo {{ inputs.val }})", "inside a $(…) command substitution", 'use "$v" there'),
    ("echo $(( {{ inputs.val }} + 1 ))", "inside an arithmetic expression", "compute in the template"),
    ("echo ${X:-{{ inputs.val }}}", "inside a ${…} parameter expansion", 'use "$v" there'),
    ("[[ -n {{ inputs.val }} ]]", "inside a [[ … ]] conditional", "use [ … ] (test)"),
    ("true # {{ inputs.val }}", "inside a comment", "take the template out of the comment"),
    ("echo \\\\{{ inputs.val }}", "right after a backslash", "remove the backslash"),
    ("eval echo {{ inputs.val }}", "inside an argument of eval, let or trap", "never to eval, let or trap"),
]


def _runbook(tmp_path: Path, command_yaml: str) -> Path:
    """Step `first` would leave a trace; step `quoted` carries the command under test (line 12)."""
    trace = tmp_path / "first-ran"
    return write(
        tmp_path / "rb.yaml",
        HEADER
        + f"""\
inputs:
  val: {{type: string, default: x}}
steps:
  - id: first
    action: shell.run
    with: {{argv: [touch, "{trace}"]}}
  - id: quoted
    action: shell.run
    with: {{command: "{command_yaml}"}}
""",
    )


@pytest.mark.parametrize(("command", "where", "fix"), QUOTED_FORMS)
def test_validate_refuses_a_template_the_shell_would_parse_again(
    tmp_path: Path, cli: CliRunner, command: str, where: str, fix: str
) -> None:
    path = _runbook(tmp_path, command)
    result = cli("validate", str(path))
    assert result.code == 1
    col = len('    with: {command: "') + command.index("{{") + 1
    assert f"rb.yaml:12:{col}: steps[quoted].with.command: {{{{ inputs.val }}}} is {where}" in result.out
    assert fix in result.out


@pytest.mark.parametrize(("command", "where", "fix"), QUOTED_FORMS[:3])
def test_run_refuses_before_any_step(
    tmp_path: Path, cli: CliRunner, fireline_home: Path, command: str, where: str, fix: str
) -> None:
    path = _runbook(tmp_path, command)
    result = cli("run", str(path), "-i", f"val=x'; touch {MARKER}; '", "--approve-all", "--reason", "test")
    assert result.code == 1
    assert where in result.out + result.err
    assert not (tmp_path / "first-ran").exists() and not MARKER.exists()
    assert not _events(fireline_home, "step.started")


def test_heredoc_and_multiline_commands_point_at_the_line(tmp_path: Path, cli: CliRunner) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
inputs:
  val: {type: string, default: x}
steps:
  - id: notes
    action: shell.run
    with:
      command: |
        cat <<EOF > /dev/null
        incident note: {{ inputs.val }}
        EOF
        printf '%s\\n' {{ inputs.val }} | wc -c
""",
    )
    result = cli("validate", str(path))
    assert result.code == 1
    assert result.out.count("steps[notes].with.command") == 1  # the piped value after the here-document is fine
    assert "rb.yaml:12:24: steps[notes].with.command: {{ inputs.val }} is inside a here-document" in result.out
    assert "pipe it instead: printf '%s\\n' {{ inputs.val }} | …" in result.out


def test_verify_rollback_and_game_day_probes_are_checked_too(tmp_path: Path, cli: CliRunner) -> None:
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
steps:
  - id: count
    action: shell.run
    with: {argv: [echo, "3"]}
    verify: {action: shell.run, with: {command: "test '{{ result.stdout }}' != 0"}}
    rollback: {action: shell.run, with: {command: "echo \\"{{ result.stdout }}\\""}}
""",
    )
    result = cli("validate", str(path))
    assert result.code == 1
    assert "steps[count].verify.with.command: {{ result.stdout }} is inside single quotes" in result.out
    assert "steps[count].rollback.with.command: {{ result.stdout }} is inside double quotes" in result.out
    scenario = write(
        tmp_path / "gd.yaml",
        """\
apiVersion: fireline/v1
kind: GameDay
metadata: {name: quoted-probe, title: t, hypothesis: h}
steady_state:
  interval: 1s
  probes:
    - id: page
      probe: shell.run
      with: {command: "grep -q '{{ gameday.name }}' /etc/hostname"}
connections:
  box: {type: ssh, hosts: [127.0.0.1]}
faults:
  - id: mark
    action: ssh.run
    with: {connection: box, command: "logger \\"game day {{ gameday.id }}\\""}
    revert: {command: "true"}
""",
    )
    result = cli("validate", str(scenario))
    assert "gd.yaml:9:33: steady_state.probes[page].with.command: {{ gameday.name }} is inside single quotes" in (
        result.out
    )
    assert "gd.yaml:15:57: faults[mark].with.command: {{ gameday.id }} is inside double quotes" in result.out


# --- byte for byte through the whole run ------------------------------------------------------------------

_PIECES = [
    *"'\"`)\\\n;|*~# \r\t",  # one character each
    *["$(", "&&", "-n", "--", "$HOME", "é", "日本"],
    *[f"$(touch {MARKER})", f"`touch {MARKER}`", f"'; touch {MARKER}; '"],
]
values = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5),
    ),
    min_size=1,
    max_size=5,
).map("".join)

PRINTF_RUNBOOK = (
    HEADER
    + """\
inputs:
  val: {type: string}
  out: {type: string}
steps:
  - id: write
    action: shell.run
    with: {command: "printf %s {{ inputs.val }} > {{ inputs.out }}"}
  - id: echo-it
    action: shell.run
    with: {command: "printf '%s|' {{ steps.write.outputs.got }} x{{ steps.write.outputs.got }} >> {{ inputs.out }}"}
"""
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_an_input_reaches_the_command_byte_for_byte(tmp_path: Path, cli: CliRunner, value: str) -> None:
    # The value goes in as an input, then comes back as a step output placed in a later command.
    runbook = write(
        tmp_path / "rb.yaml",
        PRINTF_RUNBOOK.replace("  - id: echo-it", '    outputs: {got: "{{ inputs.val }}"}\n  - id: echo-it'),
    )
    out = tmp_path / "out.bin"
    out.unlink(missing_ok=True)
    ran = cli("run", str(runbook), "-i", f"val={value}", "-i", f"out={out}", "--approve-all", "--reason", "t")
    assert ran.code == 0, ran.out + ran.err
    assert out.read_bytes() == f"{value}{value}|x{value}|".encode()
    assert not MARKER.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_a_game_day_probe_gets_the_value_byte_for_byte(tmp_path: Path, value: str) -> None:
    """Shell text is quoted, argv elements are passed as they are (they meet no shell)."""
    out = tmp_path / "probe.bin"
    context = {"gameday": {"val": value, "out": str(out)}}
    probes: list[dict[str, Any]] = [
        {"command": "printf %s {{ gameday.val }} > {{ gameday.out }}"},
        {"argv": ["sh", "-c", 'printf %s "$1" > "$2"', "sh", "{{ gameday.val }}", "{{ gameday.out }}"]},
    ]
    for params in probes:
        out.unlink(missing_ok=True)
        result = run_check("p", "shell.run", params, 10.0, StaticConnections({}), context, Redactor())
        assert result.ok, result.detail
        assert out.read_bytes() == value.encode()
    assert not MARKER.exists()


def test_a_quote_produced_by_a_block_is_refused_at_run_time(
    tmp_path: Path, cli: CliRunner, fireline_home: Path
) -> None:
    """Validation reads both branches of `{% if %}` (two quotes: balanced); the rendered command has one,
    so the value is inside quotes. It is refused after rendering, before the step starts."""
    command = "echo {% if true %}'{% else %}'{% endif %}{{ inputs.val }}'"
    step = f'{{id: sneaky, action: shell.run, with: {{command: "{command}"}}}}'
    runbook = write(tmp_path / "rb.yaml", HEADER + f"inputs:\n  val: {{type: string}}\nsteps:\n  - {step}\n")
    assert cli("validate", str(runbook)).code == 0
    result = cli("run", str(runbook), "-i", f"val=x'; touch {MARKER}; '", "--approve-all", "--reason", "t")
    assert result.code == 1
    assert "{{ inputs.val }} is inside single quotes" in result.out + result.err
    assert not MARKER.exists()
    assert not _events(fireline_home, "step.started")
    assert [d["kind"] for d in _events(fireline_home, "step.failed")] == ["TemplateError"]


# --- NUL and a missing working directory ------------------------------------------------------------------

NUL_RUNBOOK = (
    HEADER
    + """steps:
  - id: produce
    action: shell.run
    read_only: true
    with: {argv: [printf, 'a\\000b']}
    outputs: {v: "{{ result.stdout }}"}
  - id: consume
    action: shell.run
    on_failure: continue
    with: {%s}
"""
)


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ('command: "printf %%s {{ steps.produce.outputs.v }}"', "a templated value contains a NUL byte"),
        ('argv: [printf, "%%s", "{{ steps.produce.outputs.v }}"]', "argv.2: contains a NUL byte"),
    ],
)
def test_a_nul_byte_fails_the_step_before_it_starts(
    tmp_path: Path, cli: CliRunner, fireline_home: Path, params: str, said: str
) -> None:
    runbook = write(tmp_path / "rb.yaml", NUL_RUNBOOK % params)
    result = cli("run", str(runbook), "--approve-all", "--reason", "t", "--output", "plain")
    assert said in result.out + result.err
    assert "Traceback" not in result.out + result.err and result.code != 4
    started = [s for s, _ in _events(fireline_home, "step.started", with_step=True)]
    assert started == ["produce"]  # `consume` never started, so it is not left open
    assert [s for s, _ in _events(fireline_home, "step.failed", with_step=True)] == ["consume"]


def test_a_missing_working_directory_is_named(tmp_path: Path, cli: CliRunner) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    step = f"{{id: cd, action: shell.run, read_only: true, with: {{argv: ['true'], cwd: '{missing}'}}}}"
    runbook = write(tmp_path / "rb.yaml", HEADER + f"steps:\n  - {step}\n")
    result = cli("run", str(runbook), "--output", "plain")
    assert result.code == 1
    assert f"the working directory {missing} does not exist" in result.out + result.err
    assert "cannot start 'true'" not in result.out + result.err


def _events(home: Path, kind: str, *, with_step: bool = False) -> list[Any]:
    if not (home / "journal.db").exists():
        return []
    with sqlite3.connect(home / "journal.db") as db:
        rows = db.execute("SELECT step_id, data FROM events WHERE type = ? ORDER BY seq", (kind,)).fetchall()
    return [(step, json.loads(data)) if with_step else json.loads(data) for step, data in rows]


def test_a_nul_byte_written_in_the_runbook_is_a_validation_error(tmp_path: Path, cli: CliRunner) -> None:
    runbook = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
connections:
  box: {type: ssh, hosts: [127.0.0.1]}
steps:
  - {id: local, action: shell.run, with: {argv: [printf, "a\\0b"]}}
  - {id: remote, action: ssh.run, with: {connection: box, command: "echo \\0"}}
""",
    )
    result = cli("validate", str(runbook))
    assert result.code == 1
    assert "rb.yaml:7:58: steps[local].with.argv[1]: contains a NUL byte, which no command line can carry" in result.out
    assert "steps[remote].with.command: contains a NUL byte" in result.out
