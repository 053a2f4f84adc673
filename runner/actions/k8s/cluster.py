"""One API client per kubernetes connection, and the one place requests are sent.

Every request goes through `Cluster.call` (or `Cluster.open_watch`), so the request timeout taken from the
step deadline, cancellation and the translation of client and transport errors into one-line ActionErrors
live in a single spot. Responses are read as raw JSON (`_preload_content=False`): the actions work on the
objects exactly as the API server sent them, and the client's models never leave this module.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.actions.base import ActionContext
from runner.durations import format_duration
from runner.errors import ActionError, StepTimeout

Obj = dict[str, Any]

# A single request never waits longer than this, even inside a step with a long (or no) deadline.
MAX_REQUEST_TIMEOUT = 30.0
# The client rejects a zero timeout; `ctx.budget` fails the step instead when no time is left at all.
MIN_REQUEST_TIMEOUT = 0.05
IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class Ref:
    """What a request is about, for error messages: `deployment "x" not found in namespace "y"`."""

    kind: str
    name: str
    namespace: str | None = None


class Conflict(ActionError):
    """HTTP 409: the object changed under us. Callers re-read and re-apply a few times, as kubectl does."""


class NotFound(ActionError):
    """HTTP 404 on a named object."""


@dataclass
class Cluster:
    """An API client bound to one connection, with what error messages need to say where they went."""

    connection: str
    api_client: Any  # kubernetes.client.ApiClient (untyped)
    context: str
    namespace: str  # the connection's default: connection setting → kubeconfig context → "default"
    host: str

    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client)

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.api_client)

    def custom(self) -> Any:
        """Aggregated and custom APIs (the Metrics API, metrics.k8s.io)."""
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    def call(
        self, ctx: ActionContext, fn: Callable[..., Any], *args: Any, ref: Ref | None = None, **kwargs: Any
    ) -> Obj:
        """Send one request and return the decoded JSON body. `kwargs` are the client method's own
        (dry_run, label_selector, _content_type, ...); `ref` names the object for a 404's message."""
        data = self._body(ctx, fn, args, ref, kwargs)
        return json.loads(data) if data else {}

    def call_text(
        self, ctx: ActionContext, fn: Callable[..., Any], *args: Any, ref: Ref | None = None, **kwargs: Any
    ) -> str:
        """Like `call`, for an endpoint that answers with text (a pod's log)."""
        data = self._body(ctx, fn, args, ref, kwargs)
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data or "")

    def _body(
        self, ctx: ActionContext, fn: Callable[..., Any], args: tuple[Any, ...], ref: Ref | None, kwargs: Any
    ) -> Any:
        """One request's raw body, its connection released; client errors sorted into user-facing ones."""
        timeout = request_timeout(ctx, self)
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
            try:
                return resp.data
            finally:
                resp.release_conn()
        except Exception as exc:  # sorted into user-facing errors by translate()
            raise self.translate(exc, ref, timeout) from None

    def open_watch(
        self, ctx: ActionContext, fn: Callable[..., Any], *args: Any, read_timeout: float, **kwargs: Any
    ) -> Any:
        """Start a watch request and return the raw streaming response (the caller reads and closes it)."""
        connect = request_timeout(ctx, self)
        try:
            return fn(
                *args,
                watch=True,
                _preload_content=False,
                _request_timeout=(connect, max(read_timeout, MIN_REQUEST_TIMEOUT)),
                **kwargs,
            )
        except Exception as exc:  # see call()
            raise self.translate(exc, None, connect) from None

    def translate(self, exc: Exception, ref: Ref | None, timeout: float) -> Exception:
        """Turn a client or transport exception into the ActionError a responder should read."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        if isinstance(exc, ApiException):
            return self._api_error(exc, ref)
        if isinstance(exc, HTTPError | OSError):
            return self._transport_error(exc, timeout)
        return exc

    def _api_error(self, exc: Any, ref: Ref | None) -> ActionError:
        status = int(exc.status or 0)
        message = _status_message(exc.body) or str(exc.reason or "")
        if status == 404 and ref is not None:
            return NotFound(not_found_message(ref, self.context))
        if status == 409:
            return Conflict(message)
        hint = None
        if status in (401, 403):
            hint = f"check the credentials of context {self.context!r} (connection {self.connection!r})"
        return ActionError(f"kubernetes API error {status} ({exc.reason}): {message}", hint=hint)

    def _transport_error(self, exc: Exception, timeout: float) -> ActionError:
        reason = transport_reason(exc)
        where = f"the Kubernetes API at {self.host} (context {self.context!r})"
        if reason == "timed out":
            return StepTimeout(
                f"no answer from {where} within {format_duration(timeout)}",
                hint="is the cluster reachable from here (VPN, firewall)?",
            )
        return ActionError(
            f"cannot reach {where}: {reason}",
            hint=f"check connection {self.connection!r}: kubeconfig, context, and that the API server is up",
        )

    def close(self) -> None:
        self.api_client.close()


def not_found_message(ref: Ref, context: str) -> str:
    if ref.namespace is None:
        return f'{ref.kind} "{ref.name}" not found (context "{context}")'
    return f'{ref.kind} "{ref.name}" not found in namespace "{ref.namespace}" (context "{context}")'


def request_timeout(ctx: ActionContext, cluster: Cluster) -> float:
    """Seconds one request may take: what is left of the step, capped; fail at once when nothing is left."""
    ctx.check_cancelled()
    left = ctx.budget(MAX_REQUEST_TIMEOUT, before=f"calling the Kubernetes API at {cluster.host}")
    return max(MIN_REQUEST_TIMEOUT, left)


def transport_reason(exc: BaseException) -> str:
    """`connection refused`, `timed out`, `name or service not known`: the root cause, minus object reprs."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    inner: BaseException = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
    if isinstance(inner, Urllib3Timeout | socket.timeout) and not isinstance(inner, NewConnectionError):
        return "timed out"
    seen: BaseException | None = inner
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return f"TLS error: {getattr(seen, 'verify_message', None) or seen.reason or seen}"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[:1].lower() + seen.strerror[1:]  # "Connection refused" mid-sentence
        seen = seen.__cause__ or seen.__context__
    text = str(inner)
    # urllib3 prefixes messages with the connection object's repr ("<HTTPSConnection(...)>: ...").
    return text.split(">: ", 1)[-1] if ">: " in text else text


def _status_message(body: Any) -> str | None:
    """The `message` of a metav1.Status body, if the server sent one."""
    if not body:
        return None
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return str(body)[:500]
    return str(status.get("message")) if isinstance(status, dict) and status.get("message") else None


# --- connecting -------------------------------------------------------------------------------


def cluster_for(ctx: ActionContext, connection: str) -> Cluster:
    """The run-wide client of a connection (built on first use, closed by the engine at the end)."""
    settings = ctx.connection(connection, "kubernetes")
    cluster = ctx.resource(f"kubernetes:{connection}", lambda: connect(connection, settings), lambda c: c.close())
    assert isinstance(cluster, Cluster)
    return cluster


def connect(name: str, settings: Mapping[str, Any]) -> Cluster:
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if _flag(settings.get("in_cluster")):
            context, context_namespace = _load_in_cluster(configuration)
        else:
            context, context_namespace = _load_kubeconfig(settings, configuration)
    except ConfigException as exc:
        raise ActionError(
            f"kubernetes connection {name!r}: {exc}", hint="check its kubeconfig and context settings"
        ) from None
    # No transport retries: a retried connect would multiply the step timeout; 409s are retried above this.
    configuration.retries = 0
    namespace = str(settings.get("namespace") or context_namespace or "default")
    return Cluster(name, client.ApiClient(configuration), context, namespace, str(configuration.host))


def _load_kubeconfig(settings: Mapping[str, Any], configuration: Any) -> tuple[str, str | None]:
    from kubernetes import config

    # Read $KUBECONFIG now: the client reads it once, when it is imported.
    path = str(settings.get("kubeconfig") or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG)
    path = os.pathsep.join(os.path.expanduser(p) for p in path.split(os.pathsep))
    contexts, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    wanted = str(settings.get("context") or (active or {}).get("name") or "")
    entry = next((c for c in contexts or [] if c.get("name") == wanted), None)
    if entry is None:
        known = ", ".join(sorted(str(c.get("name")) for c in contexts or [])) or "none"
        raise ActionError(f"kubeconfig {path} has no context {wanted!r}", hint=f"contexts there: {known}")
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=path, context=wanted, client_configuration=configuration, persist_config=False
    )
    return wanted, (entry.get("context") or {}).get("namespace")


def _load_in_cluster(configuration: Any) -> tuple[str, str | None]:
    from kubernetes import config

    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    try:
        with open(IN_CLUSTER_NAMESPACE_FILE, encoding="utf-8") as fh:
            return "in-cluster", fh.read().strip() or None
    except OSError:
        return "in-cluster", None


def _flag(value: Any) -> bool:
    """Connection settings are rendered templates: "false" must mean false."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
