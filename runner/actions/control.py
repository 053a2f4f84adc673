"""control.*: sleep, manual (a person does something), assert, branch (where the run goes), set (named values)."""

from __future__ import annotations

from typing import Any

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Undecidable, Verdict
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


class Branch(BaseAction):
    """The first choice whose `when` is true decides where the run goes; none: `default`. The choices are
    evaluated in order and only until one holds, so a later choice may use what only exists when the
    earlier ones are false. The result says which choice was taken and what its expression gave."""

    name = "control.branch"
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        checked: list[dict[str, Any]] = []
        possible: list[str] = []  # a plan: choices it cannot evaluate without pretending
        unknown: list[str] = []
        for number, choice in enumerate(params["choices"], start=1):
            when, target = choice["when"], choice["goto"]
            try:
                value = ctx.evaluate(when)
            except Undecidable as exc:
                checked.append({"when": when, "value": None, "unknown": str(exc)})
                possible.append(target)
                unknown.append(f"choice {number} ({_bare(when)}) {exc}")
                continue
            except ActionError as exc:
                raise ActionError(f"choice {number} ({_bare(when)}): {exc}") from None
            checked.append({"when": when, "value": _plain(value)})
            if value and possible:  # true, but an earlier choice might have been true first
                return _undecided([*possible, target], checked, unknown)
            if value:  # truthy, as a step's `when:` is
                summary = f"choice {number} ({_bare(when)}) is {_shown(value)}: go to {target}"
                return Outcome(_decision(number, target, checked), summary=summary, changed=False, goto=target)
        target = params["default"]
        if possible:
            return _undecided([*possible, target], checked, unknown)
        tried = "; ".join(f"{_bare(c['when'])} is {_shown(c['value'])}" for c in checked)
        summary = f"default: no choice is true ({tried}): go to {target}"
        return Outcome(_decision(None, target, checked), summary=summary, changed=False, goto=target)


class Set(BaseAction):
    """Named values, rendered like any parameter, become the step's outputs (`steps.<id>.outputs.<name>`)."""

    name = "control.set"
    idempotent = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        values = dict(params["values"])
        return Outcome(values, summary="set " + ", ".join(values), changed=False, outputs=values)


def _undecided(possible: list[str], checked: list[dict[str, Any]], unknown: list[str]) -> Outcome:
    targets = tuple(dict.fromkeys(possible))
    result = {"choice": None, "default": False, "goto": None, "checked": checked, "possible": list(targets)}
    summary = "; ".join(unknown) + f"; it may go to {', '.join(targets)}"
    return Outcome(result, summary=summary, changed=False, possible=targets)


def _decision(choice: int | None, target: str, checked: list[dict[str, Any]]) -> dict[str, Any]:
    """What the journal keeps of a decision: the choice taken (None: the default), where it went, and each
    expression evaluated on the way with its value."""
    return {"choice": choice, "default": choice is None, "goto": target, "checked": checked}


def _plain(value: Any) -> Any:
    """A value as JSON keeps it: what is not a plain value is kept as its text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _bare(expression: str) -> str:
    """`{{ x > 3 }}` as people read it: x > 3."""
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        return text[2:-2].strip()
    return text


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
