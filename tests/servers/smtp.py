"""A real SMTP server (aiosmtpd) on loopback, with STARTTLS (a self-signed certificate made for the test,
valid for 127.0.0.1) or implicit TLS (`implicit_tls=True`, as on port 465) and AUTH (PLAIN/LOGIN, only over
TLS), that keeps every mail it accepts.

    with SmtpServer(tmp_path, users={"fireline": "s3cret-pass"}) as smtp:
        smtp.port, smtp.ca_file       # the channel's port and ca_file
        smtp.messages                 # [Mail(mail_from, rcpt_tos, content, authenticated_as, tls)]
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .ports import LOOPBACK, free_port


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    authenticated_as: str | None
    tls: bool


@dataclass
class _Handler:
    messages: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = session.auth_data if session.authenticated else None
        who = data.decode() if isinstance(data, bytes) else (str(data) if data else None)
        # session.ssl is set by STARTTLS only; a connection that was TLS from the start has an ssl_object.
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content or b""), who, tls)
        with self.lock:
            self.messages.append(mail)
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1 and localhost (the certificate is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fireline test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(names, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "smtp-key.pem", directory / "smtp-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SmtpServer:
    """`tls=False`: a server that offers no STARTTLS (and so no AUTH). `implicit_tls=True`: a server that
    speaks TLS from the first byte (SMTPS) and offers AUTH there."""

    def __init__(
        self, directory: Path, users: dict[str, str] | None = None, tls: bool = True, implicit_tls: bool = False
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.handler = _Handler()
        self.users = dict(users or {})
        self.ca_file: Path | None = None
        self.auth_attempts: list[str] = []
        context = None
        if tls:
            key, cert = self_signed(directory)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.ca_file = cert

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            user, password = auth_data.login.decode(), auth_data.password.decode()
            self.auth_attempts.append(user)
            ok = self.users.get(user) == password
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        self.port = free_port()
        # aiosmtpd counts only STARTTLS as TLS for AUTH; with implicit TLS every byte is under TLS already.
        starttls = context if not implicit_tls else None
        self._controller = Controller(
            self.handler, hostname=LOOPBACK, port=self.port, tls_context=starttls, require_starttls=bool(starttls),
            ssl_context=context if implicit_tls else None, authenticator=authenticate,
            auth_require_tls=not implicit_tls, auth_required=bool(self.users),
        )  # fmt: skip

    @property
    def messages(self) -> list[Mail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._controller.stop()
