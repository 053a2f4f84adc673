"""`fireline incident report` as its --help describes it: exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_an_output_that_cannot_be_written_exits_as_help_says(fireline_home: Path, cli: Any, tmp_path: Path) -> None:
    declared = cli("incident", "declare", "--title", "Checkout 503", "--sev", "SEV3")
    assert declared.code == 0, declared.err
    incident_id = declared.out.strip()
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    for output in (tmp_path, blocker / "report.txt"):
        refused = cli("incident", "report", incident_id, "-o", str(output))
        assert refused.code == 2 and "Traceback" not in refused.err
    shown = cli("incident", "report", "--help").out
    assert "2 unknown incident, bad arguments or an output file that cannot be written" in " ".join(shown.split())
