"""Rollback, retraining and scaling: they really act, once, and a failure escalates."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from agentops.actions import Policy, execute
from agentops.domain import Action, ActionType
from agentops.settings import Settings
from agentops.store import Stores, ledger, queries
from agentops.store.state_tables import retrain_jobs
from agentops.store.tables import deployments

from .builders import MODEL, NOW, drift_incident, make_settings, seed_registry


def _active(stores: Stores) -> list[tuple[str, str]]:
    with stores.monitoring.connect() as conn:
        return [
            (r["model_version"], r["status"]) for r in queries.registry(conn, MODEL) if r["active"]
        ]


def _escalations(stores: Stores) -> list[str]:
    with stores.state.connect() as conn:
        return [
            str(r["target"]) for r in queries.messages_for(conn) if "|escalate|" in r["message_id"]
        ]


def test_rollback_switches_the_registry_once_and_verifies(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    seed_registry(
        store, [("2.1.0", False, "good"), ("2.2.0", False, "good"), ("2.3.0", True, "good")]
    )
    incident = drift_incident()
    action = Action(type=ActionType.rollback_model, target=MODEL)
    result = execute(store, cfg, incident, action, now=NOW, approved_by="alice", policy=policy)
    assert result.status == "succeeded", result.detail
    assert result.approved_by == "alice"
    assert "verified" in result.detail
    assert _active(store) == [("2.2.0", "good")]
    again = execute(
        store,
        cfg,
        incident,
        action,
        now=NOW + timedelta(minutes=5),
        approved_by="bob",
        policy=policy,
    )
    assert again.replayed and again.approved_by == "alice"
    assert _active(store) == [("2.2.0", "good")]  # not rolled back a second time to 2.1.0
    with store.monitoring.connect() as conn:
        versions = {r["model_version"]: r["status"] for r in queries.registry(conn, MODEL)}
        deployed = conn.execute(sa.select(deployments)).mappings().all()
    with store.state.connect() as conn:
        (entry,) = queries.action_log_for(conn, incident.incident_id)
    assert versions["2.3.0"] == "bad"
    assert (entry["status"], entry["approved_by"]) == ("succeeded", "alice")
    assert [(d["model_version"], d["previous_version"], d["deployed_by"]) for d in deployed] == [
        ("2.2.0", "2.3.0", "alice")
    ]


def test_rollback_to_a_named_version(store: Stores, cfg: Settings, policy: Policy) -> None:
    seed_registry(
        store, [("2.1.0", False, "good"), ("2.2.0", False, "good"), ("2.3.0", True, "good")]
    )
    action = Action(type=ActionType.rollback_model, target=MODEL, params={"to_version": "2.1.0"})
    result = execute(
        store, cfg, drift_incident(), action, now=NOW, approved_by="alice", policy=policy
    )
    assert result.status == "succeeded"
    assert _active(store) == [("2.1.0", "good")]


def test_a_failed_rollback_changes_nothing_and_escalates_to_the_ml_lead(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    seed_registry(store, [("2.3.0", True, "good")])
    action = Action(type=ActionType.rollback_model, target=MODEL)
    result = execute(
        store, cfg, drift_incident(), action, now=NOW, approved_by="alice", policy=policy
    )
    assert result.status == "failed"
    assert "no earlier version of classifier_v2 is known" in result.detail
    assert "escalated to ml_team_lead" in result.detail
    assert _active(store) == [("2.3.0", "good")]
    assert _escalations(store) == ["U0LEAD", "dana@example.com"]


def test_a_claim_left_by_a_dead_process_is_reported_in_doubt_not_repeated(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    seed_registry(store, [("2.2.0", False, "good"), ("2.3.0", True, "good")])
    incident = drift_incident()
    action = Action(type=ActionType.rollback_model, target=MODEL)
    with store.state.begin() as conn:
        ledger.claim(
            conn,
            key=action.key(incident.incident_id),
            incident_id=incident.incident_id,
            action_type="rollback_model",
            target=MODEL,
            now=NOW,
            approved_by="alice",
        )
    result = execute(store, cfg, incident, action, now=NOW, approved_by="alice", policy=policy)
    assert result.replayed and result.status == "failed" and "in doubt" in result.detail
    assert _active(store) == [("2.3.0", "good")]


def test_retrain_job_window_excludes_the_bad_window(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    incident = drift_incident()
    action = Action(type=ActionType.retrain_model, target=MODEL)
    result = execute(store, cfg, incident, action, now=NOW, approved_by="bob", policy=policy)
    assert result.status == "succeeded"
    with store.state.connect() as conn:
        (job,) = [queries.as_row(r) for r in conn.execute(sa.select(retrain_jobs)).mappings()]
    bad_start = min(a.window_start for a in incident.alerts)
    bad_end = max(a.window_end for a in incident.alerts)
    assert (job["excluded_start"], job["excluded_end"]) == (bad_start, bad_end)
    assert (job["train_start"], job["train_end"]) == (NOW - timedelta(days=28), NOW)
    assert job["status"] == "recorded"  # no trigger configured: it waits for a trainer
    execute(store, cfg, incident, action, now=NOW, approved_by="bob", policy=policy)
    with store.state.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(retrain_jobs)).scalar() == 1


def test_retrain_triggers_the_command_with_the_job(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    received = tmp_path / "job.json"
    script = f"import sys, pathlib; pathlib.Path({str(received)!r}).write_text(sys.stdin.read())"
    cfg = make_settings(
        tmp_path / "home", retrain_command=f"{sys.executable} -c {json.dumps(script)}"
    )
    result = execute(
        store,
        cfg,
        drift_incident(),
        Action(type=ActionType.retrain_model, target=MODEL),
        now=NOW,
        approved_by="alice",
        policy=policy,
    )
    assert result.status == "succeeded", result.detail
    job = json.loads(received.read_text())["job"]
    assert job["job_id"] == "retrain-INC-2026-1120-1"
    with store.state.connect() as conn:
        assert conn.execute(sa.select(retrain_jobs.c.status)).scalar() == "triggered"


def test_a_failing_trigger_escalates_once(tmp_path: Path, store: Stores, policy: Policy) -> None:
    script = "import sys; sys.exit('cluster quota exceeded')"
    cfg = make_settings(
        tmp_path / "home", scale_command=f"{sys.executable} -c {json.dumps(script)}"
    )
    action = Action(type=ActionType.scale_infrastructure, target="serving", params={"replicas": 6})
    result = execute(
        store, cfg, drift_incident(), action, now=NOW, approved_by="alice", policy=policy
    )
    assert result.status == "failed"
    assert "cluster quota exceeded" in result.detail
    execute(store, cfg, drift_incident(), action, now=NOW, approved_by="alice", policy=policy)
    assert _escalations(store) == ["U0LEAD", "dana@example.com"]


def test_scaling_without_an_executor_is_skipped_honestly(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    action = Action(type=ActionType.scale_infrastructure, target="serving")
    result = execute(
        store, cfg, drift_incident(), action, now=NOW, approved_by="alice", policy=policy
    )
    assert result.status == "skipped"
    assert "AGENTOPS_SCALE_COMMAND" in result.detail


def test_a_rejected_approval_recorded_in_the_ledger_is_never_executed(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    seed_registry(store, [("2.2.0", False, "good"), ("2.3.0", True, "good")])
    incident = drift_incident()
    action = Action(type=ActionType.rollback_model, target=MODEL)
    key = action.key(incident.incident_id)
    with store.state.begin() as conn:
        ledger.claim(
            conn,
            key=key,
            incident_id=incident.incident_id,
            action_type="rollback_model",
            target=MODEL,
            now=NOW,
            detail="rejected by bob",
        )
        ledger.finish(conn, key=key, status="rejected", now=NOW, detail="rejected by bob")
    result = execute(store, cfg, incident, action, now=NOW, approved_by="alice", policy=policy)
    assert (result.status, result.detail, result.replayed) == ("rejected", "rejected by bob", True)
    assert _active(store) == [("2.3.0", "good")]
