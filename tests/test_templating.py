"""Templating: the fast path for plain references agrees with Jinja; shell quoting never lets an input run."""

from __future__ import annotations

import atexit
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.templating import _MISS, TemplateError, _compiled_expression, _fast_evaluate, references, render_string

names = st.sampled_from(["a", "b", "items", "n", "rows", "x1"])
leaves = st.one_of(st.integers(-5, 5), st.text(max_size=5), st.booleans(), st.none())
data = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def expressions(draw: Any) -> str:
    parts = [draw(st.sampled_from(["a", "b"]))]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["attr", "int", "str"]))
        if kind == "attr":
            parts.append("." + draw(names))
        elif kind == "int":
            parts.append(f"[{draw(st.integers(0, 3))}]")
        else:
            parts.append(f"['{draw(names)}']")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b"]), data, min_size=1), expressions())
def test_fast_path_agrees_with_jinja(context: dict[str, Any], expr: str) -> None:
    fast = _fast_evaluate(expr, context)
    if fast is _MISS:
        return
    slow = _compiled_expression(expr)(**context)
    assert fast is slow or fast == slow


@pytest.mark.parametrize(
    "hostile",
    ["x; touch {marker}", "$(touch {marker})", "`touch {marker}`", "a' ; touch {marker}; echo '", "\n touch {marker}"],
)
def test_shell_values_are_quoted(hostile: str, tmp_path) -> None:
    marker = tmp_path / "pwned"
    value = hostile.format(marker=marker)
    line = render_string("echo {{ inputs.v }}", {"inputs": {"v": value}}, shell=True)
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert out == value + "\n" and not marker.exists()
    assert shlex.split(line) == ["echo", value]


def test_references_skip_names_bound_in_the_template() -> None:
    refs = references("{% for h in inputs.hosts %}{{ h.name }}{% endfor %}{{ steps['c'].outputs.n }}")
    assert [(r.root, r.chain) for r in refs] == [("inputs", ("hosts",)), ("steps", ("c", "outputs", "n"))]


# --- shell text: every value reaches the command byte for byte, or the command is refused ------------------

MARKER = Path(tempfile.mkdtemp(prefix="fireline-quoting-")) / "pwned"  # what an injected command would create
atexit.register(shutil.rmtree, MARKER.parent, True)
_PIECES = [
    *"'\"`)\\\n;|*?~# \t\r!\u2028\x7f\x01",  # one character each
    *["$(", "&&", "-n", "--", "$HOME", "${IFS}", "'\"'\"'", "é", "日本", "<<EOF"],
    *[f"$(touch {MARKER})", f"`touch {MARKER}`", f"'; touch {MARKER}; '", f'"; touch {MARKER}; "'],
]
shell_values = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
    ),
    max_size=6,
).map("".join)


def _sh(line: str) -> bytes:
    return subprocess.run(["/bin/sh", "-c", line], capture_output=True, check=True).stdout


@settings(max_examples=300, deadline=None)
@given(shell_values)
def test_a_value_reaches_the_shell_byte_for_byte(value: str) -> None:
    line = render_string("printf '%s|' {{ v }} --name={{ v }} 'pre'{{ v }}\"post\"", {"v": value}, shell=True)
    assert _sh(line) == f"{value}|--name={value}|pre{value}post|".encode()
    assert not MARKER.exists()


@pytest.mark.parametrize(
    ("command", "where"),
    [
        ("echo '{{ v }}'", "inside single quotes"),
        ('echo "{{ v }}"', "inside double quotes"),
        ('grep "error {{ v }} here" f', "inside double quotes"),
        ("echo `echo {{ v }}`", "inside a `…` command substitution"),
        ("echo $(echo {{ v }})", "inside a $(…) command substitution"),
        ('echo "$(echo {{ v }})"', "inside a $(…) command substitution inside double quotes"),
        ("echo $(( {{ v }} + 1 ))", "inside an arithmetic expression"),
        ("(( n = {{ v }} ))", "inside an arithmetic expression"),
        ("echo ${X:-{{ v }}}", "inside a ${…} parameter expansion"),
        ("[[ $n -eq {{ v }} ]]", "inside a [[ … ]] conditional"),
        ("echo hi # {{ v }}", "inside a comment"),
        ("cat <<EOF\n{{ v }}\nEOF", "inside a here-document"),
        ("cat <<'EOF'\nsay {{ v }}\nEOF", "inside a here-document"),
        ("cat <<{{ v }}\nx\n", "used as a here-document delimiter"),
        ("echo \\{{ v }}", "right after a backslash"),
        ("echo ${{ v }}", "right after a $"),
        ("eval echo {{ v }}", "inside an argument of eval, let or trap"),
        ("x=1; let n={{ v }}+1", "inside an argument of eval, let or trap"),
        # found by test_a_command_that_is_allowed_never_runs_a_value (and its longer runs):
        ('"$@" eval {{ v }}', "inside an argument of eval, let or trap"),  # "$@" may expand to no word
        ("\\eval {{ v }}", "inside an argument of eval, let or trap"),
        ("''let {{ v }}", "inside an argument of eval, let or trap"),
        ("$((;; esac)-eq;{{ v }}\n))", "inside a $(…) command substitution"),  # not arithmetic after all
        ("x=(a {{ v }})", "inside a name=( … ) array assignment"),
        ("x=(f() ) {{ v }}", "on the line of a name=( … ) array assignment"),
        ("echo {% if true %}'{% endif %}{{ v }}", "inside single quotes"),  # only visible once rendered
    ],
)
def test_a_value_the_shell_would_parse_again_is_refused(command: str, where: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(command, {"v": f"x'\"; touch {MARKER}"}, shell=True)
    assert where in str(caught.value)
    assert caught.value.hint


@pytest.mark.parametrize(
    "command",
    [
        "echo {{ v }}",
        "echo --name={{ v }} x{{ v }}y",
        "echo 'a'{{ v }}'b' \"c\"{{ v }}",
        "cat <<< {{ v }}",
        'echo "$HOME"/{{ v }}',
        "cat <<EOF\nfixed\nEOF\necho {{ v }}",
        "echo $(echo ')') {{ v }} # a comment",
        'a=b#{{ v }}; echo "$a"',
    ],
)
def test_a_value_as_a_plain_word_is_allowed(command: str) -> None:
    render_string(command, {"v": "x y"}, shell=True)


def test_a_value_changed_after_quoting_is_refused() -> None:
    """A {% filter %} block works on the quoted text: stripping the quotes would let the value run."""
    command = "{% filter replace(\"'\", '') %}echo {{ v }}{% endfilter %}"
    with pytest.raises(TemplateError, match="changed after it was quoted"):
        render_string(command, {"v": f"x; touch {MARKER}"}, shell=True)
    assert (
        _sh(render_string("printf %s {% filter upper %}{{ v }}{% endfilter %}", {"v": "a; b"}, shell=True)) == b"A; B"
    )


def test_nul_is_refused_in_values_and_in_the_command() -> None:
    with pytest.raises(TemplateError, match="NUL byte"):
        render_string("printf %s {{ v }}", {"v": "a\x00b"}, shell=True)
    with pytest.raises(TemplateError, match="NUL byte"):
        render_string("printf a\x00b {{ v }}", {"v": "x"}, shell=True)


def test_the_suggested_rewrite_is_valid_and_exact() -> None:
    """The hint for a quoted template is a command that works: closing the quotes around the value."""
    value = f'it\'s "quoted" $(touch {MARKER})'
    for command in ['printf %s "<{{ v }}>"', "printf %s '<{{ v }}>'", 'printf %s "{{ v }}"']:
        with pytest.raises(TemplateError) as caught:
            render_string(command, {"v": value}, shell=True)
        fixed = str(caught.value.hint).split("write: ", 1)[1]
        expected = value if "<" not in command else f"<{value}>"
        assert _sh(render_string(fixed, {"v": value}, shell=True)) == expected.encode()
    assert not MARKER.exists()


# --- allowed means safe: random commands built from shell syntax, run by real shells -------------------------

_SYNTAX = [
    *["'", '"', "`", "$(", "$((", ")", "))", "((", "${", "}", "{ ", "\\", "$", "#", "\n", " ", ";", "|", "&&"],
    *["<<EOF\n", "<<'EOF'\n", "<<-EOF\n", "EOF\n", "<<<", "[[ ", " ]]", "=", "x", "1", "-eq", ">", "~", "*"],
    *["echo ", "printf %s ", "true ", ": ", "eval ", "let ", "trap ", "cat ", "case x in x) ", ";; esac", "for i in "],
    *["x=(", "a[", "]", '"$@" ', "( ", " )", "f() ", "if ", "then ", "fi", "do ", "done", "<(", "!", "&"],
]
_PAYLOADS = [
    f"'; touch {MARKER}; '",
    f'"; touch {MARKER}; "',
    f"$(touch {MARKER})`touch {MARKER}`",
    f"\ntouch {MARKER}\nEOF\ntouch {MARKER}\n",
    f"a[$(touch {MARKER})]",
    f"\\'; touch {MARKER} #",
    f"x)\ntouch {MARKER}\n(",
    f"}}; touch {MARKER}; {{",
]
SHELLS = [s for s in ("/bin/sh", "/bin/bash") if Path(s).exists()]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_SYNTAX), st.just("{{ v }}")), min_size=1, max_size=12).map("".join))
def test_a_command_that_is_allowed_never_runs_a_value(template: str) -> None:
    try:
        lines = [render_string(template, {"v": payload}, shell=True) for payload in _PAYLOADS]
    except TemplateError:
        return  # refused: nothing runs
    workdir = MARKER.parent / "cwd"
    workdir.mkdir(exist_ok=True)
    for shell in SHELLS:
        for line in lines:
            subprocess.run(
                [shell, "-c", line], cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False
            )
            assert not MARKER.exists(), f"{shell} ran a value of {template!r}: {line!r}"
