"""Who hears what, where (issue 18): the seed's channel table, P3 as a quiet notice, data
issues in #data-alerts, a fleet's teams, security incidents told to the security team only,
escalations that reach a person (or say in the thread who must be told), and a P1 that Slack
cannot take sent by email instead."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from agentops.actions import (
    Policy,
    deliver_pending,
    execute,
    page_incident,
    post_reply,
    post_resolution,
    publish_postmortem,
    sweep,
)
from agentops.actions.clients import EmailSender, Senders, SlackPost, SlackSender
from agentops.actions.deliver import undelivered_p1
from agentops.actions.policy import build_policy
from agentops.domain import (
    Action,
    ActionType,
    AlertType,
    Diagnosis,
    IncidentStatus,
    RootCauseCategory,
    Severity,
)
from agentops.errors import SlackError
from agentops.settings import Settings
from agentops.store import Stores, queries

from .builders import CONTACTS, NOW, alert, drift_incident, store_incident


def _messages(stores: Stores) -> list[dict[str, Any]]:
    with stores.state.connect() as conn:
        rows = queries.messages_for(conn)
    for row in rows:
        row["meta"] = json.loads(row.get("meta") or "{}")
    return rows


def _p3(incident_id: str = "INC-2026-1120-3", model: str = "classifier_v2") -> Any:
    minor = alert(AlertType.feature_drift, Severity.P3, "psi", 0.24, 0.2, component="V7")
    return drift_incident(
        incident_id=incident_id,
        model_name=model,
        severity=Severity.P3,
        alerts=[minor],
        alert_types=[AlertType.feature_drift],
    )


BENIGN = Diagnosis(
    category=RootCauseCategory.benign,
    root_cause="Benign: minor drift in V7 (PSI 0.24); P3 only, performance unchanged",
    confidence=0.9,
)


# ---- P3: quiet notices -------------------------------------------------------------------------
def test_a_p3_sends_nothing_with_a_siren_and_replies_in_the_days_notices_thread(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    first, second = _p3(), _p3("INC-2026-1120-4", "recommender_v3")
    for incident in (first, second):
        store_incident(store, incident)
        page_incident(store, cfg, incident, now=NOW, policy=policy)
    post_reply(store, cfg, first, "investigation", "Investigation: benign", now=NOW, policy=policy)
    plan = Action(type=ActionType.notify_slack, target="#ml-alerts")
    context = {"diagnosis": BENIGN, "plan_steps": [("notify_slack", "#ml-alerts", False)]}
    execute(store, cfg, first, plan, now=NOW, context=context, policy=policy)
    resolved = first.model_copy(update={"resolved_at": NOW + timedelta(hours=2)})
    post_resolution(
        store,
        cfg,
        resolved,
        now=NOW,
        root_cause=BENIGN.root_cause,
        resolution="none",
        policy=policy,
    )
    sent = _messages(store)
    assert sent and not any("🚨" in m["text"] for m in sent)
    roots = [m for m in sent if "thread_of" not in m["meta"]]
    assert [r["text"] for r in roots] == [
        "ℹ️ P3 notices for 2026-11-20: one reply per event below; nothing here needs action "
        "unless it grows."
    ], "one notices thread for the day; every P3 post replies in it"
    assert all(m["meta"]["thread_of"] == roots[0]["message_id"] for m in sent if m is not roots[0])
    assert not any(m["meta"].get("broadcast") for m in sent), "a P3 resolution is not broadcast"
    reply = next(m for m in sent if "Investigation: benign" in m["text"])
    assert reply["text"].startswith("classifier_v2 (INC-2026-1120-3): "), "named in a shared thread"


def test_a_p3_in_digest_mode_is_held_then_listed_once_in_the_next_days_digest(
    store: Stores, cfg: Settings
) -> None:
    policy = build_policy(cfg, {"contacts": CONTACTS, "channels": {"notices": "digest"}})
    for incident in (_p3(), _p3("INC-2026-1120-4", "recommender_v3")):
        store_incident(store, incident)
        result = page_incident(store, cfg, incident, now=NOW, policy=policy)
        assert "held for the daily digest" in result.detail

    def channel() -> list[dict[str, Any]]:
        return [m for m in _messages(store) if m["target"] == "#ml-alerts"]

    assert channel() == []
    sweep(store, cfg, now=NOW + timedelta(hours=1), policy=policy)
    assert channel() == [], "the day is not over yet"
    sweep(store, cfg, now=NOW + timedelta(hours=13), policy=policy)
    sweep(store, cfg, now=NOW + timedelta(hours=14), policy=policy)
    [digest] = channel()
    assert digest["target"] == "#ml-alerts"
    lines = digest["text"].splitlines()
    assert lines[0] == "ℹ️ P3 digest for 2026-11-20: 2 notice(s), no action needed"
    assert {line.split(" — ")[0] for line in lines[1:]} == {"• classifier_v2", "• recommender_v3"}


def test_a_p2_page_is_a_page(store: Stores, cfg: Settings, policy: Policy) -> None:
    incident = drift_incident(severity=Severity.P2)
    page_incident(store, cfg, incident, now=NOW, policy=policy)
    [page] = _messages(store)
    assert page["target"] == "#ml-alerts" and page["text"].startswith("🚨 [P1] Model Drift")


# ---- data issues and teams ---------------------------------------------------------------------
def test_a_data_quality_page_also_reaches_the_data_channel(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    nulls = alert(AlertType.data_quality, Severity.P2, "null_rate", 0.35, 0.1, component="V3")
    f1 = alert(AlertType.model_performance, Severity.P1, "f1", 0.62, 0.7)
    incident = drift_incident(
        alerts=[f1, nulls], alert_types=[AlertType.model_performance, AlertType.data_quality]
    )
    page_incident(store, cfg, incident, now=NOW, policy=policy)
    by_channel = {m["target"]: m["text"] for m in _messages(store)}
    assert set(by_channel) == {"#ml-alerts", "#data-alerts"}
    assert by_channel["#data-alerts"].splitlines()[:2] == [
        "🚨 [P2] Data Quality Warning — classifier_v2",
        "Null rate V3: 0.35 (threshold: 0.1)",
    ], "data engineering gets the data part"
    assert "F1: 0.62" in by_channel["#ml-alerts"]


def test_a_fleet_team_gets_its_models_messages_and_its_own_people(
    store: Stores, cfg: Settings
) -> None:
    contacts = {**CONTACTS, "carol": {"name": "Carol Diaz", "slack": "U0CAROL"}}
    teams = {
        "claims": {
            "models": ["claims_*"],
            "ml_alerts": "#claims-ml",
            "roles": {"ml_team_lead": ["carol"]},
        }
    }
    policy = build_policy(cfg, {"contacts": contacts, "channels": {"teams": teams}})
    claims = drift_incident(model_name="claims_fraud_v2")
    page_incident(store, cfg, claims, now=NOW, policy=policy)
    handover = Action(
        type=ActionType.escalate, target="ml_team_lead", params={"reason_code": "approval_rejected"}
    )
    execute(store, cfg, claims, handover, now=NOW, policy=policy)
    other = drift_incident(incident_id="INC-2026-1120-2")
    page_incident(store, cfg, other, now=NOW, policy=policy)
    sent = [(m["incident_id"], m["target"]) for m in _messages(store)]
    assert ("INC-2026-1120-1", "#claims-ml") in sent and ("INC-2026-1120-2", "#ml-alerts") in sent
    dms = [m for m in _messages(store) if m["target"] == "U0CAROL"]
    assert dms and dms[0]["text"].startswith("⚠️ [P1] Escalation to Carol Diaz (ML team lead)")
    assert not any(m["target"] == "U0LEAD" for m in _messages(store)), "not the global lead"


# ---- security: details to the security team only -----------------------------------------------
PROBE = Diagnosis(
    category=RootCauseCategory.adversarial,
    root_cause="Likely adversarial traffic: recall 0.41 while precision 0.90 holds, request "
    "volume x3.06 the baseline, drift only in V4, V11; nothing deployed or changed upstream",
    confidence=0.9,
    escalate_to=["security_team"],
)


def test_a_security_incidents_details_go_to_the_security_team_only(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    incident = drift_incident(root_cause_category=RootCauseCategory.adversarial)
    store_incident(store, incident)
    context = {"diagnosis": PROBE}
    for action in (
        Action(type=ActionType.notify_slack, target="#ml-alerts"),
        Action(type=ActionType.escalate, target="security_team"),
        Action(type=ActionType.open_github_issue, target="github"),
    ):
        execute(store, cfg, incident, action, now=NOW, context=context, policy=policy)
    sweep(store, cfg, now=NOW + timedelta(hours=2), policy=policy)  # P1 > 1 h: the manager
    closed = incident.model_copy(
        update={"status": IncidentStatus.resolved, "resolved_at": NOW + timedelta(hours=2)}
    )
    post_resolution(
        store, cfg, closed, now=NOW, root_cause=PROBE.root_cause, resolution="x", policy=policy
    )
    publish_postmortem(
        store, cfg, closed, "# Post-Mortem\nrecall 0.41 on V4", now=NOW, policy=policy
    )
    sent = _messages(store)
    security = {"U0SEC", "security@example.com"}
    told = [m for m in sent if m["target"] in security]
    assert any("Likely adversarial traffic" in m["text"] for m in told), "the team has details"
    assert any("recall 0.41 on V4" in m["text"] for m in told), "and the post-mortem by email"
    for message in (m for m in sent if m["target"] not in security):
        text = f"{message.get('subject') or ''}\n{message['text']}"
        assert "adversarial" not in text.lower(), message
        assert "V4" not in text and "recall" not in text, message
        assert "adversarial" not in message["meta"].get("labels", []), message


# ---- reaching a person -------------------------------------------------------------------------
def test_a_person_without_slack_is_emailed_and_nobody_reachable_is_named_in_the_thread(
    store: Stores, cfg: Settings
) -> None:
    contacts = {"erin": {"name": "Erin Park", "email": "erin@example.com"}}
    policy = build_policy(cfg, {"contacts": contacts, "roles": {"data_engineering_lead": ["erin"]}})
    incident = drift_incident(severity=Severity.P2)
    page_incident(store, cfg, incident, now=NOW, policy=policy)
    for target in ("data_engineering_lead", "platform_engineering"):
        action = Action(type=ActionType.escalate, target=target)
        execute(store, cfg, incident, action, now=NOW, policy=policy)
    sent = _messages(store)
    [email] = [m for m in sent if m["channel"] == "email"]
    assert email["target"] == "erin@example.com"
    assert email["text"].startswith("⚠️ [P2] Escalation to Erin Park (data engineering lead)")
    assert not any("Erin" in m["text"] for m in sent if m["channel"] == "slack"), "not posted"
    [note] = [m for m in sent if m["channel"] == "slack" and "needs" in m["text"]]
    assert note["target"] == "#ml-alerts" and "thread_of" in note["meta"]
    assert note["text"].startswith(
        "⚠️ [P2] INC-2026-1120-1 needs platform engineering, and agentops could not reach them: "
        "nobody holds platform_engineering"
    )


def test_escalations_go_once_per_person_and_reason(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    """The sweep tells the ML team lead of an overdue approval; a rejection later still tells
    them it needs a person (a different reason); neither is repeated."""
    opened = NOW - timedelta(minutes=30)
    incident = drift_incident(status=IncidentStatus.awaiting_approval, opened_at=opened)
    from agentops.domain import TimelineEntry

    timeline = [
        TimelineEntry(phase="detected", at=opened),
        TimelineEntry(phase="triage_started", at=opened + timedelta(minutes=1)),
        TimelineEntry(phase="root_cause_identified", at=opened + timedelta(minutes=2)),
        TimelineEntry(phase="approval_requested", at=opened + timedelta(minutes=3)),
    ]
    store_incident(store, incident, timeline=timeline)
    sweep(store, cfg, now=NOW, policy=policy)
    handover = Action(  # as the graph hands a rejected remedy to the ML team lead
        type=ActionType.escalate,
        target="ml_team_lead",
        reason="rollback_model on classifier_v2 rejected by bob: not at peak; the incident "
        "needs a person",
        params={"reason_code": "approval_rejected"},
    )
    for _ in range(2):
        execute(store, cfg, incident, handover, now=NOW + timedelta(minutes=1), policy=policy)
        sweep(store, cfg, now=NOW + timedelta(minutes=2), policy=policy)
    dms = [m["text"] for m in _messages(store) if m["target"] == "U0LEAD"]
    assert len(dms) == 2, dms
    assert "Why you: an approval has waited" in dms[0]
    assert "Why you: rollback_model on classifier_v2 rejected by bob" in dms[1]


# ---- a P1 Slack cannot take --------------------------------------------------------------------
class DownSlack(SlackSender):
    def __init__(self) -> None:
        self.calls = 0

    def post(self, channel: str, text: str, **_: Any) -> SlackPost:
        self.calls += 1
        raise SlackError("Slack answered 500: internal_error")


class Mailbox(EmailSender):
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, *, to: str, subject: str, text: str) -> str:
        self.sent.append({"to": to, "subject": subject, "text": text})
        return f"<{len(self.sent)}@test>"


@pytest.mark.parametrize("severity", [Severity.P1, Severity.P2])
def test_a_p1_that_slack_cannot_take_falls_back_to_email(
    store: Stores, cfg: Settings, policy: Policy, severity: Severity
) -> None:
    slack, mail = DownSlack(), Mailbox()
    senders = Senders(slack=slack, email=mail)
    incident = drift_incident(severity=severity)
    page_incident(store, cfg, incident, now=NOW, senders=senders, policy=policy)
    for minutes in (1, 3):  # backoff: retried after 30 s, then after 1 min
        deliver_pending(store.state, cfg, now=NOW + timedelta(minutes=minutes), senders=senders)
    assert slack.calls == 3
    if severity is Severity.P2:
        assert mail.sent == [], "only a P1 falls back"
        return
    [email] = mail.sent
    assert email["to"] == "dana@example.com", "the channel's owner: the ML team lead"
    assert email["subject"] == "[Slack undelivered] 🚨 [P1] Model Drift Critical — classifier_v2"
    assert "Slack answered 500" in email["text"] and "F1: 0.66 (threshold: 0.7)" in email["text"]
    for minutes in (6, 20):
        deliver_pending(store.state, cfg, now=NOW + timedelta(minutes=minutes), senders=senders)
    assert slack.calls == 5 and len(mail.sent) == 1, "emailed once, while Slack keeps retrying"
    with store.state.connect() as conn:
        [stuck] = undelivered_p1(conn)
    assert (stuck["target"], stuck["fallback"]) == ("#ml-alerts", "sent")


def test_doctor_shows_undelivered_p1_messages(store: Stores, cfg: Settings) -> None:
    from agentops.cli.doctor import _undelivered

    assert _undelivered(cfg).status == "ok"
    senders = Senders(slack=DownSlack(), email=Mailbox())
    nobody = build_policy(cfg, {})  # no email for anyone: the fallback reaches nobody
    page_incident(store, cfg, drift_incident(), now=NOW, senders=senders, policy=nobody)
    check = _undelivered(cfg)
    assert (check.status, check.value) == ("fail", "1 message(s)")
    assert "INC-2026-1120-1: slack → #ml-alerts" in check.detail
    assert "Slack answered 500" in check.detail and "email fallback: none" in check.detail


def test_watch_shows_undelivered_p1_messages_after_each_pass(
    store: Stores, cfg: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentops.cli.lifecycle import _warn_undelivered

    _warn_undelivered(store)
    assert capsys.readouterr().err == "", "nothing to say while everything went through"
    senders = Senders(slack=DownSlack(), email=Mailbox())
    page_incident(
        store, cfg, drift_incident(), now=NOW, senders=senders, policy=build_policy(cfg, {})
    )
    _warn_undelivered(store)
    said = " ".join(capsys.readouterr().err.split())
    assert "undelivered P1 INC-2026-1120-1 → #ml-alerts" in said
    assert "email fallback: none" in said
