"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no fetches) that can be mailed,
attached to a ticket, opened offline years later, and printed."""

from __future__ import annotations

from runner.report import fmt
from runner.report.data import GameDayReport, MetricRow
from runner.report.markdown import verdict
from runner.report.svg import css_token, esc, timeline_svg

# System fonts only: an external font would make the file depend on the network.
CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #212121;
       margin: 2rem auto; max-width: 1150px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem;
     border-bottom: 1px solid #e0e0e0; padding-bottom: .2rem; }
.sub { color: #616161; margin: 0 0 1rem; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: .6rem .9rem; border-radius: 6px; border: 2px solid; }
.verdict.passed { border-color: #2e7d32; background: #e8f5e9; }
.verdict.failed, .verdict.aborted { border-color: #c62828; background: #ffebee; }
.verdict.other { border-color: #f9a825; background: #fffde7; }
.hypothesis { font-size: 1.05rem; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: .3rem 1.5rem;
           margin: .5rem 0; }
dl.facts div { display: flex; gap: .8rem; } dl.facts dt { font-weight: 600; color: #424242; min-width: 7.5rem; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
th { background: #f5f5f5; } td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-weight: 700; font-size: .85rem;
         border: 1px solid; }
.badge.pass { color: #1b5e20; background: #e8f5e9; border-color: #2e7d32; }
.badge.fail { color: #b71c1c; background: #ffebee; border-color: #c62828; }
.badge.none { color: #616161; background: #f5f5f5; border-color: #bdbdbd; }
tr.finding td { background: #f3e5f5; }
.approval { color: #424242; }
.warning { border-left: 4px solid #f9a825; background: #fffde7; padding: .4rem .8rem; margin: .4rem 0; }
figure { margin: 0; } figcaption { color: #616161; font-size: .9rem; margin-top: .3rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
footer { margin-top: 2rem; color: #757575; font-size: .85rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  figure, table, .verdict { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def _badge(m: MetricRow) -> str:
    kind = {True: "pass", False: "fail", None: "none"}[m.passed]
    return f'<span class="badge {kind}">{esc(fmt.result(m))}</span>'


def _verdict_class(status: str) -> str:
    return status if status in ("passed", "failed", "aborted") else "other"


def _details(r: GameDayReport) -> str:
    responses = ", ".join(f"<code>{esc(run.run_id)}</code>" for run in r.responses) or "none"
    facts = [("Scenario", f"<code>{esc(r.scenario)}</code>" + (f" ({esc(r.path)})" if r.path else "")),
             ("Game day id", f"<code>{esc(r.id)}</code>"),
             *([("Drill incident", f"<code>{esc(r.incident)}</code>")] if r.incident else []),
             ("Status", esc(r.status)),
             ("Started", esc(fmt.wall(r.started_wall))), ("Finished", esc(fmt.wall(r.finished_wall))),
             ("Duration", esc(fmt.seconds(r.end_mono - r.start_mono))),
             ("Resolution", f"{esc(fmt.resolution(r.resolution))} (probe interval)"),
             ("Response run", responses)]
    rows = "\n".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    return f'<section><h2>Details</h2>\n<dl class="facts">\n{rows}\n</dl></section>'


def _header(r: GameDayReport) -> str:
    """Title, verdict and hypothesis, then the picture: what a reader needs from the first screen."""
    hypothesis = f'<p class="hypothesis"><strong>Hypothesis:</strong> {esc(r.hypothesis)}</p>' if r.hypothesis else ""
    warnings = "\n".join(f'<p class="warning">⚠ {esc(w)}</p>' for w in r.warnings)
    return (f"<header><h1>Game day: {esc(r.title)}</h1>\n"
            f'<p class="sub">{esc(r.scenario)} · {esc(r.id)} · {esc(fmt.wall(r.started_wall))}</p>\n'
            f'<p class="verdict {_verdict_class(r.status)}" id="verdict">{esc(verdict(r))}</p>\n'
            f"{hypothesis}\n{warnings}</header>")


def _metrics(r: GameDayReport) -> str:
    rows = "\n".join(
        f'<tr class="metric {css_token(m.name)}"><td>{esc(m.label)}</td><td class="num">{esc(fmt.seconds(m.seconds))}'
        f'</td><td class="num">{esc(fmt.seconds(m.objective))}</td><td>{_badge(m)}</td></tr>' for m in r.metrics)
    origin = "fault injection" if r.origin == "fault.injected" else "the game day's start"
    return ('<section><h2>Metrics</h2>\n<table id="metrics"><thead><tr><th>Metric</th><th>Measured</th>'
            f"<th>Objective</th><th>Result</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n"
            f"<p>Measured from {origin} at a resolution of {esc(fmt.resolution(r.resolution))} (probe interval): "
            "a time is known to within one interval.</p></section>")


def _figure(r: GameDayReport) -> str:
    origin = "fault injection" if r.origin == "fault.injected" else "game day start"
    return (f"<section><h2>Timeline</h2>\n<figure>{timeline_svg(r)}\n<figcaption>T+0 is the {origin}. Dashed "
            "lines mark milestones; bars are the response runbook's steps (green succeeded, red failed, grey "
            "skipped). Purple is the expected finding: the steady state violated and probes failing while the "
            "fault is in place; red is a failure: a violation or a failing probe that no fault explains."
            "</figcaption></figure></section>")


def _events(r: GameDayReport) -> str:
    rows = "\n".join(f'<tr{_finding_class(e.finding)}><td class="num">{esc(fmt.offset(e.t))}</td>'
                     f'<td class="num">{esc(fmt.clock(e.wall))}</td><td><code>{esc(e.type)}</code></td>'
                     f"<td>{esc(e.label)}</td><td>{esc(e.actor or '')}</td></tr>" for e in r.timeline)
    return ('<section><h2>Events</h2>\n<table id="events"><thead><tr><th>T</th><th>At (UTC)</th><th>Event</th>'
            f"<th>What happened</th><th>Who</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table></section>")


def _finding_class(finding: bool) -> str:
    return ' class="finding"' if finding else ""


def _faults(r: GameDayReport) -> str:
    if not r.faults:
        return "<section><h2>Faults and reverts</h2><p>No fault was injected.</p></section>"
    rows = []
    for f in r.faults:
        revert = {True: "reverted", False: "REVERT FAILED", None: "no revert recorded"}[f.revert_ok]
        badge = {True: "pass", False: "fail", None: "fail"}[f.revert_ok]
        rows.append(f"<tr><td><code>{esc(f.id)}</code></td><td><code>{esc(f.action or '')}</code></td>"
                    f'<td class="num">{esc(fmt.offset(f.injected_t) if f.injected_t is not None else "never")}</td>'
                    f'<td class="num">{esc(fmt.offset(f.reverted_t) if f.reverted_t is not None else "—")}</td>'
                    f'<td><span class="badge {badge}">{esc(revert)}</span> {esc(f.why or "")}</td>'
                    f"<td>{esc(f.summary or '')}</td></tr>")
    return ('<section><h2>Faults and reverts</h2>\n<table id="faults"><thead><tr><th>Fault</th><th>Action</th>'
            "<th>Injected</th><th>Reverted</th><th>Revert</th><th>Summary</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody></table></section>")


def _response(r: GameDayReport) -> str:
    if not r.responses:
        return "<section><h2>Response</h2><p>No response runbook ran.</p></section>"
    items = []
    for run in r.responses:
        steps = "".join(f"<li><code>{esc(s.id)}</code> {esc(s.status)} ({esc(fmt.offset(r.at(s.start_mono)))} → "
                        f'{esc(fmt.offset(r.at(s.end_mono)))}) — <span class="approval">'
                        f"{esc(fmt.approvals(s.approvals))}</span></li>" for s in run.steps)
        items.append(f"<li>{esc(run.runbook or 'runbook')} — run <code>{esc(run.run_id)}</code>: "
                     f"{esc(run.status or 'did not finish')} (details: <code>fireline runs show {esc(run.run_id)}"
                     f"</code>)<ul>{steps}</ul></li>")
    return f"<section><h2>Response</h2><ul>{''.join(items)}</ul></section>"


def _notes(r: GameDayReport) -> str:
    if not r.notes:
        return ""
    items = "".join(f'<li><span class="num">{esc(fmt.offset(n.t))}</span> <strong>{esc(n.actor or "someone")}'
                    f"</strong>: {esc(n.text)}</li>" for n in r.notes)
    return f'<section><h2>Notes</h2><ul id="notes">{items}</ul></section>'


def render_html(r: GameDayReport) -> str:
    sections = (_header(r), _figure(r), _metrics(r), _details(r), _faults(r), _response(r), _notes(r), _events(r))
    body = "\n".join(p for p in sections if p)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Game day report: {esc(r.title)} ({esc(r.id)})</title>\n<style>{CSS}</style></head>\n"
            f"<body>\n{body}\n<footer>Generated by fireline from the journal of game day <code>{esc(r.id)}</code>. "
            "Durations come from the monotonic clock; wall times are UTC.</footer>\n</body></html>\n")
