"""notify.status_update: the incident status update (investigating → identified → mitigating → resolved)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.actions.http import send
from runner.errors import ActionError
from runner.secrets import shorten


def format_update(params: Params, now: datetime) -> str:
    lines = [f"[{params['status'].upper()}] {params['summary']}", f"Time: {now:%Y-%m-%d %H:%M} UTC"]
    if params.get("impact"):
        lines.append(f"Impact: {params['impact']}")
    if params.get("actions"):
        lines.append("Actions:")
        lines += [f"  - {a}" for a in params["actions"]]
    if params.get("eta"):
        lines.append(f"ETA: {params['eta']}")
    if params.get("next_update"):
        lines.append(f"Next update in: {params['next_update']}")
    return "\n".join(lines)


class StatusUpdate(BaseAction):
    name = "notify.status_update"
    mutates = False  # telling people is not changing production; it is never gated

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        targets = _targets(params)
        return Plan(
            Verdict.WOULD_CHANGE,
            f"would post a status update to {', '.join(targets)}",
            tuple(format_update(params, datetime.now(UTC)).splitlines()),
        )

    def is_mutating(self, params: Params) -> bool:
        # Posting to a webhook or a file is an outside effect a dry-run must not have.
        to = params.get("to") or {}
        return bool(to.get("webhook") or to.get("file"))

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        text = format_update(params, datetime.now(UTC))
        to = params.get("to") or {"stdout": True}
        if to.get("stdout", not (to.get("file") or to.get("webhook"))):
            for line in text.splitlines():
                ctx.log(line)
        if to.get("file"):
            path = Path(to["file"]).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(ctx.redact(text) + "\n\n")
        if to.get("webhook"):
            status, body, _ = send(
                str(to["webhook"]),
                "POST",
                {"Content-Type": "application/json"},
                json.dumps({"text": ctx.redact(text)}).encode(),
                ctx.remaining(10.0) or 10.0,
            )
            if status >= 300:
                raise ActionError(f"webhook answered {status}: {shorten(body, 200, redact=ctx.redact)}")
        return Outcome(
            {"text": text, "status": params["status"], "targets": _targets(params)},
            summary=f"status update: {params['status']}",
        )


def _targets(params: Params) -> list[str]:
    to = params.get("to") or {"stdout": True}
    return [k for k in ("stdout", "file", "webhook") if to.get(k)] or ["stdout"]
