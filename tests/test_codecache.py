"""The code cache's file: read back whole or not at all, private, and never run when others could write it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import codecache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("FIRELINE_NO_CACHE", raising=False)
    return tmp_path / "fireline"


def test_code_written_is_read_back_and_runs(cache: Path) -> None:
    path = codecache.cache_dir("demo", "x.code")
    codecache.write(path, {"answer": compile("answer = 6 * 7", "<string>", "exec")})
    namespace: dict[str, int] = {}
    exec(codecache.read(path)["answer"], namespace)
    assert namespace["answer"] == 42
    assert (cache / "demo").stat().st_mode & 0o777 == 0o700
    assert cache.stat().st_mode & 0o777 == 0o700
    assert Path(path).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (cache / "demo").iterdir()] == ["x.code"]  # no temporary file left


@pytest.mark.parametrize("cut", [0, 5, 12, -1])
def test_a_cut_or_altered_file_reads_as_none(cache: Path, cut: int) -> None:
    path = codecache.cache_dir("x.code")
    codecache.write(path, ("a", "b" * 100))
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:cut] if cut >= 0 else data[:-1] + b"c")
    assert codecache.read(path) is None


def test_a_file_others_can_write_is_not_read(cache: Path) -> None:
    path = codecache.cache_dir("x.code")
    codecache.write(path, "value")
    assert codecache.read(path) == "value"
    Path(path).chmod(0o620)
    assert codecache.read(path) is None


def test_turned_off_it_neither_reads_nor_writes(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = codecache.cache_dir("x.code")
    codecache.write(path, "value")
    monkeypatch.setenv("FIRELINE_NO_CACHE", "1")
    assert codecache.read(path) is None
    codecache.write(codecache.cache_dir("y.code"), "value")
    assert not Path(codecache.cache_dir("y.code")).exists()


def test_without_a_home_nothing_is_cached_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", "")
    monkeypatch.setattr("os.path.expanduser", lambda path: path)  # as when no home can be found
    assert not codecache.enabled()
    codecache.write(codecache.cache_dir("x.code"), "value")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_in_place_of_a_cache_file_is_refused_without_waiting(cache: Path) -> None:
    import os

    path = codecache.cache_dir("x.code")
    codecache.make_private_dir(os.path.dirname(path))
    os.mkfifo(path, 0o600)
    assert codecache.read_private(path) is None  # returns at once: nobody ever writes to it
    assert codecache.read(path) is None


def test_file_stamps_change_with_a_file_and_leave_bytecode_out(cache: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "__pycache__").mkdir(parents=True)
    (tree / "sub" / "a.json").write_text("{}")
    before = codecache.file_stamps(str(tree))
    (tree / "sub" / "__pycache__" / "a.pyc").write_bytes(b"x")
    assert codecache.file_stamps(str(tree)) == before
    (tree / "sub" / "a.json").write_text('{"k": 1}')
    assert codecache.file_stamps(str(tree)) != before
