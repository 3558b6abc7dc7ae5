"""The incident lifecycle as an on-call team sees it, pass by pass on the offline model: a
page at detection, diagnosis, the plan, a human decision, `monitoring` until the breached
conditions recover for two windows, then `resolved` — or escalated when they do not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.errors import ConfigError
from agentops.graph.builder import build_graph
from agentops.graph.local import local_runtime
from agentops.graph.runner import advance
from agentops.store import queries as q
from agentops.store.state_tables import retrain_jobs
from agentops.store.tables import model_registry
from tests.conftest import NOW
from tests.unit.detection.builders import load, metrics
from tests.unit.graph.conftest import (
    approve,
    incidents,
    only_incident,
    recover,
    reject,
    run_pass,
    thread,
)

HOUR = timedelta(hours=1)


def _slack(stores) -> list[str]:
    with stores.state.connect() as conn:
        return [
            str(m["text"])
            for m in q.messages_for(conn)
            if m["channel"] == "slack" and m["target"] == "#ml-alerts"
        ]


def _ledger(stores, incident_id: str) -> dict[str, str]:
    with stores.state.connect() as conn:
        return {a["idempotency_key"]: a["status"] for a in q.action_log_for(conn, incident_id)}


def test_nothing_over_a_threshold_opens_nothing_and_says_nothing(graph_settings, seeded) -> None:
    stores = seeded(None)
    report = run_pass(graph_settings, decide=approve)
    assert report.detection.alerts == [] and report.results == []
    assert incidents(stores) == [] and _slack(stores) == []


def test_vendor_change_resolves_only_after_two_healthy_windows(graph_settings, seeded) -> None:
    stores = seeded("upstream_data_change")
    report = run_pass(graph_settings, decide=approve)
    row = only_incident(stores)
    assert report.paged == [row["incident_id"]]
    assert (row["status"], row["waiting_for"]) == ("monitoring", "recovery")
    assert row["root_cause_category"] == "upstream_data_change" and "V14" in row["root_cause"]
    slack = _slack(stores)
    assert slack[0].startswith("🚨 [P1]") and slack[0].endswith("Investigating automatically...")
    assert not any(text.startswith("✅") for text in slack), "a finished plan is not a recovery"
    with stores.state.connect() as conn:
        [job] = conn.execute(sa.select(retrain_jobs)).mappings().all()
    assert job["model_name"] == "classifier_v2"
    # an hour later, no new window: still monitoring (a triggered retrain is not a recovery)
    run_pass(graph_settings, NOW + HOUR)
    assert only_incident(stores)["status"] == "monitoring"
    recover(stores, "upstream_data_change", 1)
    run_pass(graph_settings, NOW + HOUR + timedelta(minutes=5))
    assert only_incident(stores)["status"] == "monitoring"
    assert "1/2 healthy" in only_incident(stores)["waiting_detail"]
    recover(stores, "upstream_data_change", 2, after=1)
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    closed = only_incident(stores)
    assert (closed["status"], closed["waiting_for"]) == ("resolved", None)
    resolution = [text for text in _slack(stores) if text.startswith("✅ [Resolved]")]
    assert len(resolution) == 1
    minutes = round((closed["resolved_at"] - closed["opened_at"]).total_seconds() / 60)
    assert minutes >= 125 and f"Time to resolve: {minutes} minutes" in resolution[0]
    report_text = Path(closed["postmortem"]).read_text()
    assert "## Root Cause" in report_text and "V14" in report_text
    phases = [t.phase for t in q.incident_timeline(closed)]
    for earlier, later in [
        ("detected", "paged"),
        ("paged", "triage_started"),
        ("triage_started", "root_cause_identified"),
        ("approval_decided", "remediation_done"),
        ("remediation_done", "service_restored"),
        ("service_restored", "postmortem_completed"),
    ]:
        assert phases.index(earlier) < phases.index(later)


def test_no_recovery_escalates_at_the_resolution_sla_and_a_later_recovery_resolves(
    graph_settings, seeded
) -> None:
    stores = seeded("upstream_data_change")
    run_pass(graph_settings, decide=approve)
    run_pass(graph_settings, NOW + timedelta(minutes=90))
    assert only_incident(stores)["status"] == "monitoring"
    run_pass(graph_settings, NOW + timedelta(minutes=125))  # P1: 2 h after the root cause
    row = only_incident(stores)
    assert row["status"] == "escalated"
    ledger = _ledger(stores, row["incident_id"])
    assert ledger[f"{row['incident_id']}|escalate|ml_team_lead|sla_investigation_to_resolution"]
    assert f"{row['incident_id']}|escalate|engineering_manager|p1_unresolved" in ledger
    recover(stores, "upstream_data_change", 3)
    run_pass(graph_settings, NOW + 3 * HOUR + timedelta(minutes=5))
    assert only_incident(stores)["status"] == "resolved", "escalated incidents are still verified"


def test_a_rejected_rollback_runs_nothing_escalates_and_recovery_still_resolves(
    graph_settings, seeded
) -> None:
    stores = seeded("bad_deployment")
    run_pass(graph_settings, decide=reject)
    row = only_incident(stores)
    assert row["status"] == "escalated"
    ledger = _ledger(stores, row["incident_id"])
    assert ledger[f"{row['incident_id']}|rollback_model|classifier_v2"] == "rejected"
    assert f"{row['incident_id']}|escalate|ml_team_lead|approval_rejected" in ledger
    with stores.monitoring.connect() as conn:
        active = conn.execute(
            sa.select(model_registry.c.model_version).where(model_registry.c.active)
        ).scalars()
        assert list(active) == ["2.4.0"], "no rollback happened"
    recover(stores, "bad_deployment", 2, version="2.4.0")  # the team fixed it by hand
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    assert only_incident(stores)["status"] == "resolved"


def test_a_pipeline_fixed_upstream_resolves(graph_settings, seeded) -> None:
    stores = seeded("pipeline_failure")
    run_pass(graph_settings, decide=approve)
    row = only_incident(stores)
    assert row["status"] == "monitoring" and row["root_cause_category"] == "pipeline_failure"
    recover(stores, "pipeline_failure", 2)
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    assert only_incident(stores)["status"] == "resolved"


def test_an_approval_is_withdrawn_when_the_incident_recovers_first(graph_settings, seeded) -> None:
    stores = seeded("bad_deployment")
    run_pass(graph_settings)  # nobody answers
    row = only_incident(stores)
    assert (row["status"], row["waiting_for"]) == ("awaiting_approval", "approval")
    recover(stores, "bad_deployment", 2, version="2.3.0")
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    closed = only_incident(stores)
    assert closed["status"] == "resolved"
    ledger = _ledger(stores, closed["incident_id"])
    assert ledger[f"{closed['incident_id']}|rollback_model|classifier_v2"] == "skipped"


def test_one_pass_handles_every_incident_p1_first(graph_settings, stores) -> None:
    rows = [metrics(f"p2_model_{i}", latency_p99_ms=2500.0) for i in range(3)]
    rows.append(metrics("zz_p1_model", status="down"))
    load(stores.monitoring, model_metrics=rows)
    report = run_pass(graph_settings, decide=approve)
    handled = [r.state["incident"]["model_name"] for r in report.handled]
    assert handled[0] == "zz_p1_model" and len(handled) == 4
    ids = [r["incident_id"] for r in incidents(stores)]
    assert [int(i.rsplit("-", 1)[1]) for i in ids] == [1, 2, 3, 4]
    # every incident is paged in this pass, and every page goes out before any of them is
    # diagnosed (the P2s are not left unpaged while the P1 is handled)
    assert sorted(report.paged) == sorted(ids)
    with stores.state.connect() as conn:
        keys = [json.loads(m["meta"])["ledger_key"] for m in q.messages_for(conn)]
    pages = [i for i, key in enumerate(keys) if "|page|" in key]
    replies = [i for i, key in enumerate(keys) if "|reply|" in key]
    assert len(pages) == 4 and replies and max(pages) < min(replies)


def test_resubmitting_a_thread_repeats_nothing(graph_settings, seeded) -> None:
    stores = seeded("upstream_data_change")
    run_pass(graph_settings, decide=approve)
    row = only_incident(stores)
    before = thread(graph_settings, row["thread_id"])
    ledger = _ledger(stores, row["incident_id"])
    with local_runtime(graph_settings, "test") as rt:
        again = advance(
            rt.graph, row["thread_id"], {"now": "2026-11-20T12:30:00Z"}, rt.scheduler().context
        )
    assert len(again.state["actions_taken"]) == len(before.state["actions_taken"])
    assert len(again.state["timeline"]) == len(before.state["timeline"])
    assert again.waiting_for == "recovery", "the wait is picked back up"
    assert _ledger(stores, row["incident_id"]) == ledger


def test_a_bad_policy_file_fails_before_anything_is_detected(graph_settings, seeded) -> None:
    stores = seeded("upstream_data_change")
    (graph_settings.home / "config.yaml").write_text("thresholds:\n  default: {f1_p1: true}\n")
    with pytest.raises(ConfigError, match="f1_p1"):
        run_pass(graph_settings, decide=approve)
    assert incidents(stores) == [] and _slack(stores) == []


def test_the_graph_drawn_for_studio_shows_the_lifecycle(graph_settings) -> None:
    drawing = build_graph(graph_settings).get_graph().draw_mermaid()
    for node in (
        "detect",
        "page",
        "triage",
        "investigate",
        "remediate",
        "execute_action",
        "request_approval",
        "verify",
        "await_recovery",
        "postmortem",
    ):
        assert node in drawing
    assert "detect -.-> __end__" in drawing
