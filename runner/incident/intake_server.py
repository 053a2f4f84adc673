"""The HTTP side of `fireline incident intake`: an Alertmanager webhook receiver on aiohttp.

Each request is checked before its body is read (the bearer token when one is configured, the content type,
the declared length), the body is capped (MAX_BODY), and the notification is decided by
runner.incident.intake on one worker thread that owns the journal (its writes are blocking calls; the event
loop keeps answering meanwhile). Alertmanager gets its answer as soon as the notification is recorded: the
runbook suggestions, and the plan of the best one where the policy asks for it, happen after, in the
background — Alertmanager gives up on a slow receiver and sends again.

Answers are short JSON: 200 `{"outcome": "declared", "incident": "INC-…"}`, or a 4xx with a reason for what
was refused (nothing written), or 500 without details for an error of fireline's own (logged, redacted).
One log line per request on stderr; SIGTERM and SIGINT stop it cleanly: no new requests, the ones in flight
answered, follow-ups given a moment to finish and a running plan stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from runner.errors import FirelineError, JournalError, UsageError
from runner.incident import intake
from runner.incident.intake import Decision, IntakeSettings, Outcome, PayloadRejected
from runner.journal.store import Journal, open_journal
from runner.secrets import Redactor

MAX_BODY = 1024 * 1024  # Alertmanager's notifications are a few KiB; a bigger body is refused unread
PATHS = ("/", "/alerts")  # where a webhook_config may point
FOLLOW_UP_GRACE = 10.0  # seconds a stopping intake gives suggestions and plans before stopping them
PLAN_OUTPUT = 64 * 1024  # bytes of a plan's stderr kept for the log
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SAID = "fireline_said"  # what the handler says about a request, for its log line


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """`HOST:PORT` (`[::1]:PORT` for IPv6; port 0: any free port)."""
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text[:60]!r} is not HOST:PORT", hint="e.g. --listen 127.0.0.1:9797")
    return Listen(host, int(port))


@dataclass(frozen=True)
class Config:
    listen: Listen
    settings: IntakeSettings
    actor: str = intake.ACTOR
    token: str | None = None  # the bearer token's value (already registered with `redactor`)
    redactor: Redactor | None = None


class Receiver:
    """The aiohttp handlers and everything they share."""

    def __init__(self, config: Config, journal: Journal, log: Callable[[str], None]) -> None:
        self.config = config
        self.redactor = config.redactor or Redactor()
        self._journal: Journal | None = journal
        self._log = log
        # One thread owns the journal: a store connection is used by one thread at a time, and decisions of
        # one process are taken one after the other (those of several processes are ordered by the store).
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-journal")
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._plans: set[asyncio.subprocess.Process] = set()

    def log(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._log(self.redactor.text(f"{stamp} {line}"))

    # -- the journal, on its thread -------------------------------------------------------------------------------
    async def _in_journal(self, work: Callable[[Journal], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._with_journal, work)

    def _with_journal(self, work: Callable[[Journal], T]) -> T:
        try:
            return work(self._open())
        except JournalError:
            # The store's connection failed (a PostgreSQL restart, a dropped connection): a new one, and the work
            # once more. Deciding again is safe: the store's alert-group rule and the recorded digests make a
            # declaration or an alert that did get written count once.
            self._drop()
            try:
                return work(self._open())
            except JournalError:
                self._drop()
                raise

    def _open(self) -> Journal:
        if self._journal is None:
            self._journal = open_journal()
        return self._journal

    def _drop(self) -> None:
        broken, self._journal = self._journal, None
        if broken is not None:
            with contextlib.suppress(Exception):
                broken.close()

    # -- requests --------------------------------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @web.middleware
    async def logged(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """One log line per request, whatever answers it (an unknown path, a wrong method, a handler)."""
        started = time.monotonic()
        status, said = 500, "internal error"
        try:
            response = await handler(request)
            status, said = response.status, request.get(_SAID, response.reason or "")
            return response
        except web.HTTPException as answer:  # aiohttp's own: 404, 405 …
            status, said = answer.status, answer.reason
            raise
        except Exception as exc:  # fireline's own error: the client learns nothing of it, the log does
            self.log(f"internal error: {type(exc).__name__}: {exc}\n{traceback.format_exc().rstrip()}")
            return web.json_response({"error": "internal error"}, status=500)
        finally:
            ms = (time.monotonic() - started) * 1000
            # What the client sent is shown on one printable line: a newline in a path cannot forge a log line.
            method, path = intake.one_line(request.method, 20), intake.one_line(request.path, 200)
            self.log(f"{request.remote or '?'} {method} {path} {status} {said} ({ms:.0f} ms)")

    async def receive(self, request: web.Request) -> web.Response:
        response, request[_SAID] = await self._answer(request)
        return response

    async def _answer(self, request: web.Request) -> tuple[web.Response, str]:
        refused = self._refusal(request)
        if refused is not None:
            return _refused(refused), refused.reason
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            problem = PayloadRejected(413, f"the body is larger than {MAX_BODY} bytes")
            return _refused(problem), problem.reason
        try:
            notification = intake.parse(body)
        except PayloadRejected as problem:
            return _refused(problem), problem.reason
        try:
            decision = await self._in_journal(
                lambda journal: intake.receive(journal, notification, self.config.settings, self.config.actor)
            )
        except FirelineError as exc:
            self.log(f"cannot record the notification of group {notification.group_key[:120]!r}: {exc}")
            return web.json_response({"error": "cannot record the notification"}, status=503), "journal error"
        if decision.outcome is Outcome.DECLARED and decision.incident_id:
            self._follow_up(decision.incident_id)
        return web.json_response(_answer_of(decision)), _said(decision, notification)

    def _refusal(self, request: web.Request) -> PayloadRejected | None:
        """What is wrong with the request before its body is read."""
        if self.config.token is not None:
            given = _bearer(request)
            if given is None:
                return PayloadRejected(401, "a bearer token is required (Authorization: Bearer …)")
            if not _matches(given, self.config.token):  # said apart: a typo in alertmanager.yml is found sooner
                return PayloadRejected(401, "the bearer token is not the intake's token (intake.token)")
        if request.content_type != "application/json":
            return PayloadRejected(415, "the content type must be application/json")
        if request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            # Alertmanager does not compress; a compressed body could inflate far past MAX_BODY before it is read.
            return PayloadRejected(415, "compressed bodies are not taken")
        length = request.content_length
        if length is not None and length > MAX_BODY:
            return PayloadRejected(413, f"the body is larger than {MAX_BODY} bytes")
        return None

    # -- after the answer ------------------------------------------------------------------------------------------
    def _follow_up(self, incident_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._suggest(incident_id))
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    async def _suggest(self, incident_id: str) -> None:
        settings, actor = self.config.settings, self.config.actor
        try:
            found = await self._in_journal(lambda journal: intake.suggest(journal, incident_id, settings, actor))
            names = ", ".join(s.option.runbook.name for s in found[: intake.SUGGESTIONS]) or "none"
            self.log(f"{incident_id}: runbooks suggested: {names}")
            if settings.run_reads and found:
                await self._plan(incident_id, found[0])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a follow-up that fails never takes the receiver down
            self.log(f"{incident_id}: suggestions failed: {type(exc).__name__}: {exc}")

    async def _plan(self, incident_id: str, best: intake.Suggestion) -> None:
        refusal = intake.plan_refusal(best)
        name = best.option.runbook.name
        if refusal is not None:
            text = f"not planned at once: runbook {name} {refusal}"
            await self._in_journal(lambda journal: intake.note(journal, incident_id, text, self.config.actor))
            self.log(f"{incident_id}: {text}")
            return
        argv = intake.plan_argv(best, incident_id, self.config.settings, self.config.actor)
        env = dict(os.environ)
        if self.config.settings.policy_file is not None:
            env["FIRELINE_POLICY"] = str(self.config.settings.policy_file)
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        self._plans.add(process)
        try:
            assert process.stderr is not None
            errors = await process.stderr.read(PLAN_OUTPUT)
            code = await process.wait()
        finally:
            self._plans.discard(process)
        self.log(f"{incident_id}: planned runbook {name} (its read-only steps ran): exit {code}")
        if code != 0:
            last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            text = f"planning runbook {name} at once failed (exit {code}): {intake.one_line(last[0], 200)}"
            await self._in_journal(lambda journal: intake.note(journal, incident_id, self.redactor.text(text),
                                                               self.config.actor))  # fmt: skip

    async def stop(self) -> None:
        """Give follow-ups a moment, then stop them (and any plan they started)."""
        if self._follow_ups:
            await asyncio.wait(set(self._follow_ups), timeout=FOLLOW_UP_GRACE)
        for process in list(self._plans):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for task in list(self._follow_ups):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._follow_ups, return_exceptions=True)
        self._pool.shutdown(wait=True)
        if self._journal is not None:
            self._journal.close()


def _bearer(request: web.Request) -> str | None:
    """The bearer token the request carries, None without one; the header is never logged."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def _matches(given: str, token: str) -> bool:
    """Compared in constant time."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def _refused(problem: PayloadRejected) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return web.json_response({"error": problem.reason}, status=problem.status, headers=headers)


def _answer_of(decision: Decision) -> dict[str, Any]:
    answer: dict[str, Any] = {"outcome": str(decision.outcome), "incident": decision.incident_id}
    if decision.previous:
        answer["previous"] = decision.previous
    if decision.why:
        answer["why"] = decision.why
    return answer


def _said(decision: Decision, notification: intake.Notification) -> str:
    group = intake.one_line(notification.group_key, 80)
    raced = " (another intake declared it first)" if decision.raced else ""
    return f"{notification.status} {decision.outcome} {decision.incident_id or '-'}{raced} group {group}"


def application(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[receiver.logged])
    for path in PATHS:
        app.router.add_post(path, receiver.receive)
    app.router.add_get("/healthz", receiver.health)
    return app


async def _serve(config: Config, journal: Journal, ready: Callable[[str], None]) -> None:
    receiver = Receiver(config, journal, lambda line: print(line, file=sys.stderr, flush=True))
    runner = web.AppRunner(application(receiver), access_log=None, handle_signals=False, shutdown_timeout=10.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.listen.host, config.listen.port)
        try:
            await site.start()
        except OSError as exc:
            raise FirelineError(f"cannot listen on {config.listen}: {exc.strerror or exc}") from None
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stopping.set)
        ready(_where(runner, config.listen))
        await stopping.wait()
        receiver.log("stopping: no new notifications; finishing the ones in flight")
    finally:
        await runner.cleanup()
        await receiver.stop()


def _where(runner: web.AppRunner, listen: Listen) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(Listen(str(address[0]), int(address[1])))
    return str(listen)


def serve(config: Config, ready: Callable[[str], None]) -> int:
    """Receive notifications until SIGTERM or SIGINT; `ready` is told where it listens. Exit code 0."""
    journal = open_journal()  # an unreachable store is said before anything listens
    asyncio.run(_serve(config, journal, ready))
    return 0
