"""control.*: sleep, manual (a person does something), assert."""

from __future__ import annotations

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.durations import parse_duration
from runner.errors import ActionError


class Sleep(BaseAction):
    name = "control.sleep"
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        try:
            seconds = parse_duration(params["duration"])
        except ValueError as exc:  # a rendered value: `99999999999h` would overflow the timer
            raise ActionError(str(exc)) from None
        ctx.sleep(seconds)
        return Outcome({"slept_s": seconds}, summary=f"waited {params['duration']}", changed=False)

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        return Plan(Verdict.NO_CHANGE, f"would wait {params['duration']}")


class Manual(BaseAction):
    """The engine gates this step on a person's confirmation (the prompt, or `fireline approve`): by the
    time `run` is called, the responder has said they are done."""

    name = "control.manual"
    mutates = True  # a person changes something: it needs the same record and gate as any change
    idempotent = False

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        return Outcome({"confirmed": True}, summary="confirmed by the responder")

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        first = str(params["instructions"]).strip().splitlines()[0] if params["instructions"] else ""
        return Plan(
            Verdict.CANNOT_CHECK,
            f"manual step, done by a person: {first}",
            tuple(str(params["instructions"]).strip().splitlines()),
        )


class Assert(BaseAction):
    """`that` arrives rendered: the engine evaluated the expression against the run's context."""

    name = "control.assert"
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        value = params["that"]
        if isinstance(value, str):
            value = value.strip().lower() not in ("", "false", "0", "none", "no")
        if not value:
            raise ActionError(params.get("message") or "assertion failed")
        return Outcome({"ok": True}, summary="holds", changed=False)
