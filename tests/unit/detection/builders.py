"""Row builders for detection tests: one hourly window per call, healthy unless told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from agentops.store.load import load_tables
from tests.conftest import NOW


def window(hours_ago: int, now: datetime = NOW) -> dict[str, datetime]:
    """The hourly window that ended `hours_ago` hours before `now` (0: ends at now)."""
    end = now - timedelta(hours=hours_ago)
    return {"window_start": end - timedelta(hours=1), "window_end": end}


def metrics(model: str = "m1", hours_ago: int = 0, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model_name": model,
        "model_version": "1.0.0",
        **window(hours_ago),
        "f1": 0.85,
        "precision": 0.9,
        "recall": 0.8,
        "error_rate": 0.01,
        "latency_p50_ms": 40.0,
        "latency_p99_ms": 300.0,
        "request_count": 1000,
        "status": "up",
    }
    row.update(values)
    return row


def drift(feature: str, psi: float | None, model: str = "m1", hours_ago: int = 0) -> dict[str, Any]:
    return {"model_name": model, "feature_name": feature, **window(hours_ago), "psi": psi}


def quality(
    feature: str, null_rate: float | None, model: str = "m1", hours_ago: int = 0, **values: Any
) -> dict[str, Any]:
    return {
        "model_name": model,
        "feature_name": feature,
        **window(hours_ago),
        "null_rate": null_rate,
        "row_count": 1000,
        "out_of_range_rate": 0.0,
        "schema_errors": 0,
        **values,
    }


def load(engine: sa.Engine, **tables: list[dict[str, Any]]) -> None:
    load_tables(engine, tables)
