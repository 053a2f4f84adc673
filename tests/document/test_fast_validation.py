"""Validation's fast path: a valid runbook is checked by compiled validators kept in the user's cache
directory, without loading jsonschema (only needed to explain an error); a damaged cache is rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.document.schemas import template_tolerant
from tests.command import FIRELINE

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((REPO / "runbooks").glob("*.yaml"))
HEAVY = ("jsonschema", "rich", "kubernetes", "psycopg", "fabric", "paramiko", "aiohttp", "fpdf", "aiosmtpd")

_PROBE = (
    "import sys\nfrom runner.cli import main\ncode = main(sys.argv[1:])\n"
    "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[0].split(','))))\n"
    "sys.exit(code)\n"
)


def _validate_in_fresh_process(paths: list[Path], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = ["-c", _PROBE.replace("sys.argv[0]", repr(",".join(HEAVY)))]
    return subprocess.run([sys.executable, *probe, "validate", *map(str, paths)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def _code_files(cache: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((cache / "fireline" / "schemas").glob("*.code"))}


def test_valid_shipped_runbooks_load_no_heavy_module(tmp_path: Path) -> None:
    """Their templated parameters (an enum, a duration, a number written as `{{ inputs.x }}`) used to fail
    the compiled check and load jsonschema just to find there was nothing to report."""
    for runbook in RUNBOOKS:
        done = _validate_in_fresh_process([runbook], tmp_path / "cache")
        assert done.returncode == 0, done.stderr
        assert "all valid" in done.stdout
        assert "LOADED []" in done.stdout, (runbook.name, done.stdout)


def test_a_policy_with_channels_and_intake_and_a_post_mortem_load_no_heavy_module(tmp_path: Path) -> None:
    """Checking the files of incidents loads neither the intake's HTTP server, the SMTP library nor the PDF
    writer (nor jsonschema, while they are valid)."""
    policy = tmp_path / "incident-policy.yaml"
    policy.write_text(
        "apiVersion: fireline/v1\nkind: IncidentPolicy\n"
        "secrets: {SLACK_URL: {from: env, name: SLACK_URL}, KEY: {from: env, name: SP_KEY}}\n"
        "channels:\n"
        "  incidents: {type: slack, url: {secret: SLACK_URL}}\n"
        "  status-page: {type: statuspage, page: p1, api_key: {secret: KEY}, components: {checkout: c1}}\n"
        "  leadership: {type: email, host: smtp.example.com, port: 587, from: a@example.com, to: [b@example.com]}\n"
        "  audit: {type: webhook, url: 'https://audit.example.com/x'}\n"
        "intake: {severity_label: severity, default_severity: SEV3}\n"
        "verification:\n"
        "  SEV1: {hold: 1m, checks: [{name: ok, manual: Support sees no new tickets}]}\n",
        encoding="utf-8",
    )
    postmortem = tmp_path / "INC-2026-001.yaml"
    postmortem.write_text("apiVersion: fireline/v1\nkind: PostMortem\nincident: INC-2026-001\ntitle: Checkout 503\n"
                          "status: draft\n", encoding="utf-8")  # fmt: skip
    done = _validate_in_fresh_process([policy, postmortem], tmp_path / "cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all valid" in done.stdout and "LOADED []" in done.stdout, done.stdout


def test_an_invalid_value_is_still_explained(tmp_path: Path) -> None:
    runbook = tmp_path / "bad.yaml"
    runbook.write_text(
        "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: bad}\n"
        "connections: {db: {type: postgres, dsn: 'postgresql://x@127.0.0.1/x'}}\n"
        "inputs: {mode: {type: string, default: cancel}}\n"
        "steps:\n"
        "  - id: templated\n    action: postgres.terminate_backends\n    read_only: false\n"
        "    with: {connection: db, state: '{{ inputs.mode }}', idle_for: '{{ inputs.mode }}'}\n"
        "  - id: wrong\n    action: postgres.terminate_backends\n    read_only: false\n"
        "    with: {connection: db, state: sleeping, idle_for: 10m}\n",
        encoding="utf-8",
    )
    done = subprocess.run([*FIRELINE, "validate", str(runbook)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "'sleeping' is not one of" in out
    assert "templated" not in out  # the templated values are only checkable once rendered


def test_compiled_validators_are_kept_and_reused_without_python_bytecode(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _validate_in_fresh_process(RUNBOOKS[:1], cache).returncode == 0
    first = _code_files(cache)
    assert first, "no compiled validator was kept"
    stamps = {p: p.stat().st_mtime_ns for p in (cache / "fireline" / "schemas").glob("*.code")}
    assert _validate_in_fresh_process(RUNBOOKS[:1], cache).returncode == 0
    assert _code_files(cache) == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # read back, not written again


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "flipped"])
def test_a_damaged_cache_is_rebuilt_and_the_verdict_is_unchanged(tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: bad}\n"
                   "steps:\n  - id: a\n    action: control.sleep\n    with: {duration: soon}\n", encoding="utf-8")
    assert _validate_in_fresh_process(RUNBOOKS[:1], cache).returncode == 0
    good = _code_files(cache)
    assert good
    for path in (cache / "fireline" / "schemas").glob("*.code"):
        data = path.read_bytes()
        path.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b"",
                          "flipped": data[:-10] + bytes(b ^ 0xFF for b in data[-10:])}[damage])
    done = _validate_in_fresh_process([RUNBOOKS[0], bad], cache)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "expected a duration" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    rebuilt = _code_files(cache)
    assert {name: rebuilt[name] for name in good} == good


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory would go", encoding="utf-8")
    done = _validate_in_fresh_process(RUNBOOKS[:1], cache)
    assert done.returncode == 0, done.stderr
    assert "all valid" in done.stdout


def test_template_tolerance_stays_out_of_alternatives() -> None:
    """Inside anyOf/oneOf/not a template is reported by jsonschema as the whole alternative failing, which
    explain does not drop: relaxing it there would hide an error."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["a", "b"]},
            "either": {"anyOf": [{"type": "integer"}, {"enum": ["x"]}]},
            "listed": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        },
    }
    relaxed = template_tolerant(schema)
    assert relaxed["properties"]["either"] == schema["properties"]["either"]
    assert relaxed["properties"]["mode"]["anyOf"][0] == {"enum": ["a", "b"]}
    assert relaxed["properties"]["listed"]["items"]["anyOf"][0] == {"type": "integer", "minimum": 1}
    assert schema["properties"]["mode"] == {"enum": ["a", "b"]}  # the input is left as it was


def test_a_cached_validator_runs_without_its_library_and_still_refuses(tmp_path: Path) -> None:
    """fastjsonschema (all its code generators) and decimal are loaded only to generate a validator: read back
    from the cache, the validator needs neither, and still tells a bad document from a good one."""
    cache = tmp_path / "cache"
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUNBOOKS[0].read_text(encoding="utf-8").replace("apiVersion: fireline/v1", "apiVersion: 7"),
                   encoding="utf-8")
    probe = ["-c", _PROBE.replace("sys.argv[0]", repr("fastjsonschema,decimal,jsonschema"))]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}

    def validate(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *probe, "validate", str(path)], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=120)

    assert "'fastjsonschema'" in validate(RUNBOOKS[0]).stdout  # the first start generates the validators
    good = validate(RUNBOOKS[0])
    assert good.returncode == 0 and "LOADED []" in good.stdout, good.stdout + good.stderr
    refused = validate(bad)
    assert refused.returncode == 1
    assert "apiVersion" in refused.stdout
    assert "'jsonschema'" in refused.stdout  # only to explain the failure
    assert "'fastjsonschema'" not in refused.stdout


def test_a_changed_action_schema_gets_a_validator_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A built-in action's validator is named in the cache by the schema files and the code that makes it,
    not by the schema's text: editing a schema file must still give a new validator, never the old one."""
    import json
    import shutil

    from runner.actions.declarations import schema_dir
    from runner.document import schemas

    copy = tmp_path / "schemas"
    shutil.copytree(schema_dir(), copy)
    monkeypatch.setattr(schemas, "schema_dir", lambda: copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = (schemas.load_schema, schemas.action_schema, schemas._fast_action, schemas._sources_stamp)

    def fresh() -> None:
        for function in made:
            function.cache_clear()

    fresh()
    try:
        params = {"duration": "5s", "note": "extra"}
        assert not schemas._passes(schemas._fast_action("control.sleep"), params)  # no other parameter
        family = copy / "actions" / "control.json"
        data = json.loads(family.read_text(encoding="utf-8"))
        data["$defs"]["sleep"]["additionalProperties"] = True
        family.write_text(json.dumps(data), encoding="utf-8")
        fresh()
        assert schemas._passes(schemas._fast_action("control.sleep"), params)
    finally:
        fresh()  # the suite's later tests see the real schemas again
