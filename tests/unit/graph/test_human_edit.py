"""A person editing the diagnosis in the thread's state (Studio's "edit state") is recorded
with their name and must fit the evidence: an edit cannot unlock an action the evidence
refuses, and an accepted edit that changes the category makes the plan again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from langgraph.types import Command

from agentops.graph.context import Context
from agentops.graph.local import local_runtime
from agentops.graph.runner import config_for
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.state_tables import action_log
from tests.conftest import NOW
from tests.unit.graph.conftest import ALICE, approve, only_incident, recover, run_pass, thread

HOUR = timedelta(hours=1)


def edit(settings: Settings, thread_id: str, who: str, as_node: str, **diagnosis: Any) -> None:
    """What Studio's edit does: a new checkpoint whose metadata names the editor."""
    with local_runtime(settings, "studio") as rt:
        current = rt.graph.get_state(config_for(thread_id)).values["diagnosis"]
        config = {**config_for(thread_id), "metadata": {"edited_by": who}}
        rt.graph.update_state(config, {"diagnosis": {**current, **diagnosis}}, as_node=as_node)


def ledger(stores: Stores, incident_id: str) -> dict[str, str]:
    with stores.state.connect() as conn:
        rows = conn.execute(
            sa.select(action_log.c.idempotency_key, action_log.c.status).where(
                action_log.c.incident_id == incident_id
            )
        ).all()
    return {key: status for key, status in rows}


def edits(row: dict[str, Any]) -> list[str]:
    return [t.note for t in q.incident_timeline(row) if t.phase == "diagnosis_edited"]


def test_an_edit_the_evidence_refuses_unlocks_nothing_and_shows_in_the_postmortem(
    graph_settings: Settings, seeded
) -> None:
    stores = seeded("upstream_data_change")
    run_pass(graph_settings)  # the retrain waits for a person
    row = only_incident(stores)
    assert row["waiting_for"] == "approval"

    # mallory rewrites the data problem as a bad release, hoping for a rollback
    edit(
        graph_settings,
        row["thread_id"],
        "mallory",
        "investigate",
        category="bad_deployment",
        root_cause="release 2.4.0 broke the model",
    )
    run_pass(graph_settings, NOW + timedelta(minutes=5), decide=approve)

    row = only_incident(stores)
    keys = ledger(stores, row["incident_id"])
    assert not any("|rollback_model|" in k for k in keys), "the edit unlocked a rollback"
    assert keys[f"{row['incident_id']}|retrain_model|classifier_v2"] in {"succeeded", "queued"}
    assert row["root_cause_category"] == "upstream_data_change"
    [note] = edits(row)
    assert "mallory" in note and "refused" in note and "bad_deployment" in note
    diagnosis = thread(graph_settings, row["thread_id"]).state["diagnosis"]
    assert diagnosis["category"] == "upstream_data_change"
    assert any("mallory" in refusal for refusal in diagnosis["refused"])

    recover(stores, "upstream_data_change", 2)
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    closed = only_incident(stores)
    assert closed["status"] == "resolved"
    report = Path(closed["postmortem"]).read_text()
    assert "mallory" in report and "refused" in report


def test_an_accepted_edit_that_changes_the_category_makes_the_plan_again(
    graph_settings: Settings, seeded
) -> None:
    stores = seeded("upstream_data_change")
    run_pass(graph_settings)
    row = only_incident(stores)
    # bob is not sure it is the vendor at all: 'unknown' always fits, and hands it to a person
    edit(
        graph_settings,
        row["thread_id"],
        "bob",
        "request_approval",
        category="unknown",
        root_cause="not sure the vendor change explains it",
    )
    run_pass(graph_settings, NOW + timedelta(minutes=5), decide=approve)

    row = only_incident(stores)
    keys = ledger(stores, row["incident_id"])
    assert f"{row['incident_id']}|retrain_model|classifier_v2" not in keys, (
        "the retrain planned from the old diagnosis ran after the diagnosis changed"
    )
    assert any("|escalate|ml_team_lead" in k for k in keys)
    assert row["status"] == "escalated"
    assert row["root_cause_category"] == "unknown"
    [note] = edits(row)
    assert "bob" in note and "upstream_data_change" in note and "unknown" in note
    diagnosis = thread(graph_settings, row["thread_id"]).state["diagnosis"]
    assert "edited by bob" in diagnosis["diagnosed_by"]


def test_an_edit_of_the_words_keeps_the_plan_and_names_its_author(
    graph_settings: Settings, seeded
) -> None:
    stores = seeded("bad_deployment")
    run_pass(graph_settings)
    row = only_incident(stores)
    assert row["waiting_detail"].startswith("rollback_model")
    edit(
        graph_settings,
        row["thread_id"],
        "bob",
        "request_approval",
        root_cause="2.4.0 mis-encodes V14 (confirmed with the release owner)",
    )
    run_pass(graph_settings, NOW + timedelta(minutes=5), decide=approve)

    row = only_incident(stores)
    keys = ledger(stores, row["incident_id"])
    assert keys[f"{row['incident_id']}|rollback_model|classifier_v2"] == "succeeded"
    assert "confirmed with the release owner" in row["root_cause"]
    [note] = edits(row)
    assert "bob" in note and "fits" in note


def test_a_fork_from_before_the_approval_follows_the_ledger(
    graph_settings: Settings, seeded
) -> None:
    """Studio's fork: re-run from the checkpoint where the rollback waited, answered the
    other way. What ran, ran: nothing is sent, escalated or rewritten, and the resolved
    incident stays resolved."""
    stores = seeded("bad_deployment")
    run_pass(graph_settings, decide=approve)
    recover(stores, "bad_deployment", 2, version="2.3.0")
    run_pass(graph_settings, NOW + 2 * HOUR + timedelta(minutes=5))
    closed = only_incident(stores)
    assert closed["status"] == "resolved"
    report = Path(closed["postmortem"]).read_text()
    before = ledger(stores, closed["incident_id"])
    with stores.state.connect() as conn:
        sent = len(q.messages_for(conn, closed["incident_id"]))

    with local_runtime(graph_settings, "studio") as rt:
        history = rt.graph.get_state_history(config_for(closed["thread_id"]))
        waiting = next(
            h
            for h in history
            if h.interrupts and h.interrupts[0].value.get("kind") == "approval_request"
        )
        # a fork is a new branch from that checkpoint (its recorded answer left behind)
        forked = rt.graph.update_state(waiting.config, {"notes": ["forked in Studio"]})
        config = {"configurable": {**forked["configurable"], **ALICE.as_config()}}
        rt.graph.invoke(
            Command(resume={"decision": "reject", "comment": "on second thought"}),
            config,
            context=Context(),
        )

    after = only_incident(stores)
    assert after["status"] == "resolved"
    assert ledger(stores, closed["incident_id"]) == before, "the action log is unchanged"
    with stores.state.connect() as conn:
        assert len(q.messages_for(conn, closed["incident_id"])) == sent, "nothing sent again"
    assert Path(closed["postmortem"]).read_text() == report
