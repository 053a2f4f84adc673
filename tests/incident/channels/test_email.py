"""E-mail over a real SMTP server (aiosmtpd): STARTTLS verified against the test's own CA, AUTH after TLS,
the update's message as the plain-text body; a password is never sent without TLS."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from runner.incident.channels.base import Answer, Resolved, Value
from runner.incident.channels.email import Email
from tests.incident.channels.conftest import notice
from tests.servers.smtp import SmtpServer

PASSWORD = "smtp-pass-9Jd2kQ7x"
SECRET = Value(secret="SMTP_PASSWORD")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path, users={"fireline": PASSWORD}) as server:
        yield server


def _channel(server: SmtpServer, **overrides: object) -> Email:
    settings: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "from": "incidents@example.com",
                                   "to": ["leads@example.com", "cto@example.com"], "username": "fireline",
                                   "password": {"secret": "SMTP_PASSWORD"}, "ca_file": str(server.ca_file)}  # fmt: skip
    settings.update(overrides)
    return Email.parse({k: v for k, v in settings.items() if v is not None})


def _send(channel: Email, password: str = PASSWORD) -> Answer:
    return channel.send(notice(), Resolved({SECRET: password}), 10)


def _parsed(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def test_the_update_arrives_over_starttls_after_auth(smtp: SmtpServer) -> None:
    answer = _send(_channel(smtp))
    assert (answer.ok, answer.detail) == (True, "250 OK")
    (mail,) = smtp.messages
    assert mail.tls and mail.authenticated_as == "fireline"
    assert (mail.mail_from, mail.rcpt_tos) == ("incidents@example.com", ("leads@example.com", "cto@example.com"))
    parsed = _parsed(mail.content)
    assert parsed["Subject"] == "[INC-2026-007] SEV2 incident: Checkout <errors> & timeouts"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_payload(decode=True).decode().strip() == notice().update.message


def test_a_wrong_password_is_refused_for_good(smtp: SmtpServer) -> None:
    answer = _send(_channel(smtp), password="not-the-password")
    assert (answer.ok, answer.retry) == (False, False) and answer.detail.startswith("535")
    assert smtp.messages == []


def test_a_certificate_that_does_not_verify_stops_before_the_password(smtp: SmtpServer) -> None:
    answer = _send(_channel(smtp, ca_file=None))  # the system's CAs do not know the test's certificate
    assert (answer.ok, answer.retry) == (False, False) and "certificate does not verify" in answer.detail
    assert smtp.auth_attempts == [] and smtp.messages == []


def test_a_password_is_never_sent_without_tls(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, tls=False) as plain:
        refused = _send(_channel(plain, starttls=False, ca_file=None))
        assert (refused.ok, refused.retry) == (False, False) and "without TLS" in refused.detail
        missing = _send(_channel(plain, ca_file=None))  # starttls asked, the server cannot
        assert (missing.ok, missing.detail) == (False, "the server does not offer STARTTLS")
        assert plain.auth_attempts == [] and plain.messages == []
        relay = _channel(plain, starttls=False, username=None, password=None, ca_file=None)
        assert relay.send(notice(), Resolved({}), 10).ok  # an internal relay without a password may be plain
        assert len(plain.messages) == 1


def test_no_server_is_worth_a_retry(tmp_path: Path) -> None:
    with SmtpServer(tmp_path) as server:
        channel = _channel(server)
    answer = _send(channel)  # the server has stopped
    assert (answer.ok, answer.retry) == (False, True) and answer.detail.startswith("cannot connect")


# The server takes AUTH on any connection: each of its connections is TLS from the first byte.
SMTPS_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def smtps(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path, users={"fireline": PASSWORD}, implicit_tls=True) as server:
        yield server


@SMTPS_AUTH
def test_the_update_arrives_over_implicit_tls_after_auth(smtps: SmtpServer) -> None:
    answer = _send(_channel(smtps, tls=True))
    assert (answer.ok, answer.detail) == (True, "250 OK")
    (mail,) = smtps.messages
    assert mail.tls and mail.authenticated_as == "fireline"
    assert _parsed(mail.content).get_payload(decode=True).decode().strip() == notice().update.message


@SMTPS_AUTH
def test_implicit_tls_verifies_the_certificate_before_the_password(smtps: SmtpServer) -> None:
    answer = _send(_channel(smtps, tls=True, ca_file=None))  # the system's CAs do not know the test's certificate
    assert (answer.ok, answer.retry) == (False, False) and "certificate does not verify" in answer.detail
    assert smtps.auth_attempts == [] and smtps.messages == []


def test_implicit_tls_never_falls_back_to_a_plain_connection(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, users={"fireline": PASSWORD}, tls=False) as plain:
        answer = _send(_channel(plain, tls=True, starttls=False, ca_file=None))
        assert not answer.ok and answer.detail.startswith("cannot connect: SSLError")
        assert plain.auth_attempts == [] and plain.messages == []
