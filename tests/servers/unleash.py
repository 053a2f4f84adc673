"""A real Unleash server (npm `unleash-server`, run by node) on loopback, backed by a real PostgreSQL.

    dsn = pg.create_database("unleash")
    with start_unleash(tmp_path, dsn) as unleash:
        unleash.admin("POST", "/api/admin/projects/default/features", {"name": "x"})

The npm package is installed once into a cache directory (`.ci/install-servers.sh` does it ahead of
time; `ensure_unleash_installed` does it on demand). Startup runs Unleash's DB migrations, so the first
start on a fresh database takes several seconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ._http import request_json
from ._process import ManagedProcess
from .ports import LOOPBACK, ServerNotReady, free_port, wait_for_http

# 7.5.x is the newest line whose `engines` still accepts Node 20 (7.6 requires Node >= 22). Pinned
# exactly so that every machine and CI run gets the same server.
UNLEASH_VERSION = "7.5.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = Path(os.environ.get("FIRELINE_UNLEASH_DIR", REPO_ROOT / ".cache" / "unleash"))

# ESM entry point: unleash-server 7 is an ES module, so `require()` is not the portable way in; we
# resolve the package from the cache dir and import it. start() reads all settings from the env.
_ENTRY = """\
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const require = createRequire(process.env.FIRELINE_UNLEASH_DIR + '/package.json');
const { start } = await import(pathToFileURL(require.resolve('unleash-server')).href);
await start();
"""


def _installed_version(cache_dir: Path) -> str | None:
    manifest = cache_dir / "node_modules" / "unleash-server" / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_unleash_installed(cache_dir: Path | None = None, version: str = UNLEASH_VERSION) -> Path:
    """Install unleash-server@version into `cache_dir` unless it is already there; return cache_dir.

    A file lock serialises concurrent callers (parallel test workers) so npm runs at most once.
    """
    cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR).resolve()
    if _installed_version(cache_dir) == version:
        return cache_dir
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found: Node.js >= 20 and npm are needed for Unleash")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(cache_dir) == version:  # another worker finished meanwhile
            return cache_dir
        manifest = {
            "name": "fireline-unleash-cache",
            "private": True,
            "dependencies": {"unleash-server": version},
        }
        (cache_dir / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        proc = subprocess.run(
            # --ignore-scripts: no dependency needs one (optional native bindings fall back to JS)
            # and @scarf/scarf's only phones home with install analytics.
            [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts", "--loglevel=error"],
            cwd=cache_dir,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0 or _installed_version(cache_dir) != version:
            raise RuntimeError(f"npm install unleash-server@{version} failed:\n{proc.stdout}\n{proc.stderr}")
    return cache_dir


class UnleashServer:
    """A running Unleash; `admin_token` works on /api/admin, `client_token` on /api/client."""

    def __init__(
        self, directory: Path, port: int, process: ManagedProcess, admin_token: str, client_token: str
    ) -> None:
        self.directory = directory
        self.host = LOOPBACK
        self.port = port
        self.process = process
        self.admin_token = admin_token
        self.client_token = client_token
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the admin API (`path` starts with /api/admin) with the admin token."""
        return request_json(method, self.url + path, payload, headers={"Authorization": self.admin_token})

    def client_features(self) -> dict[str, Any]:
        """GET /api/client/features as a server-side SDK would (client/backend token)."""
        answer = request_json(
            "GET",
            f"{self.url}/api/client/features",
            headers={"Authorization": self.client_token, "UNLEASH-APPNAME": "fireline-tests"},
        )
        return dict(answer)

    def stop(self) -> None:
        # Unleash shuts down gracefully on SIGTERM (GRACEFUL_SHUTDOWN_TIMEOUT below keeps it short).
        self.process.stop(timeout=10)

    def __enter__(self) -> UnleashServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_unleash(
    workdir: Path,
    database_url: str,
    *,
    cache_dir: Path | None = None,
    timeout: float = 120.0,
    environment: str = "development",
) -> UnleashServer:
    """Start Unleash in `workdir/unleash` on a free loopback port against `database_url` (postgresql://).

    The database should be empty or an Unleash database: Unleash migrates it on start. Tokens are
    random per start: an admin token `*:*.<hex>` and a client (backend) token `default:<env>.<hex>`.
    Auth type is `open-source`, so every /api/admin and /api/client call needs a token.
    """
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node not found: Node.js >= 20 is needed for Unleash")
    cache_dir = ensure_unleash_installed(cache_dir)
    directory = Path(workdir).resolve() / "unleash"
    directory.mkdir(parents=True, exist_ok=True)
    entry = directory / "start-unleash.mjs"
    entry.write_text(_ENTRY)
    admin_token = f"*:*.{secrets.token_hex(16)}"
    client_token = f"default:{environment}.{secrets.token_hex(16)}"
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),  # keeps npm/node from touching the real home
        "NODE_ENV": "production",
        "FIRELINE_UNLEASH_DIR": str(cache_dir),
        "DATABASE_URL": database_url,
        "DATABASE_SSL": "false",
        "HTTP_HOST": LOOPBACK,
        "HTTP_PORT": str(port),
        "UNLEASH_URL": f"http://{LOOPBACK}:{port}",
        "AUTH_TYPE": "open-source",  # not "none": the admin API must demand the token
        "INIT_ADMIN_API_TOKENS": admin_token,
        "INIT_CLIENT_API_TOKENS": client_token,
        "UNLEASH_SECRET": secrets.token_hex(16),
        # No network beyond the package registries here: turn off every call home so nothing
        # stalls on a connect timeout (version check, telemetry, Scarf analytics).
        "CHECK_VERSION": "false",
        "SEND_TELEMETRY": "false",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "LOG_LEVEL": "warn",
        "GRACEFUL_SHUTDOWN_ENABLE": "true",
        "GRACEFUL_SHUTDOWN_TIMEOUT": "500",
        # A small pool: the throwaway PostgreSQL is shared with other tests.
        "DATABASE_POOL_MIN": "0",
        "DATABASE_POOL_MAX": "5",
    }
    started = time.monotonic()
    proc = ManagedProcess([node, str(entry)], directory / "unleash.log", env=env, cwd=directory)
    try:
        wait_for_http(f"http://{LOOPBACK}:{port}/health", timeout, alive=proc.alive)
    except ServerNotReady as err:
        proc.stop()
        raise ServerNotReady(f"unleash did not start: {err}\n{proc.log_tail(4000)}") from None
    except BaseException:  # KeyboardInterrupt, pytest timeout: never leave node running
        proc.stop()
        raise
    server = UnleashServer(directory, port, proc, admin_token, client_token)
    server.startup_seconds = time.monotonic() - started
    return server
