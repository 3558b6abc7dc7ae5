"""Through the scheduler pass, as `agentops run` does it: an approval request carries its
evidence, and an upstream change's retrain waits for the fix, says so, then starts once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from agentops.store import queries as q
from agentops.store.load import load_tables
from agentops.store.state_tables import retrain_jobs
from tests.conftest import NOW

from .conftest import approve, only_incident, run_pass, thread

HOUR = timedelta(hours=1)


def _approval_texts(stores: Any) -> list[str]:
    with stores.state.connect() as conn:
        return [
            m["text"]
            for m in q.messages_for(conn)
            if m["channel"] == "slack" and "Approval needed" in m["text"]
        ]


def test_a_rollback_request_shows_the_targets_metrics_and_schema(graph_settings, seeded) -> None:
    stores = seeded("bad_deployment")
    run_pass(graph_settings)  # nobody answers
    row = only_incident(stores)
    assert row["waiting_for"] == "approval"
    [text] = _approval_texts(stores)
    assert "Facts for this decision (monitoring tables as of 2026-11-20T12:00:00Z):" in text
    assert "• Target 2.3.0 (the version the evidence names) in its last 3 healthy windows" in text
    assert "• Serving now: 2.4.0" in text
    assert "• Feature schema: 2.3.0 saw the same" in text
    # the interrupt Agent Inbox and `threads --json` show carries the same facts
    pending = thread(graph_settings, row["thread_id"]).pending or {}
    assert pending["facts"]["data"]["to_version"] == "2.3.0"
    assert pending["facts"]["data"]["schema_match"] is True


def test_an_upstream_retrain_waits_for_the_fix_says_so_and_starts_once(
    graph_settings, seeded
) -> None:
    stores = seeded("upstream_data_change")
    run_pass(graph_settings, decide=approve)
    row = only_incident(stores)
    assert (row["status"], row["waiting_for"]) == ("monitoring", "recovery")
    with stores.state.connect() as conn:
        ledger = {a["action_type"]: a["status"] for a in q.action_log_for(conn, row["incident_id"])}
    assert ledger["retrain_model"] == "queued"  # handed to its executor, behind the fix
    assert _job(stores)["status"] == "waiting"

    run_pass(graph_settings, NOW + HOUR)  # no fix yet: `threads` says what it waits for
    detail = only_incident(stores)["waiting_detail"]
    assert "retrain job retrain-INC-2026-1120-1 waits for the upstream fix" in detail
    assert "a successful run of pipeline transactions_etl started after" in detail

    fixed = NOW + HOUR + timedelta(minutes=10)
    load_tables(stores.monitoring, {"pipeline_runs": [_fixed_run(fixed)]})
    run_pass(graph_settings, NOW + 2 * HOUR)
    job = _job(stores)
    assert job["status"] == "recorded"  # started; no trainer configured in this home
    assert q.as_row(job)["started_at"] == NOW + 2 * HOUR
    spec = json.loads(job["params"])
    assert spec["fixed"]["by"].startswith("pipeline transactions_etl run etl-fixed-1")
    assert spec["window"]["excluded"][0]["end"] == "2026-11-20T13:10:00Z"
    with stores.state.connect() as conn:
        ledger = {a["action_type"]: a["status"] for a in q.action_log_for(conn, row["incident_id"])}
    assert ledger["retrain_model"] == "succeeded"
    assert "upstream fix" not in (only_incident(stores)["waiting_detail"] or "")

    run_pass(graph_settings, NOW + 3 * HOUR)
    assert q.as_row(_job(stores))["started_at"] == NOW + 2 * HOUR  # started once


def _job(stores: Any) -> dict[str, Any]:
    with stores.state.connect() as conn:
        [job] = conn.execute(sa.select(retrain_jobs)).mappings().all()
    return dict(job)


def _fixed_run(started: Any) -> dict[str, Any]:
    return {
        "run_id": "etl-fixed-1",
        "pipeline_name": "transactions_etl",
        "model_name": "classifier_v2",
        "source": "vendor_api",
        "started_at": started,
        "finished_at": started + timedelta(minutes=20),
        "status": "success",
        "rows_processed": 210000,
        "notes": "",
    }
