"""The incident report as one self-contained HTML file (inline CSS and SVG, no scripts, no fetches) that can
be mailed, attached to a ticket, opened offline years later and printed. Every value goes through `esc`."""

from __future__ import annotations

from runner.incident.report import IncidentReport
from runner.incident.report_outline import Block, Facts, Items, Outline, Paragraph, Section, Subheading, Table
from runner.incident.report_svg import timeline_svg
from runner.report.svg import esc

# System fonts only: an external font would make the file depend on the network.
_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #212121;
       margin: 2rem auto; max-width: 1150px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem;
     border-bottom: 1px solid #e0e0e0; padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.sub { color: #616161; margin: 0 0 1rem; font-size: 1.1rem; }
.banner { font-weight: 600; padding: .6rem .9rem; border-radius: 6px; border: 2px solid #f9a825;
          background: #fffde7; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1.2rem; margin: .5rem 0; }
dl.facts dt { font-weight: 600; color: #424242; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; table-layout: fixed; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e0e0e0; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f5f5f5; }
li { overflow-wrap: anywhere; }
p.quiet { color: #616161; font-style: italic; }
figure { margin: 0; } figcaption { color: #616161; font-size: .9rem; margin-top: .3rem; }
footer { margin-top: 2rem; color: #757575; font-size: .85rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  figure, table, .banner { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def render_html(r: IncidentReport, outline: Outline) -> str:
    banner = f'<p class="banner" id="ongoing">{esc(outline.banner)}</p>\n' if outline.banner else ""
    sections = [_section(s) for s in outline.sections]
    sections.insert(_after_timeline(outline), _figure(r))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(outline.title)}</title>\n<style>{_CSS}</style></head>\n<body>\n"
            f'<header><h1>{esc(outline.title)}</h1>\n<p class="sub">{esc(outline.subtitle)}</p>\n{banner}</header>\n'
            + "\n".join(sections)
            + f"\n<footer>{esc(outline.footer)}</footer>\n</body></html>\n")  # fmt: skip


def _after_timeline(outline: Outline) -> int:
    """Where the picture goes: just before the timeline's table, after the sections that come first."""
    keys = [s.key for s in outline.sections]
    return keys.index("timeline") if "timeline" in keys else len(keys)


def _figure(r: IncidentReport) -> str:
    return ('<section id="picture"><h2>Timeline</h2>\n<figure>' + timeline_svg(r) + "\n<figcaption>Times in UTC. "
            "Dashed lines mark the milestones (after any correction); the status lane shows the incident's "
            "status over time; bars are the steps of the runbooks run for it (outlined: changed production; "
            "green succeeded, red failed, grey skipped); diamonds are status updates (red: a delivery failed) "
            "and notes.</figcaption></figure></section>")  # fmt: skip


def _section(section: Section) -> str:
    body = "\n".join(_block(b) for b in section.blocks)
    return f'<section id="{esc(section.key)}"><h2>{esc(section.title)}</h2>\n{body}\n</section>'


def _block(block: Block) -> str:
    if isinstance(block, Facts):
        rows = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in block.pairs)
        return f'<dl class="facts">{rows}</dl>'
    if isinstance(block, Paragraph):
        return f'<p class="quiet">{esc(block.text)}</p>' if block.quiet else f"<p>{esc(block.text)}</p>"
    if isinstance(block, Subheading):
        return f"<h3>{esc(block.text)}</h3>"
    if isinstance(block, Items):
        tag = "ol" if block.numbered else "ul"
        return f"<{tag}>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + f"</{tag}>"
    return _table(block)


def _table(block: Table) -> str:
    total = sum(block.widths) or 1.0
    cols = "".join(f'<col style="width: {100 * w / total:.1f}%">' for w in block.widths)
    head = "".join(f"<th>{esc(h)}</th>" for h in block.headers)
    rows = "\n".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in block.rows)
    return f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>"
