"""`fireline incident declare|list|show|ack|assign|sev|note|mitigated|status|update|resolve|correct`.

Thin: parse, call runner.incident, render, exit code. Everything heavier than click is imported inside the
command that needs it, so `fireline --help` stays fast.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import click

from runner.cli.actions import close
from runner.cli.identity import as_option, command_actor, command_journal, key_option, policy_option
from runner.cli.incident_intake import intake
from runner.cli.incident_metrics import metrics
from runner.cli.incident_rehearse import rehearse
from runner.cli.incident_report import report
from runner.cli.incident_views import brief, timeline
from runner.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from runner.incident.delivery import Delivery
    from runner.incident.view import Incident
    from runner.journal.store import Journal
    from runner.policy import Policy, SeverityLevel

_MAX_TEXT = 4000  # a title, a summary or a note is read at 3 a.m.: long enough, never a file
_NAME = re.compile(r"^[^\s,][^\n\r\t]{0,99}$")
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@click.group()
def incident() -> None:
    """Incidents: declare, classify, respond, resolve. Each change is a journal event with who and when."""


incident.add_command(metrics)
incident.add_command(timeline)  # runner/cli/incident_views.py: read-only views
incident.add_command(brief)
incident.add_command(intake)  # runner/cli/incident_intake.py: the Alertmanager receiver
incident.add_command(rehearse)  # runner/cli/incident_rehearse.py: a game day drafted from the incident
incident.add_command(close)  # runner/cli/actions.py: the gate is the post-mortem and the action items
incident.add_command(report)  # runner/cli/incident_report.py: the incident response analysis


# -- helpers ---------------------------------------------------------------------------------------------------------


def _load(journal: Journal, incident_id: str) -> Incident:
    from runner.incident.store import load

    return load(journal, incident_id)


def _policy(policy: str | None) -> Policy:
    from runner.policy import policy_in_force

    return policy_in_force(policy)


def _text(value: str, what: str, required: bool = True) -> str:
    """Free text from the command line: trimmed, not empty (when required), of a sane length."""
    cleaned = value.strip()
    if required and not cleaned:
        raise UsageError(f"{what} is empty")
    if len(cleaned) > _MAX_TEXT:
        raise UsageError(f"{what} is {len(cleaned)} characters long: at most {_MAX_TEXT}")
    if any(ord(c) < 32 and c not in "\n\t" for c in cleaned):
        raise UsageError(f"{what} holds control characters")
    return cleaned


def _name(value: str, what: str) -> str:
    cleaned = value.strip()
    if not _NAME.match(cleaned):
        raise UsageError(f"{what} {cleaned[:40]!r} is not a name (one line, at most 100 characters)")
    return cleaned


def _when(value: str | None, what: str) -> datetime | None:
    from runner.incident.times import parse_when

    return parse_when(value, what) if value is not None else None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- declare -----------------------------------------------------------------------------------------------------


@incident.command()
@click.option("--title", required=True, help="What is wrong, in a few words.")
@click.option("--sev", "severity", metavar="SEVn", help="Severity SEV1 (critical) … SEV4 (low).")
@click.option("--assess", "assess_", is_flag=True, help="Pick the severity from criteria given as KEY=VALUE "
              "arguments: users_affected=N systems_down=all|N|a,b data_loss=yes security=yes "
              "revenue_impact=high|medium|low|none workaround=yes.")
@click.argument("criteria", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--type", "type_", default="availability", show_default=True,
              help="availability, performance, security, data or drill.")
@click.option("--systems", default="", metavar="A,B", help="Affected systems, separated by commas.")
@click.option("--impact", default="", help="What users experience.")
@click.option("--started-at", metavar="TIME", help="When the impact started (RFC 3339 with a zone); default now.")
@click.option("--detected-at", metavar="TIME", help="When it was detected; default now.")
@click.option("--commander", metavar="NAME", help="The incident commander.")
@as_option
@policy_option
@format_option
def declare(
    title: str, severity: str | None, assess_: bool, criteria: tuple[str, ...], type_: str, systems: str,
    impact: str, started_at: str | None, detected_at: str | None, commander: str | None, actor: str | None,
    policy: str | None, fmt: str,
) -> int:  # fmt: skip
    """Declare an incident; prints its id (INC-YYYY-NNN)."""
    from runner.incident.lifecycle import Declaration, declare
    from runner.incident.model import IncidentType, Severity, parse_enum

    if criteria and not assess_:
        raise UsageError(f"unexpected argument {criteria[0][:40]!r}", hint="criteria follow --assess")
    if assess_ == (severity is not None):
        raise UsageError("give either --sev SEVn or --assess KEY=VALUE ...", hint="e.g. --assess users_affected=200")
    level_policy = _policy(policy)
    assessment = None
    if assess_:
        from runner.incident.assess import assess

        assessment = assess(level_policy, criteria)
        chosen = assessment.severity
    else:
        chosen = parse_enum(Severity, severity or "", "severity")
    names = tuple(dict.fromkeys(_name(s, "system") for s in systems.split(",") if s.strip()))
    started, detected = _when(started_at, "--started-at"), _when(detected_at, "--detected-at")
    if started is not None and detected is not None and detected < started:
        raise UsageError("--detected-at is before --started-at: the impact starts every interval")
    declaration = Declaration(
        title=_text(title, "--title"),
        severity=chosen,
        type=parse_enum(IncidentType, type_, "incident type"),
        systems=names,
        impact=_text(impact, "--impact", required=False),
        started_at=started,
        detected_at=detected,
        commander=_name(commander, "--commander") if commander is not None else None,
        assessment=assessment.record() if assessment else None,
        policy=level_policy.digest,
    )
    incident_id = declare(command_journal(), declaration, command_actor(actor))
    level = level_policy.severities[str(chosen)]
    if fmt == "json":
        _echo_json({"id": incident_id, "severity": str(chosen), "why": list(assessment.why) if assessment else []})
        return 0
    click.echo(incident_id)
    for line in assessment.why if assessment else (f"{chosen} ({level.title}): {level.definition}",):
        click.echo(f"  {line}", err=True)
    cadence = "no regular updates" if level.update_cadence_s is None else f"an update every {level.update_cadence}"
    to_fill = [role for role in level.roles if not (role == "commander" and declaration.commander)]
    click.echo(f"  respond: {level.response_target}; {cadence}; roles to fill: {', '.join(to_fill) or 'none'}",
               err=True)  # fmt: skip
    return 0


# -- reading -------------------------------------------------------------------------------------------------------


@incident.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only incidents not resolved or closed.")
@policy_option
@format_option
def list_(open_only: bool, policy: str | None, fmt: str) -> int:
    """Incidents, newest first: how long each impact has lasted (+: still open) and, for open incidents, when
    the next status update is due or how long it is overdue."""
    from runner.incident.render import list_line, list_row
    from runner.incident.store import list_incidents

    journal = command_journal()
    found = list_incidents(journal, open_only)
    levels = _cadences(policy)
    rows = [list_row(i, levels.get(str(i.severity))) for i in found]
    if fmt == "json":
        _echo_json(rows)
        return 0
    if not found:
        click.echo(f"no {'open ' if open_only else ''}incidents in {journal.location}")
    for row in rows:
        click.echo(list_line(row))
    return 0


def _cadences(policy: str | None) -> Mapping[str, SeverityLevel]:
    """The severity levels whose cadence `list` shows. A policy file found in the environment that cannot be
    read does not stop the list (said on stderr; the built-in levels are used); one named with --policy does."""
    from runner.errors import FirelineError
    from runner.policy import default_severities

    try:
        return _policy(policy).severities
    except FirelineError as exc:
        if policy is not None:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(f"warning: the policy file cannot be read ({first}); update cadences are the built-in ones",
                   err=True)  # fmt: skip
        return default_severities()


@incident.command()
@click.argument("incident_id")
@policy_option
@format_option
def show(incident_id: str, policy: str | None, fmt: str) -> int:
    """One incident: status, severity, roles, milestones, the next status update due (or OVERDUE), links."""
    from runner.incident.checklist import checklist
    from runner.incident.gate import attempts
    from runner.incident.render import show_data, show_text

    journal = command_journal()
    found = _load(journal, incident_id)
    in_force = _policy(policy)
    level = in_force.severities[str(found.severity)]
    gate, tried = checklist(in_force, found), attempts(journal, found.id)
    last = tried[-1] if tried else None
    if fmt == "json":
        _echo_json(show_data(found, level, gate=gate, attempt=last))
    else:
        click.echo(show_text(found, level, gate=gate, attempt=last))
    return 0


# -- responding ----------------------------------------------------------------------------------------------------


@incident.command()
@click.argument("incident_id")
@as_option
@key_option
@policy_option
def ack(incident_id: str, actor: str | None, key: str | None, policy: str | None) -> int:
    """Acknowledge an incident (the `acknowledged` milestone). With an allowed-signers file the
    acknowledgement is signed with your SSH key."""
    from runner.incident.lifecycle import acknowledge
    from runner.incident.model import Milestone

    journal = command_journal()
    found = _load(journal, incident_id)
    before = found.milestones.get(Milestone.ACKNOWLEDGED)
    if before is not None:
        click.echo(f"{found.id} was acknowledged already, at {_utc(before.at)} by {before.actor or '?'}")
        return 0
    who = _acknowledger(journal, found, actor, key, policy)
    acknowledge(journal, found, who)
    if found.drill_of:  # a game day's drill: acknowledging it acknowledges the running game day too
        from runner.gameday.drill import acknowledge_game_day

        acknowledge_game_day(journal, found.drill_of, who)
    click.echo(f"acknowledged {found.id} as {who}")
    return 0


def _acknowledger(journal: Journal, found: Incident, actor: str | None, key: str | None, policy: str | None) -> str:
    """A typed name, or the principal a signed acknowledgement verifies to (the signature is recorded)."""
    from runner.cli.identity import signing
    from runner.engine.identities import record_signed, sign_act
    from runner.identity.statement import Act
    from runner.incident.lifecycle import require_open

    trust, key_path = signing(actor, key, policy)
    if trust is None or key_path is None:
        return command_actor(actor)
    require_open(found, "acknowledge it")
    signed = sign_act(trust, key_path, Act.ACKNOWLEDGE, found.id, found.policy, "", "incident ack")
    record_signed(journal, found.id, Act.ACKNOWLEDGE, signed)
    return signed.principal


@incident.command()
@click.argument("incident_id")
@click.argument("role")
@click.argument("name")
@as_option
def assign(incident_id: str, role: str, name: str, actor: str | None) -> int:
    """Give ROLE (commander, tech-lead, comms, scribe, or participant) to NAME."""
    from runner.incident.lifecycle import assign as assign_role
    from runner.incident.model import Role, parse_enum

    chosen, person = parse_enum(Role, role, "role"), _name(name, "NAME")
    journal = command_journal()
    found = _load(journal, incident_id)
    assign_role(journal, found, chosen, person, command_actor(actor))
    click.echo(f"{found.id}: {person} {'joins as a participant' if chosen is Role.PARTICIPANT else f'is {chosen}'}")
    return 0


@incident.command()
@click.argument("incident_id")
@click.argument("severity", metavar="SEVn")
@click.option("--reason", required=True, help="Why the severity changes.")
@as_option
def sev(incident_id: str, severity: str, reason: str, actor: str | None) -> int:
    """Change the severity (with a reason)."""
    from runner.incident.lifecycle import change_severity
    from runner.incident.model import Severity, parse_enum

    new, why = parse_enum(Severity, severity, "severity"), _text(reason, "--reason")
    journal = command_journal()
    found = _load(journal, incident_id)
    if change_severity(journal, found, new, why, command_actor(actor)):
        click.echo(f"{found.id}: severity {found.severity} → {new}")
    else:
        click.echo(f"{found.id} is {new} already: nothing recorded")
    return 0


@incident.command()
@click.argument("incident_id")
@click.argument("text")
@click.option("--kind", default="observation", show_default=True, help="observation, decision, root-cause or action.")
@as_option
def note(incident_id: str, text: str, kind: str, actor: str | None) -> int:
    """Add a note to the incident's timeline."""
    from runner.incident.lifecycle import add_note
    from runner.incident.model import NoteKind, parse_enum

    chosen, body = parse_enum(NoteKind, kind, "note kind"), _text(text, "TEXT")
    journal = command_journal()
    found = _load(journal, incident_id)
    add_note(journal, found, body, chosen, command_actor(actor))
    click.echo(f"noted in {found.id} ({chosen})")
    return 0


@incident.command()
@click.argument("incident_id")
@as_option
def mitigated(incident_id: str, actor: str | None) -> int:
    """The impact is stopped (the `mitigated` milestone); the status becomes monitoring."""
    from runner.incident.lifecycle import mitigate

    journal = command_journal()
    found = _load(journal, incident_id)
    _said(found, mitigate(journal, found, command_actor(actor)), "was mitigated already")
    return 0


@incident.command()
@click.argument("incident_id")
@click.argument("status")
@as_option
@policy_option
def status(incident_id: str, status: str, actor: str | None, policy: str | None) -> int:
    """Change the status: investigating → identified → monitoring → resolved → closed. Resolved is refused
    while the severity's verification checklist (in the policy) has items: `fireline incident resolve` runs them."""
    from runner.incident.lifecycle import set_status
    from runner.incident.model import Status, parse_enum

    new = parse_enum(Status, status, "status")
    # The policy is read only to judge the resolution gate; another change does not need it.
    given = _policy(policy) if new is Status.RESOLVED and policy is not None else None
    journal = command_journal()
    found = _load(journal, incident_id)
    _said(found, set_status(journal, found, new, command_actor(actor), policy=given), f"is {new} already")
    return 0


@incident.command()
@click.argument("incident_id")
@click.option("--status", "status_", help="The status this update announces (and sets).")
@click.option("--summary", help="What is known and being done.")
@click.option("--impact", default="", help="What users experience now.")
@click.option("--actions", multiple=True, metavar="ACTION", help="An action taken or under way (repeatable).")
@click.option("--eta", default=None, help="When a fix is expected, in words or as a time.")
@click.option("--next-update", metavar="DURATION", help="When the next update is due (e.g. 30m); default: the "
              "severity's cadence.")
@click.option("--redeliver", is_flag=True, help="Post nothing new: deliver again, in order, this incident's "
              "updates whose latest delivery to a channel failed.")
@as_option
@policy_option
@format_option
def update(
    incident_id: str, status_: str | None, summary: str | None, impact: str, actions: tuple[str, ...],
    eta: str | None, next_update: str | None, redeliver: bool, actor: str | None, policy: str | None, fmt: str,
) -> int:  # fmt: skip
    """Post a status update: recorded from the initial / progress / resolution template, printed, and
    delivered to the severity's channels (Slack, webhook, status page, e-mail, as the policy defines them).
    It sets the status too. The update is recorded before any delivery: exit 0 even when a channel fails
    (said on stderr; `--redeliver` tries again, and exits 1 while a delivery still fails)."""
    from runner.incident.model import Status, parse_enum
    from runner.incident.times import parse_after
    from runner.incident.updates import UpdateRequest, post_update

    if redeliver:
        given = [name for name, value in (("--status", status_), ("--summary", summary), ("--impact", impact),
                 ("--actions", actions), ("--eta", eta), ("--next-update", next_update)) if value]  # fmt: skip
        if given:
            raise UsageError(f"--redeliver posts nothing new: drop {', '.join(given)}")
        return _redeliver(incident_id, actor, policy, fmt)
    if status_ is None or summary is None:
        raise UsageError("an update needs --status and --summary", hint="or --redeliver to retry failed deliveries")
    request = UpdateRequest(
        status=parse_enum(Status, status_, "status"),
        summary=_text(summary, "--summary"),
        impact=_text(impact, "--impact", required=False),
        actions=tuple(_text(a, "--actions") for a in actions),
        eta=_text(eta, "--eta") if eta is not None else None,
        next_update_s=parse_after(next_update, "--next-update") if next_update is not None else None,
    )
    journal = command_journal()
    found = _load(journal, incident_id)
    in_force = _policy(policy)
    level = in_force.severities[str(found.severity)]
    recorded, changed, deliveries = post_update(journal, found, request, level, command_actor(actor), policy=in_force)
    if fmt == "json":
        _echo_json({
            "id": found.id, "shape": recorded.shape, "status": recorded.status, "message": recorded.message,
            "next_update_at": recorded.next_update_at, "changed": changed,
            "channels": [d.data() for d in deliveries],
        })  # fmt: skip
        _warn_failed(found.id, deliveries)
        return 0
    click.echo(recorded.message)
    click.echo("")
    for line in changed:
        click.echo(f"{found.id}: {line}")
    for delivery in deliveries:
        click.echo(f"channel {delivery.channel}: {delivery.line()}")
    click.echo(f"recorded in {found.id} ({recorded.shape} update)")
    _warn_failed(found.id, deliveries)
    return 0


def _redeliver(incident_id: str, actor: str | None, policy: str | None, fmt: str) -> int:
    from runner.incident.delivery import redeliver, update_names
    from runner.incident.events import UPDATE
    from runner.incident.lifecycle import require_open

    journal = command_journal()
    found = _load(journal, incident_id)
    require_open(found, "deliver its updates again")
    done = redeliver(journal, found, _policy(policy), command_actor(actor))
    still = [d for d in done if d.failed]
    if fmt == "json":
        _echo_json({"id": found.id, "redelivered": [d.data() for d in done]})
    elif not done:
        click.echo(f"{found.id}: nothing to redeliver: no delivery of its updates failed")
    names = update_names(journal.events(found.id, (UPDATE,)), _utc) if done and fmt != "json" else {}
    for delivery in done if fmt != "json" else ():
        name = names.get(delivery.update_seq, f"update #{delivery.update_seq}")
        click.echo(f"{name} channel {delivery.channel}: {delivery.line()}")
    if still:
        click.echo(f"{found.id}: {len(still)} deliver{'y' if len(still) == 1 else 'ies'} still failed; the updates "
                   "stay recorded", err=True)  # fmt: skip
    return 1 if still else 0


def _warn_failed(incident_id: str, deliveries: list[Delivery]) -> None:
    """Loudly, on stderr: the update is recorded, but someone outside did not get it."""
    failed = [d.channel for d in deliveries if d.failed]
    if failed:
        click.echo(f"WARNING: {incident_id}: the update is recorded but did NOT reach {', '.join(failed)}; "
                   f"retry with `fireline incident update {incident_id} --redeliver`", err=True)  # fmt: skip


@incident.command()
@click.argument("incident_id")
@click.option("--hold", metavar="DURATION", help="How long the probe checks must keep passing (default: the "
              "policy's hold for the severity; built-in SEV1 30m, SEV2 15m, SEV3 5m, SEV4 0s).")
@click.option("--interval", metavar="DURATION", help="How often the probe checks run during the hold (default: "
              "the policy's interval, else 30s).")
@click.option("--confirm", "confirmed", multiple=True, metavar="ITEM", help="A manual item of the checklist you "
              "confirm, by name (repeatable).")
@click.option("--force", is_flag=True, help="Resolve without running the checks (needs --reason; the override "
              "is on the timeline).")
@click.option("--reason", help="Why the checks are skipped (with --force).")
@as_option
@policy_option
def resolve(
    incident_id: str, hold: str | None, interval: str | None, confirmed: tuple[str, ...], force: bool,
    reason: str | None, actor: str | None, policy: str | None,
) -> int:  # fmt: skip
    """Resolve the incident through the resolution gate: the policy's checklist for its severity. Manual items
    must be confirmed (--confirm); probe checks must pass and keep passing for the hold. The `resolved`
    milestone is the moment the gate passed. Exit 1 when it refuses, 130 when interrupted (nothing resolved)."""
    from runner.incident.gate import GateRequest, force_past, pass_gate
    from runner.incident.model import Status

    if force != (reason is not None):
        raise UsageError("--force and --reason go together", hint="--force --reason 'why the checks are skipped'")
    request = GateRequest(
        confirmed=tuple(dict.fromkeys(_name(c, "--confirm") for c in confirmed)),
        hold_s=_duration(hold, "--hold", zero=True),
        interval_s=_duration(interval, "--interval", zero=False),
    )
    journal = command_journal()
    found = _load(journal, incident_id)
    if found.status is Status.RESOLVED:
        click.echo(f"{found.id} was resolved already: nothing recorded")
        return 0
    who = command_actor(actor)
    if force:
        _said(found, force_past(journal, found, _text(reason or "", "--reason"), who), "was resolved already")
        click.echo(f"{found.id}: resolved WITHOUT its checks (--force), recorded on the timeline with the reason")
        _tell_channels(found, _policy(policy))
        return 0
    in_force = _policy(policy)
    try:
        passed = pass_gate(journal, found, in_force, request, who, click.echo)
    except KeyboardInterrupt:
        from runner.outcome import Interrupted

        click.echo(f"interrupted: {found.id} is not resolved (an interrupted hold is on its timeline)", err=True)
        raise Interrupted() from None
    for result in passed.results:
        click.echo(f"  ok  {result.kind} {result.name}: {result.detail}")
    _said(found, passed.changed, "was resolved already")
    if not passed.verified:
        click.echo(f"{found.id}: nothing was verified: the {found.severity} checklist has no probe checks"
                   + (" (only confirmed items)" if passed.results else ""))  # fmt: skip
    click.echo(f"{found.id}: resolved at {_utc(passed.resolved_at)}")
    _tell_channels(found, in_force)
    return 0


def _tell_channels(found: Incident, policy: Policy) -> None:
    """Resolving sends nothing: the status page says the last update's status until a resolution update (a
    drill's updates reach only the channels meant for drills: nothing to remind)."""
    channels = policy.severities[str(found.severity)].channels
    if channels and not found.is_drill:
        click.echo(f"next: tell {', '.join(channels)} it is resolved: fireline incident update {found.id} "
                   "--status resolved --summary '...'")  # fmt: skip


def _duration(value: str | None, what: str, *, zero: bool) -> float | None:
    from runner.durations import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if seconds < 0 or (seconds < 0.1 and not zero) or seconds > 7 * 86400:
        raise UsageError(f"{what}: {value.strip()[:40]!r} is out of range", hint=f"e.g. {what} 30s"
                         + ("" if zero else " (at least 100ms)") + "; at most 7 days")  # fmt: skip
    return seconds


@incident.command()
@click.argument("incident_id")
@click.argument("milestone")
@click.argument("time", metavar="TIME")
@click.option("--reason", required=True, help="Why the recorded time was wrong.")
@as_option
def correct(incident_id: str, milestone: str, time: str, reason: str, actor: str | None) -> int:
    """Correct a milestone's time (started, detected, acknowledged, mitigated, resolved). The correction is
    recorded with who, why, and the old and new times; metrics use it."""
    from runner.incident.lifecycle import check_order
    from runner.incident.lifecycle import correct as correct_milestone
    from runner.incident.model import Milestone, parse_enum
    from runner.incident.times import parse_when

    name, why = parse_enum(Milestone, milestone, "milestone"), _text(reason, "--reason")
    new = parse_when(time, "TIME")
    journal = command_journal()
    found = _load(journal, incident_id)
    current = found.at(name)
    if current is not None and current == new:
        click.echo(f"{found.id}: {name} is {_utc(new)} already: nothing recorded")
        return 0
    check_order(found, name, new)
    recorded = correct_milestone(journal, found.id, name, new, why, command_actor(actor))
    was = _utc(current) if current is not None else "not recorded"
    click.echo(f"{found.id}: {name} corrected from {was} to {_utc(new)} ({recorded.reason})")
    return 0


def _said(found: Incident, changed: list[str], nothing: str) -> None:
    if not changed:
        click.echo(f"{found.id} {nothing}: nothing recorded")
    for line in changed:
        click.echo(f"{found.id}: {line}")


def _utc(moment: datetime) -> str:
    from runner.incident.times import utc

    return utc(moment)
