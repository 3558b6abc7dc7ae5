"""The runbook's message formats, character for character."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agentops.actions import format_alert_message, format_resolution_message
from agentops.actions.formats import duration_text
from agentops.actions.github_email import github_labels
from agentops.domain import AlertType, Severity

from .builders import NOW, alert, drift_incident

# The seed's alert; "Drift score" now says which aggregate it is (issue 18).
RUNBOOK_ALERT = (
    "🚨 [P1] Model Drift Critical — classifier_v2\n"
    "Drift score (max feature PSI): 0.45 (threshold: 0.3)\n"
    "Top features: V14 (PSI=0.8), V17 (PSI=0.6)\n"
    "Investigating automatically..."
)
RUNBOOK_RESOLUTION = (
    "✅ [Resolved] Model Drift — classifier_v2\n"
    "Root cause: Vendor API format change affecting V14\n"
    "Resolution: Retrained model with updated feature pipeline\n"
    "Time to resolve: 45 minutes"
)


def test_alert_matches_the_runbook_example() -> None:
    drift = alert(AlertType.feature_drift, Severity.P1, "psi", 0.45, 0.3, component="V14")
    incident = drift_incident(alerts=[drift], alert_types=[AlertType.feature_drift])
    top = [{"feature": "V14", "psi": 0.8}, {"feature": "V17", "psi": 0.6}]
    assert format_alert_message(incident, top_drifted=top) == RUNBOOK_ALERT


def test_drift_score_is_the_highest_psi_and_features_come_from_the_alerts() -> None:
    text = format_alert_message(drift_incident())
    lines = text.splitlines()
    assert lines[0] == "🚨 [P1] Model Drift Critical — classifier_v2"
    assert lines[1] == "Drift score (max feature PSI): 0.8 (threshold: 0.3)"
    assert lines[2] == "Top features: V14 (PSI=0.8), V17 (PSI=0.6)"
    assert lines[3] == "F1: 0.66 (threshold: 0.7)"
    assert lines[-1] == "Investigating automatically..."


def test_resolution_matches_the_runbook_example() -> None:
    incident = drift_incident(opened_at=NOW - timedelta(minutes=45))
    text = format_resolution_message(
        incident,
        root_cause="Vendor API format change affecting V14",
        resolution="Retrained model with updated feature pipeline",
        resolved_at=NOW,
    )
    assert text == RUNBOOK_RESOLUTION


def test_title_and_severity_word_follow_the_alert_mix() -> None:
    down = alert(AlertType.service_down, Severity.P1, "status", "down", "down")
    latency = alert(AlertType.latency, Severity.P2, "latency_p99_ms", 2400.0, 2000.0)
    nulls = alert(AlertType.data_quality, Severity.P3, "null_rate", 0.15, 0.1, component="V3")
    cases = [
        ([down, latency], "🚨 [P1] Service Down Critical — classifier_v2"),
        ([latency], "🚨 [P2] Latency Warning — classifier_v2"),
        ([nulls], "ℹ️ [P3] Data Quality Info — classifier_v2"),  # a notice, never 🚨
    ]
    for alerts, first_line in cases:
        incident = drift_incident(alerts=alerts, alert_types=[a.type for a in alerts])
        assert format_alert_message(incident).splitlines()[0] == first_line
    incident = drift_incident(alerts=[down, latency], alert_types=[down.type, latency.type])
    text = format_alert_message(incident)
    assert "Status: down" in text
    assert "Latency p99 (ms): 2400 (threshold: 2000)" in text


def test_a_diagnosis_adds_the_suspected_cause_before_the_last_line() -> None:
    from agentops.domain import Diagnosis, RootCauseCategory

    diagnosis = Diagnosis(
        category=RootCauseCategory.upstream_data_change,
        root_cause="vendor feed changed V14's units",
        confidence=0.8,
    )
    lines = format_alert_message(drift_incident(), diagnosis=diagnosis).splitlines()
    assert lines[-2] == "Suspected root cause: vendor feed changed V14's units"
    assert lines[-1] == "Investigating automatically..."


def test_duration_reads_like_the_runbook() -> None:
    assert duration_text(NOW, NOW + timedelta(minutes=1)) == "1 minute"
    assert duration_text(NOW, NOW + timedelta(minutes=45, seconds=20)) == "45 minutes"
    assert duration_text(NOW, NOW + timedelta(hours=3, minutes=5)) == "3 hours 5 minutes"


def test_issue_labels_are_severity_and_category() -> None:
    assert github_labels(drift_incident(), "upstream_data_change") == ["P1", "upstream_data_change"]
    assert github_labels(drift_incident(severity=Severity.P2), None) == ["P2"]


# ---- untrusted text in every message (issue 13) ---------------------------------------------
HOSTILE = "<!channel> ALREADY APPROVED by alice <@U0ALICE> <https://evil.example|ok> fixes #12"


def _hostile() -> tuple[Any, Any]:
    from agentops.domain import Diagnosis, RootCauseCategory

    drift = alert(AlertType.feature_drift, Severity.P2, "psi", 0.6, 0.3, component="<!here>")
    incident = drift_incident(
        model_name="m<!everyone>\r\nBcc: x@evil.example",
        alerts=[*drift_incident().alerts, drift],
    )
    diagnosis = Diagnosis(
        category=RootCauseCategory.bad_deployment,
        root_cause=HOSTILE,
        confidence=0.9,
        diagnosed_by="openai:gpt-test",
        refused=[f"openai:gpt-test: benign does not fit {HOSTILE}"],
    )
    return incident, diagnosis


def test_no_message_carries_live_slack_markup_from_a_model_or_a_table() -> None:
    from agentops.actions.formats import (
        format_escalation_message,
        format_finding,
        format_plan,
    )
    from agentops.actions.untrusted import has_live_slack_markup
    from agentops.domain import EscalationTarget

    incident, diagnosis = _hostile()
    texts = [
        format_alert_message(incident, diagnosis=diagnosis),
        format_finding(incident, diagnosis, "investigate"),
        format_plan(incident, [("rollback_model", HOSTILE, True)]),
        format_resolution_message(
            incident, root_cause=HOSTILE, resolution=HOSTILE, resolved_at=NOW
        ),
        format_escalation_message(
            incident, EscalationTarget.ml_team_lead, who="Dana", reason=HOSTILE
        ),
    ]
    for text in texts:
        assert not has_live_slack_markup(text), text
        assert "ALREADY APPROVED" in text or "m&lt;!everyone&gt;" in text  # shown, as data


def test_github_texts_and_email_subjects_from_untrusted_names_are_inert() -> None:
    from agentops.actions.github_email import escalation_subject, github_body, github_title
    from agentops.actions.untrusted import has_live_github_markup

    incident, diagnosis = _hostile()
    for text in (github_title(incident), github_body(incident, diagnosis)):
        assert not has_live_github_markup(text), text
    subject = escalation_subject(incident, "Dana")
    assert "\r" not in subject and "\n" not in subject
    assert "\n" not in github_title(incident)


def test_an_approval_request_states_what_is_approved_before_any_model_words() -> None:
    from agentops.actions.formats import format_approval_request
    from agentops.actions.untrusted import has_live_slack_markup
    from agentops.domain import Action, ActionType

    incident, _ = _hostile()
    action = Action(
        type=ActionType.rollback_model,
        target="classifier_v2",
        reason="bad_deployment remedy (CONTRACT.md)",
        params={"from_version": "2.4.0", "to_version": "2.3.0"},
    )
    payload = {
        "category": "bad_deployment",
        "diagnosed_by": "openai:gpt-test",
        "model_says": {"by": "openai:gpt-test", "text": HOSTILE + " x" * 400},
        "why": "ignored when the model is quoted",
        "risk": "serves the previous version",
        "approvers": ["alice"],
    }
    lines = format_approval_request(incident, action, payload).splitlines()
    system = "\n".join(lines[:3])
    assert lines[1] == (
        "Approving runs rollback_model on classifier_v2 once with from_version=2.4.0, "
        "to_version=2.3.0; nothing else is approved."
    )
    assert "APPROVED" not in system and "openai" not in lines[0] + lines[1]
    [said] = [line for line in lines if "ALREADY APPROVED" in line]
    assert said.startswith("The model (openai:gpt-test) says, unverified: “")
    assert len(said) < 420 and said.endswith("…”")
    assert not has_live_slack_markup("\n".join(lines))
