"""API errors rendered as ``meta/v1 Status`` objects, in the exact shape kube-apiserver uses.

Clients branch on ``reason`` and ``code`` (the official Python client raises ``ApiException`` with the
status code; kubectl prints ``message`` verbatim), so the wording follows the real server.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceInfo


class ApiError(Exception):
    """An error that the HTTP layer turns into a ``Status`` response."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(info: ResourceInfo, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if info.group:
        details["group"] = info.group
    details["kind"] = kind or info.name
    return details


def not_found(info: ResourceInfo, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{info.qualified} "{name}" not found', _details(info, name))


def already_exists(info: ResourceInfo, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{info.qualified} "{name}" already exists', _details(info, name))


def conflict(info: ResourceInfo, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {info.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(info, name),
    )


def invalid(info: ResourceInfo, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """``causes`` is a list of ``(field, message)``; message starts with e.g. ``Invalid value: ...``."""
    kind_group = f"{info.kind}.{info.group}" if info.group else info.kind
    parts = [f"{field}: {msg}" for field, msg in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(info, name, kind=info.kind)
    details["causes"] = [{"reason": _cause_reason(msg), "message": msg, "field": field} for field, msg in causes]
    return ApiError(422, "Invalid", f'{kind_group} "{name}" is invalid: {joined}', details)


def _cause_reason(msg: str) -> str:
    if msg.startswith("Required value"):
        return "FieldValueRequired"
    if msg.startswith("Unsupported value"):
        return "FieldValueNotSupported"
    return "FieldValueInvalid"


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(content_type: str) -> ApiError:
    accepted = "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {accepted}, "
        f"application/apply-patch+yaml (got {content_type!r})",
    )


def gone(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})
