"""A team's signing setup for tests: real SSH keys made by `ssh-keygen` in a temporary directory and an
allowed-signers file listing them, as a team would keep one (README: Signed approvals)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Team:
    home: Path
    allowed: Path

    def key(self, name: str, principals: tuple[str, ...] | None = None, listed: bool = True) -> Path:
        """A new ed25519 key; listed in the allowed-signers file under `principals` (default: `name`)."""
        path = self.home / f"id_{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
        if listed:
            self.allow(path, principals or (name,))
        return path

    def allow(self, key: Path, principals: tuple[str, ...]) -> None:
        public = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
        with self.allowed.open("a") as fh:
            fh.write(f"{','.join(principals)} {public}\n")

    def fingerprint(self, key: Path) -> str:
        out = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True)
        return out.stdout.split()[1]


def signing_team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configure: bool = True) -> Team:
    """An empty team (keys are added with `team.key`); with `configure`, fireline is pointed at its file
    through FIRELINE_ALLOWED_SIGNERS."""
    home = tmp_path / "team"
    home.mkdir()
    team = Team(home, home / "allowed_signers")
    team.allowed.write_text("# principals key\n")
    if configure:
        monkeypatch.setenv("FIRELINE_ALLOWED_SIGNERS", str(team.allowed))
    monkeypatch.delenv("FIRELINE_SIGNING_KEY", raising=False)
    return team
