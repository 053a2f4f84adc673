"""`fireline runbook new --type KIND NAME`: each kind's skeleton validates and plans against the lab (its reads run
for real, its fixes stay behind approvals and change nothing); the name is checked before anything is written, and
an existing file is kept unless --force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write
from tests.gameday.conftest import NAMESPACE, CliRunner, Lab, lab, lab_endpoints

__all__ = ["lab", "lab_endpoints"]  # the game days' lab, shared with this module
KINDS = ("availability", "performance", "security", "database", "deploy")
# The lab's service, as each kind's inputs name it (PRIMARY_DSN and KUBECONFIG come from the lab's environment).
DEPLOYMENT = "checkout"


def lab_inputs(kind: str, lab: Lab) -> list[str]:
    inputs = {
        "availability": {"deployment": DEPLOYMENT, "namespace": NAMESPACE, "service_url": lab.service_url},
        "performance": {"deployment": DEPLOYMENT, "namespace": NAMESPACE, "service_url": lab.service_url},
        "security": {"deployment": DEPLOYMENT, "namespace": NAMESPACE},
        "database": {},
        "deploy": {"deployment": DEPLOYMENT, "namespace": NAMESPACE, "detect_timeout": "20s"},
    }[kind]
    return [arg for name, value in inputs.items() for arg in ("-i", f"{name}={value}")]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_validates_and_plans_against_the_lab(kind: str, cli: CliRunner, lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "runbooks" / f"my-{kind}.yaml"
    made = cli("runbook", "new", "--type", kind, f"my-{kind}", "-o", str(path))
    assert made.code == 0, made.err
    assert f"wrote {path}" in made.out

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta = doc["metadata"]
    assert meta["name"] == f"my-{kind}" and meta["symptoms"] and meta["investigation"] and meta["prevention"]
    steps = doc["steps"]
    assert steps[0]["action"] == "notify.status_update" and steps[-1]["action"] == "notify.status_update"
    assert any(s.get("approval", {}).get("required") for s in steps), "a quick fix behind an approval"

    valid = cli("validate", str(path))
    assert valid.code == 0, valid.out + valid.err

    plan = cli("plan", str(path), *lab_inputs(kind, lab), "--output", "json")
    assert plan.code == 0, plan.out + plan.err
    result: dict[str, Any] = plan.json()
    assert result["status"] == "planned", result
    verdicts = {s["id"]: s.get("verdict") for s in result["steps"]}
    # The investigation really ran against the lab (a read that waits for a change is left to the run); every fix
    # behind an approval only said what it would do (the lab fixture checks that nothing changed).
    approved = [s["id"] for s in steps if s.get("approval", {}).get("required")]
    reads = [s["id"] for s in steps if s["id"] not in approved and s["action"].split(".")[0] in
             ("http", "postgres", "kubernetes")]
    assert [r for r in reads if verdicts.get(r) == "read"], verdicts
    assert all(verdicts.get(r) in ("read", "depends-on-change") for r in reads), verdicts
    assert all(verdicts.get(a) in ("would-change", "no-change", "depends-on-change") for a in approved), verdicts


@pytest.mark.parametrize("name", ["../evil", "a/b", "Upper", "-dash", "dash-", "", "a" * 64, "x.yaml", "a b",
                                  "name\n- evil: 1"])
def test_a_bad_name_is_a_usage_error_and_writes_nothing(name: str, cli: CliRunner, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("runbook", "new", "--type", "database", "--", name)
    assert result.code == 2, result.out + result.err
    assert "is not a runbook name" in result.err and "Traceback" not in result.err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_unless_force(cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mine = write(tmp_path / "runbooks" / "db-full.yaml", "people wrote this\n")
    refused = cli("runbook", "new", "--type", "database", "db-full")
    assert refused.code == 2 and "exists" in refused.err
    assert mine.read_text(encoding="utf-8") == "people wrote this\n"
    replaced = cli("runbook", "new", "--type", "database", "db-full", "--force")
    assert replaced.code == 0 and "replaced runbooks/db-full.yaml" in replaced.out
    assert yaml.safe_load(mine.read_text(encoding="utf-8"))["metadata"]["name"] == "db-full"
    assert cli("validate", str(mine)).code == 0


def test_an_unknown_type_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("runbook", "new", "--type", "network", "x", "-o", str(tmp_path / "x.yaml"))
    assert result.code == 2
    assert not (tmp_path / "x.yaml").exists()
