"""Evidence judged against the model's own thresholds, and changes timed against the onset.

One source of thresholds: the ThresholdSet given to `gather_evidence` (and to the store
tools) decides what counts as drifting or degraded, per model, and is recorded in the
evidence so nothing downstream compares with a constant of its own.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from agentops.agents import gather_evidence
from agentops.detection.thresholds import Thresholds, ThresholdSet
from agentops.domain import Alert, AlertType, Evidence, Incident, Severity
from agentops.store.load import load_tables
from agentops.tools.store_tools import store_tools
from tests.unit.agents.conftest import NOW, incident_for

HOUR = timedelta(hours=1)


def window(hours_ago: int, **values: Any) -> dict[str, Any]:
    start = NOW - hours_ago * HOUR
    return {
        "model_name": "m",
        "model_version": "1.0",
        "window_start": start,
        "window_end": start + HOUR,
        "f1": 0.86,
        "precision": 0.9,
        "recall": 0.82,
        "error_rate": 0.002,
        "latency_p99_ms": 300,
        "request_count": 1000,
        "status": "up",
        **values,
    }


def drift(feature: str, psi: float) -> dict[str, Any]:
    return {
        "model_name": "m",
        "feature_name": feature,
        "window_start": NOW - HOUR,
        "window_end": NOW,
        "psi": psi,
    }


def alert(kind: AlertType = AlertType.model_performance) -> Alert:
    return Alert(
        type=kind,
        severity=Severity.P1,
        model_name="m",
        metric="f1",
        value=0.6,
        threshold=0.7,
        window_start=NOW - HOUR,
        window_end=NOW,
    )


def gather(
    store: sa.Engine, incident: Incident, thresholds: ThresholdSet | None = None
) -> dict[str, Evidence]:
    with store.connect() as conn:
        return {e.id: e for e in gather_evidence(conn, incident, NOW, thresholds=thresholds)}


def test_per_model_thresholds_decide_what_drifts_and_are_recorded(store: sa.Engine) -> None:
    load_tables(
        store,
        {"model_metrics": [window(1)], "feature_drift": [drift("x1", 0.25), drift("x2", 0.05)]},
    )
    incident = incident_for([alert(AlertType.feature_drift)], "m", NOW)
    default = gather(store, incident)
    assert "drift:x1" in default and default["drift:summary"].data["psi_p3"] == 0.2
    strict = ThresholdSet(models={"m": Thresholds(psi_p3=0.3, psi_p2=0.5)})
    judged = gather(store, incident, strict)
    assert "drift:x1" not in judged
    assert judged["drift:summary"].data["psi_p3"] == 0.3
    other = ThresholdSet(models={"other_model": Thresholds(psi_p3=0.3, psi_p2=0.5)})
    assert "drift:x1" in gather(store, incident, other)  # another model's override: not this one


def test_the_f1_line_of_the_model_decides_when_the_degradation_began(store: sa.Engine) -> None:
    rows = [window(h) for h in (6, 5, 4, 3)] + [window(2, f1=0.73), window(1, f1=0.72)]
    load_tables(store, {"model_metrics": rows})
    incident = incident_for([alert()], "m", NOW)
    default = gather(store, incident)["metric:onset"].data
    # 0.73 and 0.72 are 0.13 under the earlier 0.86: degraded by the drop alone
    assert default["onset"] == "2026-11-20T10:00:00Z" and default["degraded_windows"] == 2
    strict = ThresholdSet(models={"m": Thresholds(f1_p1=0.8)})
    evidence = gather(store, incident, strict)
    assert evidence["metric:f1"].data["threshold"] == 0.8
    assert evidence["metric:onset"].data["f1_p1"] == 0.8


def test_a_release_is_timed_against_the_onset_and_its_healthy_windows(store: sa.Engine) -> None:
    rows = [window(h) for h in (6, 5, 4)]
    rows += [window(h, model_version="1.1") for h in (3,)]
    rows += [window(h, model_version="1.2", f1=0.6) for h in (2, 1)]
    deployments = [
        {
            "deployment_id": "d-11",
            "model_name": "m",
            "model_version": "1.1",
            "previous_version": "1.0",
            "deployed_at": NOW - 3 * HOUR - timedelta(minutes=10),
        },
        {
            "deployment_id": "d-12",
            "model_name": "m",
            "model_version": "1.2",
            "previous_version": "1.1",
            "deployed_at": NOW - 2 * HOUR - timedelta(minutes=5),
        },
    ]
    load_tables(store, {"model_metrics": rows, "deployments": deployments})
    evidence = gather(store, incident_for([alert()], "m", NOW))
    judged, culprit = evidence["deploy:d-11"].data, evidence["deploy:d-12"].data
    assert judged["healthy_since"] == 1 and not judged["first_degraded_version"]
    assert culprit["healthy_since"] == 0 and culprit["first_degraded_version"]
    assert culprit["hours_before_onset"] == 0.1
    assert evidence["metric:onset"].data["version_before"] == "1.1"


def test_runs_after_the_onset_and_retried_failures_are_marked(store: sa.Engine) -> None:
    rows = [window(h) for h in (6, 5, 4, 3)] + [window(h, f1=0.6) for h in (2, 1)]

    def run(run_id: str, started_hours_ago: float, status: str, notes: str = "") -> dict:
        started = NOW - timedelta(hours=started_hours_ago)
        return {
            "run_id": run_id,
            "pipeline_name": "feed",
            "model_name": "m",
            "source": "vendor",
            "started_at": started,
            "finished_at": started + timedelta(minutes=10),
            "status": status,
            "rows_processed": 100,
            "notes": notes,
        }

    runs = [run("r1", 5, "failed"), run("r2", 4.5, "success"), run("r3", 0.5, "success", "x")]
    load_tables(store, {"model_metrics": rows, "pipeline_runs": runs})
    evidence = gather(store, incident_for([alert()], "m", NOW))
    assert evidence["run:r1"].data["retried_ok"] is True
    assert evidence["run:r3"].data["after_onset"] is True
    assert evidence["run:r2"].data["hours_before_onset"] == 2.5


def test_late_labels_are_read_from_the_newest_labelled_window(store: sa.Engine) -> None:
    rows = [window(h) for h in (6, 5, 4)] + [window(3, f1=0.78)]
    rows += [window(h, f1=None, precision=None, recall=None) for h in (2, 1)]
    load_tables(store, {"model_metrics": rows})
    evidence = gather(store, incident_for([alert(AlertType.feature_drift)], "m", NOW))
    f1 = evidence["metric:f1"].data
    assert f1["latest"] == 0.78 and f1["label_lag_hours"] == 2.0
    assert "labelled window" in evidence["metric:f1"].summary


def test_the_models_past_incidents_are_evidence_but_not_this_one(store: sa.Engine) -> None:
    def past(incident_id: str, days_ago: int, model: str = "m") -> dict[str, Any]:
        return {
            "incident_id": incident_id,
            "model_name": model,
            "severity": "P1",
            "alert_types": "model_performance",
            "root_cause_category": "bad_deployment",
            "root_cause": "a release broke it",
            "resolution": "rolled back",
            "opened_at": NOW - timedelta(days=days_ago),
            "resolved_at": NOW - timedelta(days=days_ago) + HOUR,
        }

    incident = incident_for([alert()], "m", NOW)
    history = [
        past("INC-OLD-1", 30),
        past("INC-OTHER-1", 10, model="other"),
        past(incident.incident_id, 0),
    ]
    load_tables(store, {"model_metrics": [window(1)], "incidents": history})
    ids = {i for i in gather(store, incident) if i.startswith("incident:")}
    assert ids == {"incident:INC-OLD-1"}


def test_store_tools_count_drift_against_the_models_line(store: sa.Engine) -> None:
    load_tables(
        store,
        {"model_metrics": [window(1)], "feature_drift": [drift("x1", 0.25), drift("x2", 0.22)]},
    )
    incident = incident_for([alert(AlertType.feature_drift)], "m", NOW)

    def drifting(thresholds: ThresholdSet | None) -> dict[str, Any]:
        tool = next(t for t in store_tools(store, incident, NOW, thresholds) if "drift" in t.name)
        return json.loads(tool.invoke({"limit": 5}))["data"]

    assert drifting(None)["features_at_or_over_psi_p3"] == 2
    strict = drifting(ThresholdSet(models={"m": Thresholds(psi_p3=0.24, psi_p2=0.5)}))
    assert strict["features_at_or_over_psi_p3"] == 1 and strict["psi_p3"] == 0.24
