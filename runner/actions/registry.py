"""The one registry of actions: built-ins and plugins (entry point group `fireline.actions`).

Names map to "module:Class" strings so that looking an action up does not import its family: kubernetes,
psycopg and fabric are imported only when a runbook actually runs one of their steps.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, cast

from runner.actions.base import Action
from runner.actions.declarations import NO_TRAITS, ActionTraits, declared_traits
from runner.errors import FirelineError, UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "fireline.actions"


class PluginError(UsageError):
    """An installed plugin action cannot be used (exit 2): a problem of that package, not of fireline."""


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
    "control.branch": "runner.actions.control:Branch",
    "control.set": "runner.actions.control:Set",
    "notify.status_update": "runner.actions.notify:StatusUpdate",
    "kubernetes.rollout_restart": "runner.actions.kubernetes:RolloutRestart",
    "kubernetes.rollout_undo": "runner.actions.kubernetes:RolloutUndo",
    "kubernetes.rollout_status": "runner.actions.kubernetes:RolloutStatus",
    "kubernetes.rollout_history": "runner.actions.kubernetes:RolloutHistory",
    "kubernetes.scale": "runner.actions.kubernetes:Scale",
    "kubernetes.delete_pods": "runner.actions.kubernetes:DeletePods",
    "kubernetes.wait": "runner.actions.kubernetes:Wait",
    "kubernetes.get": "runner.actions.kubernetes:Get",
    "kubernetes.top": "runner.actions.kubernetes:Top",
    "kubernetes.logs": "runner.actions.kubernetes:Logs",
    "ssh.run": "runner.actions.ssh:Run",
    "flags.set": "runner.actions.flags:Set",
    "flags.get": "runner.actions.flags:Get",
    "prometheus.query": "runner.actions.prometheus:Query",
    "prometheus.wait": "runner.actions.prometheus:Wait",
    "alertmanager.alerts": "runner.actions.prometheus:Alerts",
}


@cache
def _plugins() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points  # ~25 ms: only when a name is not built in

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


@cache
def traits(name: str) -> ActionTraits:
    """What an action says about itself (shell text, connection types, …), asked by the validator, the
    engine, the renderer and game days. A built-in's come from its schema fragment without importing it;
    a plugin's from its class. Unknown names have none (the validator reports them on their own)."""
    declared = declared_traits(name) if name in BUILTIN else None
    if declared is not None:
        return declared
    # Other names in a built-in family (game-day faults such as postgres.lock_table) are answered without
    # listing the installed plugins (~25 ms): plugins bring families of their own.
    if name in BUILTIN or name.partition(".")[0] in _builtin_families() or not has_action(name):
        return NO_TRAITS
    return ActionTraits.of(get_action(name))


@cache
def _builtin_families() -> frozenset[str]:
    return frozenset(name.partition(".")[0] for name in BUILTIN)


def connection_types(family: str) -> tuple[str, ...]:
    """The connection types an action family may use (`ActionContext.connection(name, family)`): what its
    actions declare, or the family's own name when none declares any."""
    return family_connection_types(family) or (family,)


@cache
def family_connection_types(family: str) -> tuple[str, ...]:
    """The connection types the actions of a family declare, in order; () when none does."""
    prefix = family + "."
    # Built-in families are answered from their fragments, without the ~25 ms of listing plugins.
    names = BUILTIN if family in _builtin_families() else _plugins()
    return tuple(dict.fromkeys(t for name in names if name.startswith(prefix) for t in traits(name).connection_types))


def known_actions() -> list[str]:
    return sorted({*BUILTIN, *_plugins()})


def has_action(name: str) -> bool:
    return name in BUILTIN or name in _plugins()


@cache
def get_action(name: str) -> Action:
    if name in BUILTIN:
        module_name, _, class_name = BUILTIN[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise FirelineError(
                f"action {name!r} cannot be loaded: {exc}", hint="is the package providing it installed?"
            ) from exc
        return cast(Action, getattr(module, class_name)())
    entry_point = _plugins().get(name)
    if entry_point is None:
        raise FirelineError(f"unknown action {name!r}")
    return _load_plugin(name, entry_point)


def _load_plugin(name: str, entry_point: EntryPoint) -> Action:
    """A plugin's action. Whatever goes wrong here is the plugin's (or its installation's) problem, not a bug
    in fireline: say which plugin, from which distribution, and what to do."""
    where = f"action {name!r} ({entry_point.value}, from {_distribution(entry_point)})"
    hint = "reinstall or upgrade that package, or fix its `fireline.actions` entry point"
    try:
        target = entry_point.load()
    except ImportError as exc:
        raise PluginError(f"{where} cannot be imported: {exc}", hint=hint) from exc
    except AttributeError as exc:
        raise PluginError(f"{where} names something its module does not have: {exc}", hint=hint) from exc
    except Exception as exc:
        raise PluginError(f"{where} failed while being imported: {type(exc).__name__}: {exc}", hint=hint) from exc
    if not isinstance(target, type):
        raise PluginError(f"{where} is not a class", hint=hint)
    schema = getattr(target, "params_schema", None)
    if not isinstance(schema, dict):
        # Without a schema its parameters would go unchecked: typos would reach production silently.
        raise PluginError(
            f"{where} declares no parameter schema (`params_schema`, a JSON Schema object)",
            hint="the plugin's author must add one; until then it cannot be used",
        )
    try:
        return cast(Action, target())
    except Exception as exc:
        raise PluginError(f"{where} cannot be created: {type(exc).__name__}: {exc}", hint=hint) from exc


def _distribution(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"distribution {dist.name} {dist.version}"
