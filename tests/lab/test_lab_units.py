"""Unit tests for the lab's pure pieces: patches, selectors and table formatting."""

from __future__ import annotations

import pytest

from runner.lab.k8s.errors import ApiError
from runner.lab.k8s.patch import json_patch, merge_patch, strategic_merge_patch
from runner.lab.k8s.selectors import parse_field_selector, parse_label_selector
from runner.lab.k8s.tables import human_duration


def test_strategic_merge_patch_merges_by_key_and_honours_directives() -> None:
    target = {
        "spec": {
            "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
            "tolerations": [{"key": "x"}],
            "finalizers": ["f1"],
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "$patch": "delete"}],
            "tolerations": [{"key": "y"}],
            "finalizers": ["f2"],
        }
    }
    out = strategic_merge_patch(target, patch)
    assert out["spec"]["containers"] == [{"name": "b", "image": "b:2"}]
    assert out["spec"]["tolerations"] == [{"key": "y"}]  # no merge key: replaced
    assert out["spec"]["finalizers"] == ["f1", "f2"]
    assert strategic_merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"$patch": "replace", "d": 3}}) == {"a": {"d": 3}}
    assert strategic_merge_patch({"a": 1, "b": 2}, {"a": None}) == {"b": 2}


def test_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"b": None, "c": [2]}, "e": 3}) == {
        "a": {"c": [2]},
        "d": 1,
        "e": 3,
    }


def test_json_patch_rfc6902() -> None:
    doc = {"a": [1, 2], "b": {"c~d/e": 1}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "add", "path": "/a/0", "value": 0},
            {"op": "remove", "path": "/b/c~0d~1e"},
            {"op": "copy", "from": "/a", "path": "/z"},
            {"op": "move", "from": "/z", "path": "/y"},
            {"op": "test", "path": "/y/3", "value": 3},
        ],
    )
    assert out == {"a": [0, 1, 2, 3], "b": {}, "y": [0, 1, 2, 3]}
    assert doc == {"a": [1, 2], "b": {"c~d/e": 1}}  # input untouched
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])
    assert err.value.code == 422


def test_label_selector_grammar() -> None:
    sel = parse_label_selector("app=web,tier!=db, env in (prod, staging),!canary,team")
    assert sel({"app": "web", "env": "prod", "team": "x"})
    assert not sel({"app": "web", "env": "prod", "team": "x", "canary": "1"})
    assert not sel({"app": "web", "env": "dev", "team": "x"})
    assert not sel({"app": "web", "env": "prod", "team": "x", "tier": "db"})
    assert parse_label_selector("env notin (dev)")({})
    assert parse_label_selector("")({"anything": "goes"})
    with pytest.raises(ApiError):
        parse_label_selector("a b c")


def test_field_selector() -> None:
    pod = {"metadata": {"name": "p", "namespace": "demo"}, "status": {"phase": "Running"}}
    assert parse_field_selector("metadata.name=p,status.phase==Running")(pod)
    assert not parse_field_selector("status.phase!=Running")(pod)
    assert parse_field_selector("spec.nodeName=")(pod)


def test_human_duration_matches_kubectl() -> None:
    assert [human_duration(s) for s in (5, 119, 120, 125, 600, 3 * 3600 + 60, 9 * 3600, 50 * 3600)] == [
        "5s",
        "119s",
        "2m",
        "2m5s",
        "10m",
        "3h1m",
        "9h",
        "2d2h",
    ]
