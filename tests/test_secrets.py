"""A secret never leaves fireline whole or in part: not cut in the middle, not in an encoded form."""

from __future__ import annotations

import html
import json
import shlex
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from jinja2.sandbox import SandboxedEnvironment

from runner.secrets import MASK, Redactor, encoded_forms, shorten
from tests.conftest import HttpServer, write

# Spaces, "/", "+", "&", quotes, HTML and non-ASCII characters: every encoding differs from the value.
CANARY = "Cn4ry/tok+en &<x>'q\"ü✓-7f3a9c1e"
# A 14-character token, like the bearer token the header case was found with.
BEARER = "bT0k3n-9x8y7z6"


def _windows(text: str, size: int = 8) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def _leaks(text: str) -> set[str]:
    """Every 8-character piece of the secrets (raw or encoded) found in `text`."""
    found = set()
    for secret in (CANARY, BEARER):
        for form in encoded_forms(secret):
            found |= {w for w in _windows(form) if w in text}
    return found


RUNBOOK = """\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: canary}}
secrets:
  TOKEN: {{from: env, name: FIRELINE_TEST_CANARY}}
  BEARER: {{from: env, name: FIRELINE_TEST_BEARER}}
steps:
  - id: forms
    action: control.assert
    with: {{that: "{{{{ true }}}}"}}
    outputs:
      long: "{{{{ 'a' * 190 ~ secrets.TOKEN }}}}"
      longer: "{{{{ 'b' * 195 ~ secrets.TOKEN ~ 'tail' }}}}"
      urlencoded: "{{{{ 'c' * 185 ~ secrets.TOKEN | urlencode }}}}"
      query: "{{{{ {{'t': secrets.TOKEN}} | urlencode }}}}"
      json: "{{{{ secrets.TOKEN | tojson }}}}"
      escaped: "{{{{ secrets.TOKEN | e }}}}"
  - id: header
    action: shell.run
    read_only: true
    with: {{argv: [printf, "%s", "{pad}Authorization: Bearer {{{{ secrets.BEARER }}}}"]}}
    outputs: {{header: "{{{{ result.stdout }}}}"}}
"""


@pytest.fixture
def canary_runbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIRELINE_TEST_CANARY", CANARY)
    monkeypatch.setenv("FIRELINE_TEST_BEARER", BEARER)
    # The header line ends at character 199: a cut at 200 before masking left 13 of its 14 characters.
    pad = "x" * (199 - len("Authorization: Bearer ") - len(BEARER) + 1)
    return str(write(tmp_path / "canary.yaml", RUNBOOK.format(pad=pad)))


def test_no_output_path_shows_a_secret_in_part_or_encoded(canary_runbook: str, cli, fireline_home: Path) -> None:
    plain = cli("run", canary_runbook, "--output", "plain")
    assert plain.code == 0, plain.err
    assert "***" in plain.out and "long = aaaa" in plain.out
    as_json = cli("run", canary_runbook, "--output", "json")
    assert as_json.code == 0, as_json.err
    outputs = {s["id"]: s["outputs"] for s in as_json.json()["steps"]}
    assert outputs["forms"]["json"] == '"***"' and outputs["forms"]["escaped"] == "***"
    planned = cli("plan", canary_runbook, "--output", "plain")
    for result in (plain, as_json, planned):
        assert not _leaks(result.out + result.err), result.out
    shown = cli("runs", "show", as_json.json()["run_id"])
    assert not _leaks(shown.out + shown.err)
    for file in fireline_home.rglob("*"):
        if file.is_file():
            assert not _leaks(file.read_bytes().decode("utf-8", "replace")), file


@pytest.mark.parametrize("secret", [CANARY, BEARER, "with space/slash+plus", "pässwörd ✓ 12", "a\\b\nc\td'e"])
@pytest.mark.parametrize("filter_", ["urlencode", "tojson", "e", "forceescape", "string", "pprint"])
def test_jinja_filters_cannot_unmask_a_secret(secret: str, filter_: str) -> None:
    redactor = Redactor()
    redactor.add(secret)
    rendered = SandboxedEnvironment().from_string(f"{{{{ s | {filter_} }}}}").render(s=secret)
    assert redactor.text(rendered).strip("'\"") == MASK


def test_encodings_outside_templates_are_masked() -> None:
    secret = "ab cd/e+f&g'h\"ü"
    redactor = Redactor()
    redactor.add(secret)
    for form in (quote(secret), quote_plus(secret), json.dumps(secret), html.escape(secret), shlex.quote(secret)):
        assert secret[:8] not in redactor.text(f"x {form} y")
        assert redactor.text(f"x {form} y").startswith("x ")


def test_masked_before_cut() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-canary")
    line = "a" * 190 + "s3cr3t-canary"
    assert redactor.shorten(line, 200) == "a" * 190 + MASK
    cut = redactor.shorten("b" * 196 + "s3cr3t-canary" + "tail", 200)
    assert cut == "b" * 196 + "*..." and len(cut) == 200


def test_a_cut_made_elsewhere_leaves_no_remnant() -> None:
    """Code without a redactor at hand cut first; what is left of the secret before the ellipsis is masked."""
    redactor = Redactor()
    redactor.add("s3cr3t-canary")
    cut = shorten("x" * 190 + "s3cr3t-canary", 200)
    assert "s3cr3t" not in redactor.text(cut)
    assert redactor.text(repr("y" * 40 + "s3cr3t-canary")[:47] + "...").endswith(MASK + "...")
    # ordinary text before an ellipsis is left alone
    assert redactor.text("loading... s3c... done") == "loading... s3c... done"


def test_a_long_http_body_is_masked_before_it_is_cut(
    tmp_path: Path, cli, fireline_home: Path, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRELINE_TEST_BEARER", BEARER)
    # The body is kept up to 4096 characters: the secret straddles the cut, 10 of its 14 characters inside.
    http_server.routes["/echo"] = (200, "x" * 4086 + f"{BEARER} and more")
    path = write(
        tmp_path / "http.yaml",
        f"""\
apiVersion: fireline/v1
kind: Runbook
metadata: {{name: echo}}
secrets:
  BEARER: {{from: env, name: FIRELINE_TEST_BEARER}}
steps:
  - id: echo
    action: http.request
    with: {{url: "{http_server.url}/echo", headers: {{Authorization: "Bearer {{{{ secrets.BEARER }}}}"}}}}
    outputs: {{tail: "{{{{ result.body[-40:] }}}}"}}
""",
    )
    result = cli("run", str(path), "--output", "json")
    assert result.code == 0, result.err
    assert not _leaks(result.out + result.err)
    for file in fireline_home.rglob("*"):
        if file.is_file():
            assert not _leaks(file.read_bytes().decode("utf-8", "replace")), file
