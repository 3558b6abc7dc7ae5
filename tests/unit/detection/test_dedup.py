"""From alerts to incidents: grouping, persistence, absorption, resolution and flapping."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from agentops.detection import Thresholds, ThresholdSet, detect_incidents
from agentops.domain import AlertType, IncidentStatus, Severity
from agentops.store import queries as q
from agentops.store.incidents import save_incident
from tests.conftest import NOW
from tests.unit.detection.builders import drift, load, metrics, quality

HOUR = timedelta(hours=1)


def _incidents(engine: sa.Engine):
    with engine.connect() as conn:
        return [q.incident_from_row(r) for r in q.list_incidents(conn)]


def _resolve(engine: sa.Engine, incident, at) -> None:
    with engine.begin() as conn:
        done = incident.model_copy(update={"status": IncidentStatus.resolved, "resolved_at": at})
        save_incident(conn, done)


def test_one_pass_on_one_model_opens_one_incident_at_its_highest_severity(engine, stores) -> None:
    load(
        engine,
        model_metrics=[metrics(f1=0.6)],
        feature_drift=[drift("V14", 0.8), drift("V17", 0.25)],
    )
    result = detect_incidents(stores, NOW)
    [change] = result.changes
    assert change.new and change.incident.incident_id == "INC-2026-1120-1"
    assert change.incident.severity == Severity.P1
    assert change.incident.alert_types == [AlertType.model_performance, AlertType.feature_drift]
    assert len(change.new_alerts) == 3 == len(result.alerts)
    [stored] = _incidents(stores.state)
    assert stored.fingerprints == {"m1:model_performance:model", "m1:feature_drift:V14",
                                   "m1:feature_drift:V17"}  # fmt: skip


def test_two_models_get_two_incidents_most_severe_first(engine, stores) -> None:
    load(engine, model_metrics=[metrics("a", latency_p99_ms=2500.0), metrics("b", status="down")])
    changes = detect_incidents(stores, NOW).changes
    assert [(c.incident.model_name, c.incident.severity.value) for c in changes] == [
        ("b", "P1"),
        ("a", "P2"),
    ]
    assert {c.incident.incident_id for c in changes} == {"INC-2026-1120-1", "INC-2026-1120-2"}


def test_a_persisting_condition_opens_nothing_new(engine, stores) -> None:
    load(engine, model_metrics=[metrics(f1=0.6)])
    detect_incidents(stores, NOW)
    load(engine, model_metrics=[metrics(hours_ago=-1, f1=0.55)])
    later = detect_incidents(stores, NOW + HOUR)
    assert later.changes == [] and len(later.alerts) == 1
    assert len(_incidents(stores.state)) == 1


def test_a_pass_without_alerts_changes_nothing(engine, stores) -> None:
    load(engine, model_metrics=[metrics()])
    assert detect_incidents(stores, NOW).changes == []
    assert _incidents(stores.state) == []


def test_an_open_incident_absorbs_new_alerts_and_its_severity_rises(engine, stores) -> None:
    load(engine, model_metrics=[metrics()], feature_drift=[drift("V3", 0.25)])
    [first] = detect_incidents(stores, NOW).changes
    assert first.incident.severity == Severity.P3
    load(
        engine,
        model_metrics=[metrics(hours_ago=-1, f1=0.5)],
        feature_drift=[drift("V3", 0.26, hours_ago=-1)],
        data_quality=[quality("V8", 0.4, hours_ago=-1)],
    )
    [change] = detect_incidents(stores, NOW + HOUR).changes
    assert not change.new and change.incident.incident_id == first.incident.incident_id
    assert change.incident.severity == Severity.P1
    assert [a.type for a in change.new_alerts] == [
        AlertType.model_performance,
        AlertType.data_quality,
    ]
    assert change.incident.alert_types == [
        AlertType.feature_drift,
        AlertType.model_performance,
        AlertType.data_quality,
    ]
    [stored] = _incidents(stores.state)
    assert stored.severity == Severity.P1 and len(stored.alerts) == 3


def test_a_held_alert_turning_more_severe_raises_the_incident(engine, stores) -> None:
    load(engine, model_metrics=[metrics()], feature_drift=[drift("V3", 0.25)])
    detect_incidents(stores, NOW)
    load(
        engine,
        model_metrics=[metrics(hours_ago=-1)],
        feature_drift=[drift("V3", 0.6, hours_ago=-1)],
    )
    [change] = detect_incidents(stores, NOW + HOUR).changes
    assert change.new_alerts == [] and change.incident.severity == Severity.P2
    assert [a.value for a in change.incident.alerts] == [0.6]


def test_a_resolved_incident_does_not_absorb_a_new_condition(engine, stores) -> None:
    load(engine, model_metrics=[metrics(f1=0.5)])
    [first] = detect_incidents(stores, NOW).changes
    _resolve(stores.state, first.incident, NOW + HOUR)
    load(engine, model_metrics=[metrics(hours_ago=-2, error_rate=0.3)])
    [change] = detect_incidents(stores, NOW + 2 * HOUR).changes
    assert change.new and change.incident.incident_id == "INC-2026-1120-2"
    assert change.incident.alert_types == [AlertType.error_rate]


def test_flapping_reopens_the_recently_resolved_incident(engine, stores) -> None:
    load(engine, model_metrics=[metrics(f1=0.5)])
    [first] = detect_incidents(stores, NOW).changes
    _resolve(stores.state, first.incident, NOW + HOUR)  # breach cleared and resolved
    load(engine, model_metrics=[metrics(hours_ago=-3, f1=0.6)])  # breach again 2 h later
    [change] = detect_incidents(stores, NOW + 3 * HOUR).changes
    assert change.reopened and not change.new
    assert change.incident.incident_id == first.incident.incident_id
    [stored] = _incidents(stores.state)
    assert stored.status == IncidentStatus.open and stored.resolved_at is None


def test_a_breach_after_the_cooldown_opens_a_new_incident(engine, stores) -> None:
    load(engine, model_metrics=[metrics(f1=0.5)])
    [first] = detect_incidents(stores, NOW).changes
    _resolve(stores.state, first.incident, NOW + HOUR)
    load(engine, model_metrics=[metrics(hours_ago=-9, f1=0.6)])
    short = ThresholdSet(default=Thresholds(flap_cooldown_hours=6))
    [change] = detect_incidents(stores, NOW + 9 * HOUR, thresholds=short).changes
    assert change.new and len(_incidents(stores.state)) == 2


def test_history_rows_with_a_resolved_at_are_not_open(engine, stores) -> None:
    load(
        engine,
        model_metrics=[metrics(f1=0.5)],
        incidents=[
            {
                "incident_id": "INC-2026-0101-1",
                "model_name": "m1",
                "severity": "P1",
                "alert_types": "model_performance",
                "opened_at": NOW - timedelta(days=90),
                "resolved_at": NOW - timedelta(days=89),
            }
        ],
    )
    [change] = detect_incidents(stores, NOW).changes
    assert change.new and change.incident.incident_id == "INC-2026-1120-1"
