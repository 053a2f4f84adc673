"""The one registry of actions and the schemas that describe them agree, both ways."""

from __future__ import annotations

import json

import pytest

from runner.actions.base import BaseAction
from runner.actions.faults import FAULTS, BlastRadius, FaultTraits, Revert, fault_traits
from runner.actions.probes import PROBE_ACTIONS
from runner.actions.registry import BUILTIN, get_action
from runner.document.schemas import load_schema, schema_dir

FAMILIES = sorted({name.partition(".")[0] for name in BUILTIN})


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_action_loads_and_has_a_parameter_schema(name: str) -> None:
    action = get_action(name)
    assert isinstance(action, BaseAction) and action.name == name
    family, _, short = name.partition(".")
    schema = load_schema(f"actions/{family}.json")
    assert short in schema["$defs"], f"{name} has no $defs/{short} in actions/{family}.json"
    dispatched = {
        clause["if"]["properties"]["action"]["const"] for clause in schema["allOf"] if isinstance(clause, dict)
    }
    assert name in dispatched, f"editors would not check {name}'s parameters: no allOf clause"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_schema_entry_is_a_registered_action(family: str) -> None:
    schema = load_schema(f"actions/{family}.json")
    for clause in schema["allOf"]:
        if isinstance(clause, dict):
            assert clause["if"]["properties"]["action"]["const"] in BUILTIN


def test_the_dispatch_index_names_every_family() -> None:
    index = json.loads((schema_dir() / "actions" / "index.json").read_text())
    listed = {clause["then"]["$ref"].removesuffix(".json") for clause in index["allOf"]}
    assert listed == set(FAMILIES)


def test_faults_and_probes_match_the_scenario_schema() -> None:
    gameday = load_schema("gameday.schema.json")
    assert set(gameday["$defs"]["fault"]["properties"]["action"]["enum"]) == set(FAULTS)
    assert set(gameday["$defs"]["probe_body"]["properties"]["probe"]["enum"]) == set(PROBE_ACTIONS)
    fault_only = set(load_schema("faults.json")["$defs"])
    assert fault_only <= set(FAULTS) and all(name in BUILTIN for name in set(FAULTS) - fault_only)


def test_fault_traits_name_only_faults() -> None:
    """A misspelt fault under `x-fireline` in faults.json would silently lose its trait."""
    declared = load_schema("faults.json")["x-fireline"]
    assert set(declared) <= set(FAULTS)
    assert fault_traits("ssh.run").revert is Revert.DECLARED
    assert fault_traits("kubernetes.delete_pods").blast_radius is BlastRadius.PODS
    assert fault_traits("kubernetes.scale") == FaultTraits()
