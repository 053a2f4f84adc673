"""`fireline gameday note` masks the game day's secrets before the note reaches the journal, so no report
(Markdown, HTML, JSON) ever shows them — not even in part."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import write
from tests.gameday.conftest import CliRunner, journal_events
from tests.gameday.flagfile import environment, flags_text, gameday, scenario_text

TOKEN = "tok-7Qv2Lx9Rw4Zp1Kd8Hs"  # what the note taker has in FLAG_TOKEN
PAGER_KEY = "pgr-3Nc6Yb0Tm5Wq"  # set for the game day only: the note taker cannot know it
SECRETS = """\
secrets:
  FLAG_TOKEN: {from: env, name: FLAG_TOKEN}
  PAGER_KEY: {from: env, name: PAGER_KEY}
"""


def pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def test_a_note_never_shows_a_secret(cli: CliRunner, tmp_path: Path, fireline_home: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    flag_file = write(tmp_path / "flags" / "flagd.json", flags_text(3))
    scenario = write(tmp_path / "drill.yaml", scenario_text(duration="5m", extra=SECRETS))
    env = environment(fireline_home, FLAG_TOKEN=TOKEN, PAGER_KEY=PAGER_KEY)
    monkeypatch.setenv("FLAG_TOKEN", TOKEN)
    monkeypatch.delenv("PAGER_KEY", raising=False)

    with gameday(fireline_home, scenario, flag_file, env=env) as gd:
        gd.wait_event("fault.injected")
        gameday_id = gd.gameday_id()
        typed = f"rotated the token to {TOKEN} (was curl -H 'Authorization: Bearer {TOKEN}')"
        noted = cli("gameday", "note", gameday_id, typed, "--as", "alice")
        assert noted.code == 0, noted.out + noted.err
        assert noted.err == "" and "PAGER_KEY" not in noted.out  # an unreadable secret: nothing said of it
        gd.wait_event("gameday.note")
        gd.signal_group(signal.SIGTERM)
        assert gd.wait() == 130, gd.output
        output = gd.output

    [note] = [e.data["text"] for e in journal_events(fireline_home, gameday_id) if e.type == "gameday.note"]
    assert note == "rotated the token to *** (was curl -H 'Authorization: Bearer ***')"
    with contextlib.closing(sqlite3.connect(fireline_home / "journal.db")) as db:
        stored = "\n".join(str(row) for row in db.execute("SELECT * FROM events"))
    shown = {"journal": stored, "game day output": output}
    for fmt in ("md", "html", "json"):
        report = cli("gameday", "report", gameday_id, "--format", fmt)
        assert report.code == 0, report.err
        assert "***" in report.out, fmt
        shown[fmt] = report.out
    for where, text in shown.items():
        leaked = [p for p in pieces(TOKEN) if p in text]
        assert not leaked, f"{where} shows part of the secret: {leaked}"
