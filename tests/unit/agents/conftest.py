"""A seeded store per scenario and the incident detection would open for it.

Detection is its own module; these tests need only an incident with the alerts CONTRACT.md
thresholds give on the latest windows, so a small stand-in derives them here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.agents import gather_evidence
from agentops.domain import Alert, AlertType, Evidence, Incident, Severity
from agentops.scenarios import SCENARIOS, seed_store
from agentops.settings import Settings
from agentops.store import Stores, queries
from tests.conftest import make_stores, seeded_stores

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def alerts_from_store(conn: sa.Connection, model: str, now: datetime) -> list[Alert]:
    alerts: list[Alert] = []
    latest = queries.latest_complete_windows(conn, now, model)
    for row in latest:
        window = {"window_start": row["window_start"], "window_end": row["window_end"]}
        checks = [
            (
                AlertType.model_performance,
                Severity.P1,
                "f1",
                row["f1"] is not None and row["f1"] < 0.70,
                0.70,
            ),
            (AlertType.service_down, Severity.P1, "status", row["status"] == "down", "down"),
            (
                AlertType.error_rate,
                Severity.P1,
                "error_rate",
                (row["error_rate"] or 0) > 0.10,
                0.10,
            ),
            (
                AlertType.latency,
                Severity.P2,
                "latency_p99_ms",
                (row["latency_p99_ms"] or 0) > 2000,
                2000.0,
            ),
        ]
        for kind, severity, metric, hit, threshold in checks:
            if hit:
                alerts.append(
                    Alert(
                        type=kind,
                        severity=severity,
                        model_name=model,
                        metric=metric,
                        value=row[metric],
                        threshold=threshold,
                        **window,
                    )
                )
        history = queries.metrics_history(
            conn, model, row["window_start"] - timedelta(hours=24), row["window_start"]
        )
        p99s = sorted(r["latency_p99_ms"] for r in history if r["latency_p99_ms"] is not None)
        p99 = row["latency_p99_ms"]
        if p99s and p99 is not None and 1.5 * p99s[len(p99s) // 2] <= p99 <= 2000:
            alerts.append(
                Alert(
                    type=AlertType.latency,
                    severity=Severity.P3,
                    model_name=model,
                    metric="latency_p99_ms",
                    value=p99,
                    threshold=1.5 * p99s[len(p99s) // 2],
                    **window,
                )
            )
    for row in queries.top_drifted_features(conn, model, now, limit=100):
        if row["psi"] >= 0.2:
            severity = Severity.P2 if row["psi"] > 0.3 else Severity.P3
            alerts.append(
                Alert(
                    type=AlertType.feature_drift,
                    severity=severity,
                    model_name=model,
                    component=row["feature_name"],
                    metric="psi",
                    value=row["psi"],
                    threshold=0.3 if severity == Severity.P2 else 0.2,
                    window_start=row["window_start"],
                    window_end=row["window_end"],
                )
            )
    for row in queries.data_quality_latest(conn, model, now):
        if (row["null_rate"] or 0) > 0.10:
            alerts.append(
                Alert(
                    type=AlertType.data_quality,
                    severity=Severity.P2,
                    model_name=model,
                    component=row["feature_name"],
                    metric="null_rate",
                    value=row["null_rate"],
                    threshold=0.10,
                    window_start=row["window_start"],
                    window_end=row["window_end"],
                )
            )
    return alerts


def incident_for(alerts: list[Alert], model: str, now: datetime) -> Incident:
    return Incident(
        incident_id="INC-2026-1120-1",
        model_name=model,
        severity=Severity.highest([a.severity for a in alerts]) if alerts else Severity.P3,
        alert_types=sorted({a.type for a in alerts}),
        alerts=alerts,
        opened_at=now,
    )


@dataclass(frozen=True)
class World:
    engine: sa.Engine
    incident: Incident
    evidence: list[Evidence]


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, World]:
    """Every seeded scenario, built once per test session (seeding takes about a second each)."""
    out: dict[str, World] = {}
    for name in SCENARIOS:
        engine = seeded_stores(tmp_path_factory.mktemp(name), name).monitoring
        with engine.connect() as conn:
            incident = incident_for(
                alerts_from_store(conn, "classifier_v2", NOW), "classifier_v2", NOW
            )
            out[name] = World(engine, incident, gather_evidence(conn, incident, NOW))
    return out


@pytest.fixture
def home_stores(tmp_path: Path) -> Stores:
    return make_stores(Settings.load(home=tmp_path / "home"))


@pytest.fixture
def store(home_stores: Stores) -> sa.Engine:
    """The monitoring database of the test's home."""
    return home_stores.monitoring


@pytest.fixture
def seeded(home_stores: Stores, store: sa.Engine) -> Callable[[str], Incident]:
    """Seed `scenario` into the store; return the incident detection would open."""

    def seed(scenario: str) -> Incident:
        seed_store(home_stores, NOW, scenario)
        with store.connect() as conn:
            alerts = alerts_from_store(conn, "classifier_v2", NOW)
        return incident_for(alerts, "classifier_v2", NOW)

    return seed
