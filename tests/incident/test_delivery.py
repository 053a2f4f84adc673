"""Status updates delivered to real receivers on loopback — a Slack-shaped and a Statuspage-shaped HTTP
server, a generic webhook and a real SMTP server with STARTTLS and AUTH — through `fireline incident update`:
each delivery is an event on the timeline, a failing channel never stops the others or loses the update,
`--redeliver` finishes the job later, drills stay in, and no secret is ever printed or recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.incident.channels.base import Resolved
from runner.incident.channels.config import channels_of
from runner.incident.delivery import (
    INTERRUPTED,
    MAX_RETRY_AFTER_S,
    Credentials,
    IncidentDelivery,
    Job,
    deliveries,
    try_delivery,
)
from runner.incident.times import utc
from runner.incident.view import parse_utc
from runner.journal.store import Journal, open_journal
from tests.command import FIRELINE
from tests.conftest import wait_for
from tests.incident.channels.conftest import notice as channel_notice
from tests.incident.channels.conftest import receiver as receiver
from tests.incident.documents import sev2
from tests.servers.channel_receiver import ChannelReceiver, Scripted
from tests.servers.ports import free_port
from tests.servers.smtp import SmtpServer

SLACK_TOKEN = "hooktokenZ8xq3Lm5Np2Rv7Tw"
STATUSPAGE_KEY = "spkey-7c2e9b41d06f8a35"
SMTP_PASSWORD = "smtp-pw-Vb6Hq2Zr9"
AUDIT_TOKEN = "audit-bearer-Kx4Pw8Ld1"
SEV2 = sev2(["incidents", "status-page", "leadership", "audit"])


@dataclass
class World:
    rx: ChannelReceiver
    smtp: SmtpServer
    policy: Path
    store: Path
    secrets: tuple[str, ...]
    env: dict[str, str]


def _policy(tmp_path: Path, rx: ChannelReceiver, smtp: SmtpServer, extra: str = "", drills: bool = False) -> Path:
    flag = "drills: true, " if drills else ""
    text = f"""\
apiVersion: fireline/v1
kind: IncidentPolicy
secrets:
  SLACK_URL: {{from: env, name: TEST_SLACK_URL}}
  STATUSPAGE_KEY: {{from: env, name: TEST_STATUSPAGE_KEY}}
  SMTP_PASSWORD: {{from: file, path: {tmp_path / "smtp.pw"}}}
  AUDIT_TOKEN: {{from: env, name: TEST_AUDIT_TOKEN}}
channels:
  incidents: {{type: slack, {flag}url: {{secret: SLACK_URL}}, retries: 2, backoff: 10ms, timeout: 20s}}
  status-page: {{type: statuspage, page: {rx.page}, api_key: {{secret: STATUSPAGE_KEY}}, api: "{rx.statuspage_api}",
                components: {{checkout: cmp-checkout}}, retries: 2, backoff: 10ms}}
  leadership: {{type: email, host: 127.0.0.1, port: {smtp.port}, username: fireline,
               password: {{secret: SMTP_PASSWORD}}, from: incidents@example.com, to: [leads@example.com],
               ca_file: {smtp.ca_file}}}
  audit: {{type: webhook, url: "{rx.webhook_url}", headers: {{X-Team: sre, Authorization: {{secret: AUDIT_TOKEN}}}},
          retries: 1, backoff: 10ms}}
{extra}severities:
{SEV2}"""
    path = tmp_path / "incident-policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with ChannelReceiver(SLACK_TOKEN, STATUSPAGE_KEY) as rx, SmtpServer(tmp_path, {"fireline": SMTP_PASSWORD}) as smtp:
        (tmp_path / "smtp.pw").write_text(SMTP_PASSWORD + "\n", encoding="utf-8")
        policy = _policy(tmp_path, rx, smtp)
        store = tmp_path / "journal.db"
        env = {"TEST_SLACK_URL": rx.slack_url, "TEST_STATUSPAGE_KEY": STATUSPAGE_KEY,
               "TEST_AUDIT_TOKEN": f"Bearer {AUDIT_TOKEN}", "FIRELINE_POLICY": str(policy),
               "FIRELINE_STORE": str(store)}  # fmt: skip
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield World(rx, smtp, policy, store, (rx.slack_url, SLACK_TOKEN, STATUSPAGE_KEY, SMTP_PASSWORD, AUDIT_TOKEN),
                    env)  # fmt: skip


def _declare(cli: Any, *extra: str) -> str:
    done = cli("incident", "declare", "--title", "Checkout errors", "--sev", "SEV2", "--systems", "checkout", *extra)
    assert done.code == 0, done.err
    return str(done.out.strip())


def _update(cli: Any, incident_id: str, status: str = "investigating", *extra: str) -> Any:
    return cli("incident", "update", incident_id, "--status", status, "--summary", f"now {status}", *extra)


def _no_secret(world: World, *texts: str) -> None:
    """No secret, whole or in part (the Slack URL's token alone), in any text nor in the journal's files."""
    stored = b"".join(p.read_bytes() for p in world.store.parent.glob(world.store.name + "*"))
    for secret in world.secrets:
        for text in texts:
            assert secret not in text
        assert secret.encode() not in stored


def test_an_update_reaches_slack_the_status_page_email_and_the_webhook_and_the_timeline_shows_each(
    cli: Any, world: World
) -> None:
    incident_id = _declare(cli)
    first = _update(cli, incident_id)
    assert first.code == 0, first.err
    assert "channel incidents: delivered (HTTP 200)" in first.out
    assert "channel status-page: delivered (HTTP 201: incident sp0001 created)" in first.out
    assert "channel leadership: delivered (250 OK)" in first.out
    assert "channel audit: delivered (HTTP 200)" in first.out
    assert "WARNING" not in first.err

    (slack,) = world.rx.received("slack")
    assert slack.body["text"].startswith(f"[{incident_id}] SEV2 incident: Checkout errors")
    (created,) = world.rx.received("statuspage")
    assert created.method == "POST" and created.body["incident"]["components"] == {"cmp-checkout": "partial_outage"}
    (mail,) = world.smtp.messages
    assert mail.tls and mail.authenticated_as == "fireline" and b"Summary: now investigating" in mail.content
    (hook,) = world.rx.received("webhook")
    assert hook.headers["X-Team"] == "sre" and hook.headers["Authorization"] == f"Bearer {AUDIT_TOKEN}"
    assert hook.body["incident"]["id"] == incident_id and hook.body["update"]["summary"] == "now investigating"

    second = _update(cli, incident_id, "identified")
    assert "channel status-page: delivered (HTTP 200: incident sp0001 updated)" in second.out
    patched = world.rx.received("statuspage")[1]
    assert (patched.method, patched.path) == ("PATCH", f"/v1/pages/{world.rx.page}/incidents/sp0001")
    assert patched.body["incident"]["status"] == "identified"
    assert len(world.rx.received("slack")) == 2 and len(world.smtp.messages) == 2

    timeline = cli("incident", "timeline", incident_id)
    assert timeline.code == 0, timeline.err
    lines = [line for line in timeline.out.splitlines() if "delivered to" in line]
    assert len(lines) == 8
    assert any("delivered to status-page (statuspage) (1 attempt): HTTP 201: incident sp0001 created" in line
               for line in lines)  # fmt: skip
    as_json = cli("incident", "timeline", incident_id, "--format", "json")
    kinds = [e["data"]["kind"] for e in as_json.json()["entries"] if e["type"] == "incident.delivery"]
    assert sorted(kinds) == sorted(["slack", "statuspage", "email", "webhook"] * 2)
    _no_secret(world, first.out, first.err, second.out, timeline.out, as_json.out)


def test_a_failing_channel_does_not_stop_the_others_and_redeliver_finishes_later(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("slack", Scripted(500, "rollup_error"), times=3)  # every attempt (retries: 2) fails
    posted = _update(cli, incident_id)
    assert posted.code == 0  # the update is recorded: failing loudly is for stderr
    assert "channel incidents: failed after 3 attempts: HTTP 500: rollup_error" in posted.out
    assert "channel status-page: delivered" in posted.out and "channel leadership: delivered" in posted.out
    assert f"did NOT reach incidents; retry with `fireline incident update {incident_id} --redeliver`" in posted.err
    assert [r.answered for r in world.rx.received("slack")] == [500, 500, 500]

    # A second update while Slack is still down: its create-or-patch logic is untouched by Slack's troubles.
    world.rx.script("slack", Scripted(503, "down"), times=3)
    assert "channel incidents: failed after 3 attempts" in _update(cli, incident_id, "identified").out

    again = cli("incident", "update", incident_id, "--redeliver")
    assert again.code == 0, again.err
    first, second = (utc(parse_utc(e.ts_wall) or datetime.now(UTC))
                     for e in Journal(world.store).events(incident_id, ("incident.update",)))  # fmt: skip
    assert again.out.splitlines() == [
        f"update of {first} channel incidents: delivered (HTTP 200)",
        f"update of {second} channel incidents: delivered (HTTP 200)",
    ]  # in order, each update named by when it was recorded (not by a journal seq, which means nothing here)
    timeline = cli("incident", "timeline", incident_id).out
    assert f"update of {first.removesuffix(' UTC')}Z NOT delivered to incidents (slack)" in timeline
    assert "update #" not in timeline
    delivered = [r.body["text"] for r in world.rx.received("slack") if r.answered == 200]
    assert "Summary: now investigating" in delivered[0] and "Summary: now identified" in delivered[1]
    assert len(world.rx.received("statuspage")) == 2  # the status page was not sent anything again

    journal = Journal(world.store)
    slack = [r for r in deliveries(journal, incident_id) if r.channel == "incidents"]
    assert [(r.ok, [t.ok for t in r.history], [t.attempts for t in r.history]) for r in slack] == [
        (True, [False, True], [3, 1]), (True, [False, True], [3, 1])]  # fmt: skip
    nothing = cli("incident", "update", incident_id, "--redeliver")
    assert nothing.code == 0 and "nothing to redeliver" in nothing.out


def test_redeliver_creates_on_the_status_page_when_no_create_ever_succeeded(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("statuspage", Scripted(500, '{"error": "Internal Server Error"}'), times=3)
    assert "channel status-page: failed after 3 attempts: HTTP 500: Internal Server Error" in _update(
        cli, incident_id).out  # fmt: skip
    redone = cli("incident", "update", incident_id, "--redeliver", "--format", "json")
    assert redone.code == 0
    (entry,) = redone.json()["redelivered"]
    assert (entry["channel"], entry["outcome"], entry["detail"]) == (
        "status-page",
        "delivered",
        "HTTP 201: incident sp0001 created",
    )
    assert [r.method for r in world.rx.received("statuspage")] == ["POST"] * 4
    assert "channel status-page: delivered (HTTP 200: incident sp0001 updated)" in _update(
        cli, incident_id, "identified").out  # fmt: skip


def test_an_older_update_is_not_resent_to_a_status_page_a_newer_one_reached(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("statuspage", Scripted(401, '{"error": "Could not authenticate"}'))
    assert "status-page: failed after 1 attempt: HTTP 401: Could not authenticate" in _update(cli, incident_id).out
    assert "status-page: delivered (HTTP 201" in _update(cli, incident_id, "identified").out
    redone = cli("incident", "update", incident_id, "--redeliver")
    assert "channel status-page: not sent: a later update reached it already" in redone.out
    assert redone.code == 0 and [r.method for r in world.rx.received("statuspage")] == ["POST", "POST"]


def test_rate_limits_are_waited_for_as_asked_and_the_attempts_recorded(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("statuspage", Scripted(420, '{"error": "Rate limit exceeded"}', (("Retry-After", "0"),)))
    world.rx.script("statuspage", Scripted(429, '{"error": "Rate limit exceeded"}', (("Retry-After", "0"),)))
    assert _update(cli, incident_id).code == 0
    assert [r.answered for r in world.rx.received("statuspage")] == [420, 429, 201]
    (record,) = [r for r in deliveries(Journal(world.store), incident_id) if r.channel == "status-page"]
    assert (record.ok, record.attempts, record.external_id) == (True, 3, "sp0001")


def test_a_retry_after_beyond_the_time_left_is_not_waited_for(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("slack", Scripted(429, "rate_limited", (("Retry-After", "45"),)))  # the channel has 20s
    posted = _update(cli, incident_id)
    assert "channel incidents: failed after 1 attempt: HTTP 429: rate_limited (no time left to retry within 20s)" \
        in posted.out  # fmt: skip


def test_a_final_error_is_not_retried(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("slack", Scripted(410, "channel_is_archived"))
    assert "channel incidents: failed after 1 attempt: HTTP 410: channel_is_archived" in _update(cli, incident_id).out
    assert len(world.rx.received("slack")) == 1


def test_a_slow_channel_does_not_hold_up_the_others(world: World) -> None:
    """The webhook answers only when the test lets it: meanwhile every other channel has its update."""
    release = threading.Event()
    world.rx.script("webhook", Scripted(200, "{}", hold=release))
    env = {**os.environ, **world.env}
    declared = subprocess.run([*FIRELINE, "incident", "declare", "--title", "Slow", "--sev", "SEV2"], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
    incident_id = declared.stdout.strip()
    proc = subprocess.Popen([*FIRELINE, "incident", "update", incident_id, "--status", "identified", "--summary",
                             "x"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: world.rx.received("slack") and world.rx.received("statuspage") and world.smtp.messages,
                 "the other channels while the webhook hangs", timeout=30)  # fmt: skip
        assert proc.poll() is None  # still waiting for the webhook
        release.set()
        out, err = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "channel audit: delivered (HTTP 200)" in out


def test_an_interrupted_delivery_is_recorded_as_failed_and_redeliver_sends_it(cli: Any, world: World) -> None:
    """Ctrl-C while a channel has not answered: the others are recorded as they were, the one left is recorded
    as failed (it may or may not have the update), and --redeliver sends it."""
    release = threading.Event()
    world.rx.script("webhook", Scripted(200, "{}", hold=release))
    env = {**os.environ, **world.env}
    incident_id = _declare(cli)
    proc = subprocess.Popen([*FIRELINE, "incident", "update", incident_id, "--status", "identified", "--summary",
                             "x"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    journal = Journal(world.store)
    try:
        wait_for(lambda: len(deliveries(journal, incident_id)) == 3, "the three channels that answer", timeout=30)
        proc.send_signal(signal.SIGINT)
        recorded = wait_for(lambda: [r for r in deliveries(journal, incident_id) if r.channel == "audit"],
                            "the interrupted delivery's record", timeout=30)  # fmt: skip
    finally:
        release.set()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert (recorded[0].ok, recorded[0].detail) == (False, INTERRUPTED)
    again = cli("incident", "update", incident_id, "--redeliver")
    assert again.code == 0 and again.out.endswith("channel audit: delivered (HTTP 200)\n")
    assert len(world.rx.received("webhook")) == 2 and len(world.rx.received("slack")) == 1


def test_redeliver_takes_no_update_options_and_refuses_a_closed_incident(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    mixed = cli("incident", "update", incident_id, "--redeliver", "--summary", "x")
    assert mixed.code == 2 and "--redeliver posts nothing new: drop --summary" in mixed.err
    bare = cli("incident", "update", incident_id)
    assert bare.code == 2 and "needs --status and --summary" in bare.err
    unknown = cli("incident", "update", "INC-2026-999", "--redeliver")
    assert unknown.code == 2 and "no incident" in unknown.err


def test_a_drill_never_reaches_a_channel_that_does_not_ask_for_drills(cli: Any, world: World, tmp_path: Path) -> None:
    drill = _declare(cli, "--type", "drill")
    posted = _update(cli, drill)
    for name in ("incidents", "status-page", "leadership", "audit"):
        assert f"channel {name}: not sent: drill" in posted.out
    assert world.rx.received("slack") == [] and world.smtp.messages == [] and world.rx.received("webhook") == []
    assert "WARNING" not in posted.err
    _policy(tmp_path, world.rx, world.smtp, drills=True)  # the Slack channel now takes drills
    again = _update(cli, drill, "identified")
    assert "channel incidents: delivered" in again.out and "channel audit: not sent: drill" in again.out
    context = world.rx.received("slack")[0].body["blocks"][2]["elements"][0]["text"]
    assert context.endswith("· drill")  # the message says it is a drill


def test_a_missing_secret_fails_that_channel_before_sending_and_names_the_variable(
    cli: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SLACK_URL")
    incident_id = _declare(cli)
    posted = _update(cli, incident_id)
    assert ("channel incidents: failed before sending: secret 'SLACK_URL': environment variable TEST_SLACK_URL is "
            "not set") in posted.out  # fmt: skip
    assert "channel status-page: delivered" in posted.out
    monkeypatch.setenv("TEST_SLACK_URL", world.rx.slack_url)
    assert "channel incidents: delivered" in cli("incident", "update", incident_id, "--redeliver").out


def test_a_secret_in_an_answer_is_masked_even_when_only_its_path_is_echoed(
    cli: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = world.rx.slack_url.replace(SLACK_TOKEN, "hooktokenWRONG0000000000")
    monkeypatch.setenv("TEST_SLACK_URL", wrong)  # the receiver's 404 body echoes the URL's path
    incident_id = _declare(cli)
    posted = _update(cli, incident_id, "investigating", "--format", "json")
    (slack,) = [c for c in posted.json()["channels"] if c["channel"] == "incidents"]
    assert slack["outcome"] == "failed" and slack["detail"] == "HTTP 404: no_service: no webhook at ***"
    timeline = cli("incident", "timeline", incident_id, "--format", "json")
    world.secrets = (*world.secrets, wrong, "hooktokenWRONG0000000000")
    _no_secret(world, posted.out, posted.err, timeline.out)


def test_the_delivery_event_is_typed_and_read_back(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    _update(cli, incident_id)
    journal = Journal(world.store)
    events = journal.events(incident_id, ("incident.delivery",))
    payloads = sorted((IncidentDelivery.of(e) for e in events), key=lambda p: p.channel)
    assert [(p.channel, p.kind, p.ok, p.attempts) for p in payloads] == [
        ("audit", "webhook", True, 1), ("incidents", "slack", True, 1), ("leadership", "email", True, 1),
        ("status-page", "statuspage", True, 1)]  # fmt: skip
    update_seq = journal.events(incident_id, ("incident.update",))[0].seq
    assert {p.update_seq for p in payloads} == {update_seq}
    assert json.loads(json.dumps(payloads[3].to_data()))["external_id"] == "sp0001"


# -- the retry schedule, on a clock the test drives (the receiver is real; only waiting is simulated) ----------


@dataclass
class FakeClock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _slack_job(url: str, **settings: Any) -> tuple[Job, Credentials]:
    channel = channels_of({"channels": {"incidents": {"type": "slack", "url": url, **settings}}})["incidents"]
    value = channel.settings.credentials()[0]
    return Job(channel, channel_notice()), Credentials(Resolved({value: url}))


def test_retries_back_off_doubling_and_stop_at_the_bound(receiver: ChannelReceiver) -> None:
    receiver.script("slack", Scripted(500, "rollup_error"), times=10)
    clock = FakeClock()
    done = try_delivery(*_slack_job(receiver.slack_url, retries=3, backoff="1s"), clock=clock, sleep=clock.sleep)
    assert (done.attempts, done.answer.ok, done.answer.detail) == (4, False, "HTTP 500: rollup_error")
    assert clock.slept == [1.0, 2.0, 4.0] and len(receiver.received("slack")) == 4


def test_retry_after_is_honoured_but_capped_and_the_total_time_is_bounded(receiver: ChannelReceiver) -> None:
    receiver.script("slack", Scripted(429, "rate_limited", (("Retry-After", "3"),)))
    receiver.script("slack", Scripted(429, "rate_limited", (("Retry-After", "3600"),)))
    clock = FakeClock()
    done = try_delivery(*_slack_job(receiver.slack_url, timeout="10m"), clock=clock, sleep=clock.sleep)
    assert done.answer.ok and done.attempts == 3 and clock.slept == [3.0, MAX_RETRY_AFTER_S]
    receiver.script("slack", Scripted(503, "down"), times=10)
    clock = FakeClock()
    done = try_delivery(*_slack_job(receiver.slack_url, retries=10, backoff="4s", timeout="20s"), clock=clock,
                        sleep=clock.sleep)  # fmt: skip
    assert not done.answer.ok and clock.now <= 20 and done.attempts == 3  # waits 4 + 8, then 16 would overrun
    assert done.answer.detail == "HTTP 503: down (no time left to retry within 20s)"


def test_no_connection_is_retried(receiver: ChannelReceiver) -> None:
    closed = f"http://127.0.0.1:{free_port()}/services/T0FIRE/B0LINE/{SLACK_TOKEN}"
    clock = FakeClock()
    done = try_delivery(*_slack_job(closed, retries=2, backoff="1s"), clock=clock, sleep=clock.sleep)
    assert done.attempts == 3 and done.answer.detail.startswith("cannot connect: ") and clock.slept == [1.0, 2.0]


def test_deliveries_on_the_postgresql_store(
    cli: Any, world: World, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared team store: the update's seq read back, the status page's id found for the patch, redeliver."""
    monkeypatch.setenv("FIRELINE_STORE", pg_db)
    incident_id = _declare(cli)
    world.rx.script("slack", Scripted(500, "rollup_error"), times=3)
    assert "channel status-page: delivered (HTTP 201: incident sp0001 created)" in _update(cli, incident_id).out
    assert (
        "channel status-page: delivered (HTTP 200: incident sp0001 updated)"
        in _update(cli, incident_id, "identified").out
    )
    again = cli("incident", "update", incident_id, "--redeliver")
    assert again.code == 0 and again.out.count("channel incidents: delivered (HTTP 200)") == 1
    journal = open_journal()
    try:
        update_seqs = [e.seq for e in journal.events(incident_id, ("incident.update",))]
        assert {r.update_seq for r in deliveries(journal, incident_id)} == set(update_seqs)
    finally:
        journal.close()


def test_a_url_read_from_a_secret_must_be_http_and_is_not_shown_when_it_is_not(
    cli: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SLACK_URL", "file:///etc/passwd-or-a-token-0123456789")
    incident_id = _declare(cli)
    posted = _update(cli, incident_id)
    said = "channel incidents: failed before sending: the URL in secret SLACK_URL is not an http:// or https:// URL"
    assert said in posted.out
    assert "passwd" not in posted.out + posted.err and world.rx.received("slack") == []


def test_redeliver_exits_1_while_a_delivery_still_fails(cli: Any, world: World) -> None:
    incident_id = _declare(cli)
    world.rx.script("slack", Scripted(502, "bad gateway"), times=6)
    assert _update(cli, incident_id).code == 0
    again = cli("incident", "update", incident_id, "--redeliver")
    assert again.code == 1 and "channel incidents: failed after 3 attempts: HTTP 502: bad gateway" in again.out
    assert "1 delivery still failed; the updates stay recorded" in again.err
    assert cli("incident", "update", incident_id, "--redeliver").code == 0


def test_a_receiver_that_never_answers_is_bounded_by_the_channels_timeout(cli: Any, world: World) -> None:
    release = threading.Event()
    world.rx.script("webhook", Scripted(200, "{}", hold=release), times=5)
    text = world.policy.read_text(encoding="utf-8").replace("retries: 1, backoff: 10ms}", "retries: 0, timeout: 1s}")
    world.policy.write_text(text, encoding="utf-8")
    try:
        posted = _update(cli, _declare(cli))
    finally:
        release.set()
    assert "channel audit: failed after 1 attempt: no answer: TimeoutError: timed out" in posted.out
    assert "channel incidents: delivered" in posted.out
