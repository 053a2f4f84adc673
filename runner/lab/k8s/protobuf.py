"""Just enough of Kubernetes' protobuf encoding to accept what kubectl's typed commands send for objects
that are all metadata (`kubectl create namespace`). Everything else is answered with 415, and kubectl's
`apply -f` (JSON) works for it.

Wire format: the 4-byte magic "k8s\\0", then a `runtime.Unknown` message {1: typeMeta {1: apiVersion,
2: kind}, 2: raw (the object's own message), 3: contentEncoding, 4: contentType}. In every built-in object
field 1 is `ObjectMeta` {1: name, 2: generateName, 3: namespace, 11: labels, 12: annotations (map entries
{1: key, 2: value})}.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAGIC = b"k8s\x00"
METADATA_ONLY_KINDS = ("Namespace",)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) pairs; length-delimited values stay bytes, varints are ints."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _map_entry(data: bytes) -> tuple[str, str]:
    entry = dict(fields(data))
    return entry.get(1, b"").decode(), entry.get(2, b"").decode()


def _metadata(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for number, value in fields(data):
        if number in (1, 2, 3):
            meta[("name", "generateName", "namespace")[number - 1]] = value.decode()
        elif number == 11:
            key, val = _map_entry(value)
            labels[key] = val
        elif number == 12:
            key, val = _map_entry(value)
            annotations[key] = val
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def decode_object(body: bytes) -> dict[str, Any] | None:
    """The object as JSON-shaped data, or None when it is not a metadata-only kind this lab can decode."""
    if not body.startswith(MAGIC):
        return None
    unknown = dict(fields(body[len(MAGIC) :]))
    type_meta = dict(fields(unknown.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    if kind not in METADATA_ONLY_KINDS:
        return None
    obj = dict(fields(unknown.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, "metadata": _metadata(obj.get(1, b""))}
