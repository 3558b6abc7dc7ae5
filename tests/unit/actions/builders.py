"""Incidents, registries and settings the actions tests share (unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentops.actions import Policy
from agentops.actions.policy import build_policy
from agentops.domain import Alert, AlertType, Incident, Severity
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as incident_writes
from agentops.store.load import load_tables

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MODEL = "classifier_v2"
CONTACTS = {
    "ml_team_lead": {"name": "Dana Lee", "slack": "U0LEAD", "email": "dana@example.com"},
    "engineering_manager": {"slack": "U0MGR", "email": "manager@example.com"},
    "data_engineering_lead": {"slack": "U0DATA", "email": "data-lead@example.com"},
    "platform_engineering": {"slack": "U0PLAT"},
    "security_team": {"slack": "U0SEC", "email": "security@example.com"},
}


def alert(
    kind: AlertType,
    severity: Severity,
    metric: str,
    value: float | str,
    threshold: float | str | None,
    component: str = "model",
    hours_ago: int = 2,
) -> Alert:
    end = NOW - timedelta(hours=hours_ago - 1)
    return Alert(
        type=kind,
        severity=severity,
        model_name=MODEL,
        component=component,
        metric=metric,
        value=value,
        threshold=threshold,
        window_start=end - timedelta(hours=1),
        window_end=end,
    )


def drift_incident(**overrides: Any) -> Incident:
    """The runbook's example: P1 with F1 below 0.70 and V14 / V17 drifting."""
    alerts = [
        alert(AlertType.model_performance, Severity.P1, "f1", 0.66, 0.7),
        alert(AlertType.feature_drift, Severity.P2, "psi", 0.6, 0.3, component="V17"),
        alert(AlertType.feature_drift, Severity.P2, "psi", 0.8, 0.3, component="V14"),
        alert(AlertType.feature_drift, Severity.P2, "psi", 0.45, 0.3, component="V14", hours_ago=3),
    ]
    fields: dict[str, Any] = {
        "incident_id": "INC-2026-1120-1",
        "model_name": MODEL,
        "severity": Severity.P1,
        "alert_types": [AlertType.model_performance, AlertType.feature_drift],
        "alerts": alerts,
        "opened_at": NOW - timedelta(minutes=30),
    }
    fields.update(overrides)
    return Incident(**fields)


def store_incident(stores: Stores, incident: Incident, timeline: list[Any] | None = None) -> None:
    with stores.state.begin() as conn:
        incident_writes.insert_incident(conn, incident)
        if timeline is not None:
            incident_writes.set_timeline(conn, incident.incident_id, timeline)


def seed_registry(stores: Stores, versions: list[tuple[str, bool, str]]) -> None:
    """(version, active, status) rows, promoted a week apart in the given order."""
    rows = [
        {
            "model_name": MODEL,
            "model_version": version,
            "active": active,
            "status": status,
            "promoted_at": NOW - timedelta(days=7 * (len(versions) - i)),
        }
        for i, (version, active, status) in enumerate(versions)
    ]
    load_tables(stores.monitoring, {"model_registry": rows})


def policy_with_contacts(settings: Settings, **sections: Any) -> Policy:
    return build_policy(settings, {"contacts": CONTACTS, **sections})


def make_settings(home: Path, **overrides: Any) -> Settings:
    return Settings.load(home=home, approvers="alice,bob", **overrides)
