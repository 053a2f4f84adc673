"""ssh.run: run one command on many hosts through fabric, in parallel, with a failure budget.

fabric (and paramiko under it) is imported only inside functions: the CLI must start without it.
Host keys are checked against known_hosts by default; fabric's own default (accept anything) is
never used.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runner.actions.base import ActionContext, BaseAction, Cancelled, Outcome, Params, Plan, Verdict
from runner.durations import parse_duration
from runner.errors import ActionError, StepTimeout
from runner.secrets import shorten

if TYPE_CHECKING:
    from fabric import Config, Connection

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_PARALLEL = 10
# Per stream and host; a runaway `journalctl` must not blow up the journal or the template context.
MAX_CAPTURED_CHARS = 64 * 1024

_HOST_SPEC = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?:\[(?P<bracketed>[^\]\s]+)\]|(?P<host>[^:@\s\[\]]+))(?::(?P<port>\d{1,5}))?$"
)


# -- hosts ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostSpec:
    """One target as written in the runbook: `host`, `host:port`, `user@host:port` or an ssh_config alias."""

    name: str  # as written (minus nothing): what the responder sees in tables and messages
    host: str
    user: str | None = None
    port: int | None = None


def parse_host_spec(text: str) -> HostSpec:
    """Parse `[user@]host[:port]` (IPv6 in brackets); raise ActionError with the offending text."""
    spec = text.strip()
    match = _HOST_SPEC.match(spec)
    if match is None:
        raise ActionError(f"invalid host {text!r}", hint="use host, host:port, user@host:port or an alias")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise ActionError(f"invalid port in host {text!r}")
    return HostSpec(name=spec, host=match["bracketed"] or match["host"], user=match["user"], port=port)


def read_inventory(path: str) -> list[str]:
    """Host specs from an inventory file: one per line, blank lines and `#` comments ignored."""
    try:
        text = Path(path).expanduser().read_text()
    except OSError as exc:
        raise ActionError(f"cannot read inventory {path}: {exc.strerror or exc}") from None
    specs = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            specs.append(entry.split()[0])
    return specs


def resolve_hosts(settings: Mapping[str, Any], limit: Sequence[str] | None = None) -> list[HostSpec]:
    """The connection's hosts (list, then inventory), de-duplicated, optionally narrowed by glob patterns."""
    texts: list[str] = list(settings.get("hosts") or [])
    if settings.get("inventory"):
        texts.extend(read_inventory(str(settings["inventory"])))
    seen: set[str] = set()
    hosts: list[HostSpec] = []
    for text in texts:
        spec = parse_host_spec(str(text))
        if spec.name not in seen:
            seen.add(spec.name)
            hosts.append(spec)
    if limit:
        hosts = [h for h in hosts if any(fnmatch.fnmatchcase(h.name, pattern) for pattern in limit)]
    if not hosts:
        raise ActionError(
            "no hosts to run on" + (f" (limit {list(limit)} matched none)" if limit else ""),
            hint="give the ssh connection `hosts` or an `inventory` file",
        )
    return hosts


# -- command ----------------------------------------------------------------------------------------------
def build_command(params: Params) -> str:
    """The exact remote command line. argv is joined with shlex so no element is ever parsed as shell."""
    # A `command` string is already final: the engine shell-quoted every templated value in it.
    command = shlex.join(str(a) for a in params["argv"]) if "argv" in params else str(params["command"])
    if params.get("sudo"):
        # -n: never prompt (there is no one to type a password); fail instead.
        command = f"sudo -n -- sh -c {shlex.quote(command)}"
    return command


# -- host keys --------------------------------------------------------------------------------------------
_KNOWN_HOSTS_LOCK = threading.Lock()


class UnknownHostKey(Exception):
    """The server's key is not in known_hosts and the policy is known_hosts."""

    def __init__(self, known_as: str, fingerprint: str) -> None:
        super().__init__(known_as)
        self.known_as = known_as
        self.fingerprint = fingerprint


def _fingerprint(key: Any) -> str:
    return str(key.fingerprint) if hasattr(key, "fingerprint") else str(key.get_name())


def _host_key_policy(policy: str, known_hosts_file: Path | None) -> Any:
    """A paramiko MissingHostKeyPolicy: refuse unknown keys, or append them (accept_new, like OpenSSH)."""
    reject_unknown, accept_new = _host_key_policy_classes()
    return accept_new(known_hosts_file) if policy == "accept_new" else reject_unknown()


@cache
def _host_key_policy_classes() -> tuple[type, type]:
    """The two policy classes, made once: paramiko is imported lazily, and making the classes for every
    host (an ABC each) cost more CPU per host than checking its key."""
    import paramiko

    class RejectUnknown(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise UnknownHostKey(hostname, _fingerprint(key))

    class AcceptNew(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
        # Append one line under a lock instead of paramiko's save_host_keys(), which rewrites the whole
        # file from one client's view and would lose keys added by the other threads of the fan-out.
        # A *changed* key still fails: paramiko raises BadHostKeyException before asking the policy.
        def __init__(self, known_hosts_file: Path | None) -> None:
            self.known_hosts_file = known_hosts_file

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            client.get_host_keys().add(hostname, key.get_name(), key)
            if self.known_hosts_file is None:
                return
            with _KNOWN_HOSTS_LOCK:
                self.known_hosts_file.parent.mkdir(parents=True, exist_ok=True)
                with self.known_hosts_file.open("a") as handle:
                    handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    return RejectUnknown, AcceptNew


def _known_hosts_files(settings: Mapping[str, Any], ssh_config: Mapping[str, Any]) -> list[Path]:
    """Explicit connection setting first; else what ssh_config says; else OpenSSH's defaults."""
    if settings.get("known_hosts"):
        return [Path(str(settings["known_hosts"])).expanduser()]
    user_files = str(ssh_config.get("userknownhostsfile", "~/.ssh/known_hosts")).split()
    global_files = str(ssh_config.get("globalknownhostsfile", "/etc/ssh/ssh_known_hosts")).split()
    return [Path(p).expanduser() for p in [*user_files, *global_files]]


# -- connections ------------------------------------------------------------------------------------------
@dataclass(eq=False)  # identity semantics: running targets are kept in a set
class Target:
    """A host with its fabric Connection (not yet opened)."""

    spec: HostSpec
    connection: Connection
    known_hosts: list[Path] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.connection.user}@{self.connection.host}:{self.connection.port}"


def _fabric_config(settings: Mapping[str, Any]) -> Config:
    from fabric import Config

    if settings.get("ssh_config"):
        # An explicit file replaces ~/.ssh/config and /etc/ssh/ssh_config, like `ssh -F`.
        config = Config(runtime_ssh_path=str(Path(str(settings["ssh_config"])).expanduser()))
    else:
        config = Config()
    config.runners.remote = _timed_remote_class()
    if type(config.base_ssh_config) is _ssh_config_class().__base__:
        # The parsed ssh_config, looked up once per host: see _ssh_config_class (same data, same class
        # apart from one method, so fabric's own use of the object is unchanged).
        config.base_ssh_config.__class__ = _ssh_config_class()
    return config


@cache
def _ssh_config_class() -> type:
    """paramiko's SSHConfig, minus a per-block cost of every lookup.

    Looking up one host asks for the local user's name (environment, then the passwd database) once for
    every Host block of the file, twice over, even for the blocks without a `Match` line, which never use
    it: an ssh_config listing each host of a 50-host fleet cost 5000 such calls, ~100 ms of CPU before the
    first connection. A block without Match conditions has nothing to match (paramiko's own answer for
    it is an empty list), so it is answered without the call; any other block goes through paramiko."""
    from paramiko import SSHConfig

    class FanOutSSHConfig(SSHConfig):  # type: ignore[misc]
        def _does_match(self, match_list: list[Any], *args: Any, **kwargs: Any) -> Any:
            if not match_list:
                return []
            return super()._does_match(match_list, *args, **kwargs)

    return FanOutSSHConfig


@cache
def _connection_class() -> type[Connection]:
    """fabric's Connection, cheaper to make once per host (it behaves the same).

    invoke's objects tell attributes from config keys on every assignment by listing dir(self); fabric
    assigns a dozen attributes per Connection. Names the class itself defines are attributes whatever the
    instance holds, so they are assigned directly; anything else goes through invoke as before."""
    from fabric import Connection

    class FanOutConnection(Connection):  # type: ignore[misc]
        # A real attribute. Without it fabric stores the value as a change to the Config that every
        # Connection of the fan-out shares, and invoke re-merges that whole config for each host.
        inline_ssh_env = None

        def __setattr__(self, key: str, value: Any) -> None:
            if key in attributes:
                object.__setattr__(self, key, value)
            else:
                super().__setattr__(key, value)

    attributes = frozenset(dir(FanOutConnection))
    return FanOutConnection


# The runner of the command that the current worker thread is running (set when fabric creates it).
_CURRENT_RUNNER = threading.local()


@cache
def _timed_remote_class() -> type:
    """fabric's Remote runner, but "timed out" means the timeout actually fired.

    invoke decides "timed out" by whether its timer *thread* is no longer alive. The timer's kill() closes
    the channel, which wakes the worker at once; on a loaded machine the worker then often asks before
    the timer thread has finished, and a timed-out command came back as an ordinary exit -1 ("failed").
    """
    from fabric.runners import Remote

    class TimedRemote(Remote):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.fired = False
            _CURRENT_RUNNER.runner = self

        def kill(self) -> None:
            channel = getattr(self, "channel", None)
            # An exit status already received means the command finished in time; the close is moot.
            self.fired = channel is None or not channel.exit_status_ready()
            # The connection may have closed as the timer fired (the command ended): nothing is left to stop.
            with contextlib.suppress(EOFError, OSError):
                super().kill()

        @property
        def timed_out(self) -> bool:
            return self.fired

        def wait(self) -> None:
            # invoke sleeps input_sleep (10 ms) between polls, so every command ended on average 5 ms
            # after its exit status came in. paramiko sets status_event on the exit status and on close:
            # wait on it, checking the same two conditions at least as often as invoke does.
            while not (self.process_is_finished or self.has_dead_threads):
                self.channel.status_event.wait(self.input_sleep)

    return TimedRemote


def _timeout_fired() -> bool:
    """Whether the command this thread just ran was stopped by its timeout."""
    return bool(getattr(getattr(_CURRENT_RUNNER, "runner", None), "fired", False))


def _connect_timeout(settings: Mapping[str, Any]) -> float:
    if settings.get("connect_timeout"):
        return parse_duration(settings["connect_timeout"])
    return DEFAULT_CONNECT_TIMEOUT


class KnownHosts:
    """The known_hosts files of one fan-out, each set parsed once and shared by every host's client.

    paramiko parses a whole file per client, checking each line against those before it: N hosts listed in
    one file cost N parses of N lines, N^2 lookups each (50 hosts: ~170 ms of CPU before the first connect)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[Path, ...], Any] = {}

    def host_keys(self, files: Sequence[Path]) -> Any:
        """One paramiko HostKeys holding `files`' keys (a key added by accept_new is seen by every host)."""
        import paramiko

        key = tuple(files)
        if key not in self._parsed:
            host_keys = paramiko.HostKeys()
            for path in files:
                if path.is_file():
                    host_keys.load(str(path))
            self._parsed[key] = host_keys
        return self._parsed[key]


def _make_target(spec: HostSpec, settings: Mapping[str, Any], config: Config, known: KnownHosts) -> Target:
    connect_kwargs: dict[str, Any] = {"banner_timeout": _connect_timeout(settings)}
    connect_kwargs["auth_timeout"] = _connect_timeout(settings)
    if settings.get("key_file"):
        # An explicit key means exactly that key: no agent, no ~/.ssh/id_* guessing (IdentitiesOnly).
        connect_kwargs.update(
            key_filename=[str(Path(str(settings["key_file"])).expanduser())],
            look_for_keys=False,
            allow_agent=False,
        )
    port = spec.port or settings.get("port")
    conn = _connection_class()(
        spec.host,
        user=spec.user or settings.get("user") or None,
        port=int(port) if port else None,
        config=config,
        # fabric keeps whole seconds and treats 0 as "no timeout": never round below one second.
        connect_timeout=max(1, round(_connect_timeout(settings))),
        connect_kwargs=connect_kwargs,
    )
    files = _known_hosts_files(settings, conn.ssh_config)
    # The client's own table, replaced by the shared one (paramiko has no setter; get_host_keys() reads it).
    conn.client._host_keys = known.host_keys(files)
    policy = str(settings.get("host_key_policy") or "known_hosts")
    conn.client.set_missing_host_key_policy(_host_key_policy(policy, files[0] if files else None))
    return Target(spec=spec, connection=conn, known_hosts=files)


def open_targets(ctx: ActionContext, connection: str, hosts: Sequence[HostSpec]) -> list[Target]:
    """Targets for `hosts`, their Connections cached for the whole run (a later step reuses the session)."""
    settings = ctx.connection(connection, "ssh")
    config = _fabric_config(settings)
    known = KnownHosts()
    targets = []
    for spec in hosts:
        target = ctx.resource(
            f"ssh:{connection}:{spec.name}",
            partial(_make_target, spec, settings, config, known),
            lambda t: t.connection.close(),
        )
        targets.append(target)
    return targets


def describe_connect_error(target: Target, exc: BaseException) -> tuple[str, str | None]:
    """A one-line reason and a hint for a failed connect/auth, naming the host."""
    import paramiko
    from invoke.exceptions import ThreadException

    if isinstance(exc, ThreadException) and exc.exceptions:
        exc = exc.exceptions[0].value
    name = target.spec.name
    if isinstance(exc, UnknownHostKey):
        files = ", ".join(str(p) for p in target.known_hosts[:1]) or "known_hosts"
        return (
            f"{name}: host key for {exc.known_as} is not in {files} ({exc.fingerprint})",
            f"add it (ssh-keyscan -p {target.connection.port} {target.connection.host} >> {files}) after "
            "checking the fingerprint, or set `host_key_policy: accept_new` on the connection",
        )
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"{name}: HOST KEY CHANGED for {target.connection.host}:{target.connection.port} "
            f"(got {_fingerprint(exc.key)}, known_hosts has {_fingerprint(exc.expected_key)})",
            "someone may be intercepting the connection, or the host was rebuilt: verify, fix known_hosts",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return (
            f"{name}: authentication failed as {target.connection.user}: {exc}",
            "check user and key_file",
        )
    if isinstance(exc, socket.timeout | TimeoutError):
        return (
            f"{name}: connection to {target.address} timed out",
            "raise connect_timeout or check the host",
        )
    if isinstance(exc, OSError | paramiko.SSHException):
        return (f"{name}: cannot connect to {target.address}: {exc}", None)
    return (f"{name}: {type(exc).__name__}: {exc}", None)


# -- one host ---------------------------------------------------------------------------------------------
@dataclass
class HostResult:
    host: str
    address: str
    status: str  # ok | failed | error | timeout | interrupted | skipped
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    error: str | None = None
    hint: str | None = None

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "status": self.status,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
        }


def _clip(text: str, redact: Callable[[str], str]) -> str:
    if len(text) <= MAX_CAPTURED_CHARS:
        return text
    text = redact(text)  # before the cut, which could otherwise keep the end of a secret
    dropped = len(text) - MAX_CAPTURED_CHARS
    return f"[... {dropped} characters dropped ...]\n" + text[-MAX_CAPTURED_CHARS:]


class _LineSink:
    """A file-like object for invoke's out/err streams: complete lines go to ctx.log, tagged with the host."""

    def __init__(self, ctx: ActionContext, prefix: str) -> None:
        self._ctx = ctx
        self._prefix = prefix
        self._partial = ""

    def write(self, data: str) -> int:
        self._partial += data
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._ctx.log(f"{self._prefix} {line}")
        return len(data)

    def flush(self) -> None:
        if self._partial:
            self._ctx.log(f"{self._prefix} {self._partial}")
            self._partial = ""


@dataclass(frozen=True)
class RunOptions:
    command: str
    timeout: float | None
    expect_exit: frozenset[int]
    pty: bool
    stream: bool


def _run_on_host(target: Target, options: RunOptions, ctx: ActionContext, interrupted: threading.Event) -> HostResult:
    from invoke.exceptions import CommandTimedOut

    started = time.monotonic()
    _CURRENT_RUNNER.runner = None
    result = HostResult(host=target.spec.name, address=target.address, status="error")
    try:
        _open(target)
        out = _LineSink(ctx, f"[{target.spec.name}]") if options.stream else None
        err = _LineSink(ctx, f"[{target.spec.name}!]") if options.stream else None
        ran = target.connection.run(
            options.command,
            hide=not options.stream,
            out_stream=out,
            err_stream=err,
            warn=True,  # a non-zero exit is data (per host), not an exception
            pty=options.pty,
            timeout=options.timeout,
            in_stream=False,  # never read the responder's terminal
        )
        for sink in (out, err):
            if sink is not None:
                sink.flush()
        result.exit_code = int(ran.exited)
        result.stdout, result.stderr = _clip(ran.stdout, ctx.redact), _clip(ran.stderr, ctx.redact)
        if interrupted.is_set() and ran.exited in (-1, None):
            result.status, result.error = "interrupted", f"{target.spec.name}: interrupted"
        elif result.exit_code in options.expect_exit:
            result.status = "ok"
        else:
            result.status = "failed"
            result.error = f"{target.spec.name}: exit code {result.exit_code}"
    except CommandTimedOut as exc:
        result.status = "timeout"
        result.stdout, result.stderr = _clip(exc.result.stdout, ctx.redact), _clip(exc.result.stderr, ctx.redact)
        result.error = f"{target.spec.name}: timed out after {exc.timeout:g}s"
    except Exception as exc:
        if interrupted.is_set() and is_connection_error(exc):
            result.status, result.error = "interrupted", f"{target.spec.name}: interrupted"
        elif options.timeout is not None and _timeout_fired() and is_connection_error(exc):
            # invoke's timer closed the channel while its IO threads were still starting: the error
            # they raise is a side effect of the timeout, which is what the responder needs to see.
            result.status = "timeout"
            result.error = f"{target.spec.name}: timed out after {options.timeout:g}s"
        elif is_connection_error(exc):
            result.error, result.hint = describe_connect_error(target, exc)
        else:
            raise  # a bug (ours, fabric's or paramiko's) is not a connection problem: it surfaces as one
    finally:
        result.duration_s = time.monotonic() - started
        _CURRENT_RUNNER.runner = None
    return result


def is_connection_error(exc: BaseException) -> bool:
    """Network, SSH protocol, host key and authentication failures; anything else is a bug."""
    import paramiko
    from invoke.exceptions import ThreadException

    if isinstance(exc, ThreadException):
        # invoke's IO threads failed: a connection problem only if every one of them failed on one.
        return bool(exc.exceptions) and all(is_connection_error(w.value) for w in exc.exceptions)
    return isinstance(exc, UnknownHostKey | OSError | EOFError | paramiko.SSHException)


# -- fan-out ----------------------------------------------------------------------------------------------
class FanOut:
    """Runs hosts on a thread pool; stops starting hosts once the failure budget is spent.

    `max_failures` is how many failed hosts are tolerated (None: all hosts run whatever happens).
    `fail_fast` also interrupts the hosts still running when the budget is exceeded.
    """

    def __init__(self, max_failures: int | None, fail_fast: bool) -> None:
        self.max_failures = 0 if fail_fast and max_failures is None else max_failures
        self.fail_fast = fail_fast
        self.stop = threading.Event()
        self.interrupted = threading.Event()
        self._lock = threading.Lock()
        self._failures = 0
        self._running: set[Target] = set()

    def record(self, result: HostResult) -> None:
        if not result.failed:
            return
        with self._lock:
            self._failures += 1
            over = self.max_failures is not None and self._failures > self.max_failures
        if over:
            self.stop.set()
            if self.fail_fast:
                self.interrupt()

    def interrupt(self) -> None:
        """Close every running connection: its command's channel ends and the worker returns at once."""
        self.stop.set()
        self.interrupted.set()
        with self._lock:
            running = list(self._running)
        for target in running:
            target.connection.close()

    def run_all(
        self, targets: Sequence[Target], options: RunOptions, ctx: ActionContext, width: int
    ) -> list[HostResult]:
        def work(target: Target) -> HostResult:
            if self.stop.is_set() or ctx.cancelled.is_set():
                return HostResult(target.spec.name, target.address, "skipped", error="not started")
            with self._lock:
                self._running.add(target)
            try:
                result = _run_on_host(target, _with_deadline(options, ctx), ctx, self.interrupted)
            except StepTimeout as exc:  # the step's time was up before this host's turn came
                result = HostResult(target.spec.name, target.address, "timeout", error=f"{target.spec.name}: {exc}")
            finally:
                with self._lock:
                    self._running.discard(target)
            self.record(result)
            return result

        ctx.on_cancel(self.interrupt)
        with ThreadPoolExecutor(max_workers=max(1, min(width, len(targets))), thread_name_prefix="ssh") as pool:
            return list(pool.map(work, targets))


def _with_deadline(options: RunOptions, ctx: ActionContext) -> RunOptions:
    """Cap the per-host timeout by what is left of the step's own timeout when this host starts."""
    # `timeout: 0s` means no per-host timeout (invoke reads 0 as "none"), with or without a step deadline.
    timeout = ctx.budget(options.timeout or None, before="connecting")
    if timeout is None:
        return options
    return RunOptions(options.command, max(timeout, 0.001), options.expect_exit, options.pty, options.stream)


# -- output -----------------------------------------------------------------------------------------------
def format_table(results: Iterable[HostResult], redact: Callable[[str], str] | None = None) -> list[str]:
    """A compact fixed-width table: host, status, exit code, time, first line of output or the error
    (masked before it is cut)."""
    rows = [("HOST", "STATUS", "EXIT", "TIME", "OUTPUT")]
    for r in results:
        first = (r.stdout.strip() or r.stderr.strip()).splitlines()[:1]
        detail = r.error if r.status not in ("ok", "failed") else (first[0] if first else "")
        exit_code = "-" if r.exit_code is None else str(r.exit_code)
        rows.append((r.host, r.status, exit_code, f"{r.duration_s:.2f}s", shorten(detail or "", 80, "…", redact)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]).rstrip() for row in rows
    ]


class HostsFailed(ActionError):
    """The step failed on some hosts; `result` still carries every host's output for the journal."""

    def __init__(self, result: Mapping[str, Any], message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


# -- the action -------------------------------------------------------------------------------------------
class Run(BaseAction):
    """Run a command on every host of an ssh connection."""

    name: ClassVar[str] = "ssh.run"
    mutates: ClassVar[bool] = True
    idempotent: ClassVar[bool] = False

    def is_mutating(self, params: Params) -> bool:
        # A remote command can do anything; the engine applies the step-level `read_only: true`.
        return True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        hosts = resolve_hosts(ctx.connection(params["connection"], "ssh"), params.get("limit"))
        targets = open_targets(ctx, params["connection"], hosts)
        options = RunOptions(
            command=build_command(params),
            timeout=parse_duration(params["timeout"]) if params.get("timeout") else None,
            expect_exit=frozenset(params.get("expect_exit") or [0]),
            pty=bool(params.get("pty", False)),
            stream=bool(params.get("stream", True)),
        )
        ctx.log(f"$ {options.command}  # on {len(targets)} host(s)")
        fan_out = FanOut(params.get("max_failures"), bool(params.get("fail_fast", False)))
        results = fan_out.run_all(targets, options, ctx, int(params.get("max_parallel", DEFAULT_MAX_PARALLEL)))
        for line in format_table(results, ctx.redact):
            ctx.log(line)
        if ctx.cancelled.is_set():
            done = _count(results, "ok")
            raise Cancelled(f"ssh.run cancelled; {done} of {len(results)} host(s) had finished")
        return _outcome(results, options.command, params.get("max_failures"), fan_out.stop.is_set())

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        hosts = resolve_hosts(ctx.connection(params["connection"], "ssh"), params.get("limit"))
        targets = open_targets(ctx, params["connection"], hosts)
        command = build_command(params)
        width = int(params.get("max_parallel", DEFAULT_MAX_PARALLEL))
        with ThreadPoolExecutor(max_workers=max(1, min(width, len(targets))), thread_name_prefix="ssh") as pool:
            problems = list(pool.map(check_reachable, targets))
        details = [f"command: {command}", *(f"host: {t.spec.name} ({t.address})" for t in targets)]
        data = {"command": command, "hosts": [t.spec.name for t in targets]}
        unreachable = [p for p in problems if p is not None]
        if unreachable:
            return Plan(
                Verdict.CANNOT_CHECK,
                f"{len(unreachable)} of {len(targets)} host(s) not reachable",
                tuple([*details, *(f"unreachable: {p}" for p in unreachable)]),
                {**data, "unreachable": unreachable},
            )
        return Plan(
            Verdict.WOULD_CHANGE,
            f"would run on {len(targets)} host(s) (all reachable): {command}",
            tuple(details),
            data,
        )


def _open(target: Target) -> None:
    """Connect (once per run) on a socket that neither side's TCP timers stall: see _connect_socket. The
    socket is therefore opened here (only for a direct connection: a gateway makes its own) and handed to
    paramiko for the handshake."""
    conn = target.connection
    if conn.is_connected:
        return
    if conn.gateway:
        conn.open()
        _no_delay(getattr(conn.transport, "sock", None))
        return
    sock = _connect_socket(conn.host, conn.port, conn.connect_timeout)
    conn.connect_kwargs["sock"] = sock
    try:
        conn.open()
    except BaseException:
        sock.close()
        raise
    finally:
        del conn.connect_kwargs["sock"]  # a later reconnect opens a fresh socket


def _connect_socket(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to host:port for paramiko, with neither of the two stalls of a plain socket.

    Our sends: paramiko leaves Nagle on, so every small SSH packet waited for the peer's delayed ACK
    (~40 ms on Linux): the key exchange and authentication took ~80 ms instead of ~30 ms, and a `true`
    47 ms instead of 8 ms. Hence TCP_NODELAY from the first packet.

    The server's sends: sshd keeps Nagle on for a command without a pty. Right after authentication it
    sends two packets back to back (its host keys announcement, then the answer to our channel-open);
    the second is held until we acknowledge the first, and a Linux client delays that ACK by 40 ms: the
    first command on every new connection waited ~43 ms for nothing (a 1-host `true`: ~80 ms instead of
    ~35 ms). On Linux the socket therefore acknowledges every read at once (QuickAckSocket)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    _no_delay(sock)
    if not hasattr(socket, "TCP_QUICKACK"):
        return sock
    quick = QuickAckSocket(fileno=sock.detach())
    quick.settimeout(timeout)  # a socket built from a descriptor starts with the default timeout
    return quick


class QuickAckSocket(socket.socket):
    """A socket that acknowledges received data at once instead of waiting for the delayed-ACK timer.

    Linux's TCP_QUICKACK is not sticky (the kernel goes back to delaying ACKs once traffic looks
    interactive), so it is set again after every read: one cheap setsockopt per read."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return data


def _no_delay(sock: object) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def check_reachable(target: Target) -> str | None:
    """Connect and authenticate, run nothing. None when fine, else the reason (naming the host)."""
    try:
        _open(target)
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        reason, hint = describe_connect_error(target, exc)
        return f"{reason} (hint: {hint})" if hint else reason
    return None


def _count(results: Iterable[HostResult], status: str) -> int:
    return sum(1 for r in results if r.status == status)


def _outcome(results: list[HostResult], command: str, max_failures: int | None, stopped: bool) -> Outcome:
    failed = [r for r in results if r.failed]
    skipped = _count(results, "skipped")
    result = {
        "command": command,
        "hosts": [r.as_dict() for r in results],
        "ok": _count(results, "ok"),
        "failed": len(failed),
        "skipped": skipped,
    }
    summary = f"{result['ok']}/{len(results)} host(s) ok, {len(failed)} failed, {skipped} skipped"
    tolerated = max_failures if max_failures is not None else 0
    if len(failed) > tolerated or stopped:
        first = failed[0] if failed else None
        why = f"; first: {first.error}" if first is not None and first.error else ""
        raise HostsFailed(
            result,
            f"ssh.run failed on {len(failed)} host(s) ({', '.join(r.host for r in failed)}){why}"
            + (f"; {skipped} host(s) not started" if skipped else ""),
            hint=first.hint if first is not None else None,
        )
    return Outcome(result=result, summary=summary, changed=True)
