"""The Markdown report: what gets pasted into a ticket or a post-mortem."""

from __future__ import annotations

import html

from runner.report import fmt
from runner.report.data import GameDayReport


def md_text(text: str) -> str:
    """Text from the journal, made inert: Markdown renderers pass raw HTML through, and a table cell ends
    at a pipe or a newline."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def verdict(report: GameDayReport) -> str:
    failed = [m.label for m in report.metrics if m.passed is False]
    if report.status == "passed":
        return "PASSED — every objective was met; the hypothesis held."
    if report.status == "failed":
        missed = ", ".join(failed) if failed else "see the timeline"
        return f"FAILED — the hypothesis did not hold (missed: {missed})."
    if report.status == "incomplete":
        return "INCOMPLETE — the journal stops before the game day finished."
    return f"{report.status.upper()} — the game day did not run to the end; times are partial."


def render_markdown(report: GameDayReport) -> str:
    parts = [_header(report), _metrics(report), _timeline(report), _faults(report), _response(report),
             _notes(report)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(r: GameDayReport) -> str:
    lines = [f"# Game day: {md_text(r.title)}", ""]
    if r.hypothesis:
        lines += [f"**Hypothesis:** {md_text(r.hypothesis)}", ""]
    lines += [f"**Verdict:** {verdict(r)}", "",
              f"- Scenario: `{md_text(r.scenario)}`" + (f" ({md_text(r.path)})" if r.path else ""),
              f"- Game day id: `{md_text(r.id)}`",
              *([f"- Drill incident: `{md_text(r.incident)}` (`fireline incident show {md_text(r.incident)}`)"]
                if r.incident else []),
              f"- Status: {md_text(r.status)}",
              f"- Started: {fmt.wall(r.started_wall)}",
              f"- Finished: {fmt.wall(r.finished_wall)}",
              f"- Duration: {fmt.seconds(r.end_mono - r.start_mono)}"]
    lines += [f"- ⚠ {md_text(w)}" for w in r.warnings]
    return "\n".join(lines)


def _metrics(r: GameDayReport) -> str:
    lines = ["## Metrics", "", "| Metric | Measured | Objective | Result |", "| --- | --- | --- | --- |"]
    lines += [f"| {m.label} | {fmt.seconds(m.seconds)} | {fmt.seconds(m.objective)} | {fmt.result(m)} |"
              for m in r.metrics]
    origin = "fault injection" if r.origin == "fault.injected" else "the game day's start (no fault injected)"
    lines += ["", f"Measured at a resolution of {fmt.resolution(r.resolution)} (probe interval), "
              f"from {origin}."]
    return "\n".join(lines)


def _timeline(r: GameDayReport) -> str:
    lines = ["## Timeline", "", "T+0 is the fault injection." if r.origin == "fault.injected"
             else "T+0 is the game day's start.", ""]
    if any(e.finding for e in r.timeline):
        lines += ["A probe failing while the fault is in place is the finding the game day looks for, "
                  "not a failure.", ""]
    for e in r.timeline:
        actor = f" — {md_text(e.actor)}" if e.actor else ""
        lines.append(f"- `{fmt.offset(e.t)}` {fmt.clock(e.wall)} {md_text(e.label)}{actor}")
    return "\n".join(lines)


def _faults(r: GameDayReport) -> str:
    lines = ["## Faults and reverts", ""]
    if not r.faults:
        return "\n".join([*lines, "No fault was injected."])
    for f in r.faults:
        injected = f"injected at {fmt.offset(f.injected_t)}" if f.injected_t is not None else "never injected"
        if f.revert_ok is None:
            revert = "**no revert recorded — check it is not still in place**"
        else:
            revert = ("reverted" if f.revert_ok else "**revert FAILED**") + f" at {fmt.offset(f.reverted_t or 0)}"
            revert += f" ({md_text(f.why)})" if f.why else ""
        action = f" (`{md_text(f.action)}`)" if f.action else ""
        lines.append(f"- `{md_text(f.id)}`{action}: {injected}; {revert}")
    return "\n".join(lines)


def _response(r: GameDayReport) -> str:
    if not r.responses:
        return "## Response\n\nNo response runbook ran."
    lines = ["## Response", ""]
    for run in r.responses:
        book = md_text(run.runbook or "runbook")
        lines.append(f"- {book}: run id `{md_text(run.run_id)}` — {md_text(run.status or 'did not finish')}"
                     f" (`fireline runs show {md_text(run.run_id)}`)")
        for s in run.steps:
            lines.append(f"  - `{md_text(s.id)}` {md_text(s.status)}, {fmt.offset(r.at(s.start_mono))} → "
                         f"{fmt.offset(r.at(s.end_mono))} — {md_text(fmt.approvals(s.approvals))}")
    return "\n".join(lines)


def _notes(r: GameDayReport) -> str:
    if not r.notes:
        return ""
    lines = ["## Notes", ""]
    lines += [f"- `{fmt.offset(n.t)}` {md_text(n.actor or 'someone')}: {md_text(n.text)}" for n in r.notes]
    return "\n".join(lines)
