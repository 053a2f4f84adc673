"""Templated values in ssh.run commands reach the remote shell (the login shell, bash here) byte for byte,
through the whole CLI and a real OpenSSH server; a template inside the author's quotes is refused."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cli, write
from tests.servers.sshd import SshFleet, start_sshd

CliRunner = Callable[..., Cli]
WORKDIR = Path(tempfile.mkdtemp(prefix="fireline-ssh-quoting-"))
MARKER = WORKDIR / "pwned"

_PIECES = [
    *"'\"`)\\\n;|*~# !",  # one character each
    *["$(", "&&", "-n", "$HOME", "é", "日本", "$'\\x41'"],
    *[f"$(touch {MARKER})", f"`touch {MARKER}`", f"'; touch {MARKER}; '"],
]
values = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=4),
    ),
    min_size=1,
    max_size=4,
).map("".join)


@pytest.fixture(scope="module")
def fleet() -> Iterator[SshFleet]:
    with start_sshd(WORKDIR / "sshd", count=1) as running:
        yield running
    shutil.rmtree(WORKDIR, ignore_errors=True)


def _runbook(tmp_path: Path, fleet: SshFleet, command: str) -> Path:
    host, port = fleet.hosts[0]
    return write(
        tmp_path / "rb.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: ssh-quoting, title: ssh quoting}}
inputs:
  val: {{type: string}}
  out: {{type: string}}
connections:
  box:
    type: ssh
    hosts: ["{fleet.user}@{host}:{port}"]
    key_file: "{fleet.client_key_path}"
    known_hosts: "{fleet.known_hosts_path}"
steps:
  - id: remote
    action: ssh.run
    with: {{connection: box, command: "{command}"}}
""",
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_a_value_reaches_the_remote_command_byte_for_byte(
    tmp_path: Path, cli: CliRunner, fleet: SshFleet, value: str
) -> None:
    runbook = _runbook(tmp_path, fleet, "printf '%s|' {{ inputs.val }} x{{ inputs.val }} > {{ inputs.out }}")
    out = tmp_path / "remote.bin"
    out.unlink(missing_ok=True)
    ran = cli("run", str(runbook), "-i", f"val={value}", "-i", f"out={out}", "--approve-all", "--reason", "t")
    assert ran.code == 0, ran.out + ran.err
    assert out.read_bytes() == f"{value}|x{value}|".encode()
    assert not MARKER.exists()


def test_a_quoted_template_is_refused_before_anything_runs_remotely(
    tmp_path: Path, cli: CliRunner, fleet: SshFleet
) -> None:
    runbook = _runbook(tmp_path, fleet, 'echo \\"{{ inputs.val }}\\" > {{ inputs.out }}')
    checked = cli("validate", str(runbook))
    assert checked.code == 1
    assert "steps[remote].with.command: {{ inputs.val }} is inside double quotes" in checked.out
    assert "write: echo {{ inputs.val }} > {{ inputs.out }}" in checked.out
    out = tmp_path / "remote.txt"
    ran = cli(
        "run", str(runbook), "-i", f'val=x"; touch {MARKER}; "', "-i", f"out={out}", "--approve-all", "--reason", "t"
    )
    assert ran.code == 1
    assert not out.exists() and not MARKER.exists()


GAMEDAY = """\
apiVersion: fireline/v1
kind: GameDay
metadata: {{name: ssh-fault-quoting, title: ssh fault quoting, hypothesis: the value arrives intact}}
inputs:
  val: {{type: string}}
  out: {{type: string}}
connections:
  box:
    type: ssh
    hosts: ["{address}"]
    key_file: "{key}"
    known_hosts: "{known_hosts}"
steady_state:
  interval: 200ms
  probes:
    - {{id: up, probe: shell.run, with: {{argv: ["true"]}}}}
faults:
  - id: write
    action: ssh.run
    with: {{connection: box, command: "printf %s {{{{ inputs.val }}}} > {{{{ inputs.out }}}}"}}
    revert: {{command: "true"}}
detection:
  - steady_state_violated: true
response:
  mode: manual
  timeout: 1s
"""


def test_a_game_day_ssh_fault_gets_the_value_byte_for_byte(tmp_path: Path, cli: CliRunner, fleet: SshFleet) -> None:
    """A fault's shell text is quoted like a step's (it was passed unquoted)."""
    host, port = fleet.hosts[0]
    scenario = write(
        tmp_path / "gd.yaml",
        GAMEDAY.format(
            address=f"{fleet.user}@{host}:{port}", key=fleet.client_key_path, known_hosts=fleet.known_hosts_path
        ),
    )
    value = f"x'\"; touch {MARKER}; echo $(touch {MARKER}) `touch {MARKER}`\n*"
    out = tmp_path / "fault.bin"
    ran = cli("gameday", "run", str(scenario), "-i", f"val={value}", "-i", f"out={out}")
    assert "fault write reverted" in ran.out and ran.code == 1, ran.out + ran.err  # FAILED: never detected
    assert out.read_bytes() == value.encode()
    assert not MARKER.exists()
