"""E-mail over SMTP: STARTTLS, or TLS from the first byte with `tls` (SMTPS, port 465), the certificate
verified against the system's CAs or `ca_file` either way; AUTH when a username is given, and a plain-text body
that is the update's message. A password is never sent over a connection that TLS does not protect: with
neither `starttls` nor `tls` a channel with a password is refused before connecting.

Temporary SMTP answers (4xx) and lost connections are retried; permanent ones (5xx, a refused login, a
certificate that does not verify) are not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.incident.channels.base import Answer, Notice, Resolved, Value

if TYPE_CHECKING:
    import smtplib
    import ssl

DEFAULT_PORT = 587  # submission, upgraded with STARTTLS
IMPLICIT_TLS_PORT = 465  # submissions: TLS from the start


@dataclass(frozen=True)
class Email:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = DEFAULT_PORT
    starttls: bool = True
    tls: bool = False  # implicit TLS: STARTTLS is then not used
    username: str | None = None
    password: Value | None = None
    ca_file: Path | None = None

    @classmethod
    def parse(cls, entry: Mapping[str, Any], base: Path | None = None) -> Email:
        ca = entry.get("ca_file")
        tls = bool(entry.get("tls", False))
        return cls(
            host=str(entry["host"]),
            sender=str(entry["from"]),
            to=tuple(str(t) for t in entry["to"]),
            port=int(entry.get("port", IMPLICIT_TLS_PORT if tls else DEFAULT_PORT)),
            starttls=bool(entry.get("starttls", True)),
            tls=tls,
            username=str(entry["username"]) if entry.get("username") is not None else None,
            password=Value.parse(entry["password"]) if entry.get("password") is not None else None,
            ca_file=((base / str(ca)) if base is not None else Path(str(ca))) if ca else None,
        )

    def credentials(self) -> tuple[Value, ...]:
        return (self.password,) if self.password is not None else ()

    def send(self, notice: Notice, resolved: Resolved, timeout_s: float) -> Answer:
        if self.password is not None and not (self.starttls or self.tls):
            said = "refused: the SMTP password would cross the network without TLS (set starttls: true or tls: true)"
            return Answer(False, said)
        import smtplib
        import ssl

        try:
            with self._connect(timeout_s) as smtp:
                return self._session(smtp, notice, resolved)
        except ssl.SSLCertVerificationError as err:
            return Answer(False, f"TLS: the server's certificate does not verify: {err.verify_message}")
        except smtplib.SMTPResponseException as err:
            return _smtp_answer(err.smtp_code, err.smtp_error)
        except (smtplib.SMTPException, OSError) as err:
            return Answer(False, f"cannot connect: {type(err).__name__}: {err}", retry=True)

    def _connect(self, timeout_s: float) -> smtplib.SMTP:
        import smtplib

        if self.tls:  # the handshake (and its certificate check) happens before the server says a word
            return smtplib.SMTP_SSL(self.host, self.port, timeout=timeout_s, context=self._tls())
        return smtplib.SMTP(self.host, self.port, timeout=timeout_s)

    def _session(self, smtp: smtplib.SMTP, notice: Notice, resolved: Resolved) -> Answer:
        smtp.ehlo()
        if self.starttls and not self.tls:
            if not smtp.has_extn("starttls"):
                return Answer(False, "the server does not offer STARTTLS")
            smtp.starttls(context=self._tls())
            smtp.ehlo()
        if self.username is not None:
            smtp.login(self.username, resolved[self.password] if self.password is not None else "")
        code, said = smtp.mail(self.sender)
        if code != 250:
            return _smtp_answer(code, said)
        answers = [(to, *smtp.rcpt(to)) for to in self.to]
        accepted = [to for to, code, _ in answers if code in (250, 251)]
        if not accepted:
            _, code, said = answers[0]
            return _smtp_answer(code, said, "no recipient accepted: ")
        code, said = smtp.data(message(notice, self.sender, self.to).as_bytes())
        if code != 250:
            return _smtp_answer(code, said)
        refused = len(self.to) - len(accepted)
        tail = f" ({refused} of {len(self.to)} recipients refused)" if refused else ""
        return Answer(True, f"{code} {_text(said)}{tail}")

    def _tls(self) -> ssl.SSLContext:
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def message(notice: Notice, sender: str, to: tuple[str, ...]) -> Any:
    """The mail: the update's heading as the subject, its message as the plain-text body."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    mail = EmailMessage()
    mail["Subject"] = notice.update.message.partition("\n")[0] or notice.incident.title
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    if notice.at is not None:
        mail["Date"] = format_datetime(notice.at)
    # The sender's domain: make_msgid's default asks DNS for this host's name, which may take seconds.
    mail["Message-ID"] = make_msgid("fireline", domain=sender.rpartition("@")[2] or "fireline.invalid")
    mail.set_content(notice.update.message + "\n")
    return mail


def _smtp_answer(code: int, said: bytes | str, prefix: str = "") -> Answer:
    # 4xx: the server asks to come back later; 5xx: it will never take this mail as it is.
    return Answer(False, f"{prefix}{code} {_text(said)}", retry=400 <= code < 500)


def _text(said: bytes | str) -> str:
    text = said.decode("utf-8", errors="replace") if isinstance(said, bytes) else said
    return " ".join(text.split())
