"""Fourteen days of healthy hourly history for a fraud classifier: the ground the scenarios
are injected into.

Traffic follows a daily cycle (quiet at night, peaks in the evening), metrics carry small
noise, PSI sits well below the P3 threshold, and nulls are rare. A fixed random seed makes
the same history every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

FRAUD_FEATURES: tuple[str, ...] = (*(f"V{i}" for i in range(1, 29)), "Amount")


@dataclass
class History:
    """Rows by table name, ready for `store.load.load_tables`."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.setdefault(table, [])


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def baseline(
    now: datetime,
    *,
    model_name: str = "classifier_v2",
    version: str = "2.3.0",
    hours: int = 14 * 24,
    features: tuple[str, ...] = FRAUD_FEATURES,
    seed: int = 7,
) -> History:
    """`hours` hourly windows ending at the last full hour before `now` (default 14 days)."""
    rng = np.random.default_rng(seed)
    end = hour_floor(now)
    history = History()
    metrics = history.rows("model_metrics")
    quality = history.rows("data_quality")
    drift = history.rows("feature_drift")
    feature_scale = {f: rng.uniform(0.02, 0.08) for f in features}
    for h in range(hours):
        start = end - timedelta(hours=hours - h)
        stop = start + timedelta(hours=1)
        # traffic: a daily cycle peaking around 19:00 UTC, weekends 15% lower
        phase = 2 * np.pi * ((start.hour - 13) % 24) / 24
        weekend = 0.85 if start.weekday() >= 5 else 1.0
        requests = int(9000 * weekend * (1 + 0.45 * np.sin(phase)) * rng.normal(1, 0.04))
        load = requests / 9000
        precision = float(np.clip(rng.normal(0.91, 0.008), 0, 1))
        recall = float(np.clip(rng.normal(0.82, 0.01), 0, 1))
        metrics.append(
            {
                "model_name": model_name,
                "model_version": version,
                "window_start": start,
                "window_end": stop,
                "f1": round(2 * precision * recall / (precision + recall), 4),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "error_rate": round(float(np.clip(rng.normal(0.002, 0.0007), 0, 1)), 5),
                "latency_p50_ms": round(float(rng.normal(38, 2) * (0.9 + 0.15 * load)), 1),
                "latency_p99_ms": round(float(rng.normal(310, 25) * (0.85 + 0.25 * load)), 1),
                "request_count": max(requests, 0),
                "status": "up",
            }
        )
        for feature in features:
            quality.append(
                {
                    "model_name": model_name,
                    "feature_name": feature,
                    "window_start": start,
                    "window_end": stop,
                    "null_rate": round(float(abs(rng.normal(0.002, 0.001))), 5),
                    "row_count": max(requests, 0),
                    "out_of_range_rate": round(float(abs(rng.normal(0.001, 0.0005))), 5),
                    "schema_errors": 0,
                }
            )
            drift.append(
                {
                    "model_name": model_name,
                    "feature_name": feature,
                    "window_start": start,
                    "window_end": stop,
                    "psi": round(float(abs(rng.normal(feature_scale[feature], 0.015))), 4),
                }
            )
    return history
