"""The seeded world: classifier_v2's registry, deployments, pipeline runs and past incidents,
plus one injected scenario per root-cause category of CONTRACT.md.

Each scenario changes the last hours of a healthy `baseline` so that its category's
signature (CONTRACT.md) is what the data shows, and nothing else is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from agentops.domain import RootCauseCategory
from agentops.scenarios.history import History, baseline, hour_floor

MODEL = "classifier_v2"


@dataclass(frozen=True)
class Scenario:
    name: str
    category: RootCauseCategory
    summary: str
    inject: Callable[[History, datetime], None]


def build_world(
    now: datetime, scenario: str | None = "upstream_data_change", *, hours: int = 14 * 24
) -> History:
    """Baseline history + shared context + the named scenario (None: healthy).

    `hours` shortens the history (tests on slow stand-ins); injections outside it are no-ops.
    """
    history = baseline(now, hours=hours)
    _context(history, now)
    if scenario is not None:
        SCENARIOS[scenario].inject(history, now)
    return history


def recovery_rows(
    now: datetime, scenario: str | None, *, windows: int, version: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """What arrives after the remediation when it worked: `windows` healthy hourly windows
    from the hour `now` falls in (the demo's simulated clock moves through
    them), served by `version`; for a data cause, the upstream pipeline's fixed run first."""
    start = hour_floor(now)
    healthy = baseline(
        start + timedelta(hours=windows),
        hours=windows,
        version=version or "2.3.0",
        seed=23,
    ).tables
    if scenario in {"upstream_data_change", "pipeline_failure"}:
        healthy["pipeline_runs"] = [
            {
                "run_id": f"etl-{start:%Y%m%d%H}-fixed",
                "pipeline_name": "transactions_etl",
                "model_name": MODEL,
                "source": "vendor_api",
                "started_at": start - timedelta(minutes=40),
                "finished_at": start - timedelta(minutes=10),
                "status": "success",
                "rows_processed": 210000,
                "notes": "re-run after the fix; every row passed schema validation",
            }
        ]
    return healthy


# ---- shared context ----------------------------------------------------------------------------
def _context(history: History, now: datetime) -> None:
    end = hour_floor(now)
    releases = [("2.1.0", 62, None), ("2.2.0", 35, "2.1.0"), ("2.3.0", 9, "2.2.0")]
    for version, days_ago, previous in releases:
        at = end - timedelta(days=days_ago, hours=3)
        history.rows("model_registry").append(
            {
                "model_name": MODEL,
                "model_version": version,
                "active": version == "2.3.0",
                "promoted_at": at,
                "status": "good",
            }
        )
        history.rows("deployments").append(
            {
                "deployment_id": f"dep-{version.replace('.', '')}",
                "model_name": MODEL,
                "model_version": version,
                "previous_version": previous,
                "deployed_at": at,
                "deployed_by": "ml-platform-ci",
                "description": f"scheduled monthly refresh to {version}",
                "status": "succeeded",
            }
        )
    # the vendor feed lands every 6 hours; the feature store syncs daily
    runs = history.rows("pipeline_runs")
    for k in range(14 * 4):
        started = end - timedelta(hours=6 * (k + 1)) + timedelta(minutes=5)
        runs.append(
            {
                "run_id": f"etl-{started:%Y%m%d%H}",
                "pipeline_name": "transactions_etl",
                "model_name": MODEL,
                "source": "vendor_api",
                "started_at": started,
                "finished_at": started + timedelta(minutes=22),
                "status": "success",
                "rows_processed": 54000 + 37 * k,
                "notes": "",
            }
        )
    for k in range(14):
        started = end - timedelta(days=k + 1) + timedelta(hours=2)
        runs.append(
            {
                "run_id": f"fs-{started:%Y%m%d}",
                "pipeline_name": "feature_store_sync",
                "model_name": MODEL,
                "source": "feature_store",
                "started_at": started,
                "finished_at": started + timedelta(minutes=40),
                "status": "success",
                "rows_processed": 210000,
                "notes": "",
            }
        )
    history.rows("incidents").extend(_past_incidents(end))


def _past_incidents(end: datetime) -> list[dict[str, Any]]:
    def when(days: int) -> datetime:
        return end - timedelta(days=days)

    return [
        {
            "incident_id": f"INC-{when(120):%Y-%m%d}-1",
            "model_name": MODEL,
            "severity": "P1",
            "alert_types": "model_performance,feature_drift",
            "root_cause_category": "upstream_data_change",
            "root_cause": "Card issuer vendor switched currency encoding; V12 and Amount shifted",
            "resolution": "Pipeline patched to decode new format; model retrained on clean data",
            "opened_at": when(120),
            "resolved_at": when(120) + timedelta(hours=3),
            "status": "resolved",
        },
        {
            "incident_id": f"INC-{when(80):%Y-%m%d}-1",
            "model_name": MODEL,
            "severity": "P1",
            "alert_types": "model_performance,error_rate",
            "root_cause_category": "bad_deployment",
            "root_cause": "Version 2.0.1 shipped with a stale feature scaler; F1 fell to 0.58",
            "resolution": "Rolled back to 2.0.0; scaler check added to the release pipeline",
            "opened_at": when(80),
            "resolved_at": when(80) + timedelta(minutes=50),
            "status": "resolved",
        },
        {
            "incident_id": f"INC-{when(45):%Y-%m%d}-1",
            "model_name": MODEL,
            "severity": "P2",
            "alert_types": "latency",
            "root_cause_category": "infrastructure",
            "root_cause": "Autoscaler max replicas too low for Black Friday traffic; p99 3.1 s",
            "resolution": "Raised the replica ceiling from 6 to 12",
            "opened_at": when(45),
            "resolved_at": when(45) + timedelta(hours=2),
            "status": "resolved",
        },
        {
            "incident_id": f"INC-{when(20):%Y-%m%d}-1",
            "model_name": MODEL,
            "severity": "P2",
            "alert_types": "data_quality",
            "root_cause_category": "pipeline_failure",
            "root_cause": "transactions_etl partial run left V1-V5 null for 30% of rows",
            "resolution": "Data engineering re-ran the ETL; nulls cleared within two windows",
            "opened_at": when(20),
            "resolved_at": when(20) + timedelta(hours=5),
            "status": "resolved",
        },
    ]


# ---- helpers for injection -----------------------------------------------------------------------
def _recent(rows: list[dict[str, Any]], since: datetime) -> list[dict[str, Any]]:
    return [r for r in rows if r["window_start"] >= since]


def _set_drift(history: History, since: datetime, psi: dict[str, float]) -> None:
    for row in _recent(history.rows("feature_drift"), since):
        if row["feature_name"] in psi:
            row["psi"] = psi[row["feature_name"]]


def _set_performance(history: History, since: datetime, precision: float, recall: float) -> None:
    rng = np.random.default_rng(11)
    for row in _recent(history.rows("model_metrics"), since):
        p = float(np.clip(precision + rng.normal(0, 0.005), 0, 1))
        r = float(np.clip(recall + rng.normal(0, 0.005), 0, 1))
        row.update(precision=round(p, 4), recall=round(r, 4), f1=round(2 * p * r / (p + r), 4))


# ---- the scenarios ---------------------------------------------------------------------------------
def _upstream_data_change(history: History, now: datetime) -> None:
    onset = hour_floor(now) - timedelta(hours=5)
    history.rows("pipeline_runs").append(
        {
            "run_id": f"etl-{onset:%Y%m%d%H}-v3",
            "pipeline_name": "transactions_etl",
            "model_name": MODEL,
            "source": "vendor_api",
            "started_at": onset - timedelta(minutes=30),
            "finished_at": onset - timedelta(minutes=8),
            "status": "success",
            "rows_processed": 55210,
            "notes": "vendor API v3 format change: merchant risk code now sent as a string "
            "enum; V14 and V17 are derived from it; 1,204 rows failed schema validation",
        }
    )
    _set_drift(history, onset, {"V14": 0.52, "V17": 0.38})
    _set_drift(history, onset + timedelta(hours=2), {"V14": 0.8, "V17": 0.6, "V12": 0.12})
    for row in _recent(history.rows("data_quality"), onset):
        if row["feature_name"] in {"V14", "V17"}:
            row.update(schema_errors=240, out_of_range_rate=0.17)
    _set_performance(history, onset + timedelta(hours=2), precision=0.80, recall=0.56)


def _bad_deployment(history: History, now: datetime) -> None:
    at = hour_floor(now) - timedelta(hours=4, minutes=-10)
    history.rows("deployments").append(
        {
            "deployment_id": "dep-240",
            "model_name": MODEL,
            "model_version": "2.4.0",
            "previous_version": "2.3.0",
            "deployed_at": at,
            "deployed_by": "ml-platform-ci",
            "description": "2.4.0: recalibrated decision threshold, new merchant cross features",
            "status": "succeeded",
        }
    )
    for row in history.rows("model_registry"):
        row["active"] = False
    history.rows("model_registry").append(
        {
            "model_name": MODEL,
            "model_version": "2.4.0",
            "active": True,
            "promoted_at": at,
            "status": "good",
        }
    )
    since = hour_floor(at) + timedelta(hours=1)
    for row in _recent(history.rows("model_metrics"), since):
        row.update(model_version="2.4.0", error_rate=0.031)
    _set_performance(history, since, precision=0.58, recall=0.66)


def _pipeline_failure(history: History, now: datetime) -> None:
    onset = hour_floor(now) - timedelta(hours=4)
    history.rows("pipeline_runs").append(
        {
            "run_id": f"etl-{onset:%Y%m%d%H}-partial",
            "pipeline_name": "transactions_etl",
            "model_name": MODEL,
            "source": "vendor_api",
            "started_at": onset - timedelta(minutes=25),
            "finished_at": onset - timedelta(minutes=2),
            "status": "partial",
            "rows_processed": 19800,
            "notes": "merchant enrichment join timed out after 3 retries; 63% of rows "
            "written without enrichment columns",
        }
    )
    nulls = {f"V{i}": 0.3 + 0.02 * i for i in range(1, 6)} | {"Amount": 0.36}
    for row in _recent(history.rows("data_quality"), onset):
        if row["feature_name"] in nulls:
            row["null_rate"] = nulls[row["feature_name"]]
    _set_performance(history, onset, precision=0.88, recall=0.74)


def _concept_drift(history: History, now: datetime) -> None:
    onset = hour_floor(now) - timedelta(days=4)
    drifting = [f"V{i}" for i in range(1, 19)]
    for row in _recent(history.rows("feature_drift"), onset):
        if row["feature_name"] in drifting:
            age = (row["window_start"] - onset).total_seconds() / (4 * 86400)
            rank = drifting.index(row["feature_name"]) / len(drifting)
            row["psi"] = round(0.05 + age * (0.22 + 0.16 * (1 - rank)), 4)
    for row in _recent(history.rows("model_metrics"), onset):
        age = (row["window_start"] - onset).total_seconds() / (4 * 86400)
        p, r = 0.91 - 0.14 * age, 0.82 - 0.24 * age
        row.update(precision=round(p, 4), recall=round(r, 4), f1=round(2 * p * r / (p + r), 4))


def _infrastructure(history: History, now: datetime) -> None:
    onset = hour_floor(now) - timedelta(hours=3)
    for row in _recent(history.rows("model_metrics"), onset):
        row.update(
            latency_p50_ms=420.0,
            latency_p99_ms=3400.0,
            error_rate=0.14,
            status="degraded",
        )


def _adversarial(history: History, now: datetime) -> None:
    onset = hour_floor(now) - timedelta(hours=4)
    for row in _recent(history.rows("model_metrics"), onset):
        row["request_count"] = int(row["request_count"] * 3.4)
    _set_performance(history, onset, precision=0.92, recall=0.37)
    _set_drift(history, onset, {"V4": 0.42, "V11": 0.37})


def _benign(history: History, now: datetime) -> None:
    last = hour_floor(now) - timedelta(hours=1)
    _set_drift(history, last, {"V3": 0.24})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "upstream_data_change",
            RootCauseCategory.upstream_data_change,
            "vendor API format change re-encodes V14/V17; drift, then F1 falls below 0.70",
            _upstream_data_change,
        ),
        Scenario(
            "bad_deployment",
            RootCauseCategory.bad_deployment,
            "version 2.4.0 deployed 4 h ago; F1 and errors worsen, data unchanged",
            _bad_deployment,
        ),
        Scenario(
            "pipeline_failure",
            RootCauseCategory.pipeline_failure,
            "a partial transactions_etl run leaves V1-V5 and Amount 30-40% null",
            _pipeline_failure,
        ),
        Scenario(
            "concept_drift",
            RootCauseCategory.concept_drift,
            "18 features drift over 4 days while F1 decays; nothing deployed or changed",
            _concept_drift,
        ),
        Scenario(
            "infrastructure",
            RootCauseCategory.infrastructure,
            "p99 latency 3.4 s and 14% errors; model and data unchanged",
            _infrastructure,
        ),
        Scenario(
            "adversarial",
            RootCauseCategory.adversarial,
            "traffic x3.4, recall 0.37 while precision holds, drift only in V4 and V11",
            _adversarial,
        ),
        Scenario(
            "benign",
            RootCauseCategory.benign,
            "V3 drifts to PSI 0.24 (P3); nothing else moves",
            _benign,
        ),
    )
}
DEFAULT_SCENARIO = "upstream_data_change"
