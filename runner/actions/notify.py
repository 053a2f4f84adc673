"""notify.status_update: the incident status update (investigating → identified → mitigating → resolved)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.actions.http import send
from runner.errors import ActionError
from runner.secrets import shorten

# How long the webhook may take to answer (less when the step's deadline is nearer).
WEBHOOK_TIMEOUT = 10.0


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
    # Telling people is an outside effect, never done by a plan, but not a production change: not gated
    # unless the runbook asks (`production_change: false` under x-fireline in schemas/actions/notify.json).
    mutates = True

    def check_rendered(self, template: Params, rendered: Params) -> None:
        to, written = template.get("to"), rendered.get("to")
        if isinstance(to, Mapping) and isinstance(written, Mapping) and written.get("file"):
            confine_path(str(to.get("file") or ""), str(written["file"]))

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        return Plan(
            Verdict.WOULD_CHANGE,
            f"would post a status update to {', '.join(_destinations(params))}",
            tuple(format_update(params, datetime.now(UTC)).splitlines()),
        )

    def is_idempotent(self, params: Params) -> bool:
        # Printed again after an interruption is harmless; posted or appended twice is noise for readers.
        return _targets(params) == ["stdout"]

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
                ctx.budget(WEBHOOK_TIMEOUT, before="posting the update to the webhook"),
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


def _destinations(params: Params) -> list[str]:
    """The targets as a reviewer must see them: the file by the path it resolves to."""
    to = params.get("to") or {}
    return [f"file {Path(str(to['file'])).expanduser().resolve()}" if t == "file" else t for t in _targets(params)]


def confine_path(template: str, rendered: str) -> Path:
    """The rendered file path, refused when it leaves the directory the template's fixed text names.

    `/var/log/notes/{{ inputs.team }}.log` fixes /var/log/notes: a value such as `../../x` (or a symlink
    inside it pointing elsewhere) must not move the write out of it. A template that starts with `{{`
    fixes nothing: the whole path is the runbook author's choice of input."""
    path = Path(rendered).expanduser().resolve()
    if "{{" not in template:
        return path
    fixed = os.path.dirname(template.split("{{", 1)[0])
    if not fixed and not template.startswith("{{"):
        fixed = "."  # a relative file name with a fixed start ("notes-{{ x }}.log"): the working directory
    if not fixed:
        return path
    directory = Path(fixed).expanduser().resolve()
    if path == directory or not path.is_relative_to(directory):
        raise ActionError(
            f"to.file {rendered!r} resolves to {path}, outside {directory} (fixed by the template {template!r})",
            hint="the templated values must name a file inside that directory: no '..', no absolute path, "
            "no symlink out of it",
        )
    return path
