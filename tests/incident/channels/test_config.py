"""The policy's `channels:` as `fireline validate` and every command read it: per kind the fields it needs,
URLs that are http(s), and `{secret: NAME}` naming an entry of `secrets:` — each mistake with file:line:col."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.incident.channels.config import Kind, channels_of
from runner.incident.channels.email import Email
from runner.incident.channels.statuspage import DEFAULT_API, Statuspage
from runner.policy import load_policy

HEAD = "apiVersion: fireline/v1\nkind: IncidentPolicy\nsecrets:\n  HOOK: {from: env, name: HOOK_URL}\nchannels:\n"


def _validate(cli: Any, tmp_path: Path, channels: str) -> Any:
    path = tmp_path / "incident-policy.yaml"
    path.write_text(HEAD + channels, encoding="utf-8")
    return cli("validate", str(path))


def test_a_good_policy_parses_into_typed_channels(cli: Any, tmp_path: Path) -> None:
    done = _validate(
        cli,
        tmp_path,
        """\
  incidents: {type: slack, url: {secret: HOOK}, drills: true, retries: 1, timeout: 5s, backoff: 200ms}
  status-page: {type: statuspage, page: p1, api_key: {secret: HOOK}, components: {checkout: c1}}
  leadership: {type: email, host: smtp.example.com, from: a@example.com, to: [b@example.com], ca_file: ca.pem}
  audit: {type: webhook, url: "https://audit.example.com/x", headers: {X-Team: sre}}
""",
    )
    assert done.code == 0, done.out + done.err
    channels = channels_of(load_policy(tmp_path / "incident-policy.yaml").data, tmp_path)
    assert {n: c.kind for n, c in channels.items()} == {"incidents": Kind.SLACK, "status-page": Kind.STATUSPAGE,
                                                        "leadership": Kind.EMAIL, "audit": Kind.WEBHOOK}  # fmt: skip
    slack = channels["incidents"]
    assert (slack.drills, slack.retries, slack.timeout_s, slack.backoff_s) == (True, 1, 5.0, 0.2)
    assert (channels["audit"].drills, channels["audit"].retries, channels["audit"].timeout_s) == (False, 3, 30.0)
    page = channels["status-page"].settings
    assert isinstance(page, Statuspage) and page.api == DEFAULT_API and page.components == {"checkout": "c1"}
    mail = channels["leadership"].settings
    assert isinstance(mail, Email) and (mail.port, mail.starttls, mail.ca_file) == (587, True, tmp_path / "ca.pem")


@pytest.mark.parametrize(("channels", "where", "said"), [
    ("  a: {type: slack, url: {secret: NOPE}}\n", ":6:", "secret 'NOPE' is not defined under secrets:"),
    ("  a: {type: webhook, url: 'http://x', headers: {Authorization: {secret: NOPE}}}\n", ":6:", "secret 'NOPE'"),
    ("  a: {type: webhook, url: x, headers: {Authorization: {secret: NOPE}}}\n", ":6:", "secret 'NOPE'"),
    ("  a: {type: webhook, url: x}\n", ":6:", "does not match the expected form ^https?://"),
    ("  a: {type: slack, url: {name: HOOK}}\n", ":6:", "channels.a.url"),
    ("  a: {type: slack, url: ftp://example.com/x}\n", ":6:", "channels.a.url"),
    ("  a: {type: slack}\n", ":6:", "url"),
    ("  a: {type: statuspage, api_key: k}\n", ":6:", "page"),
    ("  a: {type: email, host: h, to: [x@example.com]}\n", ":6:", "from"),
    ("  a: {type: email, host: h, from: a@example.com, to: []}\n", ":6:", "channels.a.to"),
    ("  a: {type: slack, url: 'https://x', retries: 99}\n", ":6:", "channels.a.retries"),
    ("  a: {type: slack, url: 'https://x', timeout: soon}\n", ":6:", "channels.a.timeout"),
    ("  a: {type: slack, url: 'https://x', page: p}\n", ":6:", "channels.a.page"),
    ("  a: {type: pager, url: 'https://x'}\n", ":6:", "channels.a.type"),
])  # fmt: skip
def test_each_mistake_is_reported_where_it_is(cli: Any, tmp_path: Path, channels: str, where: str, said: str) -> None:
    done = _validate(cli, tmp_path, channels)
    assert done.code == 1
    text = done.out + done.err
    assert f"incident-policy.yaml{where}" in text and said in text


def test_an_undefined_secret_stops_a_command_that_reads_the_policy_with_its_position(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "incident-policy.yaml"
    path.write_text(HEAD + "  a: {type: slack, url: {secret: NOPE}}\n", encoding="utf-8")
    monkeypatch.setenv("FIRELINE_POLICY", str(path))
    declared = cli("incident", "declare", "--title", "x", "--sev", "SEV3")
    assert declared.code == 1 and "incident-policy.yaml:6:" in declared.err and "'NOPE'" in declared.err


def test_an_email_channel_with_implicit_tls_defaults_to_port_465(cli: Any, tmp_path: Path) -> None:
    mail_channel = "  mail: {type: email, host: smtp.example.com, from: a@example.com, to: [b@x.example], tls: true}\n"
    done = _validate(cli, tmp_path, mail_channel)
    assert done.code == 0, done.out + done.err
    mail = channels_of(load_policy(tmp_path / "incident-policy.yaml").data, tmp_path)["mail"].settings
    assert isinstance(mail, Email) and (mail.tls, mail.port) == (True, 465)
