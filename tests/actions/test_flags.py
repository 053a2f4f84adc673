"""flags.set / flags.get against a real Unleash (on a real PostgreSQL) and real flagd definition files.

Unleash changes are read back through the client API with the client token, the way an application's SDK
sees them. No mocks.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.actions.base import ActionContext, Verdict
from runner.actions.flags import Get, Set, revert_params, set_flag_field
from runner.actions.registry import get_action
from runner.document.schemas import check_params_now
from runner.errors import ActionError
from runner.testing import StaticConnections
from tests.conftest import wait_for
from tests.servers.prometheus import MetricsExporter, start_prometheus
from tests.servers.unleash import UnleashServer, start_unleash

T = TypeVar("T")


def _context(settings: Mapping[str, Mapping[str, Any]], lines: list[str] | None = None) -> ActionContext:
    emit = lines.append if lines is not None else None
    return ActionContext("flags-test", StaticConnections(settings), deadline=time.monotonic() + 30, emit=emit)


# -- Unleash ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    from runner.lab.postgres import ThrowawayPostgres

    # Not tmp_path: as root the cluster runs as `postgres`, which cannot enter pytest's 0700 temp dirs.
    base = Path(tempfile.mkdtemp(prefix="fireline-flags-"))
    try:
        with ThrowawayPostgres(base / "pg") as pg, start_unleash(base, pg.create_database("unleash")) as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def flag(unleash: UnleashServer) -> str:
    name = f"checkout.new-pricing-{uuid.uuid4().hex[:8]}"
    unleash.admin("POST", "/api/admin/projects/default/features", {"name": name})
    return name


def _unleash_settings(unleash: UnleashServer, token: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        "flags": {
            "type": "unleash",
            "url": unleash.url,
            "token": token or unleash.admin_token,
            "project": "default",
            "environment": "development",
        }
    }


def _client_view(unleash: UnleashServer, name: str) -> dict[str, Any] | None:
    for feature in unleash.client_features()["features"]:
        if feature["name"] == name:
            return dict(feature)
    return None


def _client_sees(unleash: UnleashServer, name: str, enabled: bool, rollout: str | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        feature = _client_view(unleash, name)
        if feature is None or feature["enabled"] is not enabled:
            return None
        rollouts = [s["parameters"]["rollout"] for s in feature["strategies"] if s["name"] == "flexibleRollout"]
        return feature if rollout is None or rollouts == [rollout] else None

    return wait_for(check, f"client API to show {name} enabled={enabled} rollout={rollout}", 15, every=0.1)


def test_unleash_enable_is_seen_by_clients_and_records_previous(unleash: UnleashServer, flag: str) -> None:
    lines: list[str] = []
    outcome = Set().run(
        {"connection": "flags", "flag": flag, "enabled": True}, _context(_unleash_settings(unleash), lines)
    )
    assert outcome.changed
    assert outcome.result["previous"] == {"enabled": False}
    assert outcome.result["current"]["enabled"] is True
    assert outcome.result["environment"] == "development"
    assert lines == [f"unleash default/{flag} in development: enabled: false → true"]
    _client_sees(unleash, flag, enabled=True)
    assert unleash.admin_token not in json.dumps(outcome.result) + outcome.summary + "".join(lines)


def test_unleash_disable_and_idempotent_second_set(unleash: UnleashServer, flag: str) -> None:
    ctx_settings = _unleash_settings(unleash)
    Set().run({"connection": "flags", "flag": flag, "enabled": True}, _context(ctx_settings))
    _client_sees(unleash, flag, enabled=True)
    off = Set().run({"connection": "flags", "flag": flag, "enabled": False}, _context(ctx_settings))
    assert off.changed and off.result["previous"]["enabled"] is True
    _client_sees(unleash, flag, enabled=False)
    again = Set().run({"connection": "flags", "flag": flag, "enabled": False}, _context(ctx_settings))
    assert not again.changed and again.skipped_reason is not None
    assert again.result["previous"] == again.result["current"]
    assert Set.idempotent


def test_unleash_gradual_rollout_created_updated_and_reverted(unleash: UnleashServer, flag: str) -> None:
    ctx_settings = _unleash_settings(unleash)
    params = {"connection": "flags", "flag": flag, "enabled": True, "rollout": 25}
    first = Set().run(params, _context(ctx_settings))
    assert first.result["previous"] == {"enabled": False}
    assert first.result["current"] == {"enabled": True, "rollout": 25}
    # The rollout strategy was created *before* the switch: there is exactly one, at 25%, never a 100% one.
    feature = _client_sees(unleash, flag, enabled=True, rollout="25")
    assert [s["name"] for s in feature["strategies"]] == ["flexibleRollout"]

    second = Set().run({**params, "rollout": 60}, _context(ctx_settings))
    assert second.result["previous"] == {"enabled": True, "rollout": 25}
    _client_sees(unleash, flag, enabled=True, rollout="60")

    undo = revert_params({**params, "rollout": 60}, second.result)
    assert undo == {"connection": "flags", "flag": flag, "enabled": True, "rollout": 25}
    Set().run(undo, _context(ctx_settings))
    _client_sees(unleash, flag, enabled=True, rollout="25")
    back_to_start = revert_params(params, first.result)
    assert back_to_start == {"connection": "flags", "flag": flag, "enabled": False}
    Set().run(back_to_start, _context(ctx_settings))
    _client_sees(unleash, flag, enabled=False)
    # Only a rollout set where none existed: the revert puts the switch back (a strategy cannot be un-set).
    rollout_only = {"connection": "flags", "flag": flag, "rollout": 5}
    assert revert_params(rollout_only, {"previous": {"enabled": False}}) == {**back_to_start}


def test_unleash_rollout_warns_about_wider_strategies(unleash: UnleashServer, flag: str) -> None:
    env = f"/api/admin/projects/default/features/{flag}/environments/development"
    unleash.admin("POST", f"{env}/strategies", {"name": "default", "constraints": [], "parameters": {}})
    lines: list[str] = []
    Set().run({"connection": "flags", "flag": flag, "rollout": 10}, _context(_unleash_settings(unleash), lines))
    assert any(line.startswith("warning: other active strategies (default)") for line in lines)


def test_unleash_get(unleash: UnleashServer, flag: str) -> None:
    result = Get().run({"connection": "flags", "flag": flag}, _context(_unleash_settings(unleash))).result
    assert result == {
        "provider": "unleash",
        "flag": flag,
        "enabled": False,
        "project": "default",
        "environment": "development",
    }


def test_unleash_plan_shows_current_to_desired_and_changes_nothing(unleash: UnleashServer, flag: str) -> None:
    ctx_settings = _unleash_settings(unleash)
    plan = Set().plan({"connection": "flags", "flag": flag, "enabled": True, "rollout": 5}, _context(ctx_settings))
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert plan.details == ("enabled: false → true", "rollout: unset → 5")
    after = Get().run({"connection": "flags", "flag": flag}, _context(ctx_settings)).result
    assert after["enabled"] is False and "rollout" not in after  # the plan changed nothing
    same = Set().plan({"connection": "flags", "flag": flag, "enabled": False}, _context(ctx_settings))
    assert same.verdict is Verdict.NO_CHANGE


def test_unleash_errors_are_clear_and_never_show_the_token(unleash: UnleashServer, flag: str) -> None:
    with pytest.raises(ActionError, match="not found in Unleash project 'default'"):
        Set().run(
            {"connection": "flags", "flag": "no.such.flag", "enabled": True}, _context(_unleash_settings(unleash))
        )
    bad_token = "*:*.0000secret0000"
    with pytest.raises(ActionError) as caught:
        Set().run(
            {"connection": "flags", "flag": flag, "enabled": True}, _context(_unleash_settings(unleash, bad_token))
        )
    assert "refused the token" in str(caught.value) and caught.value.hint
    assert "secret" not in str(caught.value) + caught.value.hint
    plan = Set().plan(
        {"connection": "flags", "flag": flag, "enabled": True}, _context(_unleash_settings(unleash, bad_token))
    )
    assert plan.verdict is Verdict.CANNOT_CHECK
    with pytest.raises(ActionError, match="`variant` does not apply to unleash flags"):
        Set().run({"connection": "flags", "flag": flag, "variant": "blue"}, _context(_unleash_settings(unleash)))


# -- flagd --------------------------------------------------------------------------------------------------
FLAGD = """{
    "$schema": "https://flagd.dev/schema/v0/flags.json",
    "flags": {
        "new-checkout": {
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": "on",
            "targeting": {"if": [{"in": ["@example.com", {"var": "email"}]}, "on", "off"]}
        },
        "banner-colour": {
            "state"  :  "ENABLED",
            "variants": {
                "red": "#c00",
                "blue": "#00c"
            },
            "defaultVariant": "red"
        }
    },
    "metadata": {"owner": "team-checkout", "note": "ünïcode stays"}
}
"""


@pytest.fixture
def flagd_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags" / "flagd.json"
    path.parent.mkdir()
    path.write_text(FLAGD, encoding="utf-8")
    path.chmod(0o640)
    return path


def _flagd(path: Path) -> dict[str, dict[str, Any]]:
    return {"flagd": {"type": "flagd", "path": str(path)}}


def test_flagd_disable_changes_only_that_value(flagd_file: Path) -> None:
    inode = flagd_file.stat().st_ino
    outcome = Set().run({"connection": "flagd", "flag": "new-checkout", "enabled": False}, _context(_flagd(flagd_file)))
    assert outcome.result["previous"] == {"enabled": True, "variant": "on"}
    assert outcome.result["current"] == {"enabled": False, "variant": "on"}
    expected = FLAGD.replace(
        '"state": "ENABLED",\n            "variants": {"on"', '"state": "DISABLED",\n            "variants": {"on"'
    )
    assert expected != FLAGD
    assert flagd_file.read_text(encoding="utf-8") == expected
    # atomic replace: a new inode, same mode, no temp file left behind
    assert flagd_file.stat().st_ino != inode
    assert stat.S_IMODE(flagd_file.stat().st_mode) == 0o640
    assert os.listdir(flagd_file.parent) == ["flagd.json"]


def test_flagd_default_variant_and_revert(flagd_file: Path) -> None:
    params = {"connection": "flagd", "flag": "banner-colour", "variant": "blue"}
    outcome = Set().run(params, _context(_flagd(flagd_file)))
    text = flagd_file.read_text(encoding="utf-8")
    assert text == FLAGD.replace('"defaultVariant": "red"', '"defaultVariant": "blue"')
    assert '"state"  :  "ENABLED"' in text  # odd spacing elsewhere in the same flag survives
    undo = revert_params(params, outcome.result)
    assert undo == {"connection": "flagd", "flag": "banner-colour", "variant": "red"}
    Set().run(undo, _context(_flagd(flagd_file)))
    assert flagd_file.read_text(encoding="utf-8") == FLAGD


def test_flagd_rejects_unknown_variant_and_flag_without_writing(flagd_file: Path) -> None:
    with pytest.raises(ActionError, match="no variant 'green'") as caught:
        Set().run({"connection": "flagd", "flag": "banner-colour", "variant": "green"}, _context(_flagd(flagd_file)))
    assert caught.value.hint == "variants: blue, red"
    with pytest.raises(ActionError, match="flag 'nope' not found") as caught:
        Set().run({"connection": "flagd", "flag": "nope", "enabled": True}, _context(_flagd(flagd_file)))
    assert caught.value.hint == "flags defined: banner-colour, new-checkout"
    with pytest.raises(ActionError, match="`rollout` does not apply to flagd flags"):
        Set().run({"connection": "flagd", "flag": "nope", "rollout": 5}, _context(_flagd(flagd_file)))
    assert flagd_file.read_text(encoding="utf-8") == FLAGD


def test_flagd_noop_does_not_touch_the_file(flagd_file: Path) -> None:
    before = flagd_file.stat()
    outcome = Set().run({"connection": "flagd", "flag": "new-checkout", "enabled": True}, _context(_flagd(flagd_file)))
    assert not outcome.changed and outcome.skipped_reason
    assert flagd_file.stat().st_ino == before.st_ino and flagd_file.stat().st_mtime_ns == before.st_mtime_ns


def test_flagd_get_and_plan(flagd_file: Path) -> None:
    got = Get().run({"connection": "flagd", "flag": "banner-colour"}, _context(_flagd(flagd_file))).result
    assert got == {"provider": "flagd", "flag": "banner-colour", "enabled": True, "variant": "red"}
    plan = Set().plan(
        {"connection": "flagd", "flag": "banner-colour", "enabled": False, "variant": "blue"},
        _context(_flagd(flagd_file)),
    )
    assert plan.verdict is Verdict.WOULD_CHANGE
    assert plan.details == ("enabled: true → false", "variant: red → blue")
    assert flagd_file.read_text(encoding="utf-8") == FLAGD
    missing = Set().plan(
        {"connection": "flagd", "flag": "x", "enabled": False}, _context(_flagd(flagd_file.parent / "no.json"))
    )
    assert missing.verdict is Verdict.CANNOT_CHECK and "cannot read flagd file" in missing.summary


def test_flagd_inserts_a_missing_state_with_the_file_indentation() -> None:
    text = '{\n  "flags": {\n    "f": {\n      "variants": {"a": 1},\n      "defaultVariant": "a"\n    }\n  }\n}\n'
    edited = set_flag_field(text, "f", "state", "DISABLED")
    assert edited == text.replace('"f": {\n', '"f": {\n      "state": "DISABLED",\n')


_keys = st.text(alphabet="abcdefgh-_é", min_size=1, max_size=8)
_flag_defs = st.fixed_dictionaries(
    {"state": st.sampled_from(["ENABLED", "DISABLED"]), "variants": st.dictionaries(_keys, st.booleans(), min_size=1)}
)


@settings(max_examples=60, deadline=None)
@given(
    flags=st.dictionaries(_keys, _flag_defs, min_size=1, max_size=5),
    indent=st.sampled_from([None, 1, 2, 4, "\t"]),
    data=st.data(),
)
def test_set_flag_field_changes_exactly_one_value(
    flags: dict[str, Any], indent: int | str | None, data: st.DataObject
) -> None:
    text = json.dumps({"flags": flags, "extra": [1, 2]}, indent=indent, ensure_ascii=False)
    target = data.draw(st.sampled_from(sorted(flags)))
    new_state = data.draw(st.sampled_from(["ENABLED", "DISABLED"]))
    edited = set_flag_field(text, target, "state", new_state)
    expected = json.loads(text)
    expected["flags"][target]["state"] = new_state
    assert json.loads(edited) == expected
    # Outside the one value, the bytes are identical: putting the old literal back gives the original.
    old_literal, new_literal = json.dumps(flags[target]["state"]), json.dumps(new_state)
    if old_literal == new_literal:
        assert edited == text
        return
    first_diff = next(i for i, (a, b) in enumerate(zip(text, edited, strict=False)) if a != b)
    start = first_diff - 1  # "ENABLED" and "DISABLED" differ right after the opening quote
    assert edited[:start] + old_literal + edited[start + len(new_literal) :] == text


def test_schema_agrees_with_the_actions() -> None:
    assert isinstance(get_action("flags.set"), Set) and isinstance(get_action("flags.get"), Get)
    assert check_params_now("flags.set", {"connection": "f", "flag": "x", "enabled": False}) == []
    assert check_params_now("flags.set", {"connection": "f", "flag": "x", "rollout": 10, "environment": "prod"}) == []
    assert check_params_now("flags.set", {"connection": "f", "flag": "x"})  # nothing to set
    assert check_params_now("flags.set", {"connection": "f", "flag": "x", "rollout": 101})
    assert check_params_now("flags.get", {"connection": "f", "flag": "x"}) == []
    assert check_params_now("flags.get", {"connection": "f", "flag": "x", "enabled": True})


# -- the runbook, end to end through the CLI ----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
FIRELINE = REPO / ".venv" / "bin" / "fireline"


class FlaggedApp:
    """An 'application' that polls Unleash's client API like an SDK and errors while the flag is on."""

    def __init__(self, unleash: UnleashServer, flag: str, exporter: MetricsExporter) -> None:
        self.unleash, self.flag, self.exporter = unleash, flag, exporter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            feature = _client_view(self.unleash, self.flag)
            self.exporter.set("checkout_error_ratio", 0.3 if feature and feature["enabled"] else 0.0)

    def __enter__(self) -> FlaggedApp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.skipif(not FIRELINE.exists(), reason="the fireline CLI is not installed in .venv")
def test_disable_feature_flag_runbook_end_to_end(unleash: UnleashServer, flag: str, tmp_path: Path) -> None:
    Set().run({"connection": "flags", "flag": flag, "enabled": True}, _context(_unleash_settings(unleash)))
    _client_sees(unleash, flag, enabled=True)
    with (
        MetricsExporter() as exporter,
        start_prometheus(tmp_path, [exporter.target]) as prometheus,
        FlaggedApp(unleash, flag, exporter),
    ):
        prometheus.wait_for_targets_up()
        wait_for(lambda: prometheus.query("checkout_error_ratio > 0.2"), "errors while the flag is on", 15, every=0.1)
        env = {**os.environ, "FIRELINE_HOME": str(tmp_path / "home"), "UNLEASH_ADMIN_TOKEN": unleash.admin_token}
        inputs = {
            "flag": flag,
            "unleash_url": unleash.url,
            "environment": "development",
            "prometheus_url": prometheus.url,
            "error_rate_query": "checkout_error_ratio",
            "threshold": "0.05",
            "recovery_timeout": "30s",
            "poll_interval": "500ms",
        }
        argv = [
            str(FIRELINE),
            "run",
            str(REPO / "runbooks" / "disable-feature-flag.yaml"),
            "--output",
            "plain",
            "--approve-all",
            "--reason",
            "test",
            *(arg for k, v in inputs.items() for arg in ("-i", f"{k}={v}")),
        ]
        ran = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "enabled: true → false" in output
    assert unleash.admin_token not in output
    _client_sees(unleash, flag, enabled=False)
