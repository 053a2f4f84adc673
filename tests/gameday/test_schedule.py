"""The CronJob manifest for unattended game days."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.errors import UsageError
from runner.gameday.schedule import cronjob_manifest, to_yaml


def test_cronjob_manifest() -> None:
    m = cronjob_manifest(Path("scenarios/checkout-db-exhaustion.yaml"), name="checkout-db-exhaustion",
                         schedule="0 14 * * 3", namespace="chaos")
    assert (m["apiVersion"], m["kind"]) == ("batch/v1", "CronJob")
    assert m["metadata"] == {"name": "checkout-db-exhaustion", "namespace": "chaos", "labels": {
        "app.kubernetes.io/name": "fireline", "app.kubernetes.io/component": "gameday",
        "fireline.dev/scenario": "checkout-db-exhaustion"}}
    spec = m["spec"]
    assert spec["schedule"] == "0 14 * * 3" and spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "fireline"
    assert job["template"]["metadata"]["labels"]["fireline.dev/scenario"] == "checkout-db-exhaustion"
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/fireline/fireline:latest"
    assert container["args"] == ["gameday", "run", "/opt/fireline/scenarios/checkout-db-exhaustion.yaml"]
    assert {"name": "FIRELINE_HOME", "value": "/var/lib/fireline"} in container["env"]
    assert yaml.safe_load(to_yaml(m)) == m


def test_overrides() -> None:
    m = cronjob_manifest(Path("/home/me/drills/x.yaml"), name="x", schedule="*/30  9-17 * * MON-FRI",
                         image="registry.local/fireline:1.2", service_account="chaos-runner",
                         scenario_in_image="/scenarios/x.yaml")
    pod = m["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["gameday", "run", "/scenarios/x.yaml"]
    assert pod["containers"][0]["image"] == "registry.local/fireline:1.2"
    assert pod["serviceAccountName"] == "chaos-runner"
    assert m["spec"]["schedule"] == "*/30 9-17 * * MON-FRI"
    default = cronjob_manifest(Path("/home/me/drills/x.yaml"), name="x", schedule="@daily")
    assert default["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][2] == \
        "/opt/fireline/scenarios/x.yaml"


@pytest.mark.parametrize("schedule", ["0 14 * *", "0 0 14 * * 3", "", "every day", "0 14 * * 3;rm"])
def test_invalid_cron_is_a_usage_error(schedule: str) -> None:
    with pytest.raises(UsageError) as err:
        cronjob_manifest(Path("s.yaml"), name="s", schedule=schedule)
    assert err.value.hint and "5 fields" in err.value.hint


def test_invalid_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot name a CronJob"):
        cronjob_manifest(Path("s.yaml"), name="Checkout_DB", schedule="0 14 * * 3")
