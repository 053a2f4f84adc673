"""The three PATCH flavours kube-apiserver accepts.

* JSON merge patch (RFC 7386): ``null`` deletes, objects merge, lists replace.
* JSON patch (RFC 6902): a list of operations on JSON pointers.
* Strategic merge patch: like merge patch, but lists with a *merge key* (containers by ``name``, ...)
  merge element-wise, and ``$patch``/``$setElementOrder`` directives are honoured. Kubernetes derives
  merge keys from Go struct tags; we keep a field-name table covering the types the lab serves.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError

# Field name -> merge key, for the list fields of Pod/Deployment/ReplicaSet/CronJob specs and metadata.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "ports": "containerPort",
    "resourceClaims": "name",
}
# Lists of scalars whose patch strategy is "merge" (union) rather than replace.
MERGE_PRIMITIVE_LISTS = {"finalizers"}


def _invalid_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    result = dict(target)
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            # Ordering hints only matter for presentation; appending new elements keeps kubectl happy.
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            remove = set(map(_hashable, value or []))
            result[field] = [v for v in result.get(field) or [] if _hashable(v) not in remove]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, (dict, list)) else repr(value)


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    current_list: list[Any] = list(current) if isinstance(current, list) else []
    if field in MERGE_PRIMITIVE_LISTS:
        out = list(current_list)
        for v in patch:
            if v not in out:
                out.append(copy.deepcopy(v))
        return out
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return [copy.deepcopy(p) for p in patch]
    if any(p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if p.get("$patch") != "replace"]
    out = [copy.deepcopy(c) for c in current_list]
    for item in patch:
        ident = item.get(key)
        idx = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(key) == ident), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


# --- RFC 6902 -------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid_patch(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict):
            if part not in cur:
                raise _invalid_patch(f"doc is missing path: {path!r}")
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                raise _invalid_patch(f"doc is missing path: {path!r}") from None
        else:
            raise _invalid_patch(f"doc is missing path: {path!r}")
    return cur


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _pointer(path), path)


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _invalid_patch("cannot remove the document root")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid_patch(f"remove operation does not apply: doc is missing path: {path!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise _invalid_patch(f"remove operation does not apply: doc is missing path: {path!r}") from None
    raise _invalid_patch(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _invalid_patch(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise _invalid_patch(f"invalid array index {last!r}") from None
            if replace:
                if not 0 <= idx < len(parent):
                    raise _invalid_patch(f"replace operation does not apply: doc is missing path: {path}")
                parent[idx] = value
            else:
                if not 0 <= idx <= len(parent):
                    raise _invalid_patch(f"add operation does not apply: index out of range: {path}")
                parent.insert(idx, value)
    else:
        raise _invalid_patch(f"doc is missing path: {path!r}")
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _invalid_patch(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value, replace=False)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])), replace=False)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _invalid_patch(f"testing value {path} failed")
        else:
            raise _invalid_patch(f"Unexpected kind: {kind}")
    return doc
