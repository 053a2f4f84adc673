"""A Kubernetes CronJob that runs one scenario's game day unattended.

The Job is never retried (`backoffLimit: 0`) and never overlaps (`concurrencyPolicy: Forbid`): a retried or
doubled game day injects its fault twice. The pod gets a generous grace period because fireline reverts its
faults on SIGTERM, and the revert must be allowed to finish.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from runner.errors import UsageError

IMAGE_ROOT = PurePosixPath("/opt/fireline")  # where the image keeps the repository (scenarios/, runbooks/)
FIRELINE_HOME = "/var/lib/fireline"
STARTING_DEADLINE_S = 600  # a game day that could not start within 10 minutes is skipped, not run late
REVERT_GRACE_S = 300
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?\-]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CRON_HINT = ('use 5 fields: minute hour day-of-month month day-of-week, e.g. "0 14 * * 3" '
              "(Wednesdays 14:00); Kubernetes CronJobs have no seconds field")


def validate_cron(schedule: str) -> str:
    text = " ".join(schedule.split())
    if text in _CRON_MACROS:
        return text
    fields = text.split(" ") if text else []
    if len(fields) != 5:
        raise UsageError(f"the schedule {schedule!r} has {len(fields)} field(s), a cron expression has 5",
                         hint=_CRON_HINT)
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    if bad:
        raise UsageError(f"the schedule {schedule!r} has an invalid field: {bad[0]!r}", hint=_CRON_HINT)
    return text


def _validate_name(name: str) -> None:
    # The Job controller appends an 11-character suffix to the CronJob's name, hence 52, not 63.
    if len(name) > 52 or not _DNS_LABEL.match(name):
        raise UsageError(f"{name!r} cannot name a CronJob",
                         hint="use at most 52 lowercase letters, digits and '-', starting and ending alphanumeric")


def scenario_path_in_image(scenario_path: Path) -> str:
    """The scenario inside the image. A relative path keeps its place in the repository layout, so the
    scenario's relative references (../runbooks/…) still resolve; an absolute one can only keep its name."""
    if scenario_path.is_absolute():
        return str(IMAGE_ROOT / "scenarios" / scenario_path.name)
    return str(IMAGE_ROOT / PurePosixPath(scenario_path.as_posix()))


def cronjob_manifest(scenario_path: Path, *, name: str, schedule: str,
                     image: str = "ghcr.io/fireline/fireline:latest", namespace: str = "default",
                     service_account: str = "fireline", scenario_in_image: str | None = None) -> dict[str, Any]:
    """A batch/v1 CronJob running `fireline gameday run <scenario>` on `schedule`; `name` is the scenario's."""
    _validate_name(name)
    labels = {"app.kubernetes.io/name": "fireline", "app.kubernetes.io/component": "gameday",
              "fireline.dev/scenario": name}
    container = {
        "name": "gameday",
        "image": image,
        "args": ["gameday", "run", scenario_in_image or scenario_path_in_image(scenario_path)],
        "env": [{"name": "FIRELINE_HOME", "value": FIRELINE_HOME}],
        "volumeMounts": [{"name": "fireline-home", "mountPath": FIRELINE_HOME}],
    }
    pod = {
        "serviceAccountName": service_account,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": REVERT_GRACE_S,
        "containers": [container],
        # Writable even on a read-only root filesystem. The journal lives as long as the pod: point
        # FIRELINE_STORE at a shared PostgreSQL to keep game-day history.
        "volumes": [{"name": "fireline-home", "emptyDir": {}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "schedule": validate_cron(schedule),
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_S,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,  # failed game days are the ones people come back to read
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod}},
            },
        },
    }


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, allow_unicode=True)
