"""The escalation matrix, SLA table, channels and contacts as configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.actions import load_policy
from agentops.domain import EscalationTarget, Severity
from agentops.errors import ConfigError
from agentops.settings import Settings


def test_defaults_are_the_runbook_tables(tmp_path: Path) -> None:
    policy = load_policy(Settings.load(home=tmp_path))
    minutes = {
        s: (t.detection_to_triage, t.triage_to_investigation, t.investigation_to_resolution)
        for s, t in policy.sla.items()
    }
    assert minutes == {
        Severity.P1: (5, 10, 120),
        Severity.P2: (15, 30, 480),
        Severity.P3: (60, 240, 1440),
    }
    matrix = policy.escalation
    assert matrix.remediation_failed is EscalationTarget.ml_team_lead
    assert matrix.p1_unresolved is EscalationTarget.engineering_manager
    assert matrix.p1_unresolved_after_minutes == 60
    assert matrix.upstream_data is EscalationTarget.data_engineering_lead
    assert matrix.infrastructure is EscalationTarget.platform_engineering
    assert matrix.security is EscalationTarget.security_team
    assert (policy.ml_alerts_channel, policy.data_alerts_channel) == ("#ml-alerts", "#data-alerts")


def test_the_policy_file_overrides_and_settings_channels_apply(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "sla:\n  P1: {triage_to_investigation: 20}\n"
        "channels:\n  ml_alerts: '#ml-prod'\n"
        "contacts:\n  ml_team_lead: {slack: U1, email: lead@example.com}\n"
        "escalation:\n  p1_unresolved_after_minutes: 30\n",
        encoding="utf-8",
    )
    policy = load_policy(Settings.load(home=tmp_path, slack_data_channel="#de-alerts"))
    assert policy.sla[Severity.P1].triage_to_investigation == 20
    assert policy.sla[Severity.P1].detection_to_triage == 5
    assert policy.ml_alerts_channel == "#ml-prod"
    assert policy.data_alerts_channel == "#de-alerts"
    assert policy.contact(EscalationTarget.ml_team_lead).email == "lead@example.com"
    assert policy.escalation.p1_unresolved_after_minutes == 30
    assert policy.resolve_channel("ml_alerts") == "#ml-prod"
    assert policy.resolve_channel("#random") == "#random"


@pytest.mark.parametrize(
    "text, named",
    [
        ("roles:\n  ceo: [alice]\n", "ceo"),
        ("contacts:\n  alice: {}\nroles:\n  ml_team_lead: [alcie]\n", "alcie"),
        ("contacts:\n  alice: {}\napprovers: [bbo]\n", "bbo"),
        ("contacts:\n  alice: {}\nauth:\n  tokens: {alice: hunter2}\n", "sha256"),
        ("sla:\n  P1: {triage_to_investigation: -5}\n", "triage_to_investigation"),
        ("escalation:\n  p1_unresolved: nobody\n", "p1_unresolved"),
        ("channels:\n  ops: '#ops'\n", "ops"),
    ],
)
def test_a_bad_policy_file_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_policy(Settings.load(home=tmp_path))
