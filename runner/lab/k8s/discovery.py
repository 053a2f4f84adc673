"""Discovery documents (legacy, unaggregated JSON) and minimal OpenAPI documents.

kubectl 1.32+ first asks for aggregated discovery; a plain ``application/json`` APIGroupList answer makes
it fall back to per-group-version ``APIResourceList`` requests, so the legacy format is all we serve.

OpenAPI: kubectl's apply/create validation only needs to learn that the server validates fields itself
(a PATCH operation carrying a ``fieldValidation`` query parameter in the v3 document); the v2 document is
fetched as protobuf, and an empty protobuf message is a valid empty ``openapi_v2.Document``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import metrics
from .resources import GROUP_VERSIONS, RESOURCES, ResourceInfo

SERVER_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-fireline-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, versions in GROUP_VERSIONS.items():
        if not group:
            continue
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    for g in api_group_list()["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def _resource_entries(info: ResourceInfo) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": info.name,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    entries = [entry]
    for sub, (group, version, kind, verbs) in info.subresources.items():
        sub_entry: dict[str, Any] = {"name": f"{info.name}/{sub}", "singularName": "", "namespaced": info.namespaced}
        if group:
            sub_entry.update({"group": group, "version": version})
        sub_entry.update({"kind": kind, "verbs": list(verbs)})
        entries.append(sub_entry)
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    if version not in GROUP_VERSIONS.get(group, ()):
        return None
    resources: list[dict[str, Any]] = []
    for info in (*RESOURCES, *metrics.RESOURCES):
        if info.group == group and info.version == version:
            resources.extend(_resource_entries(info))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# --- OpenAPI ----------------------------------------------------------------------------------

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_doc(group: str, version: str) -> dict[str, Any] | None:
    if version not in GROUP_VERSIONS.get(group, ()):
        return None
    paths: dict[str, Any] = {}
    for info in RESOURCES:
        if info.group != group or info.version != version:
            continue
        gvk = {"group": group, "version": version, "kind": info.kind}
        base = f"/{_gv_path(group, version)}"
        scope = f"{base}/namespaces/{{namespace}}" if info.namespaced else base
        path = f"{scope}/{info.name}/{{name}}"
        op = {
            "operationId": f"patch{info.kind}",
            "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _QUERY_PARAMS],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }
        paths[path] = {"patch": op}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (fireline lab)", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_v3_root() -> dict[str, Any]:
    paths = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            doc = json.dumps(openapi_v3_doc(group, version), sort_keys=True)
            digest = hashlib.sha256(doc.encode()).hexdigest()[:32].upper()
            rel = _gv_path(group, version)
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={digest}"}
    return {"paths": paths}


def openapi_v2_json() -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes (fireline lab)", "version": SERVER_VERSION["gitVersion"]},
        "paths": {},
        "definitions": {},
    }
