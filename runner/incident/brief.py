"""`fireline incident brief ID`: the responder's one-screen guide to an incident.

What it says comes from three places: the incident as recorded (severity, roles, milestones, status updates,
notes), the severity policy in force (the level's definition, the roles it needs, the update cadence and
channels), and the runbooks on disk. A runbook is offered as a mitigation when what it says about itself —
its `metadata.symptoms`, `alerts` and `tags` — matches what the incident says — its title, impact, systems
and notes; a runbook meant for the incident's severity (`metadata.severity`) ranks higher. Each option comes
with the exact command that runs it linked to the incident.

Runbooks are read as plain YAML (their metadata only, no validation): a brief must come up in a second,
even beside a runbook that is being edited. One that cannot be read is counted, not fatal.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from runner.incident import events as iev
from runner.incident.model import Milestone, Role
from runner.incident.view import Incident
from runner.journal.events import Event
from runner.policy import SeverityLevel

MAX_OPTIONS = 5  # mitigation options shown: one screen
MAX_FILES = 2000  # runbook files read from the directories searched
MAX_BYTES = 1_000_000  # a bigger file is no runbook a responder wrote by hand
INVESTIGATION_ITEMS = 2  # items of the best match's `investigation` shown (one screen)
REASONS_SHOWN = 3  # what matched, per option

# Words that say nothing about which runbook fits (they appear in every symptom list, and "alert … firing" in
# every note about an alert).
_FILLER = (
    "a an the and or of to in on for is are be been with by at from as it its this that these those not no "
    "into than then there their them they we our you your all any some one via per while when after before "
    "error errors fatal sorry already across alert alerts firing fired"
)
_STOPWORDS = frozenset(_FILLER.split())
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")


# -- runbooks on disk ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunbookInfo:
    """What a runbook says about itself, read from its metadata."""

    path: Path
    name: str
    title: str
    severities: tuple[str, ...] = ()
    symptoms: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    investigation: str = ""
    mitigates: bool = False
    required_inputs: tuple[str, ...] = ()  # inputs without a default that the command must give


@dataclass(frozen=True)
class Shelf:
    runbooks: tuple[RunbookInfo, ...]
    unreadable: tuple[Path, ...]  # YAML files that could not be parsed
    searched: tuple[Path, ...]


def find_runbooks(places: Sequence[Path]) -> Shelf:
    """Every runbook in `places` (directories, searched recursively, or single files)."""
    found: list[RunbookInfo] = []
    unreadable: list[Path] = []
    for path in _yaml_files(places):
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            unreadable.append(path)
            continue
        info = _runbook_info(path, data)
        if info is not None:
            found.append(info)
    return Shelf(tuple(found), tuple(unreadable), tuple(places))


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_files(places: Sequence[Path]) -> list[Path]:
    """The YAML files in `places`, in a stable order, at most MAX_FILES: a directory named by mistake (`/`)
    is not walked to its end."""
    return list(itertools.islice(dict.fromkeys(itertools.chain.from_iterable(map(_walk, places))), MAX_FILES))


def _walk(place: Path) -> Iterator[Path]:
    if place.is_file():
        yield place
        return
    for root, dirs, files in os.walk(place):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # not .git and the like
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                yield Path(root) / name


def _runbook_info(path: Path, data: object) -> RunbookInfo | None:
    if not isinstance(data, Mapping) or data.get("kind") != "Runbook":
        return None  # a scenario, a policy file, anything else
    meta = data.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    inputs = data.get("inputs")
    required = tuple(
        str(name)
        for name, spec in (inputs.items() if isinstance(inputs, Mapping) else ())
        if isinstance(spec, Mapping) and spec.get("required") is True and "default" not in spec
    )
    investigation = meta.get("investigation")
    return RunbookInfo(
        path=path,
        name=meta["name"],
        title=str(meta.get("title") or meta["name"]),
        severities=_texts(meta.get("severity")),
        symptoms=_texts(meta.get("symptoms")),
        alerts=_texts(meta.get("alerts")),
        tags=_texts(meta.get("tags")),
        investigation=investigation if isinstance(investigation, str) else "",
        mitigates=meta.get("mitigates") is True,
        required_inputs=required,
    )


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value if isinstance(v, str | int | float)) if isinstance(value, list) else ()


# -- matching -------------------------------------------------------------------------------------------------------


def words(text: str) -> set[str]:
    """The words of `text` that can tell runbooks apart: lower case, CamelCase split (alert names), plurals
    folded, filler dropped."""
    split = _CAMEL.sub(" ", text)
    return {_stem(w) for w in _WORD.findall(split.lower()) if w not in _STOPWORDS}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _phrase(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Option:
    """A runbook offered as a mitigation, why, and the command that runs it for the incident."""

    runbook: RunbookInfo
    score: int
    reasons: tuple[str, ...]
    command: str


def match(incident: Incident, notes: Sequence[str], shelf: Shelf, cwd: Path | None = None) -> list[Option]:
    """The runbooks that fit the incident, best first. Only what the runbook says about its symptoms, alerts
    and tags can make it fit; being meant for the incident's severity ranks it higher."""
    said = [incident.title, incident.impact, *incident.systems, *notes]
    vocabulary = set().union(*(words(text) for text in said))
    phrase = " " + " ".join(_phrase(text) for text in said) + " "
    systems = {s.lower() for s in incident.systems}
    options = []
    for runbook in shelf.runbooks:
        score, reasons = _fit(runbook, vocabulary, phrase, systems)
        if score == 0:
            continue
        if str(incident.severity) in runbook.severities:
            score += 1
            reasons.append(f"meant for {', '.join(runbook.severities)}")
        options.append(Option(runbook, score, tuple(reasons), run_command(runbook, incident.id, cwd)))
    return sorted(options, key=lambda o: (-o.score, o.runbook.name, str(o.runbook.path)))


def _fit(runbook: RunbookInfo, vocabulary: set[str], phrase: str, systems: set[str]) -> tuple[int, list[str]]:
    score, reasons = 0, []
    for symptom in runbook.symptoms:
        strength = _overlap(symptom, vocabulary, phrase)
        if strength:
            score += strength
            reasons.append(f"symptom {_quoted(symptom)}")
    for alert in runbook.alerts:
        exact = f" {_phrase(alert)} " in phrase
        strength = 4 if exact else _overlap(alert, vocabulary, phrase)
        if strength:
            score += strength
            reasons.append(f"alert {alert}")
    for tag in runbook.tags:
        if tag.lower() in systems or (words(tag) and words(tag) <= vocabulary):
            score += 1
            reasons.append(f"tag {tag}")
    return score, reasons


def _overlap(text: str, vocabulary: set[str], phrase: str) -> int:
    """3: the incident says it word for word; 2: it says most of its words (two at least); 0: it does not."""
    wanted = words(text)
    if not wanted:
        return 0
    if f" {_phrase(text)} " in phrase or wanted <= vocabulary:
        return 3
    shared = wanted & vocabulary
    return 2 if len(shared) >= 2 and 2 * len(shared) >= len(wanted) else 0


def _quoted(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return '"' + (one if len(one) <= limit else one[: limit - 1] + "…") + '"'


def run_command(runbook: RunbookInfo, incident_id: str, cwd: Path | None = None) -> str:
    """`fireline run PATH --incident ID`, the path as the responder would type it from here."""
    here = (cwd or Path.cwd()).resolve()
    path = runbook.path.resolve()
    shown = os.path.relpath(path, here) if path.is_relative_to(here) else str(path)
    return f"fireline run {shlex.quote(shown)} --incident {incident_id}"


# -- the brief -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One immediate action: done or still to do, and the command that does it."""

    done: bool
    text: str
    command: str = ""


@dataclass(frozen=True)
class Communication:
    cadence: str  # as the policy writes it ("15m", "none")
    channels: tuple[str, ...]
    next_due: datetime | None
    overdue: bool
    updates_sent: int


@dataclass(frozen=True)
class Brief:
    incident: Incident
    level: SeverityLevel | None
    actions: tuple[Action, ...]
    investigation: tuple[str, ...]
    options: tuple[Option, ...]
    more_options: int  # matches beyond the ones shown
    communication: Communication
    shelf: Shelf
    now: datetime


def notes_of(events: Iterable[Event]) -> list[str]:
    """The texts of the incident's notes (what responders observed: symptoms the title may not name)."""
    return [iev.IncidentNote.of(e).text for e in events if e.type == iev.NOTE]


def build(
    incident: Incident,
    notes: Sequence[str],
    levels: Mapping[str, SeverityLevel],
    shelf: Shelf,
    now: datetime | None = None,
    cwd: Path | None = None,
) -> Brief:
    moment = now or datetime.now(UTC)
    level = levels.get(str(incident.severity))
    options = match(incident, notes, shelf, cwd)
    return Brief(
        incident=incident,
        level=level,
        actions=tuple(_actions(incident, level, bool(options))),
        investigation=tuple(_investigation(incident, options)),
        options=tuple(options[:MAX_OPTIONS]),
        more_options=max(0, len(options) - MAX_OPTIONS),
        communication=_communication(incident, level, moment),
        shelf=shelf,
        now=moment,
    )


def _actions(incident: Incident, level: SeverityLevel | None, have_options: bool) -> list[Action]:
    i = incident.id
    acked = incident.milestones.get(Milestone.ACKNOWLEDGED)
    by = f" (by {acked.actor})" if acked and acked.actor else ""
    actions = [Action(acked is not None, f"acknowledge{by}", f"fireline incident ack {i}")]
    for role in level.roles if level else ():
        holder = _holder(incident, role)
        text = f"{role}: {holder}" if holder else f"assign the {role} (the policy requires one)"
        actions.append(Action(holder is not None, text, f"fireline incident assign {i} {role} NAME"))
    channels = f" ({', '.join(level.channels)})" if level and level.channels else ""
    update = f'fireline incident update {i} --status investigating --summary "…"'
    actions.append(Action(incident.updates > 0, f"send the first status update{channels}", update))
    mitigated = incident.milestones.get(Milestone.MITIGATED)
    if mitigated is not None:
        actions.append(Action(True, f"stop the bleeding: mitigated ({mitigated.source})"))
    else:
        hint = "run a mitigation option below" if have_options else "mitigate (rollback, flag off, scale up, failover)"
        actions.append(Action(False, f"stop the bleeding: {hint}, then mark it", f"fireline incident mitigated {i}"))
    return actions


def bullets(markdown: str) -> list[str]:
    """The items of a Markdown list (a runbook's `investigation`), each on one line: an item's wrapped lines
    are joined; text that is not a list is one item per paragraph."""
    items: list[str] = []
    fresh = True
    for raw in markdown.splitlines():
        line = raw.strip()
        if not line:
            fresh = True
            continue
        marker = line[:2] in ("- ", "* ", "+ ")
        if marker or fresh or not items:
            items.append(line[2:].strip() if marker else line)
        else:
            items[-1] += " " + line
        fresh = False
    return items


def _holder(incident: Incident, role: str) -> str | None:
    try:
        return incident.roles.get(Role(role))
    except ValueError:  # a role a newer policy names
        return None


def _investigation(incident: Incident, options: Sequence[Option]) -> list[str]:
    started = incident.at(Milestone.STARTED) or incident.declared_at
    since = _stamp(started) if started else "impact start"
    window = _stamp(started - timedelta(hours=2)) if started else "two hours before"
    systems = ", ".join(incident.systems) or "the affected systems"
    steps = [
        f"recent changes: deploys and configuration changes of {systems} since {window}",
        f"metrics of {systems} since {since}: error rate, latency, saturation (CPU, memory, connections)",
        f"error logs of {systems} since {since}",
        f"dependencies of {systems}: databases, queues, external APIs",
    ]
    if options and options[0].runbook.investigation:
        best = options[0].runbook
        steps += [f"({best.name}) {item}" for item in bullets(best.investigation)[:INVESTIGATION_ITEMS]]
    steps.append(f'record what you find: fireline incident note {incident.id} --kind observation "…"')
    return steps


def _communication(incident: Incident, level: SeverityLevel | None, now: datetime) -> Communication:
    cadence_s = level.update_cadence_s if level else None
    due = incident.next_update_due(cadence_s)
    return Communication(
        cadence=level.update_cadence if level else "unknown",
        channels=level.channels if level else (),
        next_due=due,
        overdue=due is not None and due < now,
        updates_sent=incident.updates,
    )


# -- rendering --------------------------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ago(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _line(text: str, limit: int = 160) -> str:
    one = " ".join("".join(c for c in text if c.isprintable()).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def text(brief: Brief) -> str:
    """The brief as one screen of Markdown-ish text."""
    i = brief.incident
    started = i.at(Milestone.STARTED)
    head = [
        f"# {i.id} · {i.severity}{f' ({brief.level.title})' if brief.level else ''} · {i.status} · {_line(i.title)}",
        f"declared {_stamp(i.declared_at) if i.declared_at else '?'} by {i.declared_by or '?'}"
        + (f" · impact started {_stamp(started)}" if started else "")
        + (f" · systems: {', '.join(i.systems)}" if i.systems else ""),
    ]
    if i.impact:
        head.append(f"impact: {_line(i.impact)}")
    return "\n".join([*head, "", *_severity_lines(brief), "", *_action_lines(brief), "", *_investigation_lines(brief),
                      "", *_option_lines(brief), "", *_communication_lines(brief)]) + "\n"  # fmt: skip


def _severity_lines(brief: Brief) -> list[str]:
    i, level = brief.incident, brief.level
    lines = ["## Severity"]
    if level is None:
        lines.append(f"{i.severity}: not defined by the policy in force")
    else:
        roles = ", ".join(level.roles) or "none"
        lines.append(f"{level.name} {level.title}: {_line(level.definition)}")
        lines.append(f"respond: {level.response_target} · roles: {roles}")
    lines.append(f'wrong level? fireline incident sev {i.id} SEVn --reason "…"')
    return lines


def _action_lines(brief: Brief) -> list[str]:
    lines = ["## Immediate actions"]
    for action in brief.actions:
        mark = "[x]" if action.done else "[ ]"
        command = f"  `{action.command}`" if action.command and not action.done else ""
        lines.append(f"- {mark} {_line(action.text)}{command}")
    lines.append(f'- keep the log: `fireline incident note {brief.incident.id} "…"` (decisions: --kind decision)')
    return lines


def _investigation_lines(brief: Brief) -> list[str]:
    return ["## Investigation", *(f"{n}. {_line(step)}" for n, step in enumerate(brief.investigation, 1))]


def _option_lines(brief: Brief) -> list[str]:
    lines = ["## Mitigation options"]
    for n, option in enumerate(brief.options, 1):
        runbook = option.runbook
        mitigates = " (marks the incident mitigated)" if runbook.mitigates else ""
        lines.append(f"{n}. {runbook.name}: {_line(runbook.title)}{mitigates}")
        lines.append(f"   matches: {_reasons(option)}")
        lines.append(f"   `{option.command}`")
        if runbook.required_inputs:
            lines.append("   needs: " + " ".join(f"-i {name}=…" for name in runbook.required_inputs))
    if brief.more_options:
        lines.append(f"({brief.more_options} more matched less closely; `--format json` lists them all)")
    if not brief.options:
        where = ", ".join(str(p) for p in brief.shelf.searched) or "nowhere (no ./runbooks here)"
        lines.append(f"no runbook matches (searched {where}; more places with --runbooks DIR)")
    if brief.shelf.unreadable:
        lines.append(f"({len(brief.shelf.unreadable)} YAML file(s) could not be read: see `fireline validate`)")
    return lines


def _reasons(option: Option) -> str:
    """What matched, the strongest first, then whether the runbook is meant for the incident's severity."""
    content = [r for r in option.reasons if not r.startswith("meant for ")]
    level = [r for r in option.reasons if r.startswith("meant for ")]
    more = len(content) - REASONS_SHOWN
    shown = [_line(r, 70) for r in content[:REASONS_SHOWN]] + ([f"{more} more"] if more > 0 else [])
    return "; ".join(shown + level)


def _communication_lines(brief: Brief) -> list[str]:
    c, i = brief.communication, brief.incident
    channels = ", ".join(c.channels) or "no channels"
    cadence = "no regular updates" if c.cadence == "none" else f"an update every {c.cadence}"
    lines = ["## Communication", f"{cadence} · to {channels} · {c.updates_sent} sent so far"]
    if c.next_due is None:
        lines.append("next update: none due" + (f" ({i.status})" if i.finished else ""))
    elif c.overdue:
        lines.append(f"next update: OVERDUE since {_stamp(c.next_due)} ({_ago(brief.now - c.next_due)} ago)")
    else:
        lines.append(f"next update due {_stamp(c.next_due)} (in {_ago(c.next_due - brief.now)})")
    if not i.finished:
        nxt = f" --next-update {c.cadence}" if c.cadence != "none" else ""
        lines.append(f'`fireline incident update {i.id} --status {i.status} --summary "…"{nxt}`')
    return lines


def as_json(brief: Brief, all_options: Sequence[Option] | None = None) -> dict[str, Any]:
    i, level, c = brief.incident, brief.level, brief.communication
    return {
        "incident": i.id,
        "title": i.title,
        "status": str(i.status),
        "severity": {
            "level": str(i.severity),
            "title": level.title if level else None,
            "definition": level.definition if level else None,
            "response_target": level.response_target if level else None,
            "roles": list(level.roles) if level else [],
        },
        "immediate_actions": [{"done": a.done, "text": a.text, "command": a.command or None} for a in brief.actions],
        "investigation": list(brief.investigation),
        "mitigation_options": [
            {
                "runbook": o.runbook.name,
                "title": o.runbook.title,
                "path": str(o.runbook.path),
                "score": o.score,
                "matches": list(o.reasons),
                "command": o.command,
                "required_inputs": list(o.runbook.required_inputs),
                "mitigates": o.runbook.mitigates,
            }
            for o in (all_options if all_options is not None else brief.options)
        ],
        "communication": {
            "cadence": c.cadence,
            "channels": list(c.channels),
            "next_update_due": _stamp(c.next_due) if c.next_due else None,
            "overdue": c.overdue,
            "updates_sent": c.updates_sent,
        },
        "runbooks_searched": [str(p) for p in brief.shelf.searched],
        "unreadable": [str(p) for p in brief.shelf.unreadable],
    }
