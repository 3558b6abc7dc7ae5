"""The incident graph end to end on the offline model: what a user of `agentops run` sees."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from agentops.graph.builder import build_graph
from agentops.graph.context import Context
from agentops.graph.runner import resume, run_incident, start
from agentops.store import queries as q
from agentops.store.tables import model_registry, retrain_jobs
from tests.conftest import NOW
from tests.unit.graph.conftest import APPROVER


def approve(payload: dict) -> dict:
    return {"decision": "approve", "approver": APPROVER, "comment": "go"}


def test_nothing_over_a_threshold_ends_without_an_incident(graph_settings, seeded) -> None:
    engine = seeded(None)
    state = run_incident(graph_settings, now=NOW, decide=approve)
    assert state["incident"] is None
    assert state["summary"] == "nothing crossed a threshold"
    with engine.connect() as conn:
        assert q.list_incidents(conn, status="open") == []
        assert q.messages_for(conn) == []


def test_vendor_change_is_diagnosed_retrained_and_closed(graph_settings, seeded) -> None:
    engine = seeded("upstream_data_change")
    payloads: list[dict] = []
    state = run_incident(graph_settings, now=NOW, decide=lambda p: payloads.append(p) or approve(p))
    incident = state["incident"]
    assert incident["severity"] == "P1"
    assert set(incident["alert_types"]) == {"model_performance", "feature_drift"}
    assert incident["root_cause_category"] == "upstream_data_change"
    assert "V14" in incident["root_cause"]
    assert incident["status"] == "resolved"
    # the approval request says what, on what, why, with evidence and risk, and how to answer
    [request] = payloads
    assert request["action"]["type"] == "retrain_model"
    assert request["action"]["target"] == "classifier_v2"
    assert "V14" in request["why"] and request["risk"] and request["evidence"]
    assert set(request["resume_with"]) == {"decision", "approver", "comment"}
    done = {(a["action"]["type"], a["status"]) for a in state["actions_taken"]}
    assert ("retrain_model", "succeeded") in done and ("notify_slack", "succeeded") in done
    assert state["escalated_to"] == ["data_engineering_lead"]
    phases = [t["phase"] for t in state["timeline"]]
    assert phases[:4] == [
        "detected",
        "triage_started",
        "root_cause_identified",
        "remediation_started",
    ]
    assert phases[-2:] == ["service_restored", "postmortem_completed"]
    with engine.connect() as conn:
        [job] = conn.execute(sa.select(retrain_jobs)).mappings().all()
        row = q.get_incident_row(conn, incident["incident_id"])
    assert job["model_name"] == "classifier_v2"
    assert row is not None and row["postmortem"] == state["postmortem_path"]
    assert "diagnosed by rules; no LLM configured" in " ".join(state["notes"])
    # automated phases share seconds: the report still lists them in lifecycle order
    report = Path(state["postmortem_path"]).read_text().split("## Timeline")[1]
    steps = [
        "Alert triggered",
        "Approval requested",
        "Approval decided",
        "Service restored",
        "Post-mortem completed",
    ]
    assert [report.index(step) for step in steps] == sorted(report.index(step) for step in steps)


def test_rejection_runs_nothing_and_hands_over_to_the_team_lead(graph_settings, seeded) -> None:
    engine = seeded("bad_deployment")
    state = run_incident(
        graph_settings,
        now=NOW,
        decide=lambda p: {"decision": "reject", "approver": APPROVER, "comment": "not at peak"},
    )
    rejected = [a for a in state["actions_taken"] if a["status"] == "rejected"]
    assert [a["action"]["type"] for a in rejected] == ["rollback_model"]
    assert "rejected by alice: not at peak" in rejected[0]["detail"]
    assert "ml_team_lead" in state["escalated_to"]
    assert state["incident"]["status"] == "escalated"
    with engine.connect() as conn:
        active = (
            conn.execute(sa.select(model_registry.c.model_version).where(model_registry.c.active))
            .scalars()
            .all()
        )
        log = q.action_log_for(conn, state["incident"]["incident_id"])
    assert active == ["2.4.0"]  # no rollback happened
    assert any(e["action_type"] == "rollback_model" and e["status"] == "rejected" for e in log)


def test_invalid_answers_execute_nothing_and_ask_again(graph_settings, seeded) -> None:
    engine = seeded("bad_deployment")
    graph = build_graph(graph_settings, checkpointer=_saver())
    ctx = Context()
    first = start(graph, now=NOW, model_name=None, context=ctx)
    assert first.pending is not None and first.pending["action"]["type"] == "rollback_model"
    for bad, problem in [
        ({"decision": "maybe", "approver": APPROVER}, "unknown decision 'maybe'"),
        ({"decision": "approve", "approver": "mallory"}, "'mallory' is not an authorized approver"),
        ("yes", "expected an object"),
    ]:
        again = resume(graph, first.thread_id, bad, ctx)  # type: ignore[arg-type]
        assert again.pending is not None and problem in again.pending["problem"]
        with engine.connect() as conn:
            active = (
                conn.execute(
                    sa.select(model_registry.c.model_version).where(model_registry.c.active)
                )
                .scalars()
                .all()
            )
        assert active == ["2.4.0"]
    done = resume(graph, first.thread_id, {"decision": "approve", "approver": APPROVER}, ctx)
    assert done.pending is None
    with engine.connect() as conn:
        active = (
            conn.execute(sa.select(model_registry.c.model_version).where(model_registry.c.active))
            .scalars()
            .all()
        )
    assert active == ["2.3.0"]  # rolled back to the previous good version


def test_a_context_cannot_widen_the_configured_approvers(graph_settings, seeded) -> None:
    seeded("bad_deployment")
    graph = build_graph(graph_settings, checkpointer=_saver())
    ctx = Context(approvers=("mallory",))
    first = start(graph, now=NOW, model_name=None, context=ctx)
    assert first.pending is not None and first.pending["approvers"] == []
    again = resume(graph, first.thread_id, {"decision": "approve", "approver": "mallory"}, ctx)
    assert again.pending is not None and "not an authorized approver" in again.pending["problem"]


def test_auto_approve_is_refused_by_the_server_graph(graph_settings, seeded) -> None:
    seeded("bad_deployment")
    graph = build_graph(graph_settings, checkpointer=_saver())  # as langgraph.json builds it
    first = start(graph, now=NOW, model_name=None, context=Context(auto_approve=True))
    assert first.pending is not None  # a human is still asked


def test_graph_shape_for_studio(graph_settings) -> None:
    drawing = build_graph(graph_settings).get_graph().draw_mermaid()
    for node in (
        "detect",
        "triage",
        "investigate",
        "remediate",
        "execute_action",
        "request_approval",
        "postmortem",
    ):
        assert node in drawing
    assert "detect -.-> __end__" in drawing


def _saver():
    from langgraph.checkpoint.memory import InMemorySaver

    return InMemorySaver()


def test_an_approval_left_waiting_past_its_sla_escalates_once(graph_settings, seeded) -> None:
    from datetime import timedelta

    from agentops import actions

    engine = seeded("bad_deployment")
    waiting = run_incident(graph_settings, now=NOW)  # no decide: stops at the approval
    assert waiting["pending"]["action"]["type"] == "rollback_model"
    assert actions.sweep(engine, graph_settings, now=NOW + timedelta(minutes=5)) == []
    late = actions.sweep(engine, graph_settings, now=NOW + timedelta(hours=3))
    assert "ml_team_lead" in {r.action.target for r in late}
    assert actions.sweep(engine, graph_settings, now=NOW + timedelta(hours=4)) == []
