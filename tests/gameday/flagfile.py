"""Cheap real game days for signal tests: a flags.set fault on a flagd file, watched by a grep probe, run as
`python -m runner gameday run` in its own session. No lab: only a file, the journal and the process.

The flags file has one flag per line, so a probe can grep the one it watches and the file can be made
as big as a test needs (a big file makes the revert take long enough for a signal to land in it).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.gameday.conftest import REPO, Ev, GameDayProcess, fireline_argv, game_day_process, journal_events

FLAG = "new-checkout"
ON_LINE = f'"{FLAG}": {{"state": "ENABLED"'  # what the probe greps: the flag is on


def flags_text(filler: int = 0) -> str:
    """A flagd file: `filler` other flags (one line each), then the watched one, then a closing brace."""
    lines = ['{"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {']
    body = [
        f'  "filler-{i:06d}": {{"state": "ENABLED", "variants": {{"on": true, "off": false}}, '
        f'"defaultVariant": "on", "metadata": {{"owner": "team-{i % 97}"}}}},'
        for i in range(filler)
    ]
    body.append(f'  {ON_LINE}, "variants": {{"on": true, "off": false}}, "defaultVariant": "on"}}')
    return "\n".join([*lines, *body, "}}", ""])


def scenario_text(*, duration: str = "1s", interval: str = "100ms", settle: str = "300ms",
                  probe_argv: Sequence[str] | None = None, response: str = "{mode: manual, timeout: 1m}",
                  extra: str = "") -> str:
    """A game day on the flag file given as input `flag_file`; the probe greps the watched flag's line."""
    argv = list(probe_argv) if probe_argv is not None else ["grep", "-qF", ON_LINE, "{{ inputs.flag_file }}"]
    return f"""\
apiVersion: fireline/v1
kind: GameDay
metadata:
  name: test-flagd-signals
  title: The new-checkout flag is switched off for a while
inputs:
  flag_file: {{type: string, required: true}}
connections:
  flags: {{type: flagd, path: "{{{{ inputs.flag_file }}}}"}}
steady_state:
  interval: {interval}
  settle: {settle}
  probes:
    - id: flag-on
      probe: shell.run
      with:
        argv: {json.dumps(argv)}
        timeout: 5s
      timeout: 5s
faults:
  - id: kill-switch
    action: flags.set
    with: {{connection: flags, flag: {FLAG}, enabled: false}}
    duration: {duration}
detection:
  - steady_state_violated: true
response: {response}
guardrails:
  max_duration: 2m
{extra}"""


RESPONSE_RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: respond-to-the-flag, title: Respond}
inputs:
  marker: {type: string, required: true}
steps:
  - id: page
    action: shell.run
    with: {argv: [touch, "{{ inputs.marker }}"]}
"""


def with_response(directory: Path, marker: Path) -> str:
    """Writes RESPONSE_RUNBOOK next to the scenario; returns the scenario's `response:` that runs it (it
    touches `marker`, so a test can tell whether it ran)."""
    (directory / "respond.yaml").write_text(RESPONSE_RUNBOOK, encoding="utf-8")
    return f'{{mode: runbook, runbook: respond.yaml, inputs: {{marker: "{marker}"}}, approve: true, timeout: 1m}}'


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "FIRELINE_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}
    env.pop("FIRELINE_DEBUG", None)
    return env


@contextlib.contextmanager
def gameday(home: Path, scenario: Path, flag_file: Path, env: dict[str, str] | None = None,
            report: str = "none") -> Iterator[GameDayProcess]:
    """`fireline gameday run SCENARIO -i flag_file=…` in its own session; killed in `finally` if still alive."""
    argv = fireline_argv("gameday", "run", str(scenario), "-i", f"flag_file={flag_file}", "--report", report)
    with game_day_process(argv, home, env or environment(home)) as gd:
        yield gd


def still_injected(events: Sequence[Ev]) -> set[str | None]:
    """Faults the journal says are still in place: injected (or being injected) and never reverted."""
    reverted = {e.step_id for e in events if e.type == "fault.reverted" and e.data.get("ok")}
    return {e.step_id for e in events if e.type in ("fault.injecting", "fault.injected")} - reverted


def finished_status(home: Path, gameday_id: str) -> str | None:
    done = [e.data["status"] for e in journal_events(home, gameday_id) if e.type == "gameday.finished"]
    assert len(done) <= 1, done
    return str(done[0]) if done else None
