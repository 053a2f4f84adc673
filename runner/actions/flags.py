"""flags.set and flags.get: feature flags through the Unleash admin API or an OpenFeature flagd file.

The provider is chosen by the connection's type (`unleash` or `flagd`). Every `set` reads the current
state first, records it as `result.previous` and returns parameters that put it back (`Set.revert_params`),
so rollbacks and game-day reverts restore exactly what was there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from runner.actions.base import ActionContext, BaseAction, Outcome, Params, Plan, Verdict
from runner.actions.prometheus import HttpStatusError, http_json
from runner.errors import ActionError

ROLLOUT_STRATEGY = "flexibleRollout"
# How long one Unleash request may take (less when the step's deadline is nearer).
UNLEASH_TIMEOUT = 10.0


# -- state (pure) -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagState:
    """What a flag looks like: on/off, plus the provider's extra knob (Unleash rollout %, flagd variant)."""

    enabled: bool
    rollout: int | None = None
    variant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"enabled": self.enabled}
        if self.rollout is not None:
            data["rollout"] = self.rollout
        if self.variant is not None:
            data["variant"] = self.variant
        return data


@dataclass(frozen=True)
class Desired:
    """What a `set` asks for; None fields are left as they are."""

    enabled: bool | None = None
    rollout: int | None = None
    variant: str | None = None

    @classmethod
    def from_params(cls, params: Params) -> Desired:
        rollout = params.get("rollout")
        return cls(params.get("enabled"), None if rollout is None else int(rollout), params.get("variant"))


def changes(current: FlagState, desired: Desired) -> list[str]:
    """Human-readable differences `field: old → new`; empty when the flag is already as desired."""
    diffs = []
    for field in ("enabled", "rollout", "variant"):
        want = getattr(desired, field)
        have = getattr(current, field)
        if want is not None and want != have:
            diffs.append(f"{field}: {_show(have)} → {_show(want)}")
    return diffs


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    return str(value).lower() if isinstance(value, bool) else str(value)


def revert_params(params: Params, result: Mapping[str, Any]) -> dict[str, Any]:
    """flags.set parameters restoring `result.previous`, touching only the fields the step set."""
    previous = result["previous"]
    restored: dict[str, Any] = {k: params[k] for k in ("connection", "flag", "environment", "project") if k in params}
    for field in ("enabled", "rollout", "variant"):
        if params.get(field) is not None and previous.get(field) is not None:
            restored[field] = previous[field]
    if not restored.keys() & {"enabled", "rollout", "variant"} and previous.get("enabled") is not None:
        # A rollout added where there was none cannot be "un-set" through flags.set; putting the switch
        # back where it was is the closest safe revert (off hides the new strategy entirely).
        restored["enabled"] = previous["enabled"]
    return restored


# -- providers ----------------------------------------------------------------------------------------------
class Provider(Protocol):
    kind: str
    fields: tuple[str, ...]  # which of enabled/rollout/variant this provider can set

    def describe(self, flag: str) -> str: ...

    def read(self, flag: str) -> FlagState: ...

    def write(self, flag: str, current: FlagState, desired: Desired) -> None: ...


class UnleashProvider:
    """Admin API of one Unleash project/environment. The token goes in a header and nowhere else."""

    kind = "unleash"
    fields: tuple[str, ...] = ("enabled", "rollout")

    def __init__(self, settings: Mapping[str, Any], params: Params, timeout: Callable[[], float]) -> None:
        self.url = str(settings["url"]).rstrip("/")
        self._headers = {"Authorization": str(settings["token"])}
        self.project = str(params.get("project") or settings.get("project") or "default")
        environment = params.get("environment") or settings.get("environment")
        if not environment:
            raise ActionError("no Unleash environment given", hint="set `environment` on the connection or the step")
        self.environment = str(environment)
        self.timeout = timeout  # asked before every request: the step's deadline keeps running

    def describe(self, flag: str) -> str:
        return f"unleash {self.project}/{flag} in {self.environment}"

    def _feature_path(self, flag: str) -> str:
        return f"/api/admin/projects/{_q(self.project)}/features/{_q(flag)}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return http_json(method, self.url + path, headers=self._headers, body=body, timeout=self.timeout())
        except HttpStatusError as err:
            if err.status in (401, 403):
                raise ActionError(
                    f"Unleash refused the token ({method} {path}: HTTP {err.status})",
                    hint="the connection needs an admin or personal access token with rights on the project",
                ) from None
            raise

    def _environment(self, flag: str) -> Mapping[str, Any]:
        try:
            feature = self._call("GET", self._feature_path(flag))
        except HttpStatusError as err:
            if err.status == 404:
                raise ActionError(
                    f"flag {flag!r} not found in Unleash project {self.project!r}",
                    hint="check the flag name and the connection's project",
                ) from None
            raise
        for env in feature.get("environments", []):
            if env.get("name") == self.environment:
                return dict(env)
        raise ActionError(f"flag {flag!r} has no environment {self.environment!r} in project {self.project!r}")

    def read(self, flag: str) -> FlagState:
        env = self._environment(flag)
        strategy = _rollout_strategy(env)
        rollout = int(strategy["parameters"]["rollout"]) if strategy else None
        return FlagState(enabled=bool(env.get("enabled")), rollout=rollout)

    def write(self, flag: str, current: FlagState, desired: Desired) -> None:
        # The rollout first: enabling an environment without strategies makes Unleash add a 100% one,
        # so turning on "at 10%" must never pass through a moment at 100%.
        if desired.rollout is not None and desired.rollout != current.rollout:
            self._set_rollout(flag, desired.rollout)
        if desired.enabled is not None and desired.enabled != current.enabled:
            switch = "on" if desired.enabled else "off"
            self._call("POST", f"{self._feature_path(flag)}/environments/{_q(self.environment)}/{switch}")

    def _set_rollout(self, flag: str, percent: int) -> None:
        env = self._environment(flag)
        strategy = _rollout_strategy(env)
        base = f"{self._feature_path(flag)}/environments/{_q(self.environment)}/strategies"
        parameters = {"rollout": str(percent), "stickiness": "default", "groupId": flag}
        if strategy is None:
            self._call("POST", base, {"name": ROLLOUT_STRATEGY, "constraints": [], "parameters": parameters})
            return
        # Keep the strategy's own stickiness, groupId and constraints: only the percentage moves.
        body = {
            "name": ROLLOUT_STRATEGY,
            "constraints": strategy.get("constraints", []),
            "segments": strategy.get("segments", []),
            "parameters": {**parameters, **strategy.get("parameters", {}), "rollout": str(percent)},
        }
        self._call("PUT", f"{base}/{_q(str(strategy['id']))}", body)

    def other_strategies(self, flag: str) -> list[str]:
        """Active strategies besides the rollout one: they widen exposure beyond the percentage."""
        env = self._environment(flag)
        chosen = _rollout_strategy(env)
        return [
            str(s.get("name"))
            for s in env.get("strategies", [])
            if not s.get("disabled") and (chosen is None or s.get("id") != chosen.get("id"))
        ]


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _rollout_strategy(env: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first enabled flexibleRollout strategy of an environment (the one `rollout` controls)."""
    for strategy in env.get("strategies", []):
        if strategy.get("name") == ROLLOUT_STRATEGY and not strategy.get("disabled"):
            return dict(strategy)
    return None


class FlagdProvider:
    """An OpenFeature flagd flag-definition file, edited in place with every other byte preserved."""

    kind = "flagd"
    fields: tuple[str, ...] = ("enabled", "variant")

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.path = Path(str(settings["path"])).expanduser()

    def describe(self, flag: str) -> str:
        return f"flagd {flag} in {self.path}"

    def _load(self) -> tuple[bytes, dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise ActionError(f"cannot read flagd file {self.path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ActionError(f"{self.path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("flags"), dict):
            raise ActionError(f"{self.path} has no top-level `flags` object", hint="is it a flagd definition?")
        return raw, data

    def _flag(self, data: Mapping[str, Any], flag: str) -> Mapping[str, Any]:
        flags = data["flags"]
        if flag not in flags:
            known = ", ".join(sorted(flags)[:10]) or "none"
            raise ActionError(f"flag {flag!r} not found in {self.path}", hint=f"flags defined: {known}")
        return dict(flags[flag])

    def read(self, flag: str) -> FlagState:
        _, data = self._load()
        definition = self._flag(data, flag)
        return FlagState(enabled=definition.get("state") == "ENABLED", variant=definition.get("defaultVariant"))

    def write(self, flag: str, current: FlagState, desired: Desired) -> None:
        raw, data = self._load()
        definition = self._flag(data, flag)
        updates: dict[str, str] = {}
        if desired.enabled is not None:
            updates["state"] = "ENABLED" if desired.enabled else "DISABLED"
        if desired.variant is not None:
            variants = definition.get("variants") or {}
            if desired.variant not in variants:
                raise ActionError(
                    f"flag {flag!r} has no variant {desired.variant!r}",
                    hint=f"variants: {', '.join(sorted(variants)) or 'none'}",
                )
            updates["defaultVariant"] = desired.variant
        text = raw.decode("utf-8")
        for key, value in updates.items():
            text = set_flag_field(text, flag, key, value)
        expected = json.loads(raw)
        expected["flags"][flag].update(updates)
        if json.loads(text) != expected:  # the splice must change exactly these fields
            raise ActionError(f"internal error: editing {self.path} would change more than {flag!r}")
        atomic_replace(self.path, text.encode("utf-8"), expect_unchanged=raw)


# -- flagd file editing (pure text surgery) -----------------------------------------------------------------
_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WS:
        index += 1
    return index


def object_members(text: str, start: int) -> dict[str, tuple[int, int]]:
    """Spans (value start, value end) of the members of the JSON object whose `{` is at `start`."""
    if text[start] != "{":
        raise ValueError(f"expected an object at offset {start}")
    members: dict[str, tuple[int, int]] = {}
    index = _skip_ws(text, start + 1)
    while text[index] != "}":
        key, index = _DECODER.raw_decode(text, index)
        index = _skip_ws(text, index)
        if text[index] != ":":
            raise ValueError(f"expected ':' at offset {index}")
        value_start = _skip_ws(text, index + 1)
        _, value_end = _DECODER.raw_decode(text, value_start)
        members[key] = (value_start, value_end)
        index = _skip_ws(text, value_end)
        if text[index] == ",":
            index = _skip_ws(text, index + 1)
    return members


def set_flag_field(text: str, flag: str, key: str, value: str) -> str:
    """`text` with flags[flag][key] set to the string `value`; every other byte stays as it was."""
    root = object_members(text, _skip_ws(text, 0))
    flags = object_members(text, root["flags"][0])
    flag_start = flags[flag][0]
    fields = object_members(text, flag_start)
    literal = json.dumps(value, ensure_ascii=False)
    if key in fields:
        start, end = fields[key]
        return text[:start] + literal + text[end:]
    # Missing key: insert it first, copying the whitespace that precedes the first existing member so
    # the indentation style stays the same.
    after_brace = flag_start + 1
    first = _skip_ws(text, after_brace)
    gap = text[after_brace:first]
    if text[first] == "}":
        return text[:after_brace] + f"{gap}{json.dumps(key)}: {literal}{gap}" + text[first:]
    return text[:after_brace] + f"{gap}{json.dumps(key)}: {literal}," + text[after_brace:]


def atomic_replace(path: Path, content: bytes, expect_unchanged: bytes | None = None) -> None:
    """Write `content` to a temp file in the same directory, fsync, then rename over `path`.

    Readers (flagd watches the file) see the old or the new file, never half of one. Mode and owner
    are kept. `expect_unchanged` refuses to overwrite a concurrent edit made since it was read.
    """
    stat = path.stat()
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, stat.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):
            os.chown(tmp_name, stat.st_uid, stat.st_gid)
        if expect_unchanged is not None and path.read_bytes() != expect_unchanged:
            raise ActionError(f"{path} changed while it was being edited", hint="run the step again")
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the actions --------------------------------------------------------------------------------------------
def provider_for(params: Params, ctx: ActionContext) -> Provider:
    """Unleash or flagd, by the type of the named connection."""
    name = params["connection"]
    settings = ctx.connection(name, "flags")
    kind = settings.get("type")
    if kind == "unleash":
        return UnleashProvider(settings, params, timeout=lambda: ctx.budget(UNLEASH_TIMEOUT, before="calling Unleash"))
    if kind == "flagd":
        return FlagdProvider(settings)
    raise ActionError(f"connection {name!r} is of type {kind!r}", hint="flags.* need an unleash or flagd connection")


def check_supported(provider: Provider, desired: Desired) -> None:
    """Refuse fields the provider has no notion of (an Unleash `variant`, a flagd `rollout`) up front."""
    for field in ("enabled", "rollout", "variant"):
        if getattr(desired, field) is not None and field not in provider.fields:
            raise ActionError(
                f"`{field}` does not apply to {provider.kind} flags",
                hint=f"{provider.kind} flags take {' and '.join(provider.fields)}",
            )


def _state_result(provider: Provider, flag: str, state: FlagState) -> dict[str, Any]:
    result: dict[str, Any] = {"provider": provider.kind, "flag": flag, **state.as_dict()}
    if isinstance(provider, UnleashProvider):
        result.update(project=provider.project, environment=provider.environment)
    return result


class Get(BaseAction):
    """Read a flag's state. Read-only."""

    name: ClassVar[str] = "flags.get"
    mutates: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        provider = provider_for(params, ctx)
        state = provider.read(params["flag"])
        summary = f"{provider.describe(params['flag'])}: " + ", ".join(
            f"{k} {_show(v)}" for k, v in state.as_dict().items()
        )
        return Outcome(result=_state_result(provider, params["flag"], state), summary=summary, changed=False)


class Set(BaseAction):
    """Enable/disable a flag (and set the Unleash rollout % or the flagd default variant). Idempotent."""

    name: ClassVar[str] = "flags.set"
    mutates: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True

    revert_params = staticmethod(revert_params)

    def plan(self, params: Params, ctx: ActionContext) -> Plan:
        provider = provider_for(params, ctx)
        check_supported(provider, Desired.from_params(params))
        try:
            current = provider.read(params["flag"])
        except ActionError as err:
            return Plan(Verdict.CANNOT_CHECK, f"cannot read the flag: {err}")
        diffs = changes(current, Desired.from_params(params))
        data = {"current": current.as_dict()}
        where = provider.describe(params["flag"])
        if not diffs:
            return Plan(Verdict.NO_CHANGE, f"{where} is already as requested", data=data)
        return Plan(Verdict.WOULD_CHANGE, f"{where}: {'; '.join(diffs)}", tuple(diffs), data)

    def run(self, params: Params, ctx: ActionContext) -> Outcome:
        flag = params["flag"]
        desired = Desired.from_params(params)
        if desired == Desired():
            raise ActionError("flags.set needs at least one of enabled, rollout, variant")
        provider = provider_for(params, ctx)
        check_supported(provider, desired)
        where = provider.describe(flag)
        current = provider.read(flag)
        diffs = changes(current, desired)
        result = {**_state_result(provider, flag, current), "previous": current.as_dict()}
        if not diffs:
            result.update(current=current.as_dict(), changed=False)
            return Outcome(
                result=result,
                summary=f"{where}: already as requested",
                changed=False,
                skipped_reason="flag already in the requested state",
            )
        ctx.log(f"{where}: {'; '.join(diffs)}")
        ctx.check_cancelled()
        provider.write(flag, current, desired)
        after = provider.read(flag)  # read back: report what the server/file now says, not what we sent
        if changes(after, desired):
            raise ActionError(f"{where}: after the change it reads {after.as_dict()}, not what was asked")
        self._warn_widening(provider, flag, desired, ctx)
        result.update(_state_result(provider, flag, after), previous=current.as_dict(), current=after.as_dict())
        result["changed"] = True
        return Outcome(result=result, summary=f"{where}: {'; '.join(diffs)}", changed=True)

    @staticmethod
    def _warn_widening(provider: Provider, flag: str, desired: Desired, ctx: ActionContext) -> None:
        if isinstance(provider, UnleashProvider) and desired.rollout is not None:
            others = provider.other_strategies(flag)
            if others:
                ctx.log(f"warning: other active strategies ({', '.join(others)}) also expose {flag}")
