"""Approval gates with verified identities: real SSH keys made by ssh-keygen, an allowed-signers file, and
the CLI as responders use it. What counts is what ran (a marker file) and the exit code."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.document.model import Approval, Step
from runner.engine.approvals import Initiator, evaluate_gate
from runner.engine.gating import Grant
from runner.identity import statement as st
from runner.identity.trust import Trust
from tests.conftest import write
from tests.signers import Team, signing_team

HEADER = "apiVersion: fireline/v1\nkind: Runbook\nmetadata: {name: t, title: Test}\n"


def _runbook(tmp_path: Path, marker: Path, approval: str, extra: str = "") -> str:
    return str(
        write(
            tmp_path / "rb.yaml",
            HEADER
            + extra
            + f"""\
steps:
  - id: change
    action: shell.run
    approval: {approval}
    with: {{argv: [touch, "{marker}"]}}
""",
        )
    )


def _paused(cli, path: str, key: Path, *extra: str) -> str:
    first = cli("run", path, "--output", "json", "--key", str(key), *extra)
    assert first.code == 3, first.err
    return str(first.json()["run_id"])


def _approved_rows(home: Path) -> list[tuple[int, str, dict]]:
    with sqlite3.connect(home / "journal.db") as db:
        rows = db.execute("SELECT seq, actor, data FROM events WHERE type = 'step.approved' ORDER BY seq")
        return [(seq, actor, json.loads(data)) for seq, actor, data in rows]


# -- the "done when", through the CLI ------------------------------------------------------------


def test_one_key_approving_twice_does_not_make_two_approvers(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, shared = team.key("lead"), team.key("approver-1", ("approver-1", "approver-2"))
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 2}"), lead)
    # A typed name is refused outright: the identity is the key's.
    refused = cli("approve", run_id, "change", "--as", "approver-2", "--reason", "x", "--key", str(shared))
    assert refused.code == 2 and "--as is refused" in refused.err
    assert cli("approve", run_id, "change", "--reason", "x", "--key", str(shared)).code == 0
    assert cli("approve", run_id, "change", "--reason", "x again", "--key", str(shared)).code == 0
    resumed = cli("resume", run_id, "--key", str(lead), "--output", "plain")
    assert resumed.code == 3 and not marker.exists()
    assert "1 of 2 approval(s)" in resumed.out


def test_two_keys_of_two_principals_open_a_two_person_gate(tmp_path, cli, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice, bob = team.key("lead"), team.key("alice"), team.key("bob")
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 2}"), lead)
    assert cli("approve", run_id, "change", "--reason", "INC-1 ok", "--key", str(alice)).code == 0
    assert cli("approve", run_id, "change", "--reason", "INC-1 ok", "--key", str(bob)).code == 0
    assert cli("resume", run_id, "--key", str(lead)).code == 0 and marker.exists()
    rows = _approved_rows(fireline_home)
    assert [(actor, data["principal"], data["fingerprint"]) for _, actor, data in rows] == [
        ("alice", "alice", team.fingerprint(alice)),
        ("bob", "bob", team.fingerprint(bob)),
    ]


def test_a_key_not_in_the_file_is_refused_and_nothing_is_written(tmp_path, cli, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, stranger = team.key("lead"), team.key("mallory", listed=False)
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 1}"), lead)
    refused = cli("approve", run_id, "change", "--reason", "let me", "--key", str(stranger))
    assert refused.code == 1
    assert "not allowed to sign" in refused.err and "not in the allowed signers file" in refused.err
    assert _approved_rows(fireline_home) == []
    # Nor may such a key start or resume a run.
    assert cli("resume", run_id, "--key", str(stranger)).code == 1
    assert not marker.exists()


def test_the_initiators_own_approval_does_not_count_for_two(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 2}"), lead, "--approve-all", "--reason", "me")
    assert cli("approve", run_id, "change", "--reason", "me too", "--key", str(lead)).code == 0
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(alice)).code == 0
    resumed = cli("resume", run_id, "--key", str(alice), "--output", "plain")
    assert resumed.code == 3 and not marker.exists()
    assert "lead started the run and cannot be one of 2 approvers" in resumed.out


def test_allow_self_false_forbids_the_initiator_even_alone(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "{allow_self: false}")
    run_id = _paused(cli, path, lead, "--approve", "change", "--reason", "mine")
    assert not marker.exists()
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(alice)).code == 0
    assert cli("resume", run_id, "--key", str(lead)).code == 0 and marker.exists()


def test_an_approval_for_other_parameters_does_not_count_after_resume(tmp_path, cli, monkeypatch) -> None:
    """The step's rendered parameters come from a secret read from the environment; it changes between the
    approval and the resume (someone pointed the run elsewhere): the gate asks again."""
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv("TARGET_DIR", str(first))
    first.mkdir()
    second.mkdir()
    path = write(
        tmp_path / "rb.yaml",
        HEADER
        + """\
secrets:
  TARGET: {from: env, name: TARGET_DIR}
steps:
  - id: change
    action: shell.run
    with: {argv: [touch, "{{ secrets.TARGET }}/marker"]}
""",
    )
    run_id = _paused(cli, str(path), lead)
    assert cli("approve", run_id, "change", "--reason", "touch first", "--key", str(alice)).code == 0
    monkeypatch.setenv("TARGET_DIR", str(second))
    resumed = cli("resume", run_id, "--key", str(lead), "--output", "plain")
    assert resumed.code == 3, resumed.out
    assert "signed for different parameters" in resumed.out
    assert not (first / "marker").exists() and not (second / "marker").exists()
    # Approved again, for what will now be done: it runs.
    assert cli("approve", run_id, "change", "--reason", "touch second", "--key", str(alice)).code == 0
    assert cli("resume", run_id, "--key", str(lead)).code == 0
    assert (second / "marker").exists() and not (first / "marker").exists()


def test_an_edited_approval_row_does_not_open_the_gate(tmp_path, cli, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 1}"), lead)
    assert cli("approve", run_id, "change", "--reason", "INC-1", "--key", str(alice)).code == 0
    seq, _, data = _approved_rows(fireline_home)[0]
    statement = json.loads(data["statement"])
    statement["params"] = "sha256:" + "0" * 64  # as if it approved something else
    data["statement"] = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    _edit_row(fireline_home, seq, data)
    resumed = cli("resume", run_id, "--key", str(lead), "--output", "plain")
    assert resumed.code != 0 and not marker.exists()
    shown = cli("runs", "show", run_id)
    assert "by alice (NOT VERIFIED (the signature does not verify" in shown.out


def _edit_row(home: Path, seq: int, data: dict) -> None:
    with sqlite3.connect(home / "journal.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        table = "journal_events" if "journal_events" in tables else "events"
        db.execute(f"UPDATE {table} SET data = ? WHERE seq = ?", (json.dumps(data), seq))


def test_approvers_name_principals_and_policy_groups(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch, configure=False)
    lead, oncall, other = team.key("lead"), team.key("oncall-1"), team.key("dev-1")
    policy = write(
        tmp_path / "incident-policy.yaml",
        f"allowed_signers: {team.allowed}\ngroups:\n  db-oncall: [oncall-1, oncall-2]\n",
    )
    monkeypatch.setenv("FIRELINE_POLICY", str(policy))
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{approvers: [db-oncall]}"), lead)
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(other)).code == 0
    resumed = cli("resume", run_id, "--key", str(lead), "--output", "plain")
    assert resumed.code == 3 and "dev-1 is not an allowed approver" in resumed.out
    assert cli("approve", run_id, "change", "--reason", "ok", "--key", str(oncall)).code == 0
    assert cli("resume", run_id, "--key", str(lead)).code == 0 and marker.exists()


def test_a_signed_pre_approval_opens_a_single_approver_gate(tmp_path, cli, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead = team.key("lead")
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "{min_approvers: 1}")
    assert cli("run", path, "--approve", "change", "--reason", "INC-2", "--key", str(lead)).code == 0
    assert marker.exists()
    [(_, actor, data)] = _approved_rows(fireline_home)
    assert actor == "lead" and data["via"] == "--approve" and data["fingerprint"] == team.fingerprint(lead)
    assert json.loads(data["statement"])["step"] == "change"


# -- without an allowed-signers file ---------------------------------------------------------------------------


@pytest.mark.parametrize("approval", ["{min_approvers: 2}", "{approvers: [alice]}", "{allow_self: false}"])
def test_without_signers_rules_that_need_identities_refuse_and_nothing_runs(
    tmp_path, cli, fireline_home, approval: str
) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, approval)
    refused = cli("run", path, "--approve-all", "--reason", "x", "--as", "alice")
    assert refused.code == 2 and not marker.exists()
    assert "need verified identities" in refused.err and "FIRELINE_ALLOWED_SIGNERS" in refused.err
    assert "allowed_signers" in refused.err
    assert not (fireline_home / "journal.db").exists() or cli("runs", "list", "--json").json() == []


def test_without_signers_every_gate_says_identities_are_not_verified(tmp_path, cli) -> None:
    marker = tmp_path / "changed"
    done = cli("run", _runbook(tmp_path, marker, "{min_approvers: 1}"), "--approve-all", "--reason", "x",
               "--output", "plain")
    assert done.code == 0 and marker.exists()
    assert "identities are not verified" in done.out and "FIRELINE_ALLOWED_SIGNERS" in done.out


@pytest.mark.parametrize("name", ["", " ", "\t"])
def test_blank_names_are_refused(tmp_path, cli, fireline_home, name: str) -> None:
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "{min_approvers: 1}")
    first = cli("run", path, "--output", "json", "--as", "lead")
    run_id = first.json()["run_id"]
    refused = cli("approve", run_id, "change", "--as", name, "--reason", "x")
    assert refused.code == 2 and "blank" in refused.err
    assert _approved_rows(fireline_home) == []
    assert cli("run", path, "--as", name, "--approve-all", "--reason", "x").code == 2 and not marker.exists()


def test_key_without_signers_is_refused(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch, configure=False)
    marker = tmp_path / "changed"
    refused = cli("run", _runbook(tmp_path, marker, "{min_approvers: 1}"), "--key", str(team.key("lead")))
    assert refused.code == 2 and "FIRELINE_ALLOWED_SIGNERS" in refused.err and not marker.exists()


# -- the rules themselves, on real signatures --------------------------------------------------------------


def _signed_grant(team: Team, key: Path, binding: st.Binding, now: datetime, expiry: float = 3600) -> Grant:
    trust = Trust(team.allowed)
    signed = trust.sign(key, st.approval(binding, "ok", "fireline approve", expiry, now))
    return Grant(signed.principal, "ok", "fireline approve", signed)


def test_an_expired_approval_does_not_count(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    binding = st.Binding("run-1", "change", "sha256:rb", st.params_digest({"argv": ["true"]}))
    signed_at = datetime.now(UTC)
    grant = _signed_grant(team, alice, binding, signed_at, expiry=600)
    step = Step(id="change", index=0, action="shell.run", params={}, approval=Approval(timeout=600))
    trust = Trust(team.allowed)
    assert evaluate_gate(step, [grant], Initiator("lead"), trust, binding, signed_at).approved
    late = evaluate_gate(step, [grant], Initiator("lead"), trust, binding, signed_at + timedelta(minutes=11))
    assert not late.approved and "expired" in late.notes[0]


def test_an_approval_for_another_step_or_run_does_not_count(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    now = datetime.now(UTC)
    binding = st.Binding("run-1", "change", "sha256:rb", st.params_digest({"argv": ["true"]}))
    trust = Trust(team.allowed)
    step = Step(id="change", index=0, action="shell.run", params={})
    for other in (
        st.Binding("run-2", "change", binding.runbook, binding.params),
        st.Binding("run-1", "other", binding.runbook, binding.params),
        st.Binding("run-1", "change", "sha256:edited", binding.params),
    ):
        decision = evaluate_gate(step, [_signed_grant(team, alice, other, now)], Initiator("lead"), trust, binding, now)
        assert not decision.approved and "not counted" in decision.notes[0]


def test_one_key_listed_under_two_names_is_one_approver(tmp_path, monkeypatch) -> None:
    """The file lists one key as approver-1 and approver-2: its signature verifies as either name (a row
    edited to claim the other one), but one key is one person."""
    team = signing_team(tmp_path, monkeypatch)
    shared = team.key("approver-1", ("approver-1", "approver-2"))
    now = datetime.now(UTC)
    binding = st.Binding("run-1", "change", "sha256:rb", st.params_digest({"argv": ["true"]}))
    first = _signed_grant(team, shared, binding, now)
    assert first.signed is not None
    other_name = Grant("approver-2", "ok", "fireline approve", replace(first.signed, principal="approver-2"))
    step = Step(id="change", index=0, action="shell.run", params={}, approval=Approval(min_approvers=2))
    decision = evaluate_gate(step, [first, other_name], Initiator("lead"), Trust(team.allowed), binding, now)
    assert not decision.approved and decision.counted == ("approver-1",)
    assert "approver-2's key already approved as approver-1" in decision.why


def test_a_statement_edited_after_signing_does_not_verify(tmp_path, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    alice = team.key("alice")
    now = datetime.now(UTC)
    binding = st.Binding("run-1", "change", "sha256:rb", st.params_digest({"argv": ["true"]}))
    grant = _signed_grant(team, alice, binding, now)
    assert grant.signed is not None
    edited = replace(grant, signed=replace(grant.signed, statement=grant.signed.statement.replace('"ok"', '"OK"')))
    step = Step(id="change", index=0, action="shell.run", params={})
    decision = evaluate_gate(step, [edited], Initiator("lead"), Trust(team.allowed), binding, now)
    assert not decision.approved and "the signature does not verify as alice's" in decision.notes[0]


def test_the_prompt_signs_the_answer_with_the_responders_key(tmp_path, monkeypatch, fireline_home) -> None:
    import os

    from tests.terminal import drain, read_until, terminal

    team = signing_team(tmp_path, monkeypatch)
    lead = team.key("lead")
    marker = tmp_path / "changed"
    path = _runbook(tmp_path, marker, "{min_approvers: 1}")
    with terminal(["run", path, "--key", str(lead), "--output", "plain"], fireline_home) as (proc, master):
        screen = read_until(master, "Type 'change' to approve as lead")
        assert "identities are not verified" not in screen
        os.write(master, b"change\n")
        read_until(master, "Reason")
        os.write(master, b"INC-8 seen on the dashboard\n")
        screen += drain(master, proc)
        assert proc.wait(timeout=20) == 0, screen
    assert marker.exists()
    [(_, actor, data)] = _approved_rows(fireline_home)
    assert (actor, data["via"], data["reason"]) == ("lead", "prompt", "INC-8 seen on the dashboard")
    assert data["fingerprint"] == team.fingerprint(lead)
    assert json.loads(data["statement"])["reason"] == "INC-8 seen on the dashboard"


def test_a_pre_approval_at_resume_is_signed_by_who_resumes(tmp_path, cli, monkeypatch, fireline_home) -> None:
    team = signing_team(tmp_path, monkeypatch)
    lead, alice = team.key("lead"), team.key("alice")
    marker = tmp_path / "changed"
    run_id = _paused(cli, _runbook(tmp_path, marker, "{min_approvers: 1}"), lead)
    resumed = cli("resume", run_id, "--approve", "change", "--reason", "INC-9", "--key", str(alice))
    assert resumed.code == 0 and marker.exists()
    [(_, actor, data)] = _approved_rows(fireline_home)
    assert (actor, data["via"], data["fingerprint"]) == ("alice", "--approve", team.fingerprint(alice))


def test_a_paused_run_says_how_to_approve_with_a_key(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch)
    paused = cli("run", _runbook(tmp_path, tmp_path / "m", "{min_approvers: 1}"), "--key", str(team.key("lead")),
                 "--output", "plain")
    assert paused.code == 3
    assert "change --key PATH --reason TEXT" in paused.out and "--as NAME" not in paused.out


def test_a_run_signed_through_its_policy_option_says_how_to_approve_with_a_key(tmp_path, cli, monkeypatch) -> None:
    team = signing_team(tmp_path, monkeypatch, configure=False)  # only --policy names the signers
    policy = write(tmp_path / "team-policy.yaml", f"allowed_signers: {team.allowed}\n")
    paused = cli("run", _runbook(tmp_path, tmp_path / "m", "{min_approvers: 1}"), "--key", str(team.key("lead")),
                 "--policy", str(policy), "--output", "plain")  # fmt: skip
    assert paused.code == 3, paused.err
    assert "change --key PATH --reason TEXT" in paused.out and "--as NAME" not in paused.out
