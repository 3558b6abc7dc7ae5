"""Detection cost vs length of history: 100 models, 90 days vs 7 days of hourly windows.

    .venv-bench/bin/python benchmarks/detection_scale.py [--models 100] [--features 10]

For each store (SQLite file; Snowflake emulated by fakesnow on DuckDB) it loads MODEL_METRICS,
DATA_QUALITY and FEATURE_DRIFT for every model (bulk-loaded straight into the database, since
the load is not what is measured), then times `evaluate_rules` over all models: the median of
several passes. The scan reads each model's latest window only, so the 90d/7d ratio should
stay near 1 (target < 2).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agentops.detection import evaluate_rules
from agentops.store import create_store_engine, init_schema

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PASSES = 7


def rows(models: int, features: int, days: int) -> dict[str, list[tuple[Any, ...]]]:
    """Healthy hourly windows, oldest first, with a few breaches in the latest window."""
    rng = np.random.default_rng(days)
    hours = days * 24
    end = NOW.replace(tzinfo=None)
    starts = [end - timedelta(hours=hours - h) for h in range(hours)]
    metrics, quality, drift = [], [], []
    for h, start in enumerate(starts):
        stop = start + timedelta(hours=1)
        last = h == hours - 1
        f1 = rng.normal(0.85, 0.01, models)
        psi = np.abs(rng.normal(0.05, 0.02, (models, features)))
        if last:  # every 10th model degrades, every 7th drifts
            f1[::10] = 0.6
            psi[::7, 0] = 0.45
        for m in range(models):
            name = f"model_{m:03d}"
            metrics.append(
                (
                    name,
                    "1.0",
                    start,
                    stop,
                    float(f1[m]),
                    0.9,
                    0.8,
                    0.01,
                    40.0,
                    float(300 + rng.normal(0, 20)),
                    1000,
                    "up",
                )
            )
            for f in range(features):
                quality.append((name, f"V{f}", start, stop, 0.001, 1000, 0.0, 0))
                drift.append((name, f"V{f}", start, stop, float(psi[m, f])))
    return {"model_metrics": metrics, "data_quality": quality, "feature_drift": drift}


COLUMNS = {
    "model_metrics": "model_name, model_version, window_start, window_end, f1, precision, "
    "recall, error_rate, latency_p50_ms, latency_p99_ms, request_count, status",
    "data_quality": "model_name, feature_name, window_start, window_end, null_rate, row_count, "
    "out_of_range_rate, schema_errors",
    "feature_drift": "model_name, feature_name, window_start, window_end, psi",
}


def load_sqlite(path: Path, data: dict[str, list[tuple[Any, ...]]]) -> None:
    # SQLAlchemy's SQLite DateTime stores this text format; the scan compares against it
    def text(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    with sqlite3.connect(path) as conn:
        for table, values in data.items():
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(
                f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})",
                (tuple(text(v) for v in row) for row in values),
            )


def load_duckdb(duck: Any, data: dict[str, list[tuple[Any, ...]]]) -> None:
    import pandas as pd

    for table, values in data.items():
        frame = pd.DataFrame(values, columns=[c.strip() for c in COLUMNS[table].split(",")])
        duck.register("frame", frame)
        duck.execute(
            f"INSERT INTO monitoring.public.{table} ({COLUMNS[table]}) SELECT * FROM frame"
        )
        duck.unregister("frame")


def time_passes(engine: Any) -> tuple[float, int]:
    seconds, alerts = [], 0
    for _ in range(PASSES):
        with engine.connect() as conn:
            start = time.perf_counter()
            alerts = len(evaluate_rules(conn, NOW))
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), alerts


def run_sqlite(data: dict[str, list[tuple[Any, ...]]], folder: Path, tag: str) -> tuple[float, int]:
    path = folder / f"{tag}.db"
    engine = create_store_engine(f"sqlite:///{path}")
    init_schema(engine)
    load_sqlite(path, data)
    return time_passes(engine)


def run_fakesnow(data: dict[str, list[tuple[Any, ...]]]) -> tuple[float, int]:
    import fakesnow

    with fakesnow.patch():
        engine = create_store_engine("snowflake://user:pw@account/monitoring/public")
        init_schema(engine)
        with engine.connect() as conn:
            duck = conn.connection.dbapi_connection._duck_conn  # type: ignore[union-attr]
            load_duckdb(duck, data)
        result = time_passes(engine)
        engine.dispose()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--features", type=int, default=10)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # fakesnow's Arrow-copy notices
    print(f"detection over {args.models} models x {args.features} features, hourly windows")
    results: dict[tuple[str, int], tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for days in (7, 90):
            data = rows(args.models, args.features, days)
            n = sum(len(v) for v in data.values())
            print(f"  {days:>2} days: {n:,} rows")
            results[("sqlite", days)] = run_sqlite(data, Path(tmp), f"d{days}")
            results[("fakesnow", days)] = run_fakesnow(data)
    print()
    for store in ("sqlite", "fakesnow"):
        (short, alerts), (long, alerts_long) = results[(store, 7)], results[(store, 90)]
        assert alerts == alerts_long, "the same latest windows must give the same alerts"
        print(
            f"  {store:<9} 7d {short * 1000:8.1f} ms   90d {long * 1000:8.1f} ms   "
            f"ratio 90d/7d {long / short:5.2f}   ({alerts} alerts a pass)"
        )


if __name__ == "__main__":
    main()
