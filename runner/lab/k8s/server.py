"""HTTP front end: routing of Kubernetes REST paths, content negotiation (JSON or server-side Table),
dry-run, and chunked watch streams. Standard library only, so ``fireline lab up`` starts quickly."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import discovery, metrics
from .api import PATCH_TYPES, Api
from .errors import ApiError, bad_request, gone, method_not_allowed, not_found, path_not_found
from .logs import PodLogs, ready_pods, report_body
from .objects import Obj
from .protobuf import decode_object
from .resources import DEPLOYMENTS, PODS, ResourceInfo, lookup
from .selectors import parse_field_selector, parse_label_selector
from .store import Store
from .tables import to_table

_MAX_WATCH_SECONDS = 3600.0
_INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # watch streams and idle keep-alive connections must not block shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, api: Api) -> None:
        super().__init__(address, LabRequestHandler)
        self.store = store
        self.api = api
        self.pod_logs = PodLogs()
        self.log_requests = os.environ.get("FIRELINE_LAB_LOG", "") not in ("", "0")

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


class _Route:
    __slots__ = ("info", "name", "namespace", "subresource", "watch")

    def __init__(
        self, info: ResourceInfo, namespace: str | None, name: str | None, subresource: str | None, watch: bool
    ) -> None:
        self.info, self.namespace, self.name, self.subresource, self.watch = info, namespace, name, subresource, watch


class LabRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked encoding for watches
    server: LabHTTPServer
    server_version = "fireline-lab"

    def setup(self) -> None:
        super().setup()
        # Small JSON responses and watch lines must not wait for Nagle/delayed-ACK (40 ms stalls).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"lab: {self.address_string()} {format % args}\n")

    # --- plumbing -------------------------------------------------------------------------

    def _query(self) -> dict[str, str]:
        qs = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {k: v[-1] for k, v in qs.items()}

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, raw: bytes) -> Any:
        if not raw.strip():
            return None
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type.endswith("protobuf"):
            decoded = decode_object(raw)
            if decoded is not None:
                return decoded
        if content_type.endswith("protobuf") or content_type.endswith("cbor"):
            # What a real API server says for a media type it does not serve: clients fall back to JSON.
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f'application/json, application/yaml (got "{content_type}")',
            )
        try:
            return json.loads(raw)
        except ValueError:
            raise bad_request("the body of the request could not be decoded as JSON") from None

    def _send(self, code: int, obj: Any, content_type: str = "application/json") -> None:
        data = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, err: ApiError) -> None:
        self._send(err.code, err.status())

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    def _handle(self, method: str) -> None:
        raw = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            self._dispatch(method, raw)
        except ApiError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- routing --------------------------------------------------------------------------

    def _dispatch(self, method: str, raw: bytes) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if method == "GET" and self._serve_static(path):
            return
        if self._serve_lab_extras(method, path, raw):
            return
        route = self._route(path)
        if route is None:
            raise path_not_found()
        query = self._query()
        if route.info is PODS and route.name is not None and route.subresource == "log" and not route.watch:
            if method != "GET":
                raise method_not_allowed()
            pod = self.server.api.get(PODS, route.namespace or "", route.name)
            text = self.server.pod_logs.read(pod, query)
            self._send(200, text.encode(), "text/plain")
            return
        dry_run = query.get("dryRun") == "All"
        if "dryRun" in query and query["dryRun"] not in ("All", ""):
            raise bad_request(f'Unsupported value: "{query["dryRun"]}": supported values: "All"')
        api, info = self.server.api, route.info
        ns = route.namespace or ""
        if route.subresource not in (None, "scale", "status"):
            raise path_not_found()
        if route.subresource == "scale" and "scale" not in info.subresources:
            raise path_not_found()

        if route.name is None:
            if route.subresource is not None:
                raise path_not_found()
            if method == "GET":
                if route.watch or query.get("watch") in ("true", "1"):
                    self._watch(route, query)
                    return
                result = api.list(
                    info,
                    route.namespace,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                    int(query["limit"]) if query.get("limit", "").isdigit() else None,
                    query.get("continue"),
                )
                if self._wants_table():
                    result = to_table(
                        info,
                        result["items"],
                        result["metadata"]["resourceVersion"],
                        query.get("includeObject", "Metadata"),
                        result["metadata"],
                    )
                self._send(200, result)
            elif method == "POST":
                if info.namespaced and route.namespace is None:
                    raise method_not_allowed()
                self._send(201 if not dry_run else 200, api.create(info, ns, self._json_body(raw), dry_run))
            elif method == "DELETE":
                self._delete_collection(route, query, raw, dry_run)
            else:
                raise method_not_allowed()
            return

        name = route.name
        if method == "GET":
            if route.watch:
                query["fieldSelector"] = f"metadata.name={name}"
                self._watch(route, query)
                return
            if route.subresource == "scale":
                self._send(200, api.get_scale(info, ns, name))
                return
            obj = api.get(info, ns, name)
            if self._wants_table():
                self._send(
                    200,
                    to_table(
                        info, [obj], obj["metadata"].get("resourceVersion", ""), query.get("includeObject", "Metadata")
                    ),
                )
            else:
                self._send(200, obj)
        elif method == "PUT":
            body = self._json_body(raw)
            if route.subresource == "scale":
                self._send(200, api.update_scale(info, ns, name, body, dry_run))
            else:
                self._send(200, api.update(info, ns, name, body, dry_run, route.subresource))
        elif method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type not in PATCH_TYPES:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{', '.join(PATCH_TYPES)}",
                )
            body = self._json_body(raw)
            if route.subresource == "scale":
                self._send(200, api.patch_scale(info, ns, name, content_type, body, dry_run))
            else:
                existed = self.server.store.get(info.name, ns if info.namespaced else "", name) is not None
                result = api.patch(info, ns, name, content_type, body, dry_run, route.subresource)
                self._send(200 if existed else 201, result)
        elif method == "DELETE":
            if route.subresource is not None:
                raise method_not_allowed()
            options = self._json_body(raw) or {}
            if not isinstance(options, dict):
                raise bad_request("DeleteOptions must be an object")
            if "gracePeriodSeconds" in query and "gracePeriodSeconds" not in options:
                options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
            if "propagationPolicy" in query and "propagationPolicy" not in options:
                options["propagationPolicy"] = query["propagationPolicy"]
            # A real API server decodes DeleteOptions from the body when there is one and then ignores the
            # query: a client that puts dryRun only in the query of a DELETE with a body deletes for real.
            self._send(200, api.delete(info, ns, name, options, dry_run and not raw.strip()))
        else:
            raise method_not_allowed()

    def _route(self, path: str) -> _Route | None:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        watch = False
        if rest and rest[0] == "watch":
            watch, rest = True, rest[1:]
        if not rest:
            return None
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        info = lookup(group, version, rest[0])
        if info is None or len(rest) > 3:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if namespace is not None and not info.namespaced:
            return None
        if info.namespaced and namespace is None and name is not None:
            return None
        return _Route(info, namespace, name, sub, watch)

    def _serve_static(self, path: str) -> bool:
        """Discovery, version, health and OpenAPI endpoints."""
        if path == "/version":
            self._send(200, discovery.SERVER_VERSION)
        elif path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/api":
            self._send(200, discovery.api_versions(self.server.address))
        elif path == "/apis":
            self._send(200, discovery.api_group_list())
        elif path == "/openapi/v2":
            if "protobuf" in self.headers.get("Accept", ""):
                # An empty protobuf message decodes as an empty openapi_v2.Document.
                self._send(200, b"", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
            else:
                self._send(200, discovery.openapi_v2_json())
        elif path == "/openapi/v3":
            self._send(200, discovery.openapi_v3_root())
        elif path.startswith("/openapi/v3/"):
            rel = path[len("/openapi/v3/") :].split("/")
            doc = None
            if len(rel) == 2 and rel[0] == "api":
                doc = discovery.openapi_v3_doc("", rel[1])
            elif len(rel) == 3 and rel[0] == "apis":
                doc = discovery.openapi_v3_doc(rel[1], rel[2])
            if doc is None:
                raise path_not_found()
            self._send(200, doc)
        else:
            parts = [p for p in path.split("/") if p]
            doc_: dict[str, Any] | None = None
            if len(parts) == 2 and parts[0] == "api":
                doc_ = discovery.api_resource_list("", parts[1])
            elif len(parts) == 2 and parts[0] == "apis":
                doc_ = discovery.api_group(parts[1])
            elif len(parts) == 3 and parts[0] == "apis":
                doc_ = discovery.api_resource_list(parts[1], parts[2])
            else:
                return False
            if doc_ is None:
                raise path_not_found()
            self._send(200, doc_)
        return True

    def _serve_lab_extras(self, method: str, path: str, raw: bytes) -> bool:
        """The Metrics API, and the demo service's request reports (the lines of its pods' logs)."""
        if metrics.handles(path):
            if method != "GET":
                raise method_not_allowed()
            self._send(200, metrics.serve(self.server.store, path, self._query()))
            return True
        parts = [p for p in path.split("/") if p]
        shape = ["lab", "v1", "namespaces", "*", "deployments", "*", "requests"]
        if len(parts) != len(shape) or any(want not in ("*", got) for want, got in zip(shape, parts, strict=True)):
            return False
        if method != "POST":
            raise method_not_allowed()
        namespace, name = parts[3], parts[5]
        lines = report_body(self._json_body(raw))
        store = self.server.store
        with store.lock:
            dep = store.get(DEPLOYMENTS.name, namespace, name)
            if dep is None:
                raise not_found(DEPLOYMENTS, name)
            pods = ready_pods(store.values(PODS.name, namespace), store.values("replicasets", namespace), dep)
        written = self.server.pod_logs.record(pods, (namespace, name), lines)
        self._send(200, {"written": written, "pods": len(pods)})
        return True

    def _delete_collection(self, route: _Route, query: dict[str, str], raw: bytes, dry_run: bool) -> None:
        api, info = self.server.api, route.info
        options = self._json_body(raw) or {}
        with self.server.store.lock:
            listed = api.list(info, route.namespace, query.get("labelSelector"), query.get("fieldSelector"))
            for obj in listed["items"]:
                m = obj["metadata"]
                api.delete(info, m.get("namespace", ""), m["name"], options, dry_run and not raw.strip())
        self._send(200, listed)

    # --- watch ----------------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _watch(self, route: _Route, query: dict[str, str]) -> None:
        store, info = self.server.store, route.info
        label_pred = parse_label_selector(query.get("labelSelector"))
        field_pred = parse_field_selector(query.get("fieldSelector"))
        namespace = route.namespace if info.namespaced else None
        table = self._wants_table()
        include = query.get("includeObject", "Metadata")
        bookmarks = query.get("allowWatchBookmarks") == "true"
        send_initial = query.get("sendInitialEvents") == "true"
        try:
            timeout = min(float(query.get("timeoutSeconds") or _MAX_WATCH_SECONDS), _MAX_WATCH_SECONDS)
        except ValueError:
            raise bad_request("invalid timeoutSeconds") from None
        rv_param = query.get("resourceVersion", "")

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            m = obj["metadata"]
            if namespace is not None and m.get("namespace", "") != namespace:
                return False
            return label_pred(m.get("labels") or {}) and field_pred(obj)

        expired: ApiError | None = None
        with store.lock:
            initial: list[Obj] = []
            if send_initial or rv_param in ("", "0"):
                initial = [o for o in store.values(info.name, namespace) if matches(o)]
                cursor = store.rv
            else:
                try:
                    cursor = int(rv_param)
                except ValueError:
                    raise bad_request(f"invalid resource version: {rv_param}") from None
                if cursor < store.log_floor:
                    expired = gone(cursor, store.log_floor + 1)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        first_table = [True]

        def emit(etype: str, obj: Obj) -> None:
            payload: Obj = obj
            if table and etype not in ("BOOKMARK", "ERROR"):
                payload = to_table(
                    info, [obj], obj["metadata"].get("resourceVersion", ""), include, with_columns=first_table[0]
                )
                first_table[0] = False
            line = json.dumps({"type": etype, "object": payload}, separators=(",", ":")).encode() + b"\n"
            self._write_chunk(line)

        def bookmark(rv: int, annotations: dict[str, str] | None = None) -> None:
            meta: Obj = {"resourceVersion": str(rv)}
            if annotations:
                meta["annotations"] = annotations
            emit("BOOKMARK", {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta})

        try:
            if expired is not None:
                emit("ERROR", expired.status())
                self._write_chunk(b"")
                return
            for obj in initial:
                emit("ADDED", obj)
            if send_initial and bookmarks:
                bookmark(cursor, {_INITIAL_EVENTS_END: "true"})
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                events = store.wait_for_events(cursor, min(remaining, 1.0))
                if store.closed:
                    break
                for ev in events:
                    cursor = ev.rv
                    if ev.resource != info.name:
                        continue
                    now_match = matches(ev.obj) if ev.type != "DELETED" else False
                    was_match = matches(ev.old) if ev.old is not None else False
                    if ev.type == "ADDED" and now_match:
                        emit("ADDED", ev.obj)
                    elif ev.type == "MODIFIED":
                        if now_match and was_match:
                            emit("MODIFIED", ev.obj)
                        elif now_match:
                            emit("ADDED", ev.obj)
                        elif was_match:
                            emit("DELETED", ev.obj)
                    elif ev.type == "DELETED" and matches(ev.obj):
                        emit("DELETED", ev.obj)
                if bookmarks and time.monotonic() - last_bookmark > 30:
                    bookmark(cursor)
                    last_bookmark = time.monotonic()
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


def make_server(host: str, port: int, store: Store) -> LabHTTPServer:
    return LabHTTPServer((host, port), store, Api(store))
