"""What `kubernetes.top` and `kubernetes.logs` compute from what the API server sends, as pure functions:
Kubernetes quantities, label selectors as text, pod usage rows and totals, and matching log lines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runner import kubevalues, patterns
from runner.errors import ActionError
from runner.patterns import CompiledPattern, PatternError

Obj = dict[str, Any]


def quantity(text: Any) -> float:
    """A Kubernetes quantity (`250m`, `25000000n`, `128Mi`, `1.5`) as a number: cores, or bytes."""
    value = kubevalues.quantity(text)
    if value is None:
        raise ActionError(f"the Metrics API sent a quantity fireline cannot read: {str(text)[:40]!r}")
    return value


def pod_rows(items: Iterable[Obj]) -> list[Obj]:
    """One row per pod of a PodMetricsList: CPU in millicores, memory in bytes, summed over its containers."""
    rows = []
    for item in items:
        cpu = memory = 0.0
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            cpu += quantity(usage.get("cpu", "0"))
            memory += quantity(usage.get("memory", "0"))
        name = str((item.get("metadata") or {}).get("name", ""))
        rows.append({"pod": name, "cpu_millicores": round(cpu * 1000), "memory_bytes": round(memory)})
    return sorted(rows, key=lambda row: row["pod"])


def totals(rows: list[Obj]) -> tuple[Obj, Obj]:
    """(sum, max) of CPU and memory over the rows (zeros when there are none)."""
    fields = ("cpu_millicores", "memory_bytes")
    total = {field: sum(int(row[field]) for row in rows) for field in fields}
    peak = {field: max((int(row[field]) for row in rows), default=0) for field in fields}
    return total, peak


def mebibytes(size: int) -> str:
    return f"{size / 2**20:.0f}Mi"


def compile_pattern(pattern: str | None) -> CompiledPattern | None:
    if pattern is None or pattern == "":
        return None
    try:
        return patterns.compile_pattern(pattern)
    except PatternError as exc:
        raise ActionError(f"pattern {exc}", hint=exc.hint) from None


# A log line is matched on its first characters only: a pattern's work stays bounded on huge lines.
MATCHED_PREFIX = 4096


def matching(pod: str, text: str, pattern: CompiledPattern | None) -> list[Obj]:
    """The lines of one pod's log that the pattern finds (every line without a pattern)."""
    lines = text.splitlines()
    if pattern is not None:
        lines = [line for line in lines if pattern.search(line[:MATCHED_PREFIX])]
    return [{"pod": pod, "line": line} for line in lines]
