"""Game-day end-to-end fixtures: one real lab (PostgreSQL with max_connections 20, the emulated Kubernetes
cluster, the checkout service) for the whole session, per-test environment wiring, and small helpers that
look at the real systems (pg_stat_activity, the deployment, /health, the journal file) the way a user would.

Every test that uses `lab` must leave the lab as it found it: the fixture checks that before and after.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from runner.lab.environment import DemoEnvironment, LabEndpoints
from tests.command import FIRELINE
from tests.conftest import Cli, wait_for

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
TEST_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
GOOD_IMAGE = "registry.local/checkout:1.0"
NAMESPACE, DEPLOYMENT = "demo", "checkout"
LEAK_APP = "leaky-pool"  # application_name of the shipped scenarios' leaking pool
HOG_APP = "test-hog"  # application_name of connections the tests hold themselves
SUBPROCESS_TIMEOUT = 60.0

T = TypeVar("T")
CliRunner = Callable[..., Cli]  # the `cli` fixture: fireline in-process → exit code, stdout, stderr


# -- the real systems ------------------------------------------------------------------------------------------
def backends(dsn: str, application_name: str) -> int:
    """Client backends with this application_name in pg_stat_activity (a fresh superuser connection)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name="fireline-test-probe") as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                           "AND pid <> pg_backend_pid()", (application_name,)).fetchone()
    assert row is not None
    return int(row[0])


def health(url: str, timeout: float = 5.0) -> int:
    """The HTTP status of the checkout service's /health."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


_API_CLIENTS: dict[str, Any] = {}


def apps_api(kubeconfig: str) -> Any:
    """The official kubernetes client's AppsV1Api bound to the lab's kubeconfig (cached per kubeconfig)."""
    from kubernetes import client, config

    if kubeconfig not in _API_CLIENTS:
        _API_CLIENTS[kubeconfig] = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    return client.AppsV1Api(_API_CLIENTS[kubeconfig])


def deployment(kubeconfig: str) -> Any:
    return apps_api(kubeconfig).read_namespaced_deployment(DEPLOYMENT, NAMESPACE)


def deployment_image(kubeconfig: str) -> str:
    return str(deployment(kubeconfig).spec.template.spec.containers[0].image)


def rollout_complete(kubeconfig: str) -> bool:
    """What `kubectl rollout status` waits for: the controller saw the latest spec and every replica is
    updated, available and no old one is left."""
    dep = deployment(kubeconfig)
    want = dep.spec.replicas or 0
    st = dep.status
    return bool((st.observed_generation or 0) >= (dep.metadata.generation or 0)
                and (st.updated_replicas or 0) == want and (st.replicas or 0) == want
                and (st.available_replicas or 0) == want)


def kubectl_binary() -> str:
    found = "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else shutil.which("kubectl")
    assert found, "kubectl is not installed"
    return found


def kubectl(kubeconfig: str, *args: str, cache_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [kubectl_binary(), "--kubeconfig", kubeconfig, *(["--cache-dir", str(cache_dir)] if cache_dir else []),
           *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, check=False)
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return proc


@contextlib.contextmanager
def hog_connections(dsn: str) -> Iterator[int]:
    """Hold connections as `dsn`'s role until the server refuses, like a leak we caused ourselves."""
    held: list[psycopg.Connection[Any]] = []
    try:
        while len(held) < 100:
            try:
                held.append(psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=HOG_APP))
            except psycopg.OperationalError:
                break
        assert held, "could not open a single connection"
        yield len(held)
    finally:
        for conn in held:
            conn.close()


# -- the journal, read straight from its SQLite file, as another process sees it -----------------------------
@dataclass(frozen=True)
class Ev:
    run_id: str
    seq: int
    ts_mono: float
    type: str
    step_id: str | None
    actor: str | None
    data: dict[str, Any]


def journal_events(home: Path, run_id: str | None = None, types: Sequence[str] = ()) -> list[Ev]:
    path = home / "journal.db"
    if not path.exists():
        return []
    query, args = "SELECT run_id, seq, ts_mono, type, step_id, actor, data FROM events WHERE 1=1", []
    if run_id is not None:
        query, args = query + " AND run_id = ?", [run_id]
    if types:
        query += f" AND type IN ({','.join('?' * len(types))})"
        args += list(types)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
            rows = db.execute(query + " ORDER BY run_id, seq", args).fetchall()
    except sqlite3.OperationalError:  # created but its tables not yet: nothing to see yet
        return []
    return [Ev(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]


def gameday_ids(home: Path) -> list[str]:
    return [e.run_id for e in journal_events(home, types=("gameday.started",))]


def types_of(events: Sequence[Ev]) -> list[str]:
    return [e.type for e in events]


# -- the lab ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lab:
    endpoints: LabEndpoints
    home: Path  # this test's FIRELINE_HOME
    env: dict[str, str]  # for subprocesses: the lab's variables, FIRELINE_HOME, PYTHONPATH

    @property
    def service_url(self) -> str:
        return self.endpoints.service_url

    @property
    def primary_dsn(self) -> str:
        return self.endpoints.primary_dsn

    @property
    def kubeconfig(self) -> str:
        return self.endpoints.kubeconfig

    def leaked(self) -> int:
        return backends(self.primary_dsn, LEAK_APP)


@dataclass(frozen=True)
class LabState:
    leaky_backends: int
    hog_backends: int
    health: int
    image: str
    rolled_out: bool

    @property
    def pristine(self) -> bool:
        return self == PRISTINE


PRISTINE = LabState(0, 0, 200, GOOD_IMAGE, True)


def lab_state(endpoints: LabEndpoints) -> LabState:
    return LabState(backends(endpoints.primary_dsn, LEAK_APP), backends(endpoints.primary_dsn, HOG_APP),
                    health(endpoints.service_url), deployment_image(endpoints.kubeconfig),
                    rollout_complete(endpoints.kubeconfig))


def assert_pristine(endpoints: LabEndpoints, when: str, timeout: float = 20.0) -> None:
    """No leaked connections, checkout healthy, the good image fully rolled out (given a little time: a
    terminated backend or a re-adopted ReplicaSet takes a moment to settle)."""
    deadline = time.monotonic() + timeout
    state = lab_state(endpoints)
    while not state.pristine and time.monotonic() < deadline:
        time.sleep(0.05)
        state = lab_state(endpoints)
    assert state == PRISTINE, f"the lab is not as it was {when} the test: {state}"


@pytest.fixture(scope="session")
def lab_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEndpoints]:
    environment = DemoEnvironment(tmp_path_factory.mktemp("gameday-lab"), time_scale=0.05)
    with environment as endpoints:
        assert_pristine(endpoints, "when the lab started")
        yield endpoints


@pytest.fixture
def lab(lab_endpoints: LabEndpoints, fireline_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """The shared lab, wired into this test's environment (in-process runs read PRIMARY_DSN, APP_DSN and
    KUBECONFIG from it); `lab.env` is the same for subprocesses. Asserts the lab is untouched afterwards."""
    for name, value in lab_endpoints.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)  # users run fireline from the repository: relative scenario paths
    env = {**os.environ, "FIRELINE_HOME": str(fireline_home), "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1"}
    env.pop("FIRELINE_DEBUG", None)
    assert_pristine(lab_endpoints, "before")
    yield Lab(lab_endpoints, fireline_home, env)
    assert_pristine(lab_endpoints, "after")


# -- a game day as a separate process ----------------------------------------------------------------------------
@dataclass
class GameDayProcess:
    proc: subprocess.Popen[bytes]
    home: Path
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def gameday_id(self, timeout: float = 20.0) -> str:
        ids = wait_for(lambda: gameday_ids(self.home), "the game day to start", timeout)
        assert len(ids) == 1, ids
        return ids[0]

    def wait_event(self, type_: str, timeout: float = 20.0) -> Ev:
        """The first journal event of this type, polled from the SQLite file (fails early if the process died)."""
        def seen() -> Ev | None:
            found = journal_events(self.home, types=(type_,))
            if not found and self.proc.poll() is not None:
                raise AssertionError(f"the game day exited ({self.proc.returncode}) before {type_}:\n{self.output}")
            return found[0] if found else None

        found = wait_for(seen, f"{type_} in the journal", timeout)
        assert found is not None
        return found

    def signal_group(self, sig: signal.Signals) -> None:
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the game day did not exit within {timeout:.0f}s:\n{self.output}") from None


def fireline_argv(*args: str) -> list[str]:
    # Signals are sent to these processes: start them as people do (see tests/command.py).
    return [*FIRELINE, *args]


@contextlib.contextmanager
def gameday_process(lab: Lab, scenario: str | Path, *inputs: str) -> Iterator[GameDayProcess]:
    """`fireline gameday run SCENARIO -i ...` on the lab (see `game_day_process`)."""
    argv = fireline_argv("gameday", "run", str(scenario), "-i", f"service_url={lab.service_url}",
                         *(a for i in inputs for a in ("-i", i)))
    with game_day_process(argv, lab.home, lab.env) as gd:
        yield gd


@contextlib.contextmanager
def game_day_process(argv: Sequence[str], home: Path, env: dict[str, str]) -> Iterator[GameDayProcess]:
    """`argv` (a `fireline gameday run`) in its own session (process group), output in a file beside `home`;
    killed in `finally` whatever the test did."""
    home.mkdir(parents=True, exist_ok=True)
    log = home.parent / f"gameday-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    gd = GameDayProcess(proc, home, log)
    try:
        yield gd
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def fireline(lab: Lab, *args: str, timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`fireline ARGS` as another terminal would run it."""
    return subprocess.run(fireline_argv(*args), cwd=REPO, env=lab.env, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
