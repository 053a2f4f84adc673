"""The policy file: found by --policy, $FIRELINE_POLICY or in the current directory; validated like a runbook."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.document.diagnostics import DocumentInvalid
from runner.errors import UsageError
from runner.identity.trust import load_trust
from runner.policy import current_policy, load_policy
from tests.conftest import write


def test_a_policy_names_the_allowed_signers_relative_to_itself_and_groups(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path / "incident-policy.yaml", """\
apiVersion: fireline/v1
kind: IncidentPolicy
allowed_signers: keys/allowed_signers
groups:
  db-oncall: [oncall-1, oncall-2]
"""))
    assert policy.allowed_signers == tmp_path / "keys" / "allowed_signers"
    assert policy.groups == {"db-oncall": ("oncall-1", "oncall-2")}


def test_every_problem_of_a_policy_is_reported_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path / "incident-policy.yaml", """\
allowed_signer: x
groups:
  db-oncall: oncall-1
""")
    with pytest.raises(DocumentInvalid) as caught:
        load_policy(path)
    text = str(caught.value)
    assert f"{path}:1:1" in text and "allowed_signer" in text
    assert f"{path}:3:14" in text and "groups.db-oncall" in text


def test_the_policy_is_found_in_the_current_directory_or_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FIRELINE_POLICY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert current_policy() is None
    write(tmp_path / "incident-policy.yaml", "groups: {sre: [alice]}\n")
    found = current_policy()
    assert found is not None and found.groups == {"sre": ("alice",)}
    monkeypatch.setenv("FIRELINE_POLICY", str(tmp_path / "missing.yaml"))
    with pytest.raises(UsageError, match="FIRELINE_POLICY"):
        current_policy()
    with pytest.raises(UsageError, match="--policy"):
        current_policy(str(tmp_path / "other.yaml"))


def test_a_configured_allowed_signers_file_that_is_missing_fails_closed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FIRELINE_ALLOWED_SIGNERS", raising=False)
    monkeypatch.setenv("FIRELINE_POLICY", str(write(tmp_path / "p.yaml", "allowed_signers: nowhere\n")))
    with pytest.raises(UsageError, match="does not exist"):
        load_trust()
    monkeypatch.setenv("FIRELINE_ALLOWED_SIGNERS", " ")
    with pytest.raises(UsageError, match="empty"):
        load_trust()


def test_validate_counts_a_policy_group_by_its_members(tmp_path: Path, monkeypatch, cli) -> None:
    runbook = write(tmp_path / "rb.yaml", """\
apiVersion: fireline/v1
kind: Runbook
metadata: {name: grouped}
steps:
  - id: change
    action: shell.run
    approval: {min_approvers: 2, approvers: [db-oncall]}
    with: {argv: ["true"]}
""")
    monkeypatch.delenv("FIRELINE_POLICY", raising=False)
    monkeypatch.chdir(tmp_path)
    alone = cli("validate", str(runbook))
    assert alone.code == 1 and "needs 2 approvers but only 1 are allowed" in alone.out + alone.err
    write(tmp_path / "incident-policy.yaml", "groups:\n  db-oncall: [oncall-1, oncall-2]\n")
    assert cli("validate", str(runbook)).code == 0


def test_fireline_validate_checks_a_policy_file(tmp_path: Path, cli) -> None:
    good = write(tmp_path / "team" / "incident-policy.yaml", "allowed_signers: allowed_signers\n")
    assert cli("validate", str(good.parent)).code == 0
    write(tmp_path / "other" / "policy.yaml", "kind: IncidentPolicy\ngroups: {sre: alice}\n")
    bad = cli("validate", str(tmp_path / "other"))
    assert bad.code == 1 and "policy.yaml:2:" in bad.out + bad.err and "groups.sre" in bad.out + bad.err


def test_the_built_in_severity_levels_are_policy_data_the_schema_accepts() -> None:
    from runner.policy import DEFAULT_FILE, policy_in_force

    assert load_policy(DEFAULT_FILE).severities == policy_in_force().severities  # validated like any policy
    levels = policy_in_force().severities
    assert list(levels) == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert [level.update_cadence_s for level in levels.values()] == [900, 1800, 7200, None]
    assert levels["SEV2"].response_target == "15m" and levels["SEV1"].roles == ("commander", "tech-lead", "comms",
                                                                                   "scribe")  # fmt: skip


def test_a_bad_severity_level_is_reported_with_its_position(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path / "incident-policy.yaml", """\
severities:
  SEV1:
    title: critical
    definition: x
    response_target: now
    update_cadence: often
    roles: [boss]
    channels: []
    criteria: [{why: x, when: {moon: full}}]
  SEV5: {}
""")
    with pytest.raises(DocumentInvalid) as caught:
        load_policy(path)
    text = str(caught.value)
    assert f"{path}:6:21" in text and "severities.SEV1.update_cadence" in text
    assert "severities.SEV1.roles[0]" in text and "moon" in text and "SEV5" in text


def test_each_missing_field_of_a_level_is_named_once(tmp_path: Path) -> None:
    path = write(tmp_path / "incident-policy.yaml", "severities:\n  SEV3: {title: medium}\n")
    with pytest.raises(DocumentInvalid) as caught:
        load_policy(path)
    named = sorted(d.message for d in caught.value.diagnostics)
    fields = ("channels", "criteria", "definition", "response_target", "roles", "update_cadence")
    assert named == [f"missing required field {field!r}" for field in fields]
