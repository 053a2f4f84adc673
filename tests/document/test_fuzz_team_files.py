"""Fuzzing the team's own files: the incident policy (channels, intake, verification checks, secrets) and the
post-mortem, mutated the way tests/document/test_fuzz_loaders.py mutates runbooks, fed to their loaders and
to `fireline validate`. The only acceptable failures are user errors; each case has a time budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.policy import load_policy
from runner.postmortem.document import load as load_postmortem
from tests.document.test_fuzz_loaders import CASE_BUDGET_SECONDS, FUZZ, Figures, budget, mutate, outcome, validate_case

POLICY = """\
apiVersion: fireline/v1
kind: IncidentPolicy
groups:
  sre: [alice, bob]
secrets:
  SLACK_URL: {from: env, name: FUZZ_SLACK_URL}
  PAGE_KEY: {from: env, name: FUZZ_PAGE_KEY}
  DSN: {from: env, name: FUZZ_DSN}
channels:
  incidents: {type: slack, url: {secret: SLACK_URL}, retries: 2, timeout: 5s}
  status-page: {type: statuspage, page: abc123, api_key: {secret: PAGE_KEY}, api: "http://127.0.0.1:9",
                components: {checkout: cmp1}}
  leadership: {type: email, host: 127.0.0.1, port: 2525, starttls: true, from: a@example.com, to: [b@example.com]}
  audit: {type: webhook, url: "http://127.0.0.1:9/hook", headers: {X-Team: sre}}
intake:
  severity_label: severity
  severities: {critical: SEV1, warning: SEV3}
  default_severity: SEV3
  run_reads: false
connections:
  db: {type: postgres, dsn: "{{ secrets.DSN }}"}
verification:
  SEV1:
    hold: 30m
    interval: 30s
    checks:
      - {name: checkout answers, probe: http.get, with: {url: "http://127.0.0.1:9/health"}, expect: {status: 200}}
      - {name: pool, probe: postgres.query, with: {connection: db, sql: "SELECT 1"}, systems: [checkout]}
      - {name: support confirms, manual: "Support sees no new tickets"}
severities:
  SEV2:
    title: high
    definition: Partial degradation.
    response_target: 15m
    update_cadence: 30m
    roles: [commander]
    channels: [incidents, status-page]
    criteria:
      - {why: a system is down, when: {systems_down: {min: 1}}}
"""

POSTMORTEM = """\
apiVersion: fireline/v1
kind: PostMortem
incident: INC-2026-001
title: Checkout returns 503
status: draft
authors: [alice]
summary: {what: Checkout failed, severity: SEV2, started: "2026-12-04T09:00:00Z", duration: 42m, impact: no orders}
timeline:
  - {at: "2026-12-04T09:01:02Z", kind: milestone, text: detected}
  - {at: "2026-12-04T09:05:00Z", kind: update, text: investigating}
impact: {duration: 42m, systems: [checkout], user_impact: slow, users_affected: null, revenue: null, tickets: null}
root_cause: the pool was too small
contributing_factors: [no alert on pool use]
five_whys:
  - {why: checkout failed, because: the pool was exhausted}
went_well: [Fast detection]
went_wrong: [Slow mitigation]
action_items:
  - {title: Alert on pool use, owner: bob, due: 2026-12-11, priority: high, type: detective, status: not-started,
     verify: {gameday: checkout-db-exhaustion}}
lessons: [Pools need alerts]
"""

SOURCES = {"incident-policy.yaml": POLICY, "INC-2026-001.yaml": POSTMORTEM}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    return name, mutate(draw, SOURCES[name].encode("utf-8"))


def test_the_unmutated_files_load(tmp_path: Path) -> None:
    policy = tmp_path / "incident-policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    postmortem = tmp_path / "INC-2026-001.yaml"
    postmortem.write_text(POSTMORTEM, encoding="utf-8")
    assert "incidents" in load_policy(policy).data["channels"]
    load_postmortem(postmortem)


def test_policy_and_postmortem_loaders_only_ever_raise_user_errors(tmp_path: Path) -> None:
    figures = Figures()

    @settings(FUZZ, max_examples=600)
    @given(mutated())
    def fuzz(case: tuple[str, bytes]) -> None:
        name, data = case
        path = tmp_path / name
        path.write_bytes(data)
        loader = load_policy if name == "incident-policy.yaml" else load_postmortem
        with budget(figures):
            outcome(figures, lambda: loader(path))

    fuzz()
    print("\n" + figures.line("policy and post-mortem files"))
    assert figures.slowest < CASE_BUDGET_SECONDS


def test_validate_of_team_files_exits_0_1_or_2_and_never_prints_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    figures = Figures()

    @settings(FUZZ, max_examples=300)
    @given(mutated())
    def fuzz(case: tuple[str, bytes]) -> None:
        name, data = case
        path = tmp_path / name
        path.write_bytes(data)
        validate_case(path, figures)

    fuzz()
    print("\n" + figures.line("fireline validate (team files)"))
    assert figures.slowest < CASE_BUDGET_SECONDS

