"""Pod logs (`GET /api/v1/namespaces/NS/pods/NAME/log`), so `kubectl logs` works against the lab.

A pod's log is what its container would have written: a start-up line when it was created, a ready line (or,
for a crashing image, the error it dies of), and the requests the demo service answered on behalf of the
deployment. The demo service reports each request to the lab (`POST /lab/v1/namespaces/NS/deployments/NAME/
requests`, the same way it reads its deployment's status); the lab writes the line into the log of one
ready pod of that deployment, in turn, as a Service would spread requests. Lines are kept in memory (the
last MAX_LINES per pod), like a node's container log before rotation.

Query parameters are the ones kubectl sends: container, tailLines, sinceSeconds, sinceTime, timestamps,
limitBytes (follow and previous answer with what there is).
"""

from __future__ import annotations

import collections
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import bad_request
from .objects import Obj, controller_uid, parse_iso, pod_ready

MAX_LINES = 2000
_LEVEL_WIDTH = 5


def _stamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet prefixes lines with `timestamps=true`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class PodLogs:
    """Request lines per pod uid, and a cursor per deployment that spreads requests over its pods."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: dict[str, collections.deque[tuple[datetime, str]]] = {}
        self._turn: dict[tuple[str, str], int] = {}

    def record(self, pods: list[Obj], deployment: tuple[str, str], lines: list[str]) -> int:
        """Write `lines` into the logs of `pods` (the deployment's ready pods), one pod per request."""
        if not pods:
            return 0
        with self._lock:
            for line in lines:
                turn = self._turn.get(deployment, 0)
                self._turn[deployment] = turn + 1
                uid = pods[turn % len(pods)]["metadata"]["uid"]
                log = self._lines.setdefault(uid, collections.deque(maxlen=MAX_LINES))
                log.append((datetime.now(UTC), line[:4096]))
        return len(lines)

    def read(self, pod: Obj, query: dict[str, str]) -> str:
        container = _container(pod, query.get("container"))
        entries = _lifecycle(pod, container) + self._requests(pod)
        entries.sort(key=lambda entry: entry[0])
        since = _since(query)
        if since is not None:
            entries = [entry for entry in entries if entry[0] >= since]
        tail = _int(query, "tailLines")
        if tail is not None:
            entries = entries[-tail:] if tail > 0 else []
        with_stamps = query.get("timestamps") in ("true", "1")
        text = "".join(f"{_stamp(at) + ' ' if with_stamps else ''}{line}\n" for at, line in entries)
        limit = _int(query, "limitBytes")
        return text.encode()[:limit].decode(errors="ignore") if limit is not None else text

    def _requests(self, pod: Obj) -> list[tuple[datetime, str]]:
        with self._lock:
            return list(self._lines.get(pod["metadata"].get("uid", ""), ()))


def ready_pods(pods: list[Obj], replicasets: list[Obj], deployment: Obj) -> list[Obj]:
    """The deployment's ready pods (those of its ReplicaSets, as its controller counts them): the ones a
    Service sends requests to."""
    uid = deployment["metadata"]["uid"]
    owned = {rs["metadata"]["uid"] for rs in replicasets if controller_uid(rs) == uid}
    return [
        pod
        for pod in pods
        if controller_uid(pod) in owned and not pod["metadata"].get("deletionTimestamp") and pod_ready(pod)
    ]


def _container(pod: Obj, wanted: str | None) -> Obj:
    containers = (pod.get("spec") or {}).get("containers") or []
    name = pod["metadata"]["name"]
    if wanted:
        for container in containers:
            if container.get("name") == wanted:
                return dict(container)
        raise bad_request(f"container {wanted} is not valid for pod {name}")
    if len(containers) != 1:
        names = " ".join(str(c.get("name")) for c in containers)
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{names}]")
    return dict(containers[0])


def _lifecycle(pod: Obj, container: Obj) -> list[tuple[datetime, str]]:
    """What the container wrote about itself: start-up, then ready or the error it crashed with."""
    created = parse_iso(pod["metadata"].get("creationTimestamp")) or datetime.now(UTC)
    image = str(container.get("image", ""))
    ports = ", ".join(f":{p.get('containerPort')}" for p in container.get("ports") or []) or "no ports"
    out = [(created, line("INFO", f"starting {container.get('name')} ({image})", created))]
    status = pod.get("status") or {}
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    own = statuses.get(container.get("name"), {})
    waiting = (own.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") == "CrashLoopBackOff" or image.endswith("-broken"):
        failed = created + timedelta(seconds=1)
        out.append((failed, line("ERROR", f"fatal: cannot start {image}: exit status 1", failed)))
    elif own.get("ready"):
        ready: Obj = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        at = parse_iso(ready.get("lastTransitionTime")) or created
        out.append((at, line("INFO", f"ready, listening on {ports}", at)))
    return out


def line(level: str, message: str, at: datetime | None = None) -> str:
    """One log line as the demo service and the lab's containers write it."""
    return f"{_stamp(at or datetime.now(UTC))[:23]}Z {level:<{_LEVEL_WIDTH}} {message}"


def _since(query: dict[str, str]) -> datetime | None:
    seconds = _int(query, "sinceSeconds")
    if seconds is not None:
        return datetime.now(UTC) - timedelta(seconds=seconds)
    if query.get("sinceTime"):
        moment = _parse_time(query["sinceTime"])
        if moment is None:
            raise bad_request(f"invalid sinceTime: {query['sinceTime']}")
        return moment
    return None


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _int(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}: invalid value {raw!r}: must be an integer") from None
    if value < 0:
        raise bad_request(f"{name}: Invalid value: {value}: must be greater than or equal to 0")
    return value


def report_body(body: Any) -> list[str]:
    """The lines of a request report: {"lines": ["...", ...]}."""
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list) or not all(isinstance(item, str) for item in lines):
        raise bad_request('a request report is {"lines": ["...", ...]}')
    return lines[:1000]
