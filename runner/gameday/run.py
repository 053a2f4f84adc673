"""One game day: steady state → faults → watch → detect → respond → recover → revert → report.

Faults are reverted on every way out: success, failure, an engine error, Ctrl-C and SIGTERM (the reverts
themselves cannot be interrupted). After a kill -9, `recover()` reverts what the journal says is still
injected.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from runner.actions.base import ActionContext
from runner.durations import format_duration
from runner.engine.context import Connections, RunScope
from runner.errors import FirelineError
from runner.gameday import events as gev
from runner.gameday.faults import FAULTS, revert_fault
from runner.gameday.metrics import Metric, measure
from runner.gameday.output import PrefixedReporter, Printer, brief
from runner.gameday.probes import ProbeResult, Ticker, run_check
from runner.journal.store import Journal
from runner.secrets import Redactor
from runner.spec.gameday_model import Fault, GameDay, Probe, Signal
from runner.templating import render_value

POLL = 0.02  # the supervisor's own loop period: far below any probe interval


class Aborted(FirelineError):
    """A guardrail stopped the game day."""


class Terminated(BaseException):
    """SIGTERM, turned into an exception so the `finally` that reverts runs."""


@dataclass(frozen=True)
class GameDayResult:
    gameday_id: str
    status: str  # passed | failed | aborted | interrupted | not-started
    metrics: tuple[Metric, ...]
    message: str = ""

    @property
    def exit_code(self) -> int:
        return {"passed": 0, "interrupted": 130}.get(self.status, 1)


class _Watch:
    """Shared state of the watchers, guarded by one lock."""

    def __init__(self, probes: tuple[Probe, ...]) -> None:
        self.lock = threading.Lock()
        self.ok: dict[str, bool] = {p.id: True for p in probes}
        self.healthy_since: float | None = time.monotonic()
        self.violated = False
        self.armed = False  # violations count only once a fault is in
        self.detected = threading.Event()
        self.abort_reason: str | None = None


class GameDayRun:
    def __init__(
        self,
        gameday: GameDay,
        gameday_id: str,
        journal: Journal,
        redactor: Redactor,
        inputs: Mapping[str, Any],
        secrets: Mapping[str, str],
        actor: str,
        out: TextIO,
    ) -> None:
        self.gameday, self.id, self.journal, self.redactor, self.actor = gameday, gameday_id, journal, redactor, actor
        self.scope = RunScope(inputs, secrets, {"id": gameday_id, "initiator": actor})
        self.context = {"inputs": dict(inputs), "secrets": dict(secrets), "gameday": {"id": gameday_id}}
        self.connections = Connections(gameday.connections, self.scope)
        self.printer = Printer(out, redactor)
        self.watch = _Watch(gameday.probes)
        self.stop = threading.Event()
        self.injected: dict[str, dict[str, Any]] = {}  # fault id → {params, state, at}
        self.response_thread: threading.Thread | None = None

    # -- the whole game day --------------------------------------------------------------------------------
    def execute(self) -> GameDayResult:
        self._event(gev.GAMEDAY_STARTED, data=self._started_data(), durable=True)
        self.printer.line(f"game day {self.id}: {self.gameday.title}")
        if not self._steady_state("before"):
            return self._finish("not-started", "the steady state does not hold: no fault was injected")
        status, message = "failed", ""
        with self._signals():
            try:
                self._start_watchers()
                for fault in self.gameday.faults:
                    self._inject(fault)
                status, message = self._supervise()
            except Aborted as exc:
                status, message = "aborted", str(exc)
            except (KeyboardInterrupt, Terminated) as exc:
                status = "interrupted"
                message = "interrupted (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            except FirelineError as exc:
                status, message = "failed", f"game day error: {exc}"
            finally:
                with _uninterruptible():
                    if status in ("aborted", "interrupted") or message.startswith("game day error"):
                        self._event(gev.ABORTED, data={"reason": self.redactor.text(message)}, durable=True)
                        self.printer.line(f"stopping: {message}")
                    if not self._revert_all("finished" if status in ("passed", "failed") else status):
                        status, message = "failed", "a fault could not be reverted: run `fireline gameday recover`"
                    self.stop.set()
                    after = self._steady_state("after", wait=self.gameday.settle + 5 * self.gameday.interval)
                    if not after and status == "passed":
                        status, message = "failed", "the steady state did not hold after the reverts"
        return self._finish(status, message)

    def _started_data(self) -> dict[str, Any]:
        g = self.gameday
        data: dict[str, Any] = self.redactor.data(
            {
                "scenario": g.name,
                "title": g.title,
                "hypothesis": g.metadata.get("hypothesis", ""),
                "path": g.path,
                "digest": g.digest,
                "objectives": dict(g.objectives),
                "interval": g.interval,
                "settle": g.settle,
                "inputs": self.scope.inputs,
                "mode": g.response.mode,
                "runbook": g.response.runbook,
                "faults": [f.id for f in g.faults],
                "probes": [p.id for p in g.probes],
                # What `recover` needs when the scenario file has moved or changed: connection templates and
                # secret references (never values).
                "connections": dict(g.connections),
                "secrets": {n: {"from": r.source, "key": r.key, "optional": r.optional} for n, r in g.secrets.items()},
            }
        )
        return data

    def _finish(self, status: str, message: str) -> GameDayResult:
        if status == "passed" or status == "failed":
            metrics = measure(self.journal.events(self.id), self.gameday.objectives)
            if status == "passed" and any(m.passed is False for m in metrics):
                status, message = "failed", "an objective was missed"
        else:
            metrics = measure(self.journal.events(self.id), self.gameday.objectives)
        self._event(
            gev.FINISHED,
            data={"status": status, "message": message, "metrics": [m.as_dict() for m in metrics]},
            durable=True,
        )
        self.connections.close()
        return GameDayResult(self.id, status, tuple(metrics), message)

    # -- steady state -------------------------------------------------------------------------------------
    def _probe(self, probe: Probe) -> ProbeResult:
        return run_check(
            probe.id, probe.action, probe.params, probe.timeout, self.connections, self.context, self.redactor
        )

    def _steady_state(self, phase: str, wait: float = 0.0) -> bool:
        deadline = time.monotonic() + wait
        while True:
            results = {p.id: self._probe(p) for p in self.gameday.probes}
            ok = all(r.ok for r in results.values())
            if ok or time.monotonic() >= deadline:
                break
            time.sleep(self.gameday.interval)
        self._event(
            gev.STEADY_STATE_CHECKED,
            data={
                "phase": phase,
                "ok": ok,
                "probes": {pid: {"ok": r.ok, "detail": r.detail} for pid, r in results.items()},
            },
        )
        for pid, r in results.items():
            self.printer.line(f"steady state ({phase}) {pid}: {'ok' if r.ok else 'FAILING'}: {r.detail}")
        return ok

    # -- watchers -----------------------------------------------------------------------------------------
    def _start_watchers(self) -> None:
        g = self.gameday
        for probe in g.probes:
            Ticker(probe.id, g.interval, functools.partial(self._tick_probe, probe), self.stop).start()
        for index, sig in enumerate(g.detection):
            if sig.kind != "steady_state_violated":
                Ticker(f"signal-{index}", g.interval, functools.partial(self._tick_signal, sig), self.stop).start()
        for stop in g.abort_when:
            Ticker(stop.id, g.interval, functools.partial(self._tick_guardrail, stop), self.stop).start()

    def _tick_probe(self, probe: Probe) -> None:
        result = self._probe(probe)
        w = self.watch
        with w.lock:
            was = w.ok[probe.id]
            w.ok[probe.id] = result.ok
            if was != result.ok:
                self._event(
                    gev.PROBE_OK if result.ok else gev.PROBE_FAILED, step_id=probe.id, data={"detail": result.detail}
                )
                self.printer.line(f"probe {probe.id}: {'ok again' if result.ok else 'FAILING'}: {result.detail}")
            healthy = all(w.ok.values())
            if not healthy and w.armed and not w.violated:
                w.violated, w.healthy_since = True, None
                self._event(gev.STEADY_STATE_VIOLATED, data={"probe": probe.id})
                self.printer.line("steady state VIOLATED")
                self._signal_fired("steady_state_violated", f"probe {probe.id} failing")
            elif healthy and w.healthy_since is None:
                w.healthy_since = result.at
                if w.violated:
                    w.violated = False
                    self._event(gev.STEADY_STATE_RESTORED, data={"probe": probe.id})
                    self.printer.line("steady state restored")
            elif not healthy:
                w.healthy_since = None

    def _tick_signal(self, sig: Signal) -> None:
        if not self.watch.armed or self.watch.detected.is_set():
            return
        if sig.kind == "alert":
            params = {**sig.params, "state": "firing"}
            result = run_check(
                "alert",
                "alertmanager.alerts",
                params,
                self.gameday.interval,
                self.connections,
                self.context,
                self.redactor,
            )
            if result.ok:
                self._event(gev.ALERT_FIRING, data={"name": sig.params.get("name"), "labels": sig.params.get("labels")})
                self._signal_fired("alert", f"alert {sig.params.get('name')} firing")
        elif sig.kind == "prometheus":
            result = run_check(
                "prometheus",
                "prometheus.query",
                sig.params,
                self.gameday.interval,
                self.connections,
                self.context,
                self.redactor,
            )
            if result.ok:
                self._event(gev.SIGNAL_FIRED, data={"kind": "prometheus", "detail": result.detail})
                self._signal_fired("prometheus", result.detail)

    def _signal_fired(self, kind: str, detail: str) -> None:
        if not self.watch.armed or self.watch.detected.is_set():
            return
        if not any(s.kind == kind for s in self.gameday.detection):
            return
        self.watch.detected.set()
        self._event(gev.DETECTED, data={"signal": kind, "detail": detail}, durable=True)
        self.printer.line(f"DETECTED by {kind}: {detail}")

    def _tick_guardrail(self, probe: Probe) -> None:
        result = self._probe(probe)
        if result.ok and self.watch.armed and self.watch.abort_reason is None:
            self.watch.abort_reason = f"guardrail {probe.id} tripped: {result.detail}"

    # -- faults -------------------------------------------------------------------------------------------
    def _fault_ctx(self, fault: Fault) -> ActionContext:
        return ActionContext(
            fault.id, self.connections, emit=lambda line: self.printer.line(f"  {line}"), redact=self.redactor.text
        )

    def _inject(self, fault: Fault) -> None:
        params = render_value(dict(fault.params), self.context)
        self._check_blast_radius(fault, params)
        kind = FAULTS[fault.action]

        def record(state: Mapping[str, Any]) -> None:
            self.injected[fault.id] = {"params": params, "state": dict(state)}
            self._event(
                gev.FAULT_INJECTING,
                step_id=fault.id,
                data={"action": fault.action, "params": params, "state": dict(state), "revert": fault.revert},
                durable=True,
            )

        state = kind.inject(fault, params, self._fault_ctx(fault), record)
        self.injected[fault.id] = {
            "params": params,
            "state": dict(state),
            "deadline": time.monotonic() + fault.duration if fault.duration else None,
        }
        event = self._event(
            gev.FAULT_INJECTED, step_id=fault.id, data={"action": fault.action, "state": dict(state)}, durable=True
        )
        if self.printer.origin is None:
            self.printer.origin = event
            self.watch.armed = True
        self.printer.line(f"fault {fault.id} ({fault.action}) injected: {brief(state)}")

    def _check_blast_radius(self, fault: Fault, params: Mapping[str, Any]) -> None:
        limit = self.gameday.max_pods_percent
        if limit is None or fault.action != "kubernetes.delete_pods":
            return
        if "percent" in params and int(params["percent"]) > limit:
            raise Aborted(f"fault {fault.id} would delete {params['percent']}% of pods; the limit is {limit}%")
        if "count" in params:
            matched = self._count_pods(params)
            if matched and int(params["count"]) * 100 > limit * matched:
                raise Aborted(
                    f"fault {fault.id} would delete {params['count']} of {matched} pods; the limit is {limit}%"
                )

    def _count_pods(self, params: Mapping[str, Any]) -> int:
        from runner.actions.k8s.cluster import cluster_for

        ctx = ActionContext("blast-radius", self.connections, redact=self.redactor.text)
        cluster = cluster_for(ctx, params["connection"])
        pods = cluster.call(
            ctx,
            cluster.core().list_namespaced_pod,
            params.get("namespace") or cluster.namespace,
            label_selector=params["selector"],
        )
        return len(pods.get("items", []))

    def _revert(self, fault_id: str, why: str) -> bool:
        entry = self.injected.pop(fault_id, None)
        if entry is None:
            return True
        fault = next(f for f in self.gameday.faults if f.id == fault_id)
        ok, summary = revert_fault(fault, entry["params"], entry["state"], self._fault_ctx(fault))
        self._event(gev.FAULT_REVERTED, step_id=fault_id, data={"ok": ok, "summary": summary, "why": why}, durable=True)
        self.printer.line(f"fault {fault_id} reverted ({why}): {summary}")
        if not ok:
            self.printer.line(f"  run `fireline gameday recover {self.id}` once the cause is fixed")
        return ok

    def _revert_all(self, why: str) -> bool:
        """Every injected fault, newest first; True when all reverted."""
        results = [self._revert(f.id, why) for f in reversed(self.gameday.faults) if f.id in self.injected]
        return all(results)

    # -- supervision: detection, response, recovery --------------------------------------------------------
    def _supervise(self) -> tuple[str, str]:
        g, w = self.gameday, self.watch
        started = time.monotonic()
        response_deadline = started + (g.response.timeout or g.max_duration)
        seen_events = 0
        while True:
            now = time.monotonic()
            if w.abort_reason:
                raise Aborted(w.abort_reason)
            if now - started > g.max_duration:
                raise Aborted(f"guardrail max_duration {format_duration(g.max_duration)} reached")
            for fault_id, entry in list(self.injected.items()):
                if entry.get("deadline") and now >= entry["deadline"]:
                    self._revert(fault_id, "duration")
            if w.detected.is_set() and g.response.mode == "runbook" and self.response_thread is None:
                self._start_response()
            seen_events = self._show_remote_events(seen_events)
            if w.detected.is_set() and self._recovered(now):
                return "passed", ""
            if now > response_deadline:
                return "failed", "no recovery before the response timeout" if w.detected.is_set() else "never detected"
            time.sleep(POLL)

    def _recovered(self, now: float) -> bool:
        w = self.watch
        with w.lock:
            since = w.healthy_since
            if since is None or now - since < self.gameday.settle or not all(w.ok.values()):
                return False
        if self.response_thread is not None and self.response_thread.is_alive():
            return False  # let the runbook finish: its end is the mitigation time
        self._event(gev.RECOVERED, data={"since_mono": since}, durable=True)
        self.printer.line(f"RECOVERED: steady state held for {format_duration(self.gameday.settle)}")
        return True

    def _start_response(self) -> None:
        self.response_thread = threading.Thread(target=self._run_response, name="response", daemon=True)
        self.response_thread.start()

    def _run_response(self) -> None:
        from runner.engine.session import StartRequest, start_run
        from runner.spec.runbook import load_runbook

        response = self.gameday.response
        assert response.runbook is not None
        try:
            runbook = load_runbook(Path(response.runbook))
            inputs = render_value(dict(response.inputs), self.context)
            request = StartRequest(
                runbook_path=Path(response.runbook),
                inputs=inputs,
                initiator="fireline-gameday",
                approve_all=response.approve,
                reason=f"game day {self.id} ({self.gameday.name})",
                gameday=self.id,
            )
            reporter = PrefixedReporter(runbook, self.redactor, self.printer)
            start_run(request, runbook, self.journal.reopen(), reporter, self.redactor)
        except FirelineError as exc:
            self.printer.line(f"response runbook could not run: {exc}")
            self._event(gev.RESPONSE_FINISHED, data={"run_id": None, "status": "failed", "error": str(exc)})

    def _show_remote_events(self, seen: int) -> int:
        """Acknowledgements, notes and linked runs arrive from other processes through the journal."""
        events = self.journal.events(self.id, (gev.ACKNOWLEDGED, gev.NOTE, gev.RESPONSE_STARTED, gev.RESPONSE_FINISHED))
        for event in events[seen:]:
            who = f" by {event.actor}" if event.actor else ""
            detail = event.data.get("text") or event.data.get("status") or event.data.get("run_id") or ""
            self.printer.line(f"{event.type}{who}: {detail}")
        return len(events)

    # -- journal and signals ------------------------------------------------------------------------------
    def _event(
        self, type_: str, *, step_id: str | None = None, data: Mapping[str, Any] | None = None, durable: bool = False
    ) -> float:
        event = self.journal.append(
            self.id,
            type_,
            step_id=step_id,
            actor=self.actor,
            data=self.redactor.data(dict(data or {})),
            durable=durable,
        )
        return event.ts_mono

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_term(signum: int, frame: FrameType | None) -> None:
            raise Terminated()

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _uninterruptible() -> Iterator[None]:
    """While faults are being reverted, Ctrl-C and SIGTERM wait: a half-done revert is the worst outcome."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
