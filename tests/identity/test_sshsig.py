"""OpenSSH signatures through ssh-keygen: real keys, a real allowed-signers file, a real ssh-agent."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.identity import sshsig
from runner.identity.trust import NotAllowed, Trust
from tests.conftest import wait_for
from tests.signers import signing_team


def test_a_signature_verifies_as_its_principal_only(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice, bob = team.key("alice"), team.key("bob")
    signature = sshsig.sign(alice, b"statement")
    verified = sshsig.verify(team.allowed, "alice", b"statement", signature)
    assert isinstance(verified, sshsig.Verified)
    assert (verified.principal, verified.fingerprint) == ("alice", team.fingerprint(alice))
    assert isinstance(sshsig.verify(team.allowed, "bob", b"statement", signature), str)
    assert isinstance(sshsig.verify(team.allowed, "alice", b"statement!", signature), str)
    assert sshsig.find_principals(team.allowed, signature) == ["alice"]
    assert sshsig.find_principals(team.allowed, sshsig.sign(bob, b"x")) == ["bob"]


def test_a_signature_for_another_namespace_does_not_verify(tmp_path, monkeypatch) -> None:
    """A git commit signature (namespace "git") is not a fireline approval."""
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    data = tmp_path / "data"
    data.write_bytes(b"statement")
    subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-n", "git", "-f", str(alice), str(data)], check=True)
    git_signature = (tmp_path / "data.sig").read_text()
    assert isinstance(sshsig.verify(team.allowed, "alice", b"statement", git_signature), str)


def test_a_key_past_its_valid_before_verifies_only_for_what_it_signed_in_time(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice", listed=False)
    public = " ".join(alice.with_name(alice.name + ".pub").read_text().split()[:2])
    team.allowed.write_text(f'alice valid-before="20200101" {public}\n')
    signature = sshsig.sign(alice, b"old statement")
    assert isinstance(sshsig.verify(team.allowed, "alice", b"old statement", signature), str)  # now: expired
    then = datetime(2019, 6, 1, tzinfo=UTC)
    assert isinstance(sshsig.verify(team.allowed, "alice", b"old statement", signature, then), sshsig.Verified)


def test_garbage_signatures_are_a_reason_not_a_crash(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    team.key("alice")
    for garbage in ("", "not a signature", "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"):
        assert isinstance(sshsig.verify(team.allowed, "alice", b"x", garbage), str)
        assert sshsig.find_principals(team.allowed, garbage) == []
    assert isinstance(sshsig.verify(team.allowed, "-alice\nbob", b"x", "x"), str)


def test_signing_with_a_key_outside_the_file_is_refused(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    stranger = team.key("mallory", listed=False)
    from runner.identity import statement as st

    with pytest.raises(NotAllowed, match="not in the allowed signers file"):
        Trust(team.allowed).sign(stranger, st.act(st.Act.START, "run-1", "sha256:x", "", "run"))


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[str]:
    sock = str(tmp_path / "agent.sock")
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(sock), "ssh-agent socket")
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_agent_key_signs_through_its_public_half(tmp_path, monkeypatch, agent: str) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    monkeypatch.setenv("SSH_AUTH_SOCK", agent)
    subprocess.run(["ssh-add", "-q", str(alice)], check=True, env={**os.environ, "SSH_AUTH_SOCK": agent})
    alice.unlink()  # the private half now lives only in the agent
    signature = sshsig.sign(alice.with_name(alice.name + ".pub"), b"statement")
    verified = sshsig.verify(team.allowed, "alice", b"statement", signature)
    assert isinstance(verified, sshsig.Verified) and verified.principal == "alice"
