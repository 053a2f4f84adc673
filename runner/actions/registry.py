"""The one registry of actions: built-ins and plugins (entry point group `fireline.actions`).

Names map to "module:Class" strings so that looking an action up does not import its family: kubernetes,
psycopg and fabric are imported only when a runbook actually runs one of their steps.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import cast

from runner.actions.base import Action
from runner.errors import FirelineError

ENTRY_POINT_GROUP = "fireline.actions"

BUILTIN: dict[str, str] = {
    "shell.run": "runner.actions.shell:Run",
    "http.request": "runner.actions.http:Request",
    "http.check": "runner.actions.http:Check",
    "postgres.query": "runner.actions.postgres:Query",
    "postgres.execute": "runner.actions.postgres:Execute",
    "postgres.terminate_backends": "runner.actions.postgres:TerminateBackends",
    "control.sleep": "runner.actions.control:Sleep",
    "control.manual": "runner.actions.control:Manual",
    "control.assert": "runner.actions.control:Assert",
    "notify.status_update": "runner.actions.notify:StatusUpdate",
    "kubernetes.rollout_restart": "runner.actions.kubernetes:RolloutRestart",
    "kubernetes.rollout_undo": "runner.actions.kubernetes:RolloutUndo",
    "kubernetes.rollout_status": "runner.actions.kubernetes:RolloutStatus",
    "kubernetes.rollout_history": "runner.actions.kubernetes:RolloutHistory",
    "kubernetes.scale": "runner.actions.kubernetes:Scale",
    "kubernetes.delete_pods": "runner.actions.kubernetes:DeletePods",
    "kubernetes.wait": "runner.actions.kubernetes:Wait",
    "kubernetes.get": "runner.actions.kubernetes:Get",
    "ssh.run": "runner.actions.ssh:Run",
    "flags.set": "runner.actions.flags:Set",
    "flags.get": "runner.actions.flags:Get",
    "prometheus.query": "runner.actions.prometheus:Query",
    "prometheus.wait": "runner.actions.prometheus:Wait",
    "alertmanager.alerts": "runner.actions.prometheus:Alerts",
}


@cache
def _plugins() -> dict[str, str]:
    from importlib.metadata import entry_points  # ~25 ms: only when a name is not built in

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_actions() -> list[str]:
    return sorted({*BUILTIN, *_plugins()})


def has_action(name: str) -> bool:
    return name in BUILTIN or name in _plugins()


@cache
def get_action(name: str) -> Action:
    target = BUILTIN.get(name) or _plugins().get(name)
    if target is None:
        raise FirelineError(f"unknown action {name!r}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FirelineError(
            f"action {name!r} cannot be loaded: {exc}", hint="is the package providing it installed?"
        ) from exc
    return cast(Action, getattr(module, class_name)())
