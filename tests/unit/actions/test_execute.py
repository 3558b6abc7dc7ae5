"""execute() in outbox mode: validation, exactly-once, routing, escalation rules."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from agentops.actions import Policy, execute, list_outbox
from agentops.actions.policy import build_policy
from agentops.domain import Action, ActionType, AlertType, Severity
from agentops.errors import ApprovalError
from agentops.settings import Settings
from agentops.store import Stores, queries
from agentops.store.state_tables import action_log

from .builders import NOW, alert, drift_incident, store_incident


def _messages(stores: Stores) -> list[dict[str, object]]:
    with stores.state.connect() as conn:
        return queries.messages_for(conn)


def test_notify_twice_writes_one_outbox_message(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    incident = drift_incident()
    store_incident(store, incident)
    action = Action(type=ActionType.notify_slack, target="#ml-alerts")
    first = execute(store, cfg, incident, action, now=NOW, policy=policy)
    again = execute(store, cfg, incident, action, now=NOW, policy=policy)
    assert (first.status, first.replayed) == ("succeeded", False)
    assert (again.status, again.replayed) == ("succeeded", True)
    rows = _messages(store)
    assert [(r["channel"], r["target"], r["status"]) for r in rows] == [
        ("slack", "#ml-alerts", "outbox")
    ]
    lines = (cfg.outbox_dir / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["text"].startswith("🚨 [P1] Model Drift Critical — classifier_v2")
    with store.state.connect() as conn:
        assert list_outbox(conn) == [entry]
        assert set(entry) == {"channel", "target", "text", "incident_id", "sent_at"}


def test_data_quality_goes_to_data_alerts_with_only_its_alerts(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    nulls = alert(AlertType.data_quality, Severity.P2, "null_rate", 0.35, 0.1, component="V14")
    incident = drift_incident(alerts=[*drift_incident().alerts, nulls])
    execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.notify_slack, target="data_alerts"),
        now=NOW,
        policy=policy,
    )
    (row,) = _messages(store)
    assert row["target"] == "#data-alerts"
    assert str(row["text"]).splitlines()[:2] == [
        "🚨 [P2] Data Quality Warning — classifier_v2",
        "Null rate V14: 0.35 (threshold: 0.1)",
    ]


@pytest.mark.parametrize("approved_by", [None, "mallory"])
def test_approval_required_actions_refuse_without_an_authorized_approver(
    store: Stores, cfg: Settings, policy: Policy, approved_by: str | None
) -> None:
    incident = drift_incident()
    for kind in (
        ActionType.rollback_model,
        ActionType.retrain_model,
        ActionType.scale_infrastructure,
    ):
        action = Action(type=kind, target=incident.model_name)
        with pytest.raises(ApprovalError, match=r"may not approve|needs a person's approval"):
            execute(store, cfg, incident, action, now=NOW, approved_by=approved_by, policy=policy)
    with store.state.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(action_log)).scalar() == 0


def test_code_refuses_unknown_targets_without_recording_them(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    incident = drift_incident()
    unknown = execute(
        store, cfg, incident, Action(type=ActionType.escalate, target="ceo"), now=NOW, policy=policy
    )
    other_model = execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.rollback_model, target="other_model"),
        now=NOW,
        approved_by="alice",
        policy=policy,
    )
    assert unknown.status == other_model.status == "skipped"
    assert "ceo" in unknown.detail and "other_model" in other_model.detail
    assert _messages(store) == []


@pytest.mark.parametrize(
    "target, severity, channels",
    [
        ("ml_team_lead", Severity.P2, [("slack", "U0LEAD")]),
        ("ml_team_lead", Severity.P1, [("slack", "U0LEAD"), ("email", "dana@example.com")]),
        (
            "engineering_manager",
            Severity.P2,
            [("slack", "U0MGR"), ("email", "manager@example.com")],
        ),
        ("data_engineering_lead", Severity.P2, [("slack", "U0DATA")]),
        ("platform_engineering", Severity.P2, [("slack", "U0PLAT")]),
        ("security_team", Severity.P1, [("slack", "U0SEC"), ("email", "security@example.com")]),
    ],
)
def test_escalation_dms_the_person_and_emails_p1_and_management(
    store: Stores,
    cfg: Settings,
    policy: Policy,
    target: str,
    severity: Severity,
    channels: list[tuple[str, str]],
) -> None:
    incident = drift_incident(severity=severity)
    result = execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.escalate, target=target),
        now=NOW,
        policy=policy,
    )
    assert result.status == "succeeded"
    rows = _messages(store)
    assert [(r["channel"], r["target"]) for r in rows] == channels
    assert str(rows[0]["text"]).startswith(f"⚠️ [{severity.value}] Escalation to ")
    if len(rows) == 2:
        assert incident.incident_id in str(rows[1]["subject"])


def test_escalation_without_a_slack_user_lands_in_the_incident_thread(
    store: Stores, cfg: Settings
) -> None:
    incident = drift_incident()
    bare = build_policy(cfg, {})
    execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.notify_slack, target="#ml-alerts"),
        now=NOW,
        policy=bare,
    )
    result = execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.escalate, target="ml_team_lead"),
        now=NOW,
        policy=bare,
    )
    assert "set roles.ml_team_lead" in result.detail  # nobody holds the role
    assert "no email for ml_team_lead" in result.detail  # P1 wants an email it cannot send
    rows = {str(r["message_id"]).split("|")[1]: r for r in _messages(store)}
    alert_row, escalation = rows["notify_slack"], rows["escalate"]
    assert escalation["target"] == "#ml-alerts"
    assert json.loads(str(escalation["meta"]))["thread_of"] == alert_row["message_id"]


def test_log_metrics_records_a_snapshot_without_messages(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    from agentops.store.load import load_tables

    load_tables(
        store.monitoring,
        {
            "model_metrics": [
                {
                    "model_name": "classifier_v2",
                    "model_version": "2.3.0",
                    "window_start": "2026-11-20T10:00:00Z",
                    "window_end": "2026-11-20T11:00:00Z",
                    "f1": 0.66,
                    "precision": 0.81,
                    "recall": 0.56,
                    "error_rate": 0.01,
                    "latency_p50_ms": 40,
                    "latency_p99_ms": 420,
                    "request_count": 12000,
                    "status": "up",
                }
            ]
        },
    )
    incident = drift_incident()
    result = execute(
        store,
        cfg,
        incident,
        Action(type=ActionType.log_metrics, target="classifier_v2"),
        now=NOW,
        policy=policy,
    )
    assert result.status == "succeeded"
    assert "f1=0.66" in result.detail and "recall=0.56" in result.detail
    assert _messages(store) == []
    with store.state.connect() as conn:
        (row,) = queries.action_log_for(conn, incident.incident_id)
    assert json.loads(row["result"])["snapshot"]["latest_window"]["f1"] == 0.66
