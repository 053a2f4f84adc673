"""Chaos Toolkit experiments as fireline game days.

An experiment (JSON or YAML: title, description, tags, configuration, secrets, steady-state-hypothesis,
method, rollbacks, runtime, controls) maps onto a scenario: the hypothesis probes become steady-state
probes, the method's actions become faults, the rollbacks become their reverts. What has no equivalent is
said, with its JSON path and why, never dropped quietly. What Chaos Toolkit has no notion of — detection,
the response, objectives — is written as `steady_state_violated`, a manual response and commented
placeholders: never invented numbers.

Templates: Chaos Toolkit substitutes `${name}` (and `$name`) from the configuration and the secrets when
it runs; they become `{{ inputs.name }}` and `{{ secrets.NAME }}`. Secret values are never copied.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from runner.durations import MAX_DURATION_SECONDS
from runner.importers.chaostoolkit_format import WHAT, check_experiment, lookup
from runner.importers.source import load_mapping

PathKey = tuple[str | int, ...]
CLUSTER = "cluster"  # the kubernetes connection the imported faults and probes use
KNOWN_TOP = frozenset(
    {
        "version",
        "title",
        "description",
        "tags",
        "contributions",
        "configuration",
        "secrets",
        "steady-state-hypothesis",
        "method",
        "rollbacks",
        "runtime",
        "controls",
        "extensions",
        "dry",
    }
)
KNOWN_ACTIVITY = frozenset(
    {"type", "name", "provider", "tolerance", "pauses", "ref", "background", "secrets", "controls", "timeout"}
)
# Chaos Toolkit's substitution pattern (string.Template): $$, $name or ${name}.
_SUBSTITUTION = re.compile(r"\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\})")
_SIMPLE_JSONPATH = re.compile(r"\$((\.[A-Za-z_][A-Za-z0-9_]*)|(\[[0-9]+\]))+")
_REGEX_SPECIAL = set(".^$*+?{}[]\\|()")
_SHELL_SPECIAL = set("|&;<>()$`\\*?[]#~{}\n")  # quotes are fine: shlex reads them as a shell would
_ENV_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string", "bytes": "string"}


class Level(StrEnum):
    WARNING = "warning"  # something was not imported, or not as Chaos Toolkit ran it (--strict refuses)
    NOTE = "note"  # what the user needs to know about the scenario written


@dataclass(frozen=True)
class Finding:
    level: Level
    path: str  # JSON path in the experiment, e.g. $.method[1].provider
    message: str

    def render(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Imported:
    """A scenario ready to write: the document, comments by the path they stand above, the lines written
    after it (the commented objectives), and what the import found."""

    document: dict[str, Any]
    comments: Mapping[PathKey, tuple[str, ...]]
    trailer: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level is Level.WARNING)

    @property
    def notes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level is Level.NOTE)


def import_file(path: Path) -> Imported:
    """Read and map one experiment; DocumentInvalid (exit 1) when it is not one."""
    data = load_mapping(path, WHAT)
    check_experiment(data, str(path))
    return _Importer(data, path.stem).run()


# --- the mapping ----------------------------------------------------------------------------------------


@dataclass
class _Fault:
    """A fault being built, with what pairing and timing still need to know."""

    path: PathKey  # in the experiment
    index: int  # position in the method
    spec: dict[str, Any]
    process: bool = False
    kubernetes: bool = False
    comments: list[str] = field(default_factory=list)


class _Importer:
    def __init__(self, data: dict[str, Any], stem: str) -> None:
        self.data = data
        self.stem = stem
        self.findings: list[Finding] = []
        self.comments: dict[PathKey, tuple[str, ...]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.input_names: dict[str, str] = {}  # configuration key → input name
        self.secret_names: dict[str, str] = {}  # secret key → secret name
        self.secrets: dict[str, dict[str, Any]] = {}
        self.ids: set[str] = set()
        self.probe_comments: dict[str, tuple[str, ...]] = {}  # probe id → comments above it
        self.uses_cluster = False

    # -- findings --------------------------------------------------------------------------------------
    def warn(self, at: PathKey, message: str) -> None:
        self.findings.append(Finding(Level.WARNING, json_path(at), message))

    def note(self, at: PathKey, message: str) -> None:
        self.findings.append(Finding(Level.NOTE, json_path(at), message))

    # -- the whole experiment --------------------------------------------------------------------------
    def run(self) -> Imported:
        self._top_level()
        self._configuration()
        self._secrets()
        interval = self._runtime()
        metadata = self._metadata()
        probes = self._probes()
        faults = self._method()
        self._rollbacks(faults)
        self._durations(faults)
        document = self._document(metadata, interval, probes, faults)
        self.note((), "detection is steady_state_violated and the response is manual: Chaos Toolkit has neither")
        self.note(
            (),
            "objectives are left as commented placeholders: Chaos Toolkit has no notion of them; "
            "set your own before relying on the verdict",
        )
        return Imported(document, self.comments, OBJECTIVES_PLACEHOLDER, tuple(self.findings))

    def _top_level(self) -> None:
        for key in self.data:
            if key not in KNOWN_TOP:
                self.warn((key,), "not a Chaos Toolkit experiment field fireline knows: not imported")
        for key in ("controls", "extensions"):
            if self.data.get(key):
                self.warn((key,), f"Chaos Toolkit {key} are plugins of its own: not imported")

    def _document(
        self, metadata: dict[str, Any], interval: str | None, probes: list[dict[str, Any]], faults: list[_Fault]
    ) -> dict[str, Any]:
        document: dict[str, Any] = {"apiVersion": "fireline/v1", "kind": "GameDay", "metadata": metadata}
        if self.inputs:
            document["inputs"] = self.inputs
        if self.secrets:
            document["secrets"] = self.secrets
        if self.uses_cluster:
            document["connections"] = {CLUSTER: {"type": "kubernetes"}}
            self.comments[("connections", CLUSTER)] = CLUSTER_COMMENT
        document["steady_state"] = {**({"interval": interval} if interval else {}), "probes": probes}
        for i, probe in enumerate(probes):
            if probe["id"] in self.probe_comments:
                self.comments[("steady_state", "probes", i)] = self.probe_comments[probe["id"]]
        document["faults"] = [f.spec for f in faults]
        for i, fault in enumerate(faults):
            if fault.comments:
                self.comments[("faults", i)] = tuple(fault.comments)
        document["detection"] = [{"steady_state_violated": True}]
        self.comments[("detection",)] = DETECTION_COMMENT
        document["response"] = {"mode": "manual"}
        self.comments[("response",)] = RESPONSE_COMMENT
        return document

    # -- metadata --------------------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        data = self.data
        title = data.get("title") if isinstance(data.get("title"), str) else None
        if title is None:
            self.warn(("title",), "the experiment has no title (Chaos Toolkit requires one): named after the file")
        metadata: dict[str, Any] = {"name": slug(title or self.stem, "imported-experiment")}
        if title:
            metadata["title"] = title
        if isinstance(data.get("description"), str) and data["description"].strip():
            metadata["description"] = data["description"].strip()
        hypothesis = data.get("steady-state-hypothesis")
        if isinstance(hypothesis, dict) and isinstance(hypothesis.get("title"), str):
            metadata["hypothesis"] = hypothesis["title"]
        tags = data.get("tags")
        if isinstance(tags, list) and tags:
            metadata["tags"] = [t for t in tags if isinstance(t, str) and t]
            if len(metadata["tags"]) != len(tags):
                self.warn(("tags",), "tags that are not text were left out")
        elif tags is not None and not isinstance(tags, list):
            self.warn(("tags",), "tags must be a list: not imported")
        contributions = data.get("contributions")
        if isinstance(contributions, dict) and contributions:
            listed = ", ".join(f"{k} {v}" for k, v in contributions.items())
            self.comments[("metadata", "name")] = (f"Chaos Toolkit contributions: {listed}",)
        elif contributions is not None and not isinstance(contributions, dict):
            self.warn(("contributions",), "contributions must be a mapping: not imported")
        return metadata

    # -- configuration and secrets ---------------------------------------------------------------------
    def _configuration(self) -> None:
        config = self.data.get("configuration") or {}
        for key, value in config.items():
            at: PathKey = ("configuration", key)
            name = self._unique_input(identifier(key, "config"))
            spec = self._input(name, value, at)
            if spec is None:
                continue
            self.input_names[key] = name
            self.inputs[name] = spec

    def _unique_input(self, name: str) -> str:
        base, n = name, 2
        while name in self.inputs or name in self.input_names.values():
            name, n = f"{base}_{n}", n + 1
        return name

    def _input(self, name: str, value: Any, at: PathKey) -> dict[str, Any] | None:
        if isinstance(value, dict) and value.get("type") == "env" and isinstance(value.get("key"), str):
            variable = value["key"]
            kind = _ENV_TYPES.get(str(value.get("env_var_type") or "str"), "string")
            spec: dict[str, Any] = {"type": kind}
            if "default" in value and _fits(value["default"], kind):
                spec["default"] = value["default"]
            else:
                spec["required"] = True
            spec["description"] = f'Chaos Toolkit read it from ${variable}: pass -i {name}="${variable}"'
            self.note(
                at, f'read from the environment variable {variable} in Chaos Toolkit: pass -i {name}="${variable}"'
            )
            return spec
        if isinstance(value, dict):
            source = value.get("type")
            self.warn(
                at,
                f"a configuration value of type {source!r} is not supported: imported as a required input"
                if source
                else "a configuration mapping is not supported: imported as a required input",
            )
            return {"type": "string", "required": True, "description": "PLACEHOLDER: set it with -i"}
        literal = _input_type(value)
        if literal is None:
            self.warn(at, "a configuration value must be text, a number, a boolean or a list: not imported")
            return None
        return {"type": literal, "default": value}

    def _secrets(self) -> None:
        scopes = self.data.get("secrets") or {}
        for scope, entries in scopes.items():
            if not isinstance(entries, dict):
                self.warn(("secrets", scope), "a secrets scope must be a mapping: not imported")
                continue
            for key, value in entries.items():
                self._secret(scope, key, value, ("secrets", scope, key))

    def _secret(self, scope: str, key: str, value: Any, at: PathKey) -> None:
        name = identifier(key, "secret")
        if name in self.secrets or name in self.inputs:
            name = identifier(f"{scope}_{key}", "secret")
        if isinstance(value, dict) and value.get("type") == "env" and isinstance(value.get("key"), str):
            variable = value["key"]
        else:
            variable = identifier(key, "SECRET").upper()
            origin = "Vault" if isinstance(value, dict) and value.get("type") == "vault" else "the experiment itself"
            self.warn(
                at,
                f"the secret's value comes from {origin}, which fireline does not read: not copied; "
                f"it is read from the environment variable {variable} instead",
            )
        self.secret_names.setdefault(key, name)
        self.secrets[name] = {"from": "env", "name": variable}

    def _runtime(self) -> str | None:
        runtime = self.data.get("runtime") or {}
        interval = None
        for key, value in runtime.items():
            at: PathKey = ("runtime", key)
            if key == "rollbacks" and isinstance(value, dict):
                if value.get("strategy") == "never":
                    self.warn(
                        (*at, "strategy"),
                        "fireline reverts every fault, on success, failure, Ctrl-C and SIGTERM: 'never' is not kept",
                    )
                for extra in value:
                    if extra != "strategy":
                        self.warn((*at, extra), "not a rollback setting fireline has: not imported")
            elif key == "hypothesis" and isinstance(value, dict):
                freq = value.get("freq")
                if isinstance(freq, int | float) and not isinstance(freq, bool) and 0 < freq <= MAX_DURATION_SECONDS:
                    interval = seconds(freq)
                for extra in value:
                    if extra not in ("strategy", "freq", "fail_fast"):
                        self.warn((*at, extra), "not a hypothesis setting fireline has: not imported")
            else:
                self.warn(at, "not a runtime setting fireline has: not imported")
        return interval

    # -- templates -------------------------------------------------------------------------------------
    def template(self, value: Any, at: PathKey) -> Any:
        """Chaos Toolkit substitutions as fireline templates, inside any JSON value."""
        if isinstance(value, str):
            return self._template_text(value, at)
        if isinstance(value, dict):
            return {k: self.template(v, (*at, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.template(v, (*at, i)) for i, v in enumerate(value)]
        return value

    def _template_text(self, text: str, at: PathKey) -> str:
        """The text with its substitutions as templates, and anything in it that fireline would read as a
        template delimiter escaped, so it stays the text it was."""
        out: list[str] = []
        literal = ""
        for piece in _pieces(text):
            if isinstance(piece, str):
                literal += piece
                continue
            key = piece.group(2) or piece.group(3)
            if piece.group(1):
                literal += "$"
            elif key in self.input_names:
                out += [escape_delimiters(literal, before_template=True), "{{ inputs." + self.input_names[key] + " }}"]
                literal = ""
            elif key in self.secret_names:
                out += [
                    escape_delimiters(literal, before_template=True),
                    "{{ secrets." + self.secret_names[key] + " }}",
                ]
                literal = ""
            else:
                literal += piece.group(0)  # Chaos Toolkit passes an unknown name through as written
        return "".join([*out, escape_delimiters(literal, before_template=False)])

    def literal(self, value: Any) -> Any:
        """A value Chaos Toolkit substitutes at run time, resolved now from a configuration default (for
        pauses and other numbers fireline needs when it reads the scenario)."""
        if isinstance(value, str):
            match = _SUBSTITUTION.fullmatch(value)
            key = (match.group(2) or match.group(3)) if match else None
            if key in self.input_names and "default" in self.inputs[self.input_names[key]]:
                return self.inputs[self.input_names[key]]["default"]
        return value

    # -- steady state ----------------------------------------------------------------------------------
    def _probes(self) -> list[dict[str, Any]]:
        hypothesis = self.data.get("steady-state-hypothesis")
        probes = hypothesis.get("probes") if isinstance(hypothesis, dict) else None
        out = []
        for i, probe in enumerate(probes or []):
            at: PathKey = ("steady-state-hypothesis", "probes", i)
            activity = self._resolve(probe)
            spec = self._probe(activity, at)
            out.append(spec)
        if not out:
            at = ("steady-state-hypothesis",)
            self.warn(
                at, "no steady-state probes: fireline needs one to see the fault's effect; a placeholder was written"
            )
            out.append(self._placeholder_probe("steady-state", "a check of your service's health", at))
        return out

    def _resolve(self, activity: dict[str, Any]) -> dict[str, Any]:
        if "ref" in activity:
            found = lookup(self.data, activity["ref"])
            assert found is not None  # checked before the mapping starts
            return found
        return activity

    def _probe(self, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        self._activity_extras(activity, at, probe=True)
        provider = activity["provider"]
        ident = self.unique_id(activity["name"], "probe")
        kind = provider["type"]
        if kind == "http":
            spec = self._http_probe(ident, activity, at)
        elif kind == "process":
            spec = self._process_probe(ident, activity, at)
        else:
            spec = self._python_probe(ident, activity, at)
        timeout = spec["with"].get("timeout")
        if timeout and spec["probe"] != "kubernetes":
            spec["timeout"] = timeout  # the probe may take as long as its own request or command
        return spec

    def _activity_extras(self, activity: dict[str, Any], at: PathKey, *, probe: bool) -> None:
        for key in activity:
            if key not in KNOWN_ACTIVITY:
                self.warn((*at, key), "not an activity field fireline knows: not imported")
        if activity.get("controls"):
            self.warn((*at, "controls"), "Chaos Toolkit controls are plugins of its own: not imported")
        if probe and activity.get("pauses"):
            self.warn((*at, "pauses"), "fireline probes the steady state every interval: pauses are not kept")
        if probe and activity.get("background"):
            self.note((*at, "background"), "fireline runs every steady-state probe concurrently anyway")
        if "timeout" in activity:
            self.warn((*at, "timeout"), "an activity's own timeout is not kept (its provider's timeout is)")

    def _http_probe(self, ident: str, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        provider = activity["provider"]
        pat: PathKey = (*at, "provider")
        params: dict[str, Any] = {"url": self.template(provider.get("url", ""), (*pat, "url"))}
        if not provider.get("url"):
            self.warn((*pat, "url"), "an http provider needs a url: the probe will fail until one is set")
        method = str(provider.get("method", "GET")).upper()
        if method != "GET":
            self.warn((*pat, "method"), f"fireline's http.get probe sends GET, not {method}")
        if isinstance(provider.get("headers"), dict):
            params["headers"] = {
                str(k): str(v) for k, v in self.template(provider["headers"], (*pat, "headers")).items()
            }
        timeout = self._timeout(provider.get("timeout"), (*pat, "timeout"))
        if timeout:
            params["timeout"] = timeout
        for key in provider:
            if key not in ("type", "url", "method", "headers", "timeout"):
                self.warn(
                    (*pat, key), f"the http provider's {key} has no equivalent in the http.get probe: not imported"
                )
        spec: dict[str, Any] = {"id": ident, "probe": "http.get", "with": params}
        expect = self._http_expect(activity, at)
        if expect:
            spec["expect"] = expect
        return spec

    def _http_expect(self, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        if "tolerance" not in activity:
            self.warn(at, "no tolerance: any answer passes (Chaos Toolkit requires one in the hypothesis)")
            return {}
        tolerance = activity["tolerance"]
        tat: PathKey = (*at, "tolerance")
        if _status_code(tolerance):
            return {"status": tolerance}
        if isinstance(tolerance, list) and tolerance and all(_status_code(t) for t in tolerance):
            return {"status": list(tolerance)}
        if isinstance(tolerance, dict) and tolerance.get("type") == "jsonpath":
            return self._jsonpath_expect(tolerance, tat)
        if isinstance(tolerance, dict) and tolerance.get("type") == "regex":
            pattern = tolerance.get("pattern")
            if tolerance.get("target", "body") == "body" and isinstance(pattern, str) and _literal_regex(pattern):
                return {"body_contains": self.template(pattern.replace("\\", ""), (*tat, "pattern"))}
            self.warn(tat, "a regular expression other than plain text cannot be checked by http.get: not imported")
            return {}
        self.warn(tat, f"this tolerance ({_describe(tolerance)}) has no http.get equivalent: not imported")
        return {}

    def _jsonpath_expect(self, tolerance: dict[str, Any], at: PathKey) -> dict[str, Any]:
        path, target = tolerance.get("path"), tolerance.get("target", "body")
        expect = tolerance.get("expect")
        if isinstance(expect, list) and len(expect) == 1:
            expect = expect[0]
        simple = isinstance(path, str) and _SIMPLE_JSONPATH.fullmatch(path.strip())
        if target != "body" or not simple or "count" in tolerance or "expect" not in tolerance:
            self.warn(
                at,
                "only a JSON path of names and indexes ($.a.b[0]) in the body with one expected value maps to "
                "http.get's expect.json: not imported",
            )
            return {}
        if isinstance(expect, dict | list):
            self.warn((*at, "expect"), "http.get's expect.json compares one value: not imported")
            return {}
        assert isinstance(path, str)
        return {"json": {path.strip()[1:].lstrip("."): self.template(expect, (*at, "expect"))}}

    def _process_probe(self, ident: str, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        params = self._command(activity, at)
        tolerance = activity.get("tolerance")
        tat: PathKey = (*at, "tolerance")
        if "tolerance" not in activity:
            self.warn(at, "no tolerance: exit code 0 is expected")
            params["expect_exit"] = [0]
        elif _exit_code(tolerance):
            params["expect_exit"] = [tolerance]
        elif isinstance(tolerance, list) and tolerance and all(_exit_code(t) for t in tolerance):
            params["expect_exit"] = list(tolerance)
        else:
            self.warn(
                tat, f"only exit codes map to shell.run ({_describe(tolerance)} does not): exit code 0 is expected"
            )
            params["expect_exit"] = [0]
        return {"id": ident, "probe": "shell.run", "with": params}

    def _python_probe(self, ident: str, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        provider = activity["provider"]
        function = _function(provider)
        args = provider.get("arguments") if isinstance(provider.get("arguments"), dict) else {}
        if function in K8S_DEPLOYMENT_PROBES and _given(args, "name"):
            if activity.get("tolerance", True) is not True:
                self.warn(
                    (*at, "tolerance"), "the probe answers true or false: a tolerance other than true is not kept"
                )
            self.uses_cluster = True
            params = {
                "connection": CLUSTER,
                "namespace": self.template(
                    args["ns"] if _given(args, "ns") else "default", (*at, "provider", "arguments", "ns")
                ),
                "deployment": self.template(args["name"], (*at, "provider", "arguments", "name")),
                "condition": "ready",
            }
            for extra in args:
                if extra not in ("name", "ns"):
                    self.warn(
                        (*at, "provider", "arguments", extra), f"{function}'s {extra} has no equivalent: not imported"
                    )
            return {"id": ident, "probe": "kubernetes", "with": params}
        self.warn(
            (*at, "provider"),
            f"python function {function} cannot run in fireline: a placeholder probe was written; replace it",
        )
        return self._placeholder_probe(ident, f"the Python function {function}", at)

    def _placeholder_probe(self, ident: str, what: str, at: PathKey) -> dict[str, Any]:
        ident = self.unique_id(f"placeholder-{ident}", "probe")
        message = f"PLACEHOLDER: replace probe {ident} ({json_path(at)} ran {what} in Chaos Toolkit)"
        self.probe_comments[ident] = (
            f"PLACEHOLDER: Chaos Toolkit ran {what} here ({json_path(at)}).",
            "Replace this probe with one fireline can run; until then the steady state never holds and no fault",
            "is injected.",
        )
        return {"id": ident, "probe": "shell.run", "with": _failing(message)}

    # -- the method ------------------------------------------------------------------------------------
    def _method(self) -> list[_Fault]:
        faults: list[_Fault] = []
        for i, item in enumerate(self.data["method"]):
            at: PathKey = ("method", i)
            activity = self._resolve(item)
            if activity["type"] == "probe":
                self.warn(at, "a probe in the method is not run: fireline watches the steady-state probes throughout")
                continue
            self._activity_extras(activity, at, probe=False)
            faults.append(self._fault(activity, at, i))
        if not faults:
            self.warn(("method",), "no action in the method: fireline needs a fault; a placeholder was written")
            faults.append(self._placeholder_fault("no-action", "no action", ("method",), -1))
        return faults

    def _fault(self, activity: dict[str, Any], at: PathKey, index: int) -> _Fault:
        provider = activity["provider"]
        ident = self.unique_id(activity["name"], "fault")
        if provider["type"] == "process":
            params = self._command(activity, at)
            if "tolerance" in activity:
                self.warn((*at, "tolerance"), "an action's tolerance is not checked: the command must exit 0")
            return _Fault(at, index, {"id": ident, "action": "shell.run", "with": params}, process=True)
        if provider["type"] == "python":
            mapped = self._k8s_fault(ident, activity, at, index)
            if mapped is not None:
                return mapped
            what = f"the Python function {_function(provider)}"
        else:
            what = f"an HTTP {str(provider.get('method', 'GET')).upper()} request"
        self.warn((*at, "provider"), f"{what} has no fireline fault: a placeholder fault was written; replace it")
        return self._placeholder_fault(ident, what, at, index)

    def _placeholder_fault(self, ident: str, what: str, at: PathKey, index: int) -> _Fault:
        ident = self.unique_id(f"placeholder-{ident}", "fault")
        message = f"PLACEHOLDER: replace fault {ident} ({json_path(at)} ran {what} in Chaos Toolkit)"
        spec = {"id": ident, "action": "shell.run", "with": _failing(message), "revert": {"argv": ["true"]}}
        comments = [
            f"PLACEHOLDER: Chaos Toolkit ran {what} here ({json_path(at)}).",
            "Replace this fault with one fireline has; as written, injecting it fails and the game day stops.",
        ]
        return _Fault(at, index, spec, comments=comments)

    def _k8s_fault(self, ident: str, activity: dict[str, Any], at: PathKey, index: int) -> _Fault | None:
        provider = activity["provider"]
        function = _function(provider)
        args = provider.get("arguments") if isinstance(provider.get("arguments"), dict) else {}
        aat: PathKey = (*at, "provider", "arguments")
        mapper = K8S_FAULTS.get(function)
        if mapper is None:
            return None
        self.uses_cluster = True
        namespace = args["ns"] if _given(args, "ns") else "default"
        params: dict[str, Any] = {"connection": CLUSTER, "namespace": self.template(namespace, (*aat, "ns"))}
        action, more, comments = mapper(self, args, aat)
        if action is None:
            return None
        spec = {"id": ident, "action": action, "with": {**params, **more}}
        return _Fault(at, index, spec, kubernetes=True, comments=comments)

    def _command(self, activity: dict[str, Any], at: PathKey) -> dict[str, Any]:
        """A process provider as shell.run parameters: argv (no shell) unless Chaos Toolkit itself ran the
        arguments through a shell."""
        provider = activity["provider"]
        pat: PathKey = (*at, "provider")
        program = self.template(str(provider.get("path", "")), (*pat, "path"))
        if not program:
            self.warn((*pat, "path"), "a process provider needs a path: the command will fail until one is set")
        arguments = provider.get("arguments", [])
        params: dict[str, Any]
        if isinstance(arguments, str):
            words = self._words(arguments)
            if words is None:
                self.warn(
                    (*pat, "arguments"),
                    "the arguments are a shell command line (Chaos Toolkit runs them through a shell): "
                    "run by /bin/sh -c as written; check it",
                )
                params = self._shell_line(str(provider.get("path", "")), arguments, (*pat, "arguments"))
            else:
                params = {"argv": [program, *(self.template(w, (*pat, "arguments")) for w in words)]}
        elif isinstance(arguments, dict):
            flat = [str(x) for k, v in arguments.items() for x in (k, v) if x not in (None, "")]
            params = {"argv": [program, *self.template(flat, (*pat, "arguments"))]}
        elif isinstance(arguments, list):
            items = [a if isinstance(a, str) else _text(a) for a in arguments if a not in (None, "")]
            params = {"argv": [program, *self.template(items, (*pat, "arguments"))]}
        else:
            self.warn((*pat, "arguments"), "arguments must be a list, a mapping or a string: not imported")
            params = {"argv": [program]}
        timeout = self._timeout(provider.get("timeout"), (*pat, "timeout"))
        if timeout:
            params["timeout"] = timeout
        for key in provider:
            if key not in ("type", "path", "arguments", "timeout"):
                self.warn((*pat, key), f"the process provider's {key} has no equivalent: not imported")
        return params

    def _words(self, arguments: str) -> list[str] | None:
        """A command line's words when it uses no shell feature (else None: it needs a shell). A
        substitution of a configuration or secret name is a value, not a shell feature."""
        bare = _SUBSTITUTION.sub(lambda m: "" if (m.group(2) or m.group(3)) in self._names() else m.group(0), arguments)
        if set(bare) & _SHELL_SPECIAL:
            return None
        try:
            return shlex.split(arguments)
        except ValueError:
            return None

    def _names(self) -> set[str]:
        return set(self.input_names) | set(self.secret_names)

    def _shell_line(self, program: str, arguments: str, at: PathKey) -> dict[str, Any]:
        """A line Chaos Toolkit ran through a shell, kept as one. Its substitutions are passed as environment
        variables of the same name, which the shell expands: a value never becomes shell syntax."""
        env: dict[str, str] = {}

        def keep(match: re.Match[str]) -> str:
            if match.group(1):
                return "$"
            key = match.group(2) or match.group(3)
            if key in self._names():
                env[key] = self._template_text("${" + key + "}", at)
            return match.group(0)

        line = escape_delimiters(_SUBSTITUTION.sub(keep, arguments), before_template=False)
        if _SUBSTITUTION.search(program):  # the program's own path is a value too: the shell reads it from env
            env["FIRELINE_PROGRAM"] = self._template_text(program, at)
            program_word = '"$FIRELINE_PROGRAM"'
        else:
            program_word = escape_delimiters(shlex.quote(program), before_template=False)
        # argv, not command: the line is the experiment's own shell text, run by /bin/sh as Chaos Toolkit ran it;
        # fireline's shell-text rules are for templated values, and here no value is templated into it.
        params: dict[str, Any] = {"argv": ["/bin/sh", "-c", f"{program_word} {line}"]}
        if env:
            params["env"] = env
        return params

    def _timeout(self, value: Any, at: PathKey) -> str | None:
        value = self.literal(value)
        if value is None:
            return None
        if isinstance(value, list) and value and all(_number(v) for v in value):
            value = sum(value)  # (connect, read): the whole exchange takes at most both
        if _number(value) and 0 < value <= MAX_DURATION_SECONDS:
            return seconds(value)
        self.warn(at, "a timeout must be a number of seconds (at most ten years): not imported")
        return None

    # -- rollbacks -------------------------------------------------------------------------------------
    def _rollbacks(self, faults: list[_Fault]) -> None:
        rollbacks = [(("rollbacks", i), self._resolve(r)) for i, r in enumerate(self.data.get("rollbacks") or [])]
        process = [(at, r) for at, r in rollbacks if r["provider"]["type"] == "process"]
        actions = [f for f in faults if f.process]
        paired = len(process) == len(actions)
        for fault, (at, rollback) in zip(actions, process, strict=False):
            if paired:
                self._pair(fault, rollback, at)
        if not paired:
            for at, _ in process:
                self.warn(
                    at,
                    f"{len(process)} process rollback(s) for {len(actions)} process action(s): which undoes which "
                    "is ambiguous, so this rollback was not imported",
                )
            for fault in actions:
                self._no_revert(fault)
        kubernetes = any(f.kubernetes for f in faults)
        for at, rollback in rollbacks:
            provider = rollback["provider"]
            if provider["type"] == "process":
                continue
            function = _function(provider) if provider["type"] == "python" else ""
            if function.startswith("chaosk8s.") and kubernetes:
                self.note(at, f"{function} is not needed: fireline's Kubernetes faults revert themselves")
            else:
                what = f"python function {function}" if function else "an HTTP request"
                self.warn(at, f"this rollback ({what}) has no fireline equivalent: not run")

    def _pair(self, fault: _Fault, rollback: dict[str, Any], at: PathKey) -> None:
        self._activity_extras(rollback, at, probe=False)
        revert = self._command(rollback, at)
        if rollback.get("pauses"):
            self.warn((*at, "pauses"), "pauses around a rollback are not kept")
        keep = {k: v for k, v in revert.items() if fault.spec["with"].get(k) != v or k in ("argv", "command")}
        fault.spec["revert"] = keep
        fault.comments.append(f"Reverted by the rollback {rollback['name']!r} ({json_path(at)}).")

    def _no_revert(self, fault: _Fault) -> None:
        self.warn(fault.path, "no rollback could be paired with this action: its revert only says so; write one")
        message = f"fault {fault.spec['id']} has no revert: Chaos Toolkit ran no rollback paired with its action"
        fault.spec["revert"] = {"argv": ["echo", message]}
        fault.comments.append("PLACEHOLDER: no rollback was paired with this action; write the command that undoes it.")

    # -- timing ----------------------------------------------------------------------------------------
    def _durations(self, faults: list[_Fault]) -> None:
        """Chaos Toolkit runs the rollbacks after the whole method: a fault stays in place for the pauses
        after its action and every activity after it. fireline injects every fault at the start and reverts
        each when its duration ends."""
        method = self.data["method"]
        pauses = [self._pauses(self._resolve(a), ("method", i)) for i, a in enumerate(method)]
        real = [f for f in faults if f.index >= 0]
        for fault in real:
            remaining = pauses[fault.index][1] + sum(b + a for b, a in pauses[fault.index + 1 :])
            if remaining > MAX_DURATION_SECONDS:
                self.warn(fault.path, "the pauses after this action add up to more than ten years: no duration")
            elif remaining > 0:
                fault.spec["duration"] = seconds(remaining)
            else:
                fault.comments.append(
                    "No duration: Chaos Toolkit undid it right after the method; here it stays until the game day "
                    "ends (recovery, response timeout or guardrail). Add duration: to bound it."
                )
                self.note(
                    fault.path,
                    "no pause after this action, so no duration: the fault stays until the game day ends "
                    "(up to the 30m guardrail when nobody responds); add duration: to bound it",
                )
        if real:
            first = real[0].index
            if pauses[first][0] > 0 or any(b + a for b, a in pauses[:first]):
                self.warn(
                    ("method", first, "pauses"),
                    "the wait before the first action is not kept: fireline injects once the steady state holds",
                )
            for fault in real[1:]:
                waited = (
                    pauses[first][1] + sum(b + a for b, a in pauses[first + 1 : fault.index]) + pauses[fault.index][0]
                )
                if waited > 0:
                    self.warn(
                        (*fault.path, "pauses"),
                        f"injected with the first fault, not {seconds(waited)} after it: fireline injects every "
                        "fault at the start",
                    )

    def _pauses(self, activity: dict[str, Any], at: PathKey) -> tuple[float, float]:
        pauses = activity.get("pauses")
        if not isinstance(pauses, dict):
            return 0.0, 0.0
        out = []
        for key in ("before", "after"):
            value = self.literal(pauses.get(key, 0)) or 0
            if not _number(value) or value < 0 or value > MAX_DURATION_SECONDS:
                self.warn(
                    (*at, "pauses", key),
                    "a pause must be a number of seconds (or name a configuration value with a default): not kept",
                )
                value = 0
            out.append(float(value))
        return out[0], out[1]

    # -- ids -------------------------------------------------------------------------------------------
    def unique_id(self, name: str, fallback: str) -> str:
        base = slug(name, fallback)[:60].rstrip("-_")
        ident, n = base, 2
        while ident in self.ids:
            ident, n = f"{base}-{n}", n + 1
        self.ids.add(ident)
        return ident


# --- chaostoolkit-kubernetes ----------------------------------------------------------------------------

K8sMapping = tuple[str | None, dict[str, Any], list[str]]


def _terminate_pods(imp: _Importer, args: dict[str, Any], at: PathKey) -> K8sMapping:
    more: dict[str, Any] = {}
    comments: list[str] = []
    selector = args.get("label_selector")
    if isinstance(selector, str) and selector:
        more["selector"] = imp.template(selector, (*at, "label_selector"))
    else:
        imp.warn(
            at,
            "without label_selector Chaos Toolkit picks from every pod in the namespace; fireline needs "
            "a selector: a placeholder was written",
        )
        more["selector"] = "app=PLACEHOLDER"
        comments.append("PLACEHOLDER: set the label selector of the pods to delete.")
    if args.get("name_pattern"):
        imp.warn((*at, "name_pattern"), "fireline selects pods by label only: name_pattern is not kept")
    qty = imp.literal(args.get("qty", 1))
    if not args.get("all"):
        if args.get("mode") == "percentage" and _number(qty) and 0 < qty <= 100:
            more["percent"] = qty
        elif isinstance(qty, int) and qty >= 1:
            more["count"] = qty
        else:
            imp.warn(
                (*at, "qty"), "qty must be a whole number (or a percentage with mode: percentage): one pod is deleted"
            )
            more["count"] = 1
        if args.get("rand"):
            more["pick"] = "random"
        elif args.get("order") == "oldest":
            more["pick"] = "oldest"
        else:
            more["pick"] = "random"
            imp.note(at, "Chaos Toolkit deletes the first pods in alphabetical order; fireline picks at random")
    grace = imp.literal(args.get("grace_period", -1))
    if isinstance(grace, int) and grace >= 0:
        more["grace_period"] = grace
    for key in args:
        if key not in ("label_selector", "name_pattern", "all", "rand", "mode", "qty", "grace_period", "ns", "order"):
            imp.warn((*at, key), f"terminate_pods' {key} has no equivalent: not imported")
    return "kubernetes.delete_pods", more, comments


def _scale_deployment(imp: _Importer, args: dict[str, Any], at: PathKey) -> K8sMapping:
    replicas = imp.template(args.get("replicas"), (*at, "replicas"))
    if not _given(args, "name") or not (isinstance(replicas, int | str) and replicas != ""):
        imp.warn(at, "scale_deployment needs a name and a replica count")
        return None, {}, []
    for key in args:
        if key not in ("name", "replicas", "ns"):
            imp.warn((*at, key), f"scale_deployment's {key} has no equivalent: not imported")
    more = {"deployment": imp.template(args["name"], (*at, "name")), "replicas": replicas}
    return "kubernetes.scale", more, ["Reverted automatically: scaled back to the replica count it had."]


def _delete_deployment(imp: _Importer, args: dict[str, Any], at: PathKey) -> K8sMapping:
    if not _given(args, "name"):
        imp.warn(at, "delete_deployment by label_selector has no equivalent: needs a name")
        return None, {}, []
    imp.note(
        at, "deleting the deployment is written as scaling it to zero: the same outage, and fireline can put it back"
    )
    more = {"deployment": imp.template(args["name"], (*at, "name")), "replicas": 0}
    return (
        "kubernetes.scale",
        more,
        [
            "Chaos Toolkit deleted the deployment; scaling it to zero takes its pods away the same way and is",
            "reverted automatically (scaled back to the replica count it had).",
        ],
    )


def _rollout_deployment(imp: _Importer, args: dict[str, Any], at: PathKey) -> K8sMapping:
    if not _given(args, "name"):
        imp.warn(at, "rollout_deployment needs a name")
        return None, {}, []
    more = {"deployment": imp.template(args["name"], (*at, "name"))}
    return "kubernetes.rollout_restart", more, ["A rolling restart: every pod is replaced; nothing to put back."]


K8S_FAULTS: dict[str, Any] = {
    "chaosk8s.pod.actions.terminate_pods": _terminate_pods,
    "chaosk8s.deployment.actions.scale_deployment": _scale_deployment,
    "chaosk8s.deployment.actions.delete_deployment": _delete_deployment,
    "chaosk8s.deployment.actions.rollout_deployment": _rollout_deployment,
}
K8S_DEPLOYMENT_PROBES = frozenset(
    {
        "chaosk8s.deployment.probes.deployment_available_and_healthy",
        "chaosk8s.deployment.probes.deployment_fully_available",
    }
)

CLUSTER_COMMENT = (
    "The cluster the Kubernetes faults and probes act on: $KUBECONFIG (or ~/.kube/config), as",
    "chaostoolkit-kubernetes finds it; add kubeconfig: or context: to choose another.",
)
DETECTION_COMMENT = (
    "Chaos Toolkit has no notion of detection: the game day counts the fault as detected when a",
    "steady-state probe fails. Add an alert: or prometheus: signal to measure your monitoring instead.",
)
RESPONSE_COMMENT = (
    "Nobody responds in a Chaos Toolkit experiment. manual: acknowledge with `fireline gameday ack ID`",
    "and link the runbook you respond with (`fireline run RUNBOOK --gameday ID`), or use mode: runbook",
    "with runbook: PATH. Without an acknowledgement and a response run, the game day reports them as",
    "never happened and fails, even when the system recovered by itself.",
)
OBJECTIVES_PLACEHOLDER = (
    "",
    "PLACEHOLDER objectives: Chaos Toolkit has no notion of detection or recovery times, so none were",
    "imported and none were made up. Uncomment the ones your team commits to and give each a duration",
    "(e.g. 30s, 2m):",
    "objectives:",
    "  time_to_detect:",
    "  time_to_acknowledge:",
    "  time_to_mitigate:",
    "  time_to_recover:",
)


# --- small helpers --------------------------------------------------------------------------------------


def json_path(at: PathKey) -> str:
    out = "$"
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def slug(text: str, fallback: str) -> str:
    """A kebab-case name or id (fireline's pattern), from free text."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:63].strip("-")
    return out or fallback


def identifier(text: str, fallback: str) -> str:
    """An input or secret name: letters, digits and underscores, not starting with a digit."""
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    if not out:
        return fallback
    return f"_{out}" if out[0].isdigit() else out


def seconds(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value)}s"
    return f"{round(float(value) * 1000)}ms"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _exit_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255


def _literal_regex(pattern: str) -> bool:
    """A pattern that only matches its own text (escapes allowed): what body_contains can check."""
    plain = re.sub(r"\\(.)", "", pattern)
    return bool(pattern) and not (_REGEX_SPECIAL & set(plain))


def _function(provider: dict[str, Any]) -> str:
    return f"{provider.get('module', '?')}.{provider.get('func', '?')}"


def _describe(tolerance: Any) -> str:
    if isinstance(tolerance, dict):
        return f"type {tolerance.get('type')!r}"
    return f"{type(tolerance).__name__} {tolerance!r}"[:80]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
        return "list"
    return None


def _fits(value: Any, kind: str) -> bool:
    return _input_type(value) == kind or (kind == "number" and _input_type(value) == "integer")


def _failing(message: str) -> dict[str, Any]:
    """A command that fails and says why: what a placeholder runs until someone replaces it."""
    return {"argv": ["sh", "-c", 'echo "$0" >&2; exit 1', escape_delimiters(message, before_template=False)]}


def _pieces(text: str) -> list[str | re.Match[str]]:
    """The text cut into literal runs and substitution matches, in order."""
    out: list[str | re.Match[str]] = []
    end = 0
    for match in _SUBSTITUTION.finditer(text):
        out += [text[end : match.start()], match]
        end = match.end()
    out.append(text[end:])
    return out


def escape_delimiters(text: str, *, before_template: bool) -> str:
    """Literal text that stays literal in a fireline template: a `{` that would open `{{`, `{%` or `{#`
    (with the next character, or with the template that follows) is written as the template `{{ '{' }}`."""
    out = []
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        opens = following in ("{", "%", "#") or (not following and before_template)
        out.append("{{ '{' }}" if char == "{" and opens else char)
    return "".join(out)


def _given(args: Mapping[str, Any], key: str) -> bool:
    """A function argument given as non-empty text."""
    return isinstance(args.get(key), str) and bool(args[key].strip())
