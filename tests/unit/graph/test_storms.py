"""Storms: one upstream failure breaking many models pages once, with each model's incident
linked under one parent; below the storm size, or without a shared broken run, every model
pages on its own."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.domain import IncidentStatus
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.load import load_tables
from agentops.store.state_tables import messages
from tests.conftest import NOW, make_stores
from tests.unit.graph.conftest import incidents, run_pass


def fleet(models: int, *, hours: int = 24) -> list[dict[str, Any]]:
    """Hourly MODEL_METRICS up to NOW for `models` models; the newest window's F1 fell."""
    rows = []
    for index in range(models):
        for back in range(hours, 0, -1):
            start = NOW - timedelta(hours=back)
            rows.append(
                {
                    "model_name": f"churn_{index:02d}",
                    "model_version": "3.1.0",
                    "window_start": start,
                    "window_end": start + timedelta(hours=1),
                    "f1": 0.62 if back == 1 else 0.88,
                    "precision": 0.9,
                    "recall": 0.86,
                    "error_rate": 0.01,
                    "latency_p50_ms": 35.0,
                    "latency_p99_ms": 250.0,
                    "request_count": 5000,
                    "status": "up",
                }
            )
    return rows


def broken_run(run_id: str, *, source: str | None = "crm_export", model: str | None = None):
    return {
        "run_id": run_id,
        "pipeline_name": "feature_etl",
        "model_name": model,
        "source": source,
        "started_at": NOW - timedelta(hours=3),
        "finished_at": NOW - timedelta(hours=2, minutes=40),
        "status": "failed",
        "rows_processed": 0,
        "notes": None,
    }


def seed(settings: Settings, models: int, runs: list[dict[str, Any]]) -> Stores:
    stores = make_stores(settings)
    tables: dict[str, list[dict[str, Any]]] = {"model_metrics": fleet(models)}
    if runs:
        tables["pipeline_runs"] = runs
    load_tables(stores.monitoring, tables)
    return stores


def slack(stores: Stores) -> list[dict[str, Any]]:
    with stores.state.connect() as conn:
        rows = conn.execute(
            sa.select(messages).where(messages.c.channel == "slack").order_by(messages.c.seq)
        ).mappings()
        return [{**r, "meta": json.loads(r["meta"] or "{}")} for r in rows]


def top_level(rows: list[dict[str, Any]], channel: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["target"] == channel and "thread_of" not in r["meta"]]


def test_one_failed_run_under_six_models_pages_once(graph_settings: Settings) -> None:
    stores = seed(graph_settings, 6, [broken_run("etl-20261120-07")])
    report = run_pass(graph_settings)

    rows = incidents(stores)
    parents = [r for r in rows if not r.get("alerts") and r["model_name"] == "(storm)"]
    children = [r for r in rows if r.get("parent_id")]
    assert len(parents) == 1 and len(children) == 6
    parent = parents[0]
    assert {c["parent_id"] for c in children} == {parent["incident_id"]}
    assert report.paged == [parent["incident_id"]]

    sent = slack(stores)
    [page] = top_level(sent, "#ml-alerts")
    assert page["incident_id"] == parent["incident_id"]
    assert "6 models" in page["text"] and "etl-20261120-07" in page["text"]
    for child in children:
        assert child["model_name"] in page["text"] and child["incident_id"] in page["text"]
    # the models' own messages (findings, plans, ...) reply in the storm's thread
    for row in sent:
        if row["target"] == "#ml-alerts" and row is not page:
            assert row["meta"]["thread_of"] == page["message_id"]
    # every model's incident was still handled
    assert all(c["thread_id"] for c in children)

    # a person is told once per reason for the whole storm, not once per model
    with stores.state.connect() as conn:
        escalations = conn.execute(
            sa.text("select idempotency_key from agentops_action_log where action_type='escalate'")
        ).all()
    keys = [k for (k,) in escalations]
    assert len(keys) == len(set(keys))
    assert all(parent["incident_id"] in k for k in keys)

    # a second pass opens nothing new and pages nothing
    again = run_pass(graph_settings, NOW + timedelta(minutes=5))
    assert again.paged == []
    assert len(top_level(slack(stores), "#ml-alerts")) == 1


def test_the_storm_resolves_when_every_model_does(graph_settings: Settings) -> None:
    stores = seed(graph_settings, 5, [broken_run("etl-9", source=None)])
    run_pass(graph_settings)
    rows = incidents(stores)
    [parent] = [r for r in rows if r["model_name"] == "(storm)"]
    children = [r for r in rows if r.get("parent_id")]
    with stores.state.begin() as conn:
        for child in children[:-1]:
            _resolve(conn, child["incident_id"])
    run_pass(graph_settings, NOW + timedelta(minutes=5))
    assert _status(stores, parent["incident_id"]) != "resolved"

    with stores.state.begin() as conn:
        _resolve(conn, children[-1]["incident_id"])
    run_pass(graph_settings, NOW + timedelta(minutes=10))
    assert _status(stores, parent["incident_id"]) == "resolved"
    resolved = [r for r in slack(stores) if r["incident_id"] == parent["incident_id"]]
    assert any(r["text"].startswith("✅") for r in resolved)


@pytest.mark.parametrize(
    ("models", "runs"),
    [
        (4, [broken_run("etl-1")]),  # fewer models than a storm
        (6, []),  # no broken run: six separate problems
        (6, [broken_run("etl-2", model="churn_00", source=None)]),  # the run fed one model
    ],
    ids=["below-storm-size", "no-shared-cause", "run-of-one-model"],
)
def test_without_a_shared_cause_every_model_pages(
    graph_settings: Settings, models: int, runs: list[dict[str, Any]]
) -> None:
    stores = seed(graph_settings, models, runs)
    report = run_pass(graph_settings)
    rows = incidents(stores)
    assert not any(r.get("parent_id") for r in rows)
    assert len(report.paged) == models
    assert len(top_level(slack(stores), "#ml-alerts")) == models


def _resolve(conn: sa.Connection, incident_id: str) -> None:
    store_incidents.set_status(conn, incident_id, IncidentStatus.resolved)
    store_incidents.set_incident_fields(conn, incident_id, resolved_at=NOW)


def _status(stores: Stores, incident_id: str) -> str:
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
    assert row is not None
    return str(row["status"])
