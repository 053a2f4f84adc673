"""REST semantics on top of the store: create/update/patch/delete with defaulting, validation, optimistic
concurrency, dry-run, generation bookkeeping, cascading deletion and the ``/scale`` subresource.

Every method takes the store lock for its whole read-modify-write, so two writers never interleave.
Dry-run requests run the same code path and stop just before committing.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from runner.kubevalues import label_selector_text

from .errors import ApiError, already_exists, bad_request, conflict, invalid, not_found, unsupported_media_type
from .objects import (
    Obj,
    apply_defaults,
    check_kind,
    new_uid,
    now_iso,
    prune_nulls,
    random_suffix,
    validate,
)
from .patch import json_patch, merge_patch, strategic_merge_patch
from .resources import NAMESPACES, RESOURCES, ResourceInfo
from .selectors import parse_field_selector, parse_label_selector
from .store import Store

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

# Resources whose spec changes bump metadata.generation.
_GENERATIONAL = {"deployments", "replicasets", "cronjobs"}
# Metadata the server owns: carried over from the stored object on update.
_SERVER_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


def _strip_volatile(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("resourceVersion", None)
    out.get("metadata", {}).pop("managedFields", None)
    return out


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads ----------------------------------------------------------------------------

    def get(self, info: ResourceInfo, namespace: str, name: str) -> Obj:
        obj = self.store.get(info.name, namespace if info.namespaced else "", name)
        if obj is None:
            raise not_found(info, name)
        return obj

    def list(
        self,
        info: ResourceInfo,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        label_pred = parse_label_selector(label_selector)
        field_pred = parse_field_selector(field_selector)
        start_after: list[str] | None = None
        if continue_token:
            try:
                start_after = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
            except ValueError:
                raise bad_request("continue key is not valid") from None
        with self.store.lock:
            rv = self.store.rv
            matched = []
            for obj in self.store.values(info.name, namespace if info.namespaced else None):
                m = obj["metadata"]
                key = [m.get("namespace", ""), m["name"]]
                if start_after is not None and key <= start_after:
                    continue
                if label_pred(m.get("labels") or {}) and field_pred(obj):
                    matched.append(obj)
            list_meta: Obj = {"resourceVersion": str(rv)}
            if limit and len(matched) > limit:
                matched = matched[:limit]
                last = matched[-1]["metadata"]
                token = json.dumps([last.get("namespace", ""), last["name"]])
                list_meta["continue"] = base64.urlsafe_b64encode(token.encode()).decode()
                list_meta["remainingItemCount"] = 0
            items = copy.deepcopy(matched)
        return {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": list_meta, "items": items}

    # --- writes ---------------------------------------------------------------------------

    def create(self, info: ResourceInfo, namespace: str, body: Any, dry_run: bool = False) -> Obj:
        obj = check_kind(info, prune_nulls(copy.deepcopy(body)))
        m = obj.setdefault("metadata", {})
        if not isinstance(m, dict):
            raise bad_request("metadata must be an object")
        if info.namespaced:
            if m.get("namespace") and m["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            m["namespace"] = namespace
        else:
            m.pop("namespace", None)
        if not m.get("name") and m.get("generateName"):
            m["name"] = f"{m['generateName']}{random_suffix()}"
        if m.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        with self.store.lock:
            if info.namespaced and self.store.peek(NAMESPACES.name, "", namespace) is None:
                raise not_found(NAMESPACES, namespace)
            apply_defaults(info, obj)
            validate(info, obj)
            key_ns = namespace if info.namespaced else ""
            if self.store.peek(info.name, key_ns, m["name"]) is not None:
                raise already_exists(info, m["name"])
            m["uid"] = new_uid()
            m["creationTimestamp"] = now_iso()
            if info.name in _GENERATIONAL:
                m["generation"] = 1
            if info.name == "deployments":
                obj["status"] = {}
            elif info.name == "replicasets":
                obj["status"] = {"replicas": 0}  # ReplicaSetStatus.replicas is a required field
            if dry_run:
                return obj
            return self.store.create(info.name, obj)

    def update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        body: Any,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Obj:
        obj = check_kind(info, copy.deepcopy(body))
        m = obj.setdefault("metadata", {})
        if m.get("name") and m["name"] != name:
            raise bad_request(f"the name of the object ({m['name']}) does not match the name on the URL ({name})")
        with self.store.lock:
            old = self.store.peek(info.name, namespace if info.namespaced else "", name)
            if old is None:
                raise not_found(info, name)
            return self._commit_update(info, old, obj, dry_run, subresource)

    def _commit_update(self, info: ResourceInfo, old: Obj, obj: Obj, dry_run: bool, subresource: str | None) -> Obj:
        """Shared tail of PUT and PATCH; caller holds the lock and ``old`` is the stored object."""
        old_meta = old["metadata"]
        obj = prune_nulls(obj)
        m = obj.setdefault("metadata", {})
        name = old_meta["name"]
        requested_rv = m.get("resourceVersion")
        if requested_rv and requested_rv != old_meta["resourceVersion"]:
            raise conflict(info, name)
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
        else:
            new = obj
            m["name"] = name
            if info.namespaced:
                m["namespace"] = old_meta.get("namespace", "")
            for field in _SERVER_META:
                if field in old_meta:
                    m[field] = old_meta[field]
                else:
                    m.pop(field, None)
            # Writes to the main resource cannot change status (it has its own subresource).
            if "status" in old or info.name in _GENERATIONAL:
                new["status"] = copy.deepcopy(old.get("status", {}))
            apply_defaults(info, new)
            validate(info, new, old)
            if info.name in _GENERATIONAL and new.get("spec") != old.get("spec"):
                m["generation"] = int(old_meta.get("generation", 1)) + 1
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if _strip_volatile(new) == _strip_volatile(old):
            return copy.deepcopy(old)  # a no-op write does not bump resourceVersion, as in etcd3 storage
        if dry_run:
            return copy.deepcopy(new)
        return self.store.update(info.name, new)

    def patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Obj:
        with self.store.lock:
            ns = namespace if info.namespaced else ""
            old = self.store.peek(info.name, ns, name)
            if old is None:
                if content_type == APPLY_PATCH:
                    # Server-side apply creates missing objects.
                    obj = copy.deepcopy(body)
                    obj.setdefault("metadata", {})["name"] = name
                    return self.create(info, namespace, obj, dry_run)
                raise not_found(info, name)
            patched = apply_patch(content_type, copy.deepcopy(old), body)
            if not isinstance(patched, dict):
                raise bad_request("patch did not produce an object")
            if patched.get("metadata", {}).get("name", name) != name:
                raise bad_request("the name of the object does not match the name on the URL")
            return self._commit_update(info, old, patched, dry_run, subresource)

    def delete(self, info: ResourceInfo, namespace: str, name: str, options: Obj | None, dry_run: bool) -> Obj:
        options = options or {}
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        policy = options.get("propagationPolicy") or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise invalid(info, name, [("propagationPolicy", f'Unsupported value: "{policy}"')])
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        with self.store.lock:
            ns = namespace if info.namespaced else ""
            old = self.store.peek(info.name, ns, name)
            if old is None:
                raise not_found(info, name)
            pre = options.get("preconditions") or {}
            uid = old["metadata"]["uid"]
            if pre.get("uid") and pre["uid"] != uid:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {info.qualified} "{name}": Precondition failed: '
                    f"UID in precondition: {pre['uid']}, UID in object meta: {uid}",
                    {"name": name, "group": info.group, "kind": info.name},
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(info, name)
            if not dry_run:
                self._delete_cascade(info.name, old, policy)
            if info.name == "pods":
                # Pods answer with the object itself (a real server returns it with deletionTimestamp set
                # while the kubelet terminates it); the lab removes pods at once.
                final = copy.deepcopy(old)
                grace = options.get("gracePeriodSeconds", 30)
                final["metadata"]["deletionTimestamp"] = now_iso()
                final["metadata"]["deletionGracePeriodSeconds"] = int(grace) if grace is not None else 30
                return final
        details: Obj = {"name": name}
        if info.group:
            details["group"] = info.group
        details.update({"kind": info.name, "uid": uid})
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_cascade(self, resource: str, obj: Obj, policy: str) -> None:
        m = obj["metadata"]
        self.store.delete(resource, m.get("namespace", ""), m["name"])
        if resource == NAMESPACES.name:
            for info in RESOURCES:
                if info.namespaced:
                    for child in list(self.store.values(info.name, m["name"])):
                        self.store.delete(info.name, m["name"], child["metadata"]["name"])
            return
        uid = m["uid"]
        for info in RESOURCES:
            if not info.namespaced:
                continue
            for child in list(self.store.values(info.name, m.get("namespace", ""))):
                refs = child["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if policy == "Orphan":
                    orphan = copy.deepcopy(child)
                    orphan["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not orphan["metadata"]["ownerReferences"]:
                        del orphan["metadata"]["ownerReferences"]
                    self.store.update(info.name, orphan)
                else:
                    self._delete_cascade(info.name, child, policy)

    # --- /scale ---------------------------------------------------------------------------

    def get_scale(self, info: ResourceInfo, namespace: str, name: str) -> Obj:
        return to_scale(self.get(info, namespace, name))

    def update_scale(self, info: ResourceInfo, namespace: str, name: str, body: Any, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a Scale object")
        replicas = (body.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                "must be greater than or equal to 0",
                {
                    "name": name,
                    "group": "autoscaling",
                    "kind": "Scale",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.replicas",
                            "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                        }
                    ],
                },
            )
        with self.store.lock:
            old = self.store.peek(info.name, namespace, name)
            if old is None:
                raise not_found(info, name)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(info, name)
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = replicas
            new["metadata"].pop("resourceVersion", None)
            return to_scale(self._commit_update(info, old, new, dry_run, None))

    def patch_scale(
        self, info: ResourceInfo, namespace: str, name: str, content_type: str, body: Any, dry_run: bool
    ) -> Obj:
        with self.store.lock:
            scale = self.get_scale(info, namespace, name)
            patched = apply_patch(content_type, scale, body)
            return self.update_scale(info, namespace, name, patched, dry_run)


def apply_patch(content_type: str, target: Obj, body: Any) -> Any:
    if content_type == JSON_PATCH:
        return json_patch(target, body)
    if not isinstance(body, dict):
        raise bad_request("patch body must be a JSON object")
    if content_type == MERGE_PATCH:
        return merge_patch(target, body)
    if content_type in (STRATEGIC_PATCH, APPLY_PATCH):
        # Server-side apply is approximated by a strategic merge of the applied configuration.
        return strategic_merge_patch(target, body)
    raise unsupported_media_type(content_type)


def to_scale(obj: Obj) -> Obj:
    m = obj["metadata"]
    scale_meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m}
    status: Obj = {"replicas": int(obj.get("status", {}).get("replicas", 0))}
    selector = label_selector_text(obj.get("spec", {}).get("selector"))
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(obj.get("spec", {}).get("replicas", 0))},
        "status": status,
    }
