"""`--assess`: the policy's criteria pick the severity and say why; unsure between two, the higher one."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.incident.assess import assess
from runner.incident.model import Severity
from runner.policy import load_policy, policy_in_force
from tests.conftest import write


@pytest.mark.parametrize(
    ("criteria", "severity", "reason"),
    [
        (["systems_down=all"], Severity.SEV1, "complete outage"),
        (["data_loss=yes", "users_affected=1"], Severity.SEV1, "data was lost or corrupted"),
        (["security=yes"], Severity.SEV1, "security is breached"),
        (["revenue_impact=high"], Severity.SEV1, "revenue impact is high"),
        (["systems_down=checkout,payments"], Severity.SEV2, "a system is down"),
        (["users_affected=5000", "workaround=no"], Severity.SEV2, "no workaround"),
        (["users_affected=20", "workaround=yes"], Severity.SEV3, "a workaround exists"),
        (["users_affected=1", "workaround=yes"], Severity.SEV4, "at most one user"),
        (["revenue_impact=none", "users_affected=0"], Severity.SEV4, "no revenue impact"),
    ],
)
def test_the_criteria_decide_and_say_why(criteria: list[str], severity: Severity, reason: str) -> None:
    result = assess(policy_in_force(), criteria)
    assert result.severity is severity
    assert any(reason in line for line in result.why), result.why
    assert result.record()["criteria"] == dict(c.split("=") for c in criteria)


def test_unsure_between_two_takes_the_higher_and_says_what_is_missing() -> None:
    result = assess(policy_in_force(), ["users_affected=20"])  # SEV2 without a workaround, SEV3 with one
    assert result.severity is Severity.SEV2
    assert "unsure between SEV2 and SEV3 (workaround not given): the higher one is taken" in result.why


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "at least one"),
        (["users_affected"], "KEY=VALUE"),
        (["=5"], "KEY=VALUE"),
        (["users_affected=lots"], "whole number"),
        (["users_affected=" + "9" * 40], "whole number"),
        (["users_affected=1", "users_affected=2"], "given twice"),
        (["data_loss=maybe"], "yes or no"),
        (["revenue_impact=huge"], "one of high, medium, low, none"),
        (["systems_down=a b"], "systems_down is all, none"),
        (["systems_down=" + ",".join(["x"] * 3) + ",;rm"], "systems_down is all, none"),
        (["ssh_keys=yes"], "unknown criterion"),
        (["data_loss=no"], "no severity criterion applies"),
    ],
)
def test_hostile_criteria_are_usage_errors(criteria: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        assess(policy_in_force(), criteria)


def test_a_teams_policy_replaces_a_level_and_its_criteria(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path / "incident-policy.yaml", """\
severities:
  SEV1:
    title: critical
    definition: Anything that loses money.
    response_target: immediately
    update_cadence: 10m
    roles: [commander]
    channels: [war-room]
    criteria:
      - {why: more than 1000 users, when: {users_affected: {min: 1001}}}
"""))
    assert assess(policy, ["users_affected=2000"]).severity is Severity.SEV1
    assert assess(policy, ["security=yes", "users_affected=3", "workaround=yes"]).severity is Severity.SEV3
    assert policy.severities["SEV1"].update_cadence_s == 600 and policy.severities["SEV2"].update_cadence_s == 1800
