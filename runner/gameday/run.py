"""One game day: steady state → faults → watch → detect → respond → recover → revert → report.

Faults are reverted on every way out: success, failure, a bug, an engine error, Ctrl-C and SIGTERM. Every
revert runs with those signals deferred, and a fault leaves the injected set only once its `fault.reverted`
is recorded, so a signal can delay a revert but never lose it. After a kill -9, `recover()` reverts what the
journal says is still injected.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from runner.actions.base import ActionContext
from runner.actions.faults import FAULTS, BlastRadius, fault_traits, pods_matched, revert_fault
from runner.actions.probes import signal_action
from runner.document.gameday_model import Fault, GameDay, Probe, Signal
from runner.durations import format_duration
from runner.engine.context import Connections, RunScope
from runner.errors import FirelineError
from runner.gameday import events as gev
from runner.gameday.drill import Drill
from runner.gameday.events import Status
from runner.gameday.metrics import Metric, measure
from runner.gameday.output import Printer, ReporterFactory, brief, response_reporter
from runner.gameday.probes import ProbeResult, Ticker, run_check
from runner.gameday.signals import Terminated, deferred_signals, terminate_raises
from runner.journal.events import Event, Payload, RunStatus, decode
from runner.journal.store import Journal
from runner.secrets import Redactor
from runner.templating import render_params, render_value

POLL = 0.02  # the supervisor's own loop period: far below any probe interval


EXIT_CODES = {Status.PASSED: 0, Status.INTERRUPTED: 130, Status.ERROR: 4}


class Aborted(FirelineError):
    """A guardrail stopped the game day."""


class ProbeBug(Exception):
    """A probe, detection signal or guardrail check raised something other than a FirelineError. That is a bug
    in its action, not an answer about the system: it must not count as a failure (a detection would start the
    response runbook), so the game day stops, reverts, and reports a bug."""

    def __init__(self, reason: str, trace: str) -> None:
        super().__init__(reason)
        self.trace = trace


@dataclass(frozen=True)
class GameDayResult:
    gameday_id: str
    status: Status
    metrics: tuple[Metric, ...]
    message: str = ""
    trace: str = ""  # with Status.ERROR: the traceback of the bug (shown with FIRELINE_DEBUG=1)
    incident: str | None = None  # the drill incident the game day opened (None: no fault was injected)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 1)


@dataclass(frozen=True)
class Injected:
    """A fault in place: what its revert needs, and when `duration` ends (CLOCK_MONOTONIC)."""

    params: Mapping[str, Any]
    state: Mapping[str, Any]
    deadline: float | None = None
    revert: Mapping[str, Any] | None = None  # a declared revert, rendered like `with`


class _Watch:
    """Shared state of the watchers, guarded by one lock."""

    def __init__(self, probes: tuple[Probe, ...]) -> None:
        self.lock = threading.Lock()
        self.ok: dict[str, bool] = {p.id: True for p in probes}
        self.healthy_since: float | None = time.monotonic()
        self.violated = False
        self.armed = False  # violations count only once a fault is in
        self.detected = threading.Event()
        self.detect_lock = threading.Lock()  # one detection, recorded before `detected` is set
        self.abort_reason: str | None = None
        self.bug: ProbeBug | None = None  # the first check that raised a bug


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
        reporter: ReporterFactory | None = None,
        policy: str | None = None,
    ) -> None:
        self.gameday, self.id, self.journal, self.redactor, self.actor = gameday, gameday_id, journal, redactor, actor
        self.policy = policy  # digest of the severity policy the drill incident is declared under
        self.reporter = reporter  # how the response runbook's progress is shown (None: short lines)
        self.scope = RunScope(inputs, secrets, {"id": gameday_id, "initiator": actor})
        self.context = {"inputs": dict(inputs), "secrets": dict(secrets), "gameday": {"id": gameday_id}}
        self.connections = Connections(gameday.connections, self.scope)
        self.printer = Printer(out, redactor)
        self.watch = _Watch(gameday.probes)
        self.stop = threading.Event()
        # Fault id → what is in place. A fault leaves only once its `fault.reverted` (ok) is recorded.
        self.injected: dict[str, Injected] = {}
        self.response_thread: threading.Thread | None = None
        self.drill: Drill | None = None  # opened once the first fault is in

    # -- the whole game day --------------------------------------------------------------------------------
    def execute(self) -> GameDayResult:
        # SIGTERM raises from before the first event on: once `gameday.started` is recorded, every way out is
        # recorded too.
        with terminate_raises():
            status, message, bug = Status.FAILED, "", None
            try:
                self._event(self._started(), durable=True)
                self.printer.line(f"game day {self.id}: {self.gameday.title}")
                status, message = self._run()
            except Aborted as exc:
                status, message = Status.ABORTED, str(exc)
            except ProbeBug as exc:
                status, message, bug = Status.ERROR, str(exc), exc.trace
            except (KeyboardInterrupt, Terminated) as exc:
                status = Status.INTERRUPTED
                message = "interrupted (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            except FirelineError as exc:
                status, message = Status.FAILED, f"game day error: {exc}"
            except Exception as exc:  # a bug in fireline itself: still stop and revert, then surface it
                status, message = Status.ERROR, f"internal error: {type(exc).__name__}: {exc}"
                bug = "".join(traceback.format_exception(exc))
            finally:
                result = self._wrap_up(status, message, bug or "")
        return result

    def _run(self) -> tuple[Status, str]:
        if not self._steady_state("before"):
            self._raise_bug()
            return Status.NOT_STARTED, "the steady state does not hold: no fault was injected"
        self._start_watchers()
        for fault in self.gameday.faults:
            self._inject(fault)
        return self._supervise()

    def _wrap_up(self, status: Status, message: str, trace: str) -> GameDayResult:
        """Revert whatever is still injected, check the steady state once more and record the verdict — with
        Ctrl-C and SIGTERM deferred: none of it may be cut short (a second Ctrl-C does not skip a revert)."""
        with deferred_signals(redeliver=False, notice="the game day stops once every fault is reverted"):
            try:
                if status in (Status.ABORTED, Status.INTERRUPTED, Status.ERROR) or message.startswith("game day error"):
                    self._event(gev.GameDayAborted(message), durable=True)
                    self.printer.line(f"stopping: {message}")
                if not self._revert_all("finished" if status in (Status.PASSED, Status.FAILED) else status.value):
                    unreverted = f"a fault could not be reverted: {self._recover_hint()}"
                    # A bug stays the verdict (exit 4); otherwise the fault left in place is.
                    status, message = (status, f"{message}; {unreverted}") if trace else (Status.FAILED, unreverted)
                self.stop.set()
                if status is not Status.NOT_STARTED:
                    after = self._steady_state("after", wait=self.gameday.settle + 5 * self.gameday.interval)
                    if self.watch.bug is not None and status in (Status.PASSED, Status.FAILED):
                        status, message, trace = Status.ERROR, str(self.watch.bug), self.watch.bug.trace
                    elif not after and status is Status.PASSED:
                        status, message = Status.FAILED, "the steady state did not hold after the reverts"
                result = replace(self._finish(status, message), trace=trace)
                return self._finish_drill(result)
            except BaseException:
                if self.injected:  # the cleanup itself failed (the journal, most likely): say how to finish it
                    self.printer.line(f"faults may still be injected: {self._recover_hint()}")
                raise

    def _recover_hint(self) -> str:
        return f"run `fireline gameday recover {self.id}` once the cause is fixed"

    def _started(self) -> gev.GameDayStarted:
        g = self.gameday
        return gev.GameDayStarted(
            scenario=g.name,
            title=g.title,
            hypothesis=g.metadata.get("hypothesis", ""),
            path=g.path,
            digest=g.digest,
            objectives=dict(g.objectives),
            interval=g.interval,
            settle=g.settle,
            inputs=self.scope.inputs,
            mode=g.response.mode,
            runbook=g.response.runbook,
            faults=tuple(f.id for f in g.faults),
            probes=tuple(p.id for p in g.probes),
            # What `recover` needs when the scenario file has moved or changed: connection templates and
            # secret references (never values).
            connections=dict(g.connections),
            secrets={n: {"from": r.source, "key": r.key, "optional": r.optional} for n, r in g.secrets.items()},
            severity=_text_or_none(g.metadata.get("severity")),
            systems=[str(s) for s in g.metadata.get("systems") or ()] or None,
            policy=self.policy,
        )

    def _finish(self, status: Status, message: str) -> GameDayResult:
        metrics = measure(self.journal.events(self.id), self.gameday.objectives)
        if status is Status.PASSED and any(m.passed is False for m in metrics):
            status, message = Status.FAILED, "an objective was missed"
        self._event(gev.GameDayFinished(status, message, tuple(m.record() for m in metrics)), durable=True)
        self.connections.close()
        return GameDayResult(self.id, status, tuple(metrics), message)

    # -- steady state -------------------------------------------------------------------------------------
    def _probe(self, probe: Probe) -> ProbeResult:
        result = run_check(
            probe.id, probe.action, probe.params, probe.timeout, self.connections, self.context, self.redactor
        )
        self._note_bug(f"probe {probe.id}", probe.action, result)
        return result

    def _note_bug(self, what: str, action: str, result: ProbeResult) -> None:
        """Remember the first check that raised a bug; the supervisor stops the game day on it."""
        if result.bug is None:
            return
        with self.watch.lock:
            if self.watch.bug is None:
                reason = f"{what} hit a bug in action {action}: {result.detail}"
                self.watch.bug = ProbeBug(reason, result.bug)
                self.printer.line(f"BUG: {reason}")

    def _raise_bug(self) -> None:
        if self.watch.bug is not None:
            raise self.watch.bug

    def _steady_state(self, phase: str, wait: float = 0.0) -> bool:
        deadline = time.monotonic() + wait
        while True:
            results = {p.id: self._probe(p) for p in self.gameday.probes}
            ok = all(r.ok for r in results.values())
            if ok or time.monotonic() >= deadline:
                break
            time.sleep(self.gameday.interval)
        checks = {pid: gev.ProbeCheck(r.ok, r.detail) for pid, r in results.items()}
        self._event(gev.SteadyStateChecked(phase, ok, checks))
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
        if result.bug is not None:
            return  # no answer about the system: neither failing nor ok
        w = self.watch
        with w.lock:
            was = w.ok[probe.id]
            w.ok[probe.id] = result.ok
            if was != result.ok:
                change = gev.ProbeOk(result.detail) if result.ok else gev.ProbeFailed(result.detail)
                self._event(change, step_id=probe.id)
                self.printer.line(f"probe {probe.id}: {'ok again' if result.ok else 'FAILING'}: {result.detail}")
            healthy = all(w.ok.values())
            if not healthy and w.armed and not w.violated:
                w.violated, w.healthy_since = True, None
                self._event(gev.SteadyStateViolated(probe.id))
                self.printer.line("steady state VIOLATED")
                self._signal_fired("steady_state_violated", f"probe {probe.id} failing")
            elif healthy and w.healthy_since is None:
                w.healthy_since = result.at
                if w.violated:
                    w.violated = False
                    self._event(gev.SteadyStateRestored(probe.id))
                    self.printer.line("steady state restored")
            elif not healthy:
                w.healthy_since = None

    def _tick_signal(self, sig: Signal) -> None:
        if not self.watch.armed or self.watch.detected.is_set():
            return
        if sig.kind == "alert":
            action, params = signal_action("alert", sig.params)
            result = run_check(
                "alert",
                action,
                params,
                self.gameday.interval,
                self.connections,
                self.context,
                self.redactor,
            )
            self._note_bug("detection signal alert", action, result)
            if result.ok:
                self._event(gev.AlertFiring(sig.params.get("name"), sig.params.get("labels")))
                self._signal_fired("alert", f"alert {sig.params.get('name')} firing")
        elif sig.kind == "prometheus":
            action, params = signal_action("prometheus", sig.params)
            result = run_check(
                "prometheus",
                action,
                params,
                self.gameday.interval,
                self.connections,
                self.context,
                self.redactor,
            )
            self._note_bug("detection signal prometheus", action, result)
            if result.ok:
                self._event(gev.SignalFired("prometheus", result.detail))
                self._signal_fired("prometheus", result.detail)

    def _signal_fired(self, kind: str, detail: str) -> None:
        if not any(s.kind == kind for s in self.gameday.detection):
            return
        with self.watch.detect_lock:
            if not self.watch.armed or self.watch.detected.is_set():
                return
            # Recorded before anyone is told: the response starts on `detected`, and its events must come
            # after this one in the journal.
            self._event(gev.GameDayDetected(kind, detail), durable=True)
            self.watch.detected.set()
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
        params = render_params(fault.action, fault.params, self.context)  # shell text quoted, as in steps
        # A declared revert is rendered now, with the fault: what it needs is in the journal before the change.
        revert = render_params(fault.action, fault.revert, self.context) if fault.revert else None
        self._check_blast_radius(fault, params)
        kind = FAULTS[fault.action]

        def record(state: Mapping[str, Any]) -> None:
            self.injected[fault.id] = Injected(params, dict(state), revert=revert)
            self._event(gev.FaultInjecting(fault.action, params, dict(state), revert), step_id=fault.id, durable=True)

        state = kind.inject(replace(fault, revert=revert), params, self._fault_ctx(fault), record)
        deadline = time.monotonic() + fault.duration if fault.duration else None
        self.injected[fault.id] = Injected(params, dict(state), deadline, revert)
        event = self._event(gev.FaultInjected(fault.action, dict(state)), step_id=fault.id, durable=True)
        first = self.printer.origin is None
        if first:
            self.printer.origin = event
            self.watch.armed = True
        self.printer.line(f"fault {fault.id} ({fault.action}) injected: {brief(state)}")
        if first:
            self._open_drill()

    def _check_blast_radius(self, fault: Fault, params: Mapping[str, Any]) -> None:
        limit = self.gameday.max_pods_percent
        if limit is None or fault_traits(fault.action).blast_radius is not BlastRadius.PODS:
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
        return pods_matched(params, ActionContext("blast-radius", self.connections, redact=self.redactor.text))

    def _revert(self, fault_id: str, why: str) -> bool:
        """Revert one fault, with Ctrl-C and SIGTERM deferred until its `fault.reverted` is recorded. Only then
        does it leave the injected set; a failed revert stays there (the final cleanup tries once more, and
        `recover` after that)."""
        entry = self.injected.get(fault_id)
        if entry is None:
            return True
        fault = replace(next(f for f in self.gameday.faults if f.id == fault_id), revert=entry.revert)
        with deferred_signals(notice=f"fault {fault_id} is being reverted; the game day stops after that"):
            self.printer.line(f"fault {fault_id}: reverting ({why})")
            ok, summary = revert_fault(fault, entry.params, entry.state, self._fault_ctx(fault))
            self._event(gev.FaultReverted(ok, summary, why), step_id=fault_id, durable=True)
            if ok:
                del self.injected[fault_id]
            else:
                self.injected[fault_id] = replace(entry, deadline=None)  # its time is up: no retry every tick
            self.printer.line(f"fault {fault_id} reverted ({why}): {summary}")
            if not ok:
                self.printer.line(f"  {self._recover_hint()}")
        return ok

    def _revert_all(self, why: str) -> bool:
        """Every injected fault, newest first; True when all reverted."""
        results = [self._revert(f.id, why) for f in reversed(self.gameday.faults) if f.id in self.injected]
        return all(results)

    # -- supervision: detection, response, recovery --------------------------------------------------------
    def _supervise(self) -> tuple[Status, str]:
        g, w = self.gameday, self.watch
        started = time.monotonic()
        response_deadline = started + (g.response.timeout or g.max_duration)
        seen_events, detection_synced = 0, False
        while True:
            now = time.monotonic()
            self._raise_bug()
            if w.abort_reason:
                raise Aborted(w.abort_reason)
            if now - started > g.max_duration:
                raise Aborted(f"guardrail max_duration {format_duration(g.max_duration)} reached")
            for fault_id, entry in list(self.injected.items()):
                if entry.deadline is not None and now >= entry.deadline:
                    self._revert(fault_id, "duration")
            if w.detected.is_set() and g.response.mode == "runbook" and self.response_thread is None:
                self._start_response()
            seen = self._show_remote_events(seen_events)
            if seen != seen_events or (w.detected.is_set() and not detection_synced):
                detection_synced = w.detected.is_set()
                self._sync_drill()  # at the moments that matter, not per loop: a detection, an ack, a response
            seen_events = seen
            if w.detected.is_set() and self._recovered(now):
                self._sync_drill()
                return Status.PASSED, ""
            if now > response_deadline:
                reason = "no recovery before the response timeout" if w.detected.is_set() else "never detected"
                return Status.FAILED, reason
            time.sleep(POLL)

    def _recovered(self, now: float) -> bool:
        w = self.watch
        with w.lock:
            since = w.healthy_since
            if since is None or now - since < self.gameday.settle or not all(w.ok.values()):
                return False
        if self.response_thread is not None and self.response_thread.is_alive():
            return False  # let the runbook finish: its end is the mitigation time
        self._event(gev.GameDayRecovered(since), durable=True)
        self.printer.line(f"RECOVERED: steady state held for {format_duration(self.gameday.settle)}")
        return True

    def _start_response(self) -> None:
        self.response_thread = threading.Thread(target=self._run_response, name="response", daemon=True)
        self.response_thread.start()

    def _run_response(self) -> None:
        from runner.document.runbook import load_runbook
        from runner.engine.session import StartRequest, start_run
        from runner.gameday.response import on_run_finished, on_run_started

        response = self.gameday.response
        assert response.runbook is not None
        journal = self.journal.reopen()  # this thread's own connection
        try:
            runbook = load_runbook(Path(response.runbook))
            inputs = render_value(dict(response.inputs), self.context)
            request = StartRequest(
                runbook_path=Path(response.runbook),
                inputs=inputs,
                initiator="fireline-gameday",
                approve_all=response.approve,
                reason=f"game day {self.id} ({self.gameday.name})",
                parent=self.id,
            )
            reporter = response_reporter(self.reporter, runbook, self.redactor, self.printer)
            started = functools.partial(on_run_started, journal, self.id, runbook=runbook.name, actor=request.initiator)
            result = start_run(request, runbook, journal, reporter, self.redactor, on_started=started)
            on_run_finished(journal, result, parent=self.id)
        except FirelineError as exc:
            self.printer.line(f"response runbook could not run: {exc}")
            self._event(gev.ResponseFinished(None, RunStatus.FAILED, str(exc)))

    def _show_remote_events(self, seen: int) -> int:
        """Acknowledgements, notes and linked runs arrive from other processes through the journal."""
        events = self.journal.events(self.id, (gev.ACKNOWLEDGED, gev.NOTE, gev.RESPONSE_STARTED, gev.RESPONSE_FINISHED))
        for event in events[seen:]:
            who = f" by {event.actor}" if event.actor else ""
            self.printer.line(f"{event.type}{who}: {_remote_detail(event)}")
        return len(events)

    # -- the drill incident ----------------------------------------------------------------------------------
    def _open_drill(self) -> None:
        """Open the drill incident once the first fault is in (its `started`). Its id, declaration and link are
        written whole: Ctrl-C waits until they are."""
        with deferred_signals():
            self.drill = Drill.open(self.journal, self.id, self.actor)
        if self.drill is not None:
            self.printer.line(f"drill incident {self.drill.id} opened (fireline incident show {self.drill.id})")

    def _sync_drill(self) -> None:
        if self.drill is not None:
            with deferred_signals():
                self.drill.sync()

    def _finish_drill(self, result: GameDayResult) -> GameDayResult:
        """Record the drill's last milestones and how the game day ended. The game day is over and its faults
        are reverted: a journal that cannot take these events does not change its verdict, and says so."""
        if self.drill is None:
            return result
        outcome = str(result.status) + (f" ({result.message})" if result.message else "")
        if result.message.startswith(str(result.status)):  # "interrupted (SIGTERM)" says it already
            outcome = result.message
        summary = f"game day {self.id} finished: {outcome}"
        try:
            # The message may quote an error that holds a secret: masked, as in the game day's own events.
            note = self.redactor.text(f"{summary}; report: fireline gameday report {self.id}")
            self.drill.finish(note, reverted=not self.injected)
        except FirelineError as exc:
            self.printer.line(f"drill incident {self.drill.id}: could not record the end of the game day: {exc}")
        return replace(result, incident=self.drill.id)

    # -- journal and signals ------------------------------------------------------------------------------
    def _event(self, payload: Payload, *, step_id: str | None = None, durable: bool = False) -> float:
        with deferred_signals():  # an event is written whole or not at all, even on Ctrl-C
            event = self.journal.append(
                self.id,
                payload.TYPE,
                step_id=step_id,
                actor=self.actor,
                data=self.redactor.data(payload.to_data()),
                durable=durable,
            )
        return event.ts_mono


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _remote_detail(event: Event) -> str:
    """What a line about another process's event shows: the note, the run's status, or the run."""
    payload = decode(event)
    if isinstance(payload, gev.GameDayNote):
        return payload.text
    if isinstance(payload, gev.ResponseFinished):
        return payload.status or payload.run_id or ""
    if isinstance(payload, gev.ResponseStarted | gev.GameDayAcknowledged):
        return payload.run_id or ""
    return ""
