"""The object store: every object of every resource, a global resourceVersion counter, and the event log
that watchers read from. One re-entrant lock guards all of it (the API handlers and the controller both
take it), so a write and its watch event are always in the same order.

Stored dicts are never mutated in place once committed: writers hand in fresh dicts. That lets the event
log and watchers share them without copying.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .resources import RESOURCES

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects

_LOG_LIMIT = 20_000
STATE_VERSION = 1


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    obj: Obj
    old: Obj | None  # the previous version, so selector-filtered watches can synthesise ADDED/DELETED


class Store:
    def __init__(self, state_file: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self.objects: dict[str, dict[Key, Obj]] = {info.name: {} for info in RESOURCES}
        self._log: list[Event] = []
        self._log_rvs: list[int] = []
        # Every event with rv > log_floor is in the log; older ones are gone (watchers get 410 Expired).
        self.log_floor = 0
        self.closed = False
        self._listeners: list[Callable[[], None]] = []
        self._state_file = state_file
        self._dirty = False
        self._saver: threading.Thread | None = None
        self.fresh = True

    # --- reading ---------------------------------------------------------------------------

    def peek(self, resource: str, namespace: str, name: str) -> Obj | None:
        """The stored dict itself: callers must hold the lock and must not mutate it."""
        return self.objects[resource].get((namespace, name))

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects[resource].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def values(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Stored dicts (not copies) sorted by key, like etcd's key order."""
        with self.lock:
            items = sorted(self.objects[resource].items())
            return [o for (ns, _), o in items if namespace is None or ns == namespace]

    # --- writing (callers hold the lock for multi-step logic; each call is atomic on its own) --------

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def _record(self, event: Event) -> None:
        self._log.append(event)
        self._log_rvs.append(event.rv)
        if len(self._log) > _LOG_LIMIT:
            drop = len(self._log) // 2
            self.log_floor = self._log_rvs[drop - 1]
            del self._log[:drop]
            del self._log_rvs[:drop]
        self._dirty = True
        self.fresh = False
        self.changed.notify_all()
        for listener in self._listeners:
            listener()

    def create(self, resource: str, obj: Obj) -> Obj:
        with self.lock:
            m = obj["metadata"]
            key = (m.get("namespace", ""), m["name"])
            rv = self._next_rv()
            m["resourceVersion"] = str(rv)
            self.objects[resource][key] = obj
            self._record(Event(rv, "ADDED", resource, obj, None))
            return copy.deepcopy(obj)

    def update(self, resource: str, obj: Obj) -> Obj:
        with self.lock:
            m = obj["metadata"]
            key = (m.get("namespace", ""), m["name"])
            old = self.objects[resource].get(key)
            rv = self._next_rv()
            m["resourceVersion"] = str(rv)
            self.objects[resource][key] = obj
            self._record(Event(rv, "MODIFIED", resource, obj, old))
            return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            old = self.objects[resource].pop((namespace, name), None)
            if old is None:
                return None
            rv = self._next_rv()
            # The DELETED event carries the final state with the deletion's resourceVersion.
            final = copy.deepcopy(old)
            final["metadata"]["resourceVersion"] = str(rv)
            self._record(Event(rv, "DELETED", resource, final, old))
            return copy.deepcopy(final)

    # --- watching -------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[], None]) -> None:
        with self.lock:
            self._listeners.append(fn)

    def events_after(self, rv: int) -> list[Event]:
        """Events newer than ``rv``; caller holds the lock."""
        idx = bisect.bisect_right(self._log_rvs, rv)
        return self._log[idx:]

    def wait_for_events(self, rv: int, timeout: float) -> list[Event]:
        with self.lock:
            events = self.events_after(rv)
            if not events and not self.closed:
                self.changed.wait(timeout)
                events = self.events_after(rv)
            return events

    # --- persistence ----------------------------------------------------------------------

    def load(self) -> bool:
        """Load the state file if there is one; returns True when state was loaded."""
        if self._state_file is None or not self._state_file.exists():
            return False
        data = json.loads(self._state_file.read_text())
        with self.lock:
            self.rv = int(data.get("resourceVersion", 0))
            for resource, items in data.get("objects", {}).items():
                if resource not in self.objects:
                    continue
                for obj in items:
                    m = obj["metadata"]
                    self.objects[resource][(m.get("namespace", ""), m["name"])] = obj
            # Watch history does not survive a restart: old resourceVersions get 410 Expired.
            self.log_floor = self.rv
            self.fresh = False
        return True

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_VERSION,
                "resourceVersion": self.rv,
                "objects": {res: [objs[k] for k in sorted(objs)] for res, objs in self.objects.items()},
            }

    def save(self) -> None:
        if self._state_file is None:
            return
        with self.lock:
            text = json.dumps(self.snapshot(), indent=1, sort_keys=True)
            self._dirty = False
        tmp = self._state_file.with_suffix(f".tmp.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(text)
        os.replace(tmp, self._state_file)  # atomic: readers see the old or the new file, never half

    def start_saver(self, interval: float = 0.2) -> None:
        """Debounced persistence: at most one write per ``interval`` while there are changes."""

        def loop() -> None:
            while True:
                with self.lock:
                    if self.closed:
                        return
                    self.changed.wait(interval)
                    dirty, closed = self._dirty, self.closed
                if closed:
                    return
                if dirty:
                    with contextlib.suppress(OSError):
                        self.save()
                    time.sleep(interval)

        self._saver = threading.Thread(target=loop, name="lab-saver", daemon=True)
        self._saver.start()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()
        if self._saver is not None:
            self._saver.join(timeout=5)
        self.save()

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        with self.lock:
            for resource, objs in self.objects.items():
                for obj in objs.values():
                    yield resource, obj
