"""Alerts open incidents: what `fireline incident intake` decides for each Alertmanager notification.

Alertmanager posts one notification per alert group (webhook payload version 4). A group that fires
declares an incident — title from the group's `summary` annotation or its alert name, severity from a label
(the policy's `intake` mapping), `started` and `detected` at the earliest alert's `startsAt` — or, when an
incident declared for the same group is still open, attaches to it (an `incident.alert` event). Resolved
alerts are noted on the timeline and never resolve anything: the resolution gate does that. A group that
fires again after its incident is over opens a new incident, which names the previous one.

Alertmanager retries, and runs in pairs that both notify: the same notification arrives more than once, at
more than one intake process. The store decides who declares (runner.journal.incidents: at most one open
incident holds an alert group, a unique index, checked in the transaction that takes the incident's number),
so two processes receiving the same group at once open exactly one incident; the other attaches. A
notification (the same alerts in the same state) is recorded once on the incident: its deliveries are counted
in the store, in the transaction that records the first.

Parsing is strict and typed: anything that is not the documented shape is refused (`PayloadRejected`, a 4xx
for the server) before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runner.errors import FirelineError, UsageError
from runner.incident import events as iev
from runner.incident import ids
from runner.incident.model import IncidentType, Milestone, NoteKind, Severity, Status
from runner.incident.store import append, iso, load
from runner.incident.times import EARLIEST
from runner.journal.incidents import ALERT, parse_utc
from runner.journal.payloads import Payload, event_payload, mapping, texts

if TYPE_CHECKING:
    from runner.incident.brief import Option, Shelf
    from runner.journal.events import Event
    from runner.journal.store import Journal, Pending
    from runner.policy import Policy

__all__ = ["ALERT", "IncidentAlert"]

ACTOR = "alertmanager"  # who the events of an intake are by, unless told otherwise
MAX_ALERTS = 500  # alerts in one notification: Alertmanager's groups are far smaller; more is no notification
MAX_LABELS = 100  # labels or annotations of one alert
MAX_KEY = 8192  # characters of a group key, a label name or value
MAX_ANNOTATION = 16384  # characters of one annotation
MAX_SYSTEMS = 10
TITLE_LIMIT = 200
IMPACT_LIMIT = 1000
SUGGESTIONS = 3  # runbooks suggested on the timeline
_SYSTEM = re.compile(r"^[^\s,][^\n\r\t]{0,99}$")  # as `incident declare --systems` takes them
_DEFAULT_SEVERITIES: Mapping[str, Severity] = {
    "critical": Severity.SEV1,
    "error": Severity.SEV2,
    "major": Severity.SEV2,
    "warning": Severity.SEV3,
    "info": Severity.SEV4,
}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


# -- the payload, as typed data ----------------------------------------------------------------------------------


class PayloadRejected(FirelineError):
    """A notification fireline does not take: `status` is the HTTP status to answer (4xx), the message a short
    reason (it goes back to the sender, so it never echoes the payload at length)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Alert:
    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime | None
    ends_at: datetime | None  # None: not ended (Alertmanager sends year 1)
    generator_url: str = ""
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def record(self) -> dict[str, Any]:
        """The alert as the incident.alert event keeps it."""
        return {
            "alertname": self.name,
            "status": str(self.status),
            "labels": dict(self.labels),
            "annotations": {k: v for k, v in self.annotations.items() if k in ("summary", "description")},
            "starts_at": iso(self.starts_at) if self.starts_at else None,
            "ends_at": iso(self.ends_at) if self.ends_at else None,
            "fingerprint": self.fingerprint,
            "generator_url": self.generator_url,
        }


@dataclass(frozen=True)
class Notification:
    """One Alertmanager webhook notification (payload version 4)."""

    group_key: str
    status: AlertStatus
    receiver: str
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    truncated_alerts: int = 0

    @property
    def digest(self) -> str:
        """What makes two deliveries the same notification: the group, its status and each alert's state."""
        states = sorted((a.fingerprint or json.dumps(dict(sorted(a.labels.items()))), str(a.status),
                         iso(a.starts_at) if a.starts_at else "", iso(a.ends_at) if a.ends_at else "")
                        for a in self.alerts)  # fmt: skip
        canonical = json.dumps([self.group_key, str(self.status), states], separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def alert_name(self) -> str:
        for labels in (self.group_labels, self.common_labels, *(a.labels for a in self.alerts)):
            if labels.get("alertname"):
                return labels["alertname"]
        return ""


def parse(body: bytes) -> Notification:
    """The notification in `body`, or PayloadRejected (400) saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadRejected(400, "the body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise PayloadRejected(400, "the JSON is nested too deeply") from None
    except ValueError:
        raise PayloadRejected(400, "the body is not JSON") from None
    return _notification(data)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _notification(data: object) -> Notification:
    if not isinstance(data, dict):
        raise _shape("the body is not a JSON object")
    version = data.get("version")
    if version != "4":
        raise _shape(f'version must be "4" (Alertmanager\'s webhook payload), not {_shown(version)}')
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise _shape("alerts must be a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadRejected(413, f"too many alerts ({len(alerts)}; at most {MAX_ALERTS} in one notification)")
    return Notification(
        group_key=_text(data, "groupKey", required=True),
        status=_status(data.get("status"), "status"),
        receiver=_text(data, "receiver"),
        alerts=tuple(_alert(alert, f"alerts[{n}]") for n, alert in enumerate(alerts)),
        group_labels=_strings(data.get("groupLabels"), "groupLabels", MAX_KEY),
        common_labels=_strings(data.get("commonLabels"), "commonLabels", MAX_KEY),
        common_annotations=_strings(data.get("commonAnnotations"), "commonAnnotations", MAX_ANNOTATION),
        external_url=_text(data, "externalURL"),
        truncated_alerts=_count(data.get("truncatedAlerts")),
    )


def _alert(data: object, where: str) -> Alert:
    if not isinstance(data, dict):
        raise _shape(f"{where} is not an object")
    labels = _strings(data.get("labels"), f"{where}.labels", MAX_KEY)
    if not labels:
        raise _shape(f"{where}.labels must be a non-empty object")
    starts = _time(data.get("startsAt"), f"{where}.startsAt")
    if starts is None:
        raise _shape(f"{where}.startsAt is missing")
    return Alert(
        status=_status(data.get("status"), f"{where}.status"),
        labels=labels,
        annotations=_strings(data.get("annotations"), f"{where}.annotations", MAX_ANNOTATION),
        starts_at=starts,
        ends_at=_time(data.get("endsAt"), f"{where}.endsAt"),
        generator_url=_text(data, "generatorURL", where=where),
        fingerprint=_text(data, "fingerprint", where=where),
    )


def _shape(reason: str) -> PayloadRejected:
    return PayloadRejected(400, f"not an Alertmanager notification: {reason}")


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 20 else text[:19] + "…"


def _status(value: object, where: str) -> AlertStatus:
    if value not in ("firing", "resolved"):
        raise _shape(f'{where} must be "firing" or "resolved", not {_shown(value)}')
    return AlertStatus(value)


def _text(data: Mapping[str, Any], key: str, required: bool = False, where: str = "") -> str:
    value = data.get(key)
    name = f"{where}.{key}" if where else key
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _shape(f"{name} must be {'a non-empty' if required else 'a'} string")
    if len(value) > MAX_KEY:
        raise _shape(f"{name} is longer than {MAX_KEY} characters")
    return value


def _strings(value: object, where: str, limit: int) -> dict[str, str]:
    """An object of strings (labels, annotations); missing is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _shape(f"{where} must be an object of strings")
    if len(value) > MAX_LABELS:
        raise _shape(f"{where} has more than {MAX_LABELS} entries")
    if any(len(k) > MAX_KEY or len(v) > limit for k, v in value.items()):
        raise _shape(f"{where} holds a value longer than {limit} characters")
    return dict(value)


def _time(value: object, where: str) -> datetime | None:
    """An RFC 3339 time; None for Alertmanager's "not set" (year 1) or a missing value."""
    if value is None or value == "":
        return None
    moment = parse_utc(value) if isinstance(value, str) else None
    if moment is None:
        raise _shape(f"{where} is not an RFC 3339 time")
    if moment.year <= 1:
        return None
    if moment < EARLIEST:
        raise _shape(f"{where} is before 1970")
    return moment


def _count(value: object) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _shape("truncatedAlerts must be a count")
    return value


# -- the event ---------------------------------------------------------------------------------------------------


@event_payload
class IncidentAlert(Payload):
    """An alert notification recorded on an incident: the one that declared it, or one attached to it."""

    TYPE: ClassVar[str] = ALERT
    MISSING: ClassVar[Mapping[str, Any]] = {"group_key": "?", "status": "firing"}
    group_key: str
    status: str  # firing | resolved (the group's)
    receiver: str = ""
    alerts: tuple[Mapping[str, Any], ...] = ()  # Alert.record() of each
    external_url: str = ""
    truncated_alerts: int = 0  # alerts Alertmanager left out of the notification
    digest: str = ""  # Notification.digest: the same notification delivered again is not recorded twice
    declared: bool = False  # this notification declared the incident

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> IncidentAlert:
        found = cls.fields_from(data)
        alerts = data.get("alerts")
        found["alerts"] = tuple(a for a in alerts if isinstance(a, Mapping)) if isinstance(alerts, list) else ()
        return cls(**found)


def alert_payload(notification: Notification, declared: bool = False) -> IncidentAlert:
    return IncidentAlert(
        group_key=notification.group_key,
        status=str(notification.status),
        receiver=notification.receiver,
        alerts=tuple(a.record() for a in notification.alerts),
        external_url=notification.external_url,
        truncated_alerts=notification.truncated_alerts,
        digest=notification.digest,
        declared=declared,
    )


# -- the policy's intake section ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeSettings:
    severity_label: str = "severity"
    severities: Mapping[str, Severity] = field(default_factory=lambda: dict(_DEFAULT_SEVERITIES))
    default_severity: Severity = Severity.SEV3
    system_labels: tuple[str, ...] = ("service", "job")
    runbooks: tuple[Path, ...] = ()  # where suggestions come from
    run_reads: bool = False  # plan the best suggestion (its read-only steps run) at once
    token_secret: str | None = None  # the policy secret a bearer token must match
    policy_digest: str = ""
    policy_file: Path | None = None  # passed on to the plan it starts


def settings_of(policy: Policy, team_file: bool) -> IntakeSettings:
    """The policy's `intake` section (validated by the schema), with the built-in defaults for what it omits.
    Paths are relative to the policy file; without a team policy file, to the current directory."""
    section = mapping(policy.data, "intake")
    base = policy.path.parent if team_file else Path(".")
    places = texts(section, "runbooks") or ("runbooks",)
    severities = section.get("severities")
    token = section.get("token")
    return IntakeSettings(
        severity_label=str(section.get("severity_label") or "severity"),
        severities={str(k).lower(): Severity(v) for k, v in severities.items()}
        if isinstance(severities, Mapping)
        else dict(_DEFAULT_SEVERITIES),
        default_severity=Severity(section.get("default_severity") or "SEV3"),
        system_labels=texts(section, "system_labels") or ("service", "job"),
        runbooks=tuple(p for p in (base / place for place in places) if p.exists()),
        run_reads=section.get("run_reads") is True,
        token_secret=str(token["secret"]) if isinstance(token, Mapping) else None,
        policy_digest=policy.digest,
        policy_file=policy.path if team_file else None,
    )


# -- deciding ----------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    DECLARED = "declared"  # a new incident
    ATTACHED = "attached"  # recorded on the group's incident
    REPEATED = "repeated"  # already recorded (a retry, or the other Alertmanager of a pair): nothing written
    IGNORED = "ignored"  # resolved alerts with no incident to note them on: nothing written


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    incident_id: str | None
    previous: str | None = None  # the group's incident before this one (DECLARED after one was over)
    why: str = ""
    raced: bool = False  # another process declared for the group between our read and our write


class IntakeConflict(FirelineError):
    """The store kept refusing a declaration while no incident held the group (a store changed meanwhile)."""


def receive(
    journal: Journal, notification: Notification, settings: IntakeSettings, actor: str = ACTOR,
    now: datetime | None = None,
) -> Decision:  # fmt: skip
    """Record `notification`: declare an incident for its group, or attach it to the group's open incident."""
    raced = False
    for _ in range(5):
        group = journal.alert_group(notification.group_key)
        if group is not None and group.holds:
            return replace(_attach(journal, group.incident_id, notification, actor), raced=raced)
        if notification.status is AlertStatus.RESOLVED:
            # Never declares. Noted on the group's newest incident, unless it is closed (its record is final).
            if group is None or group.status == Status.CLOSED:
                return Decision(Outcome.IGNORED, group.incident_id if group else None,
                                why="resolved alerts of a group with no open incident")  # fmt: skip
            return _attach(journal, group.incident_id, notification, actor)
        if (
            group is not None
            and group.status == Status.RESOLVED
            and _still_firing(journal, group.incident_id, notification)
        ):
            # The alerts it resolved with kept firing (Alertmanager repeats them): the same firing, not a new one.
            return _attach(journal, group.incident_id, notification, actor)
        previous = group.incident_id if group else None
        incident_id = _declare(journal, notification, settings, actor, previous, now or datetime.now(UTC))
        if incident_id is not None:
            return Decision(Outcome.DECLARED, incident_id, previous)
        # Another intake declared for this group between our read and our write: its incident takes this one.
        raced = True
    raise IntakeConflict(f"the store refused to declare an incident for alert group {notification.group_key[:80]!r}")


def _attach(journal: Journal, incident_id: str, notification: Notification, actor: str) -> Decision:
    repeated = Decision(Outcome.REPEATED, incident_id, why="this notification is recorded already")
    recorded = journal.events(incident_id, (ALERT,))
    if any(IncidentAlert.of(e).digest == notification.digest for e in recorded[-20:]):
        return repeated  # e.g. the notification that declared the incident, delivered again
    if load(journal, incident_id).status is Status.CLOSED:
        return Decision(Outcome.IGNORED, incident_id, why=f"{incident_id} is closed")
    data = alert_payload(notification).to_data()

    def events(deliveries: int) -> list[Pending]:
        # Counted in the same transaction as the event is written: of two processes receiving it at once (the
        # two Alertmanagers of a pair), the first records it, the second only counts a delivery.
        return [(incident_id, ALERT, actor, data)] if deliveries == 1 else []

    deliveries = journal.append_numbered(f"alert-notification {incident_id} {notification.digest}", events)
    return Decision(Outcome.ATTACHED, incident_id) if deliveries == 1 else repeated


def _still_firing(journal: Journal, incident_id: str, notification: Notification) -> bool:
    """Whether every firing alert of `notification` was recorded on the incident already (the same alert, the
    same start): nothing started firing since."""
    seen = {
        (str(alert.get("fingerprint") or ""), str(alert.get("starts_at") or ""))
        for event in journal.events(incident_id, (ALERT,))
        for alert in IncidentAlert.of(event).alerts
    }
    firing = [a for a in notification.alerts if a.status is AlertStatus.FIRING]
    return bool(firing) and all(
        bool(a.fingerprint) and (a.fingerprint, iso(a.starts_at) if a.starts_at else "") in seen for a in firing
    )


def _declare(
    journal: Journal, notification: Notification, settings: IntakeSettings, actor: str, previous: str | None,
    now: datetime,
) -> str | None:  # fmt: skip
    """Declare, atomically with taking the incident's number; None when another process declared first."""
    year = now.astimezone(UTC).year
    payloads = declaration(notification, settings, now, previous)

    def events(number: int) -> list[Pending]:
        incident_id = ids.format_id(year, number)
        return [(incident_id, p.TYPE, actor, p.to_data()) for p in payloads]

    number = journal.append_numbered(ids.counter_name(year), events)
    return None if number is None else ids.format_id(year, number)


def declaration(
    notification: Notification, settings: IntakeSettings, now: datetime, previous: str | None
) -> list[Payload]:
    """The events that open an incident for a firing group, in order."""
    started = _started(notification, now)
    severity, why = severity_of(notification, settings)
    # A group key is made of label values, which may hold any character: shown by `show` and `timeline`
    source = one_line(f"alert {notification.group_key}", TITLE_LIMIT)
    label = settings.severity_label
    payloads: list[Payload] = [
        iev.IncidentDeclared(
            title=title_of(notification),
            severity=severity,
            type=IncidentType.AVAILABILITY,
            systems=systems_of(notification, settings),
            impact=one_line(notification.common_annotations.get("description", ""), IMPACT_LIMIT),
            started_at=iso(started),
            assessment={"criteria": {"alert label": label}, "why": [why]},
            policy=settings.policy_digest,
        ),
        iev.IncidentMilestone(str(Milestone.STARTED), iso(started), source),
        iev.IncidentMilestone(str(Milestone.DETECTED), iso(started), source),
        alert_payload(notification, declared=True),
    ]
    if previous:
        text = f"alert group fired again after {previous} was over: this is a new incident (see {previous})"
        payloads.append(iev.IncidentNote(text, str(NoteKind.OBSERVATION)))
    return payloads


def _started(notification: Notification, now: datetime) -> datetime:
    """The earliest alert's start; never later than now (a sender's clock ahead of ours)."""
    firing = [a for a in notification.alerts if a.status is AlertStatus.FIRING] or list(notification.alerts)
    starts = [a.starts_at for a in firing if a.starts_at is not None]
    return min([*starts, now]) if starts else now


def severity_of(notification: Notification, settings: IntakeSettings) -> tuple[Severity, str]:
    """The most severe level the alerts' severity label maps to (under-rating is the worse mistake), else the
    default; with why, for the timeline."""
    label = settings.severity_label
    values = [notification.common_labels.get(label, "")] + [a.labels.get(label, "") for a in notification.alerts]
    known = settings.severities
    mapped = [(known[v.lower()], v) for v in dict.fromkeys(values) if v and v.lower() in known]
    if not mapped:
        seen = next((v for v in values if v), None)
        said = f"{label}={seen!r} is not in the intake mapping" if seen else f"the alerts have no {label} label"
        return settings.default_severity, f"{said}: the default {settings.default_severity}"
    severity, value = min(mapped, key=lambda pair: pair[0].rank)
    return severity, f"alert label {label}={value} maps to {severity}"


def title_of(notification: Notification) -> str:
    summary = one_line(notification.common_annotations.get("summary", ""), TITLE_LIMIT)
    if summary:
        return summary
    name = one_line(notification.alert_name(), TITLE_LIMIT)
    return name or one_line(f"alert group {notification.group_key}", TITLE_LIMIT)


def systems_of(notification: Notification, settings: IntakeSettings) -> tuple[str, ...]:
    """The values of the first system label (service, then job …) the alerts carry."""
    for label in settings.system_labels:
        common = notification.common_labels.get(label)
        values = [common] if common else [a.labels.get(label, "") for a in notification.alerts]
        found = tuple(dict.fromkeys(v.strip() for v in values if v and _SYSTEM.match(v.strip())))
        if found:
            return found[:MAX_SYSTEMS]
    return ()


def one_line(text: str, limit: int) -> str:
    """`text` on one printable line of at most `limit` characters."""
    one = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


# -- runbook suggestions (after the answer to Alertmanager) --------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    option: Option
    inputs: Mapping[str, str]  # required inputs the alerts' labels give
    missing: tuple[str, ...]  # required inputs they do not

    @property
    def command(self) -> str:
        given = "".join(f" -i {name}={value}" for name, value in self.inputs.items())
        wanted = "".join(f" -i {name}=…" for name in self.missing)
        return self.option.command + given + wanted


def suggest(journal: Journal, incident_id: str, settings: IntakeSettings, actor: str = ACTOR) -> list[Suggestion]:
    """Match the runbooks of `settings.runbooks` against the incident (as `incident brief` does) and record
    the best ones on its timeline, each with the command that runs it for the incident."""
    from runner.incident.brief import find_runbooks

    shelf = find_runbooks(list(settings.runbooks))
    found = suggestions(journal, incident_id, shelf)
    for s in found[:SUGGESTIONS]:
        runbook = s.option.runbook
        reasons = "; ".join(s.option.reasons[:3])
        text = f"suggested runbook {runbook.name} ({reasons}): {s.command}"
        append(journal, incident_id, iev.IncidentNote(text, str(NoteKind.OBSERVATION)), actor)
    return found


def suggestions(journal: Journal, incident_id: str, shelf: Shelf) -> list[Suggestion]:
    from runner.incident.brief import match

    incident = load(journal, incident_id)
    alerts = [IncidentAlert.of(e) for e in journal.events(incident_id, (ALERT,))]
    said: list[str] = []
    labels: dict[str, str] = {}
    for payload in alerts:
        for alert in payload.alerts:
            said.append(str(alert.get("alertname") or ""))
            said.extend(str(v) for v in mapping(alert, "annotations").values())
            for key, value in mapping(alert, "labels").items():
                labels.setdefault(str(key), str(value))
    found = []
    for option in match(incident, [s for s in said if s], shelf, Path.cwd()):
        required = option.runbook.required_inputs
        given = {name: labels[name] for name in required if name in labels}
        found.append(Suggestion(option, given, tuple(n for n in required if n not in labels)))
    return found


def plan_argv(suggestion: Suggestion, incident_id: str, settings: IntakeSettings, actor: str = ACTOR) -> list[str]:
    """`fireline plan RUNBOOK --incident ID` for the best suggestion: its read-only steps run, nothing changes."""
    argv = [sys.executable, "-m", "runner", "plan", str(suggestion.option.runbook.path), "--incident", incident_id,
            "--as", actor, "--output", "plain"]  # fmt: skip
    for name, value in suggestion.inputs.items():
        argv += ["-i", f"{name}={value}"]
    return argv


def plan_refusal(suggestion: Suggestion) -> str | None:
    """Why the best suggestion cannot be planned at once (inputs no label gives), or None."""
    if suggestion.missing:
        return f"needs {', '.join(suggestion.missing)} (no alert label of that name)"
    return None


def note(journal: Journal, incident_id: str, text: str, actor: str = ACTOR) -> None:
    append(journal, incident_id, iev.IncidentNote(text, str(NoteKind.OBSERVATION)), actor)


# -- the timeline --------------------------------------------------------------------------------------------------


def describe(event: Event) -> tuple[str, str]:
    """The timeline's line for an incident.alert, and the lines under it (runner.incident.timeline)."""
    p = IncidentAlert.of(event)
    names = list(dict.fromkeys(str(a.get("alertname") or "?") for a in p.alerts))
    firing = sum(1 for a in p.alerts if a.get("status") == "firing")
    resolved = len(p.alerts) - firing
    counts = ", ".join(part for part, n in ((f"{firing} firing", firing), (f"{resolved} resolved", resolved)) if n)
    verb = "declared by" if p.declared else "received:"
    head = f"alert {p.status} ({verb} Alertmanager{f' receiver {p.receiver}' if p.receiver else ''}): "
    text = head + one_line(", ".join(names), 120) + f" ({counts or 'no alerts'})"
    if p.truncated_alerts:
        text += f"; {p.truncated_alerts} more left out by Alertmanager"
    lines = []
    for alert in p.alerts[:10]:
        labels = mapping(alert, "labels")
        summary = str(mapping(alert, "annotations").get("summary") or "")
        shown = ", ".join(f"{k}={v}" for k, v in list(labels.items())[:8] if k != "alertname")
        lines.append(one_line(f"- {alert.get('status')} {alert.get('alertname') or '?'} {{{shown}}} {summary}", 240))
    return text, "\n".join(lines)


def require_token_secret(settings: IntakeSettings, policy: Policy) -> str | None:
    """The token's secret name, checked against the policy's `secrets:` (a usage error when it names none)."""
    from runner.policy import secret_refs

    if settings.token_secret is None:
        return None
    if settings.token_secret not in secret_refs(policy):
        raise UsageError(
            f"intake.token names the secret {settings.token_secret!r}, which the policy's secrets: do not define",
            hint="add it under secrets: (from: env or from: file)",
        )
    return settings.token_secret
