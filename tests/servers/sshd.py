"""Real OpenSSH servers (`/usr/sbin/sshd -D -e`) on loopback, one config/host key/port per instance.

    with start_sshd(tmp_path, count=3) as fleet:
        subprocess.run(["ssh", "-F", str(fleet.ssh_config_path), "web-1", "true"], check=True)

Each instance authorises one client key pair (generated once per workdir) for the current user, or,
with `user=NAME` (root only), for a dedicated system user whose login shell is /bin/sh:

    with start_sshd(tmp_path, count=10, user="fireline-bench") as fleet:  # fleet.user == "fireline-bench"

sshd runs every remote command as `<login shell> -c <command>`, so the login user's shell startup is
part of every command's cost. root's shell on a developer machine may be bash with a heavy ~/.bashrc
(`pyenv init` costs ~200ms of CPU); a clean user with dash keeps a simulated host as cheap as a real
one, which matters when many "hosts" share one machine's CPUs (see benchmarks/ssh_fanout.py).
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ._process import ManagedProcess
from .ports import LOOPBACK, ServerNotReady, free_port, wait_for_port

SSHD = "/usr/sbin/sshd"  # sshd insists on an absolute path: it re-executes itself per connection
SSH_KEYGEN = "ssh-keygen"
USERADD = "useradd"
CLEAN_SHELL = "/bin/sh"  # dash on Debian: `sh -c CMD` reads no rc file at all
_START_ATTEMPTS = 3  # a free_port() can be taken by someone else before sshd binds it: retry then


@dataclass
class SshServer:
    """One sshd instance."""

    name: str
    port: int
    directory: Path
    host: str = LOOPBACK
    process: ManagedProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def host_key_path(self) -> Path:
        return self.directory / "ssh_host_ed25519_key"

    @property
    def log_path(self) -> Path:
        return self.directory / "sshd.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "sshd.pid"

    def host_key_line(self) -> str:
        """This instance's known_hosts line: `[127.0.0.1]:PORT ssh-ed25519 AAAA...`."""
        keytype, blob = (self.directory / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {keytype} {blob}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class SshFleet:
    """N running sshd instances plus the client-side files needed to reach them.

    Use as a context manager (or call stop()): every instance is stopped on exit.
    """

    workdir: Path
    user: str
    client_key_path: Path
    known_hosts_path: Path
    ssh_config_path: Path
    servers: list[SshServer] = field(default_factory=list)
    # Per-fleet files outside workdir (the dedicated user's authorized_keys): removed by stop().
    cleanup_dirs: list[Path] = field(default_factory=list)

    @property
    def hosts(self) -> list[tuple[str, int]]:
        return [(s.host, s.port) for s in self.servers]

    @property
    def aliases(self) -> list[str]:
        return [s.name for s in self.servers]

    def ssh_argv(self, alias: str, *command: str) -> list[str]:
        """argv for the real `ssh` client reaching `alias` (web-1..web-N) through the fleet's ssh_config."""
        return ["ssh", "-F", str(self.ssh_config_path), alias, *command]

    def run(self, alias: str, command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `command` on `alias` with the real ssh client; output captured as text, no check."""
        return subprocess.run(
            self.ssh_argv(alias, command),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def stop(self) -> None:
        # Signal everyone first, then wait: stopping 20 instances costs one wait, not twenty.
        procs = [s.process for s in self.servers if s.process is not None]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.stop()
        for directory in self.cleanup_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        self.cleanup_dirs.clear()

    def __enter__(self) -> SshFleet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _keygen_argv(path: Path, comment: str) -> list[str]:
    return [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]


def _run_all(commands: Sequence[Sequence[str]]) -> None:
    """Run short commands concurrently (ssh-keygen for 20 hosts) and fail loudly if one fails."""
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for cmd in commands
    ]
    failures = []
    for cmd, proc in zip(commands, procs, strict=True):
        out, _ = proc.communicate(timeout=30)
        if proc.returncode != 0:
            failures.append(f"{' '.join(cmd)}: {out.decode(errors='replace').strip()}")
    if failures:
        raise RuntimeError("; ".join(failures))


def _write_sshd_config(server: SshServer, authorized_keys: Path) -> None:
    server.config_path.write_text(
        "\n".join(
            [
                f"ListenAddress {server.host}",
                f"Port {server.port}",
                f"HostKey {server.host_key_path}",
                f"PidFile {server.pid_file}",
                f"AuthorizedKeysFile {authorized_keys}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                # tmp dirs are not root-owned 0755 all the way up; StrictModes would refuse the keys.
                "StrictModes no",
                # PAM would need /etc/pam.d/sshd and a real login session; the tests need neither.
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                # Speed: no reverse DNS of 127.0.0.1, no GSSAPI round trips, no motd/lastlog reads.
                "UseDNS no",
                "GSSAPIAuthentication no",
                "PrintMotd no",
                "PrintLastLog no",
                # Fan-out benchmarks open many connections at once; default MaxStartups 10:30:100
                # would randomly drop some of them.
                "MaxStartups 200",
                "MaxSessions 100",
                "Subsystem sftp internal-sftp",
                # Let tests pass env through (`SendEnv`), e.g. FIRELINE_* markers.
                "AcceptEnv LANG LC_* FIRELINE_*",
                "LogLevel INFO",
                "",
            ]
        )
    )


def _home_for(user: str) -> Path:
    # Under /tmp, not /home: nothing to clean up in a persistent place, and /tmp (1777) is traversable.
    return Path(tempfile.gettempdir()) / f"{user}-home"


def ensure_system_user(user: str) -> pwd.struct_passwd:
    """Create `user` (system account, /bin/sh, home under /tmp) unless it exists; return its passwd entry.

    Idempotent and safe against a concurrent creator (another pytest worker): useradd failing because
    the user appeared meanwhile is fine. Needs root.
    """
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if shutil.which(USERADD) is None:
            raise FileNotFoundError(f"{USERADD} not found (Debian package `passwd`)") from None
        home = _home_for(user)
        # --password '*': no password login, but not "locked" ('!'), which sshd refuses outright for
        # key logins when UsePAM is off ("User ... not allowed because account is locked").
        argv = [USERADD, "--system", "--create-home", "--home-dir", str(home), "--shell", CLEAN_SHELL]
        argv += ["--password", "*", user]
        created = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise RuntimeError(f"useradd {user} failed: {created.stderr.strip()}") from None
    if entry.pw_shell != CLEAN_SHELL:
        # An existing account with another shell would quietly bring back the rc-file cost this
        # option exists to avoid; do not usermod an account we may not own, say so instead.
        raise RuntimeError(f"user {user} has login shell {entry.pw_shell}, expected {CLEAN_SHELL}")
    home = Path(entry.pw_dir)
    if not home.is_dir():
        # /tmp is cleaned on reboot (or by tmpreaper) while the account in /etc/passwd stays.
        home.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    if home.stat().st_uid != entry.pw_uid or home.is_symlink():
        # /tmp is world-writable: refuse a home someone else planted there instead of writing into it.
        raise RuntimeError(f"home {home} of {user} is not owned by {user}")
    return entry


def _authorized_keys_for(entry: pwd.struct_passwd, public_key: str) -> tuple[Path, Path]:
    """Write `public_key` into a fresh per-fleet dir in `entry`'s home; return (file, dir to remove).

    sshd opens AuthorizedKeysFile with the target user's privileges, so the file and every directory
    above it must be reachable by that user: pytest's tmp dirs (0700 root) are not, the user's home is.
    """
    base = Path(entry.pw_dir) / ".fireline-sshd"
    base.mkdir(mode=0o700, exist_ok=True)
    os.chown(base, entry.pw_uid, entry.pw_gid)
    fleet_dir = Path(tempfile.mkdtemp(prefix="fleet-", dir=base))  # unique: fleets may run concurrently
    os.chown(fleet_dir, entry.pw_uid, entry.pw_gid)
    authorized_keys = fleet_dir / "authorized_keys"
    authorized_keys.write_text(public_key)
    os.chown(authorized_keys, entry.pw_uid, entry.pw_gid)
    authorized_keys.chmod(0o600)
    return authorized_keys, fleet_dir


def _write_client_files(fleet: SshFleet) -> None:
    fleet.known_hosts_path.write_text("".join(s.host_key_line() + "\n" for s in fleet.servers))
    blocks = []
    for s in fleet.servers:
        blocks.append(
            "\n".join(
                [
                    f"Host {s.name}",
                    f"    HostName {s.host}",
                    f"    Port {s.port}",
                    f"    User {fleet.user}",
                    f"    IdentityFile {fleet.client_key_path}",
                    "    IdentitiesOnly yes",
                    f"    UserKnownHostsFile {fleet.known_hosts_path}",
                    "    GlobalKnownHostsFile /dev/null",
                    "    StrictHostKeyChecking yes",
                    "    BatchMode yes",
                    "    PasswordAuthentication no",
                    "    GSSAPIAuthentication no",
                    "    ConnectTimeout 10",
                    "    LogLevel ERROR",
                    "",
                ]
            )
        )
    fleet.ssh_config_path.write_text("\n".join(blocks))


def start_sshd(
    workdir: Path,
    count: int = 1,
    *,
    name_prefix: str = "web",
    timeout: float = 15.0,
    user: str | None = None,
) -> SshFleet:
    """Start `count` sshd instances under `workdir` in parallel and return the running fleet.

    Layout: workdir/client/id_ed25519{,.pub}, workdir/authorized_keys, workdir/known_hosts,
    workdir/ssh_config, workdir/<name>-<i>/{sshd_config,ssh_host_ed25519_key,sshd.pid,sshd.log}.
    Aliases are `<name_prefix>-1 .. <name_prefix>-<count>`.

    `user`: log in as this account instead of the current one. Other than the current user it needs
    root: the account is created if missing (see ensure_system_user) and the fleet's authorized_keys
    lives in its home (removed again by stop()); the system account itself is kept for later runs.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    if shutil.which(SSH_KEYGEN) is None or not os.access(SSHD, os.X_OK):
        raise FileNotFoundError("OpenSSH not installed (run .ci/install-servers.sh)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # sshd running as root chroots its pre-auth privsep child into /run/sshd and refuses to
        # start without it; the Debian package only creates it from its systemd unit.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)

    current_user = getpass.getuser()
    login: pwd.struct_passwd | None = None  # set when logging in as a dedicated user
    if user is not None and user != current_user:
        if os.geteuid() != 0:
            # A non-root sshd can only authenticate its own user.
            raise PermissionError(f"start_sshd(user={user!r}) needs root (running as {current_user})")
        login = ensure_system_user(user)
    user = user or current_user
    client_dir = workdir / "client"
    client_dir.mkdir(exist_ok=True)
    client_key = client_dir / "id_ed25519"
    fleet = SshFleet(
        workdir=workdir,
        user=user,
        client_key_path=client_key,
        known_hosts_path=workdir / "known_hosts",
        ssh_config_path=workdir / "ssh_config",
    )
    keygens: list[list[str]] = []
    if not client_key.exists():  # once per workdir: re-used by later fleets in the same dir
        keygens.append(_keygen_argv(client_key, f"fireline-tests@{current_user}"))
    for i in range(1, count + 1):
        server = SshServer(name=f"{name_prefix}-{i}", port=0, directory=workdir / f"{name_prefix}-{i}")
        server.directory.mkdir(exist_ok=True)
        if not server.host_key_path.exists():
            keygens.append(_keygen_argv(server.host_key_path, server.name))
        fleet.servers.append(server)
    _run_all(keygens)
    # ssh refuses a private key readable by others; ssh-keygen already writes 0600, keep it explicit.
    client_key.chmod(0o600)
    public_key = (client_dir / "id_ed25519.pub").read_text()
    authorized_keys = workdir / "authorized_keys"
    authorized_keys.write_text(public_key)  # the documented layout; sshd reads it unless `login`
    if login is not None:
        authorized_keys, fleet_dir = _authorized_keys_for(login, public_key)
        fleet.cleanup_dirs.append(fleet_dir)

    try:
        _start_all(fleet.servers, authorized_keys, timeout)
        _write_client_files(fleet)
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _launch(server: SshServer, authorized_keys: Path) -> None:
    server.port = free_port()
    _write_sshd_config(server, authorized_keys)
    server.log_path.write_text("")  # fresh log per attempt, so failures show this attempt's error
    server.process = ManagedProcess([SSHD, "-D", "-e", "-f", str(server.config_path)], server.log_path)


def _start_all(servers: list[SshServer], authorized_keys: Path, timeout: float) -> None:
    # Launch every sshd before waiting on any: startup is dominated by process start + key load,
    # which then overlaps across instances (20 instances start in well under a second).
    pending = list(servers)
    for attempt in range(1, _START_ATTEMPTS + 1):
        for server in pending:
            _launch(server, authorized_keys)
        deadline = time.monotonic() + timeout
        failed: list[SshServer] = []
        for server in pending:
            proc = server.process
            assert proc is not None
            try:
                wait_for_port(
                    server.host, server.port, max(0.1, deadline - time.monotonic()), alive=proc.alive
                )
            except ServerNotReady as err:
                proc.stop()
                log = proc.log_tail()
                if "Address already in use" in log and attempt < _START_ATTEMPTS:
                    failed.append(server)
                    continue
                raise ServerNotReady(f"sshd {server.name} did not start: {err}\n{log}") from None
        if not failed:
            return
        pending = failed
