"""The resolution gate: "resolved" is a claim, checked before it is recorded.

`fireline incident resolve` runs the checklist of the incident's severity (runner.incident.checklist):
manual items first (cheap: confirmed by name, or the gate refuses at once), then the probe checks, again every
interval until the hold has passed. The `resolved` milestone is the moment the gate passed, not the moment the
command was typed. Every attempt — passed, refused, interrupted or forced past the checks — is an
`incident.verification` event, so the timeline shows it.

Probe items use the policy's `connections:` and `{{ secrets.X }}` from its `secrets:`; every secret value is
redacted from what is printed and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from runner.durations import format_duration
from runner.errors import FirelineError, UsageError
from runner.gameday.signals import deferred_signals
from runner.incident.checklist import Check, CheckKind, Checklist, checklist
from runner.incident.lifecycle import require_open, resolve
from runner.incident.store import append, iso, load
from runner.incident.times import utc
from runner.incident.view import Incident, parse_utc
from runner.journal.payloads import Payload, event_payload, flag, number, text

if TYPE_CHECKING:
    from runner.journal.store import Journal
    from runner.policy import Policy

VERIFICATION = "incident.verification"


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: CheckKind
    ok: bool
    detail: str
    confirmed_by: str | None = None

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "kind": str(self.kind), "ok": self.ok, "detail": self.detail,
                "confirmed_by": self.confirmed_by}  # fmt: skip


@event_payload
class IncidentVerification(Payload):
    """One attempt to pass the resolution gate: passed, refused (a check failed, an item was not confirmed, the
    hold was interrupted) or forced past the checks (`forced`, with the reason)."""

    TYPE: ClassVar[str] = VERIFICATION
    passed: bool
    forced: bool = False
    reason: str = ""  # why it was refused or forced ("" when it passed)
    hold_s: float = 0.0  # the hold asked for
    started_at: str = ""  # UTC ISO 8601 (Z): when the checks began
    checks: tuple[Mapping[str, Any], ...] = ()  # each: name, kind, ok, detail, confirmed_by

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        checks = data.get("checks")
        found = tuple(c for c in checks if isinstance(c, Mapping)) if isinstance(checks, list | tuple) else ()
        return cls(flag(data, "passed"), flag(data, "forced"), text(data, "reason"), number(data, "hold_s") or 0.0,
                   text(data, "started_at"), found)  # fmt: skip


@dataclass(frozen=True)
class Attempt:
    """An attempt to pass the gate as `incident show` reports it."""

    at: datetime | None
    by: str | None
    verification: IncidentVerification


def attempts(journal: Journal, incident_id: str) -> list[Attempt]:
    """Every attempt to pass the incident's resolution gate, in order."""
    events = journal.events(incident_id, (VERIFICATION,))
    return [Attempt(parse_utc(e.ts_wall), e.actor, IncidentVerification.of(e)) for e in events]


class GateRefused(FirelineError):
    """The resolution gate did not pass: the incident stays unresolved (exit 1)."""


class NotAnItem(UsageError):
    """`--confirm` named something that is not an item of the checklist."""


# -- running it -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Wall time for what is recorded, monotonic time for the hold (a wall clock may jump)."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class GateRequest:
    confirmed: tuple[str, ...] = ()  # manual items the responder confirms
    hold_s: float | None = None  # None: the checklist's hold
    interval_s: float | None = None  # None: the checklist's interval


@dataclass(frozen=True)
class Passed:
    """The gate passed and the incident is resolved."""

    results: tuple[CheckResult, ...]
    changed: list[str]
    resolved_at: datetime
    verified: bool  # False: there was no probe check, nothing was verified
    hold_s: float


Say = Callable[[str], None]


def pass_gate(
    journal: Journal,
    incident: Incident,
    policy: Policy,
    request: GateRequest,
    actor: str | None,
    say: Say,
    clock: Clock | None = None,
) -> Passed:
    """Run the incident's checklist and resolve it once it holds. Raises GateRefused (recorded) when an item
    is not confirmed or a check fails; KeyboardInterrupt during the hold is recorded and raised again."""
    clock = clock or Clock()
    require_open(incident, "resolve it")
    found = checklist(policy, incident)
    hold = found.hold_s if request.hold_s is None else request.hold_s
    interval = found.interval_s if request.interval_s is None else request.interval_s
    manual = _manual_results(incident, found, request.confirmed, actor)
    unconfirmed = [r.name for r in manual if not r.ok]
    if unconfirmed:
        _record(journal, incident, False, f"not confirmed: {', '.join(unconfirmed)}", hold, clock.now(), manual,
                actor)  # fmt: skip
        raise GateRefused(
            f"{incident.id} is not resolved: {_items(len(unconfirmed), 'manual item')} not confirmed: "
            + "; ".join(f"{c.name!r} ({c.confirm})" for c in found.manuals if c.name in unconfirmed),
            hint="confirm each with --confirm NAME once it is true, e.g. --confirm " + _shell_word(unconfirmed[0]),
        )
    if not found.probes:
        with deferred_signals():  # the attempt and the resolution it allows are recorded together
            _record(journal, incident, True, "", 0.0, clock.now(), manual, actor)
            moment = clock.now()
            changed = resolve(journal, incident, actor, moment, verified=True, source="resolution gate (no probes)")
        return Passed(tuple(manual), changed, moment, verified=False, hold_s=0.0)

    def settle(moment: datetime) -> list[str]:
        source = f"resolution gate ({_items(len(found.probes), 'check')} held {held(hold)})"
        # As the incident stands after the hold: others may have acted meanwhile.
        return resolve(journal, load(journal, incident.id), actor, moment, verified=True, source=source)

    with _Prober(policy, incident, found.probes) as prober:
        results, moment, changed = _hold(
            journal, incident, found.probes, prober, hold, interval, manual, actor, say, clock, settle
        )
    return Passed((*manual, *results), changed, moment, verified=True, hold_s=hold)  # fmt: skip


def force_past(
    journal: Journal, incident: Incident, reason: str, actor: str | None, clock: Clock | None = None
) -> list[str]:
    """Resolve without running the checks: the override, who and why, is on the timeline."""
    clock = clock or Clock()
    require_open(incident, "resolve it")
    with deferred_signals():  # the override and the resolution are recorded together
        append(journal, incident.id, IncidentVerification(False, True, reason, 0.0, iso(clock.now()), ()), actor)
        moment = clock.now()
        return resolve(journal, incident, actor, moment, verified=True, source="forced past the resolution gate")


def _manual_results(
    incident: Incident, found: Checklist, confirmed: Sequence[str], actor: str | None
) -> list[CheckResult]:
    given = set(confirmed)
    unknown = sorted(given - set(found.names))
    if unknown:
        listed = ", ".join(repr(n) for n in found.names) or "none (the checklist is empty)"
        raise NotAnItem(
            f"--confirm {unknown[0]!r} is not an item of the {found.severity} verification checklist; its items: "
            f"{listed}"
        )
    return [
        CheckResult(c.name, CheckKind.MANUAL, True, f"confirmed: {c.confirm}", actor)
        if c.name in given
        else CheckResult(c.name, CheckKind.MANUAL, False, f"not confirmed: {c.confirm}")
        for c in found.manuals
    ]


def _hold(
    journal: Journal,
    incident: Incident,
    probes: tuple[Check, ...],
    prober: _Prober,
    hold: float,
    interval: float,
    manual: list[CheckResult],
    actor: str | None,
    say: Say,
    clock: Clock,
    settle: Callable[[datetime], list[str]],
) -> tuple[list[CheckResult], datetime, list[str]]:
    """Run the probes now, then every `interval` until `hold` has passed (the last round at the end of the
    hold), then `settle` (resolve) at the moment the gate passed. Returns the last round's results, that
    moment, and what settling changed."""
    started, begin = clock.now(), clock.monotonic()
    say(f"{incident.id}: checking {_items(len(probes), 'probe')} ({', '.join(c.name for c in probes)}) every "
        f"{held(interval)} until they have held for {held(hold)}" +
        (f" (at {utc(_after(started, hold))} at the earliest)" if hold > 0 else ""))  # fmt: skip
    results: list[CheckResult] = []
    try:
        while True:
            round_start = clock.monotonic() - begin
            results = [prober.run(c) for c in probes]
            failed = [r for r in results if not r.ok]
            if failed:
                reason = _failure(failed, round_start, hold)
                _record(journal, incident, False, reason, hold, started, [*manual, *results], actor)
                raise GateRefused(
                    f"{incident.id} is not resolved: {reason}",
                    hint=f"once it is fixed, run `fireline incident resolve {incident.id}` again: the hold starts over",
                )
            if round_start >= hold:
                with deferred_signals():  # the attempt and the resolution it allows are recorded together
                    _record(journal, incident, True, "", hold, started, [*manual, *results], actor)
                    moment = clock.now()  # the gate passed; its record comes first on the timeline
                    changed = settle(moment)
                say(f"  {_clock(moment)}  {_all_pass(len(results))}; held {held(round_start)}: the gate passed")
                return results, moment, changed
            say(f"  {_clock(clock.now())}  {_all_pass(len(results))}; held {held(round_start)} of {held(hold)}, "
                f"{held(hold - round_start)} to go")  # fmt: skip
            # The next round an interval after this one began (a slow round is not followed by a burst of
            # catching up), and the last one when the hold ends.
            _sleep_until(clock, begin + min(round_start + interval, hold))
    except KeyboardInterrupt:
        so_far = held(clock.monotonic() - begin)
        _record(journal, incident, False, f"interrupted after {so_far} of the {held(hold)} hold", hold,
                started, [*manual, *results], actor)  # fmt: skip
        raise


def _sleep_until(clock: Clock, deadline: float) -> None:
    """Sleep until the monotonic `deadline` (time.sleep may return a little early after a signal)."""
    while (left := deadline - clock.monotonic()) > 0:
        clock.sleep(left)


def _failure(failed: list[CheckResult], at: float, hold: float) -> str:
    when = "at the first check" if at <= 0.05 else f"after {held(at)} of the {held(hold)} hold"
    return "; ".join(f"check {r.name!r} failed {when}: {r.detail}" for r in failed)


def _record(
    journal: Journal,
    incident: Incident,
    passed: bool,
    reason: str,
    hold: float,
    started: datetime,
    results: Sequence[CheckResult],
    actor: str | None,
) -> None:
    payload = IncidentVerification(passed, False, reason, hold, iso(started), tuple(r.record() for r in results))
    with deferred_signals():  # a second Ctrl-C does not lose the record of the attempt
        append(journal, incident.id, payload, actor)


class _Prober:
    """Runs probe checks with the policy's connections and the secrets they name (only those: a channel's
    secret missing on this machine does not stop the gate)."""

    def __init__(self, policy: Policy, incident: Incident, probes: tuple[Check, ...]) -> None:
        from runner.engine.context import Connections, RunScope
        from runner.policy import secret_refs
        from runner.secrets import Redactor, resolve_secrets

        declared = dict(policy.data.get("connections") or {})
        refs = secret_refs(policy)
        named = sorted(set(_secret_names([declared, *(c.params for c in probes)])))
        undeclared = [n for n in named if n not in refs]
        if undeclared:
            raise UsageError(
                f"the verification checks use secret {undeclared[0]!r}, which the policy's secrets: does not declare",
                hint=f"add it, e.g. secrets: {{{undeclared[0]}: {{from: env, name: {undeclared[0]}}}}}",
            )
        self.redactor = Redactor()
        secrets = resolve_secrets({n: refs[n] for n in named}, self.redactor)
        self.connections = Connections(declared, RunScope({}, secrets, {"id": incident.id}))
        self.context = {
            "secrets": secrets,
            "incident": {"id": incident.id, "severity": str(incident.severity), "systems": list(incident.systems)},
        }

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connections.close()

    def run(self, check: Check) -> CheckResult:
        from runner.gameday.probes import run_check

        result = run_check(
            check.name, check.action, check.params, check.timeout_s, self.connections, self.context, self.redactor
        )
        detail = result.detail if result.bug is None else f"a bug in fireline's {check.action}: {result.detail}"
        return CheckResult(check.name, CheckKind.PROBE, result.ok, detail)


def _secret_names(values: Iterable[Any]) -> Iterator[str]:
    """The secrets the templates among `values` read (`secrets.X`, `secrets['X']`); text outside a template
    names none."""
    from jinja2 import TemplateSyntaxError

    from runner.templating import references, templates_in

    for template in templates_in(list(values)):
        try:
            found = references(template)
        except TemplateSyntaxError:
            continue  # the check that renders it fails, saying why
        yield from (r.chain[0] for r in found if r.root == "secrets" and r.chain and isinstance(r.chain[0], str))


# -- words --------------------------------------------------------------------------------------------------------


def _items(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _all_pass(count: int) -> str:
    return "the check passes" if count == 1 else f"all {count} checks pass"


def held(seconds: float) -> str:
    """A hold's progress: 0s, 1.5s, 4m05s (a tenth of a second is as fine as a round goes)."""
    rounded = round(max(0.0, seconds), 1)
    return "0s" if rounded == 0 else format_duration(rounded)


def _after(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def _shell_word(name: str) -> str:
    import shlex

    return shlex.quote(name)
