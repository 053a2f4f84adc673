"""Patterns deferred for one package's import behave as compiled ones; nobody else's are deferred; PyYAML,
imported that way, parses as before and never compiles the pattern fireline's loading does not use."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from runner.lazyregex import DeferredPattern, compiled_when_used

REPO = Path(__file__).resolve().parents[1]


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(source, module.__dict__)
    return module


def test_only_the_named_package_gets_patterns_compiled_on_first_use() -> None:
    source = "import re\nWORD = re.compile(r'(\\w+)-(\\d+)', re.ASCII)\n"
    with compiled_when_used("pkg"):
        mine = _module("pkg.sub", source)
        other = _module("pkgother", source)
    assert isinstance(mine.WORD, DeferredPattern)
    assert isinstance(other.WORD, re.Pattern)
    assert mine.WORD.match("abc-12").groups() == ("abc", "12")
    assert mine.WORD.pattern == other.WORD.pattern and mine.WORD.flags == other.WORD.flags
    assert mine.WORD.sub("x", "ab-1 cd-2") == "x x"
    assert re.compile is re.__dict__["compile"] and isinstance(re.compile("a"), re.Pattern)


def test_compile_is_restored_when_the_import_fails() -> None:
    original = re.compile
    with pytest.raises(ZeroDivisionError), compiled_when_used("pkg"):
        _module("pkg.broken", "1 / 0\n")
    assert re.compile is original


def test_a_bad_pattern_fails_where_it_is_used() -> None:
    with compiled_when_used("pkg"):
        bad = _module("pkg.bad", "import re\nBAD = re.compile('(')\n")
    with pytest.raises(re.error):
        bad.BAD.match("x")


def test_yaml_parses_as_before_and_its_unused_pattern_is_never_compiled() -> None:
    probe = (
        "import datetime\n"
        "from runner.document.yamlsource import load_text\n"
        "import yaml\n"
        "doc = load_text(b'a: 2024-01-02\\nb: yes\\nc: 0x1f\\nd: 1.5e+3\\ne: ~\\nf: [1, two]\\n', 'x.yaml')\n"
        "assert doc.data == {'a': datetime.date(2024, 1, 2), 'b': True, 'c': 31, 'd': 1500.0, 'e': None,"
        " 'f': [1, 'two']}, doc.data\n"
        "assert yaml.reader.Reader.NON_PRINTABLE._compiled is None\n"
        "try:\n"
        "    yaml.load('a: \\x07', Loader=yaml.SafeLoader)\n"
        "except yaml.reader.ReaderError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"  # the pure-Python reader still checks, compiling it then
