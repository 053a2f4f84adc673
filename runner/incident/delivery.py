"""Delivering a recorded status update to the policy's channels, and the record of each delivery.

The journal is the source of truth: the update is recorded before any channel is tried, and a channel that
fails never undoes it. Channels are tried at once, each in its own thread, so a slow or failing one never
holds up the others; each retries what is worth retrying (429 — honouring Retry-After, capped —, Statuspage's
420, 5xx, no connection) with a doubling backoff, within a bounded number of attempts and a bounded time.
Every delivery tried is an `incident.delivery` event (ok or the error, and how many attempts), written by
the calling thread as each channel finishes. `redeliver` tries again those whose latest delivery failed.

Safety: a drill incident (a game day's) reaches only channels that say `drills: true`; every credential
(a webhook URL, an API key, a password), whether written in the policy or read from a secret, is
registered with a Redactor, and every detail recorded or shown passes through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from runner.errors import FirelineError
from runner.incident import events as ev
from runner.incident.channels.base import DETAIL_LIMIT, Answer, Notice, Resolved, Value, is_drill
from runner.incident.channels.config import Channel, channels_of
from runner.incident.store import append
from runner.incident.view import Incident, parse_utc
from runner.journal.events import Event
from runner.journal.payloads import Payload, event_payload
from runner.journal.store import Journal
from runner.policy import Policy, secret_refs
from runner.secrets import Redactor, SecretRef, resolve_secrets

if TYPE_CHECKING:
    from concurrent.futures import Future

DELIVERY = "incident.delivery"
MAX_RETRY_AFTER_S = 60.0  # a Retry-After longer than this is not waited for (the update stays failed)
MAX_BACKOFF_S = 30.0
INTERRUPTED = "interrupted before the channel answered (it may or may not have the update)"
# A URL's path this long (or a piece of it) is masked on its own too: a Slack webhook's path is its token.
_MIN_PATH_SECRET = 16


@event_payload
class IncidentDelivery(Payload):
    """One delivery of one update to one channel: how it ended, after how many attempts."""

    TYPE: ClassVar[str] = DELIVERY
    OMIT: ClassVar[frozenset[str]] = frozenset({"external_id"})
    update_seq: int  # the seq of the incident.update delivered
    channel: str  # its name in the policy
    kind: str  # slack | webhook | statuspage | email
    ok: bool
    attempts: int  # 0: nothing was sent (e.g. a secret could not be read)
    detail: str = ""  # redacted: "HTTP 200", "HTTP 500: invalid_payload", "250 OK", …
    external_id: str | None = None  # the status page's incident id


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    NOT_SENT = "not sent"  # not tried: no such channel in the policy, a drill, superseded


@dataclass(frozen=True)
class Delivery:
    """What one channel did with one update, as the command reports it."""

    channel: str
    outcome: Outcome
    detail: str
    kind: str = ""
    attempts: int = 0
    update_seq: int = 0

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    def line(self) -> str:
        """`delivered (HTTP 200)`, `failed after 3 attempts: HTTP 500: …`, `not sent: drill`."""
        if self.outcome is Outcome.DELIVERED:
            return f"delivered ({self.detail})" if self.detail else "delivered"
        if self.outcome is Outcome.FAILED:
            if not self.attempts:
                return f"failed before sending: {self.detail}"
            return f"failed after {self.attempts} attempt{'s' if self.attempts != 1 else ''}: {self.detail}"
        return f"not sent: {self.detail}"

    def data(self) -> dict[str, Any]:
        return {"channel": self.channel, "kind": self.kind or None, "update_seq": self.update_seq or None,
                "outcome": str(self.outcome), "delivered": self.delivered, "attempts": self.attempts,
                "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class Tried:
    """One `incident.delivery` event."""

    at: datetime | None
    actor: str | None
    ok: bool
    attempts: int
    detail: str
    external_id: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """The latest delivery of one update to one channel, and every one before it."""

    update_seq: int
    channel: str
    kind: str
    ok: bool
    attempts: int
    detail: str
    external_id: str | None
    at: datetime | None
    history: tuple[Tried, ...] = field(default_factory=tuple)


def deliveries(journal: Journal, incident_id: str) -> list[DeliveryRecord]:
    """Every (update, channel) delivered or tried, in the order of first try, each with its latest state."""
    return records(journal.events(incident_id, (DELIVERY,)))


def records(events: Sequence[Event]) -> list[DeliveryRecord]:
    found: dict[tuple[int, str], DeliveryRecord] = {}
    for event in events:
        if event.type != DELIVERY:
            continue
        p = IncidentDelivery.of(event)
        at = parse_utc(event.ts_wall)
        tried = Tried(at, event.actor, p.ok, p.attempts, p.detail, p.external_id)
        before = found.get((p.update_seq, p.channel))
        history = (*before.history, tried) if before else (tried,)
        found[(p.update_seq, p.channel)] = DeliveryRecord(
            p.update_seq, p.channel, p.kind, p.ok, p.attempts, p.detail, p.external_id, at, history
        )
    return list(found.values())


def describe(event: Event, updates: Mapping[int, str] | None = None) -> str:
    """One timeline line for an `incident.delivery` event; `updates` names each update by its seq (see
    `update_names`: a journal seq, counted over the whole store, means nothing to people)."""
    p = IncidentDelivery.of(event)
    update = (updates or {}).get(p.update_seq, f"update #{p.update_seq}")
    where = f"{p.channel} ({p.kind})" if p.kind else p.channel
    tries = f"{p.attempts} attempt{'s' if p.attempts != 1 else ''}"
    if p.ok:
        created = f"; status page incident {p.external_id}" if p.external_id and p.external_id not in p.detail else ""
        return f"{update} delivered to {where} ({tries}): {p.detail}{created}"
    return f"{update} NOT delivered to {where} after {tries}: {p.detail}"


def update_names(events: Sequence[Event], stamp: Callable[[datetime], str]) -> dict[int, str]:
    """seq → "update of <when it was recorded>", for the incident's `incident.update` events."""
    found = {}
    for event in events:
        at = parse_utc(event.ts_wall) if event.type == ev.UPDATE else None
        if at is not None:
            found[event.seq] = f"update of {stamp(at)}"
    return found


# -- delivering -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    channel: Channel
    notice: Notice


def deliver(
    journal: Journal,
    incident: Incident,
    update: ev.IncidentUpdate,
    update_seq: int,
    policy: Policy,
    actor: str | None,
    at: datetime | None = None,
) -> list[Delivery]:
    """Deliver a recorded update to the channels it names; one the policy does not define stays recorded
    only."""
    channels = _channels(policy)
    history = deliveries(journal, incident.id)
    out: dict[str, Delivery] = {}
    jobs: list[Job] = []
    for name in update.channels:
        channel = channels.get(name)
        skipped = _not_sent(incident, name, channel)
        if skipped is not None:
            out[name] = skipped
        elif channel is not None:
            jobs.append(Job(channel, Notice(incident, update, update_seq, at, _external_id(history, name))))
    for delivery in run(journal, jobs, policy, actor):
        out[delivery.channel] = delivery
    return [out[name] for name in update.channels if name in out]


def recorded_only(name: str) -> Delivery:
    """An update for a channel the policy does not define: recorded, sent nowhere."""
    return Delivery(name, Outcome.NOT_SENT, "recorded only: the policy defines no channel of that name")


def _not_sent(incident: Incident, name: str, channel: Channel | None) -> Delivery | None:
    if channel is None:
        return recorded_only(name)
    if is_drill(incident) and not channel.drills:
        return Delivery(name, Outcome.NOT_SENT, "drill", str(channel.kind))
    return None


def _external_id(history: Sequence[DeliveryRecord], channel: str) -> str | None:
    """The status page incident the first successful create made (every later update patches it)."""
    for record in history:
        for tried in record.history:
            if record.channel == channel and tried.ok and tried.external_id:
                return tried.external_id
    return None


def redeliver(journal: Journal, incident: Incident, policy: Policy, actor: str | None) -> list[Delivery]:
    """Try again every delivery whose latest try failed, update by update in order. On a status page, an
    update that a later one already replaced there is not sent again (it would set an older status)."""
    channels = _channels(policy)
    history = deliveries(journal, incident.id)
    out: list[Delivery] = []
    for event in journal.events(incident.id, (ev.UPDATE,)):
        failed = [r for r in history if r.update_seq == event.seq and not r.ok]
        if not failed:
            continue
        update, at = ev.IncidentUpdate.of(event), parse_utc(event.ts_wall)
        jobs: list[Job] = []
        for record in failed:
            channel = channels.get(record.channel)
            skipped = _not_sent(incident, record.channel, channel)
            if skipped is None and channel is not None and channel.keeps_state and _superseded(history, record):
                skipped = Delivery(record.channel, Outcome.NOT_SENT, "a later update reached it already",
                                   str(channel.kind))  # fmt: skip
            if skipped is not None:
                out.append(replace(skipped, update_seq=event.seq))
            elif channel is not None:
                notice = Notice(incident, update, event.seq, at, _external_id(history, record.channel))
                jobs.append(Job(channel, notice))
        if jobs:
            out.extend(run(journal, jobs, policy, actor))
            history = deliveries(journal, incident.id)  # again: this update may have created a page's incident
    return out


def _superseded(history: Sequence[DeliveryRecord], record: DeliveryRecord) -> bool:
    return any(r.channel == record.channel and r.update_seq > record.update_seq and r.ok for r in history)


def _channels(policy: Policy) -> dict[str, Channel]:
    return channels_of(policy.data, policy.path.parent)


def run(journal: Journal, jobs: Sequence[Job], policy: Policy, actor: str | None) -> list[Delivery]:
    """Every job at once, one thread each; each result is recorded (by this thread) as it comes."""
    if not jobs:
        return []
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
    from concurrent.futures import wait as wait_for_futures

    redactor = Redactor()
    refs = secret_refs(policy)
    prepared = [(job, _credentials(job.channel, refs, redactor)) for job in jobs]
    results: list[Delivery] = []
    pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="fireline-deliver")
    pending: dict[Future[Attempted], Job] = {pool.submit(try_delivery, job, creds): job for job, creds in prepared}
    try:
        while pending:
            done, _ = wait_for_futures(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                results.append(_record(journal, job, future.result(), redactor, actor))
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): a delivery not answered yet is recorded as failed, so that --redeliver
        # tries it again. It may have arrived: a repeated update is better than a missing one.
        for job in pending.values():
            results.append(_record(journal, job, Attempted(Answer(False, INTERRUPTED), 1), redactor, actor))
        raise
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)
    order = {job.channel.name: index for index, job in enumerate(jobs)}
    return sorted(results, key=lambda d: order[d.channel])


@dataclass(frozen=True)
class Attempted:
    answer: Answer
    attempts: int


def _record(journal: Journal, job: Job, attempted: Attempted, redactor: Redactor, actor: str | None) -> Delivery:
    answer = attempted.answer
    detail = redactor.shorten(answer.detail, DETAIL_LIMIT)
    payload = IncidentDelivery(
        update_seq=job.notice.update_seq,
        channel=job.channel.name,
        kind=str(job.channel.kind),
        ok=answer.ok,
        attempts=attempted.attempts,
        detail=detail,
        external_id=answer.external_id,
    )
    append(journal, job.notice.incident.id, payload, actor)
    outcome = Outcome.DELIVERED if answer.ok else Outcome.FAILED
    return Delivery(job.channel.name, outcome, detail, str(job.channel.kind), attempted.attempts,
                    job.notice.update_seq)  # fmt: skip


# -- credentials ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    resolved: Resolved | None
    problem: str = ""  # why they could not be read (nothing is sent then)


def _credentials(channel: Channel, refs: Mapping[str, SecretRef], redactor: Redactor) -> Credentials:
    """The channel's credentials, read and registered for masking; or why they cannot be."""
    values: dict[Value, str] = {}
    for value in channel.settings.credentials():
        if value.secret is not None:
            ref = refs.get(value.secret)
            if ref is None:
                return Credentials(None, f"secret {value.secret!r} is not defined under secrets: in the policy")
            try:
                read = resolve_secrets({ref.name: ref}, redactor)
            except FirelineError as err:
                return Credentials(None, str(err))
            if ref.name not in read:
                return Credentials(None, f"secret {ref.name!r} is not set")
            text = read[ref.name]
        else:
            text = value.text or ""
        mask(redactor, text)
        values[value] = text
    problem = _url_problem(channel, values)
    return Credentials(None if problem else Resolved(values), problem)


def mask(redactor: Redactor, value: str) -> None:
    """Register a credential, and for a URL the parts of it that are the credential on their own."""
    if len(value) >= 4:
        redactor.add(value)
    parts = urlsplit(value) if "://" in value else None
    if parts is None:
        return
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = [tail, parts.password or "", *parts.path.split("/"), parts.query]
    for piece in pieces:
        if len(piece) >= _MIN_PATH_SECRET:
            redactor.add(piece)


def _url_problem(channel: Channel, values: Mapping[Value, str]) -> str:
    """A URL read from a secret is only known now: it must be http(s), like one written in the policy."""
    url: Value | None = getattr(channel.settings, "url", None)
    if url is None or url not in values:
        return ""
    scheme = urlsplit(values[url]).scheme.lower() if "://" in values[url] else ""
    if scheme not in ("http", "https"):
        return f"the URL in {url.shown} is not an http:// or https:// URL"
    return ""


# -- attempts ---------------------------------------------------------------------------------------------------


Clock = Callable[[], float]
Sleep = Callable[[float], None]


def try_delivery(
    job: Job, credentials: Credentials, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
) -> Attempted:
    """Attempts until one is delivered or final, the retries are used up, or the time is: never raises (a
    bug in a channel is a failed delivery, not a lost update)."""
    if credentials.resolved is None:
        return Attempted(Answer(False, credentials.problem), 0)
    channel = job.channel
    deadline = clock() + channel.timeout_s
    attempts = 0
    answer = Answer(False, "no time to try")
    while attempts <= channel.retries:
        left = deadline - clock()
        if left <= 0:
            break
        attempts += 1
        answer = _one(channel, job.notice, credentials.resolved, left)
        if answer.ok or not answer.retry or attempts > channel.retries:
            break
        wait = _wait(channel, answer, attempts)
        if wait >= deadline - clock():
            answer = Answer(False, f"{answer.detail} (no time left to retry within {channel.timeout_s:g}s)")
            break
        sleep(wait)
    return Attempted(answer, attempts)


def _one(channel: Channel, notice: Notice, resolved: Resolved, left: float) -> Answer:
    try:
        return channel.settings.send(notice, resolved, left)
    except Exception as err:  # a channel's bug must not lose the others' results or the record
        return Answer(False, f"internal error in the {channel.kind} channel: {type(err).__name__}: {err}")


def _wait(channel: Channel, answer: Answer, attempts: int) -> float:
    if answer.retry_after is not None:
        return min(answer.retry_after, MAX_RETRY_AFTER_S)
    return min(channel.backoff_s * 2.0 ** (attempts - 1), MAX_BACKOFF_S)
