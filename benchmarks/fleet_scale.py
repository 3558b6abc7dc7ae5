"""A scheduler pass over a fleet: one scan, then every incident handled by its own thread.

    .venv/bin/python benchmarks/fleet_scale.py [--features 20] [--days 7] [--repeat 3]

Builds SQLite fleets (7 days of hourly windows, 20 features per model; bulk-loaded, the load
is not measured) and times, side by side:

- one detection pass over the fleet (`evaluate_rules`);
- a whole scheduler pass (`Scheduler.run_pass`, offline model): detection once, a page per
  new incident, then each incident's thread up to its approval or its recovery wait.

Fleets: 20 breaching models among 100 and among 1,000 (the pass should grow with the
incidents, not with incidents x models: target ratio <= 1.6), and 1,000 models with 5 % and
20 % breaching (per-incident cost should stay flat). Prints incidents per minute and each
pass's cost in single detection passes.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agentops.detection import evaluate_rules
from agentops.graph.local import local_runtime
from agentops.settings import Settings
from agentops.store import open_monitoring

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SETTINGS: dict[str, Any] = {"embeddings": "lexical", "approvers": "bench"}
COLUMNS = {
    "model_metrics": "model_name, model_version, window_start, window_end, f1, precision, "
    "recall, error_rate, latency_p50_ms, latency_p99_ms, request_count, status",
    "data_quality": "model_name, feature_name, window_start, window_end, null_rate, row_count, "
    "out_of_range_rate, schema_errors",
    "feature_drift": "model_name, feature_name, window_start, window_end, psi",
}


def fleet(
    models: int, breaching: int, features: int, days: int
) -> dict[str, list[tuple[Any, ...]]]:
    """Healthy hourly windows; the first `breaching` models lose F1 and drift in the last."""
    rng = np.random.default_rng(models * 1000 + breaching)
    hours = days * 24
    end = NOW.replace(tzinfo=None)
    metrics: list[tuple[Any, ...]] = []
    quality: list[tuple[Any, ...]] = []
    drift: list[tuple[Any, ...]] = []
    for h in range(hours):
        start = end - timedelta(hours=hours - h)
        stop = start + timedelta(hours=1)
        last = h == hours - 1
        f1 = rng.normal(0.85, 0.01, models)
        psi = np.abs(rng.normal(0.05, 0.02, (models, features)))
        if last:
            f1[:breaching] = 0.6
            psi[:breaching, 0] = 0.45
        p99 = 300 + rng.normal(0, 20, models)
        for m in range(models):
            name = f"model_{m:04d}"
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
                    float(p99[m]),
                    1000,
                    "up",
                )
            )
            for f in range(features):
                quality.append((name, f"V{f}", start, stop, 0.001, 1000, 0.0, 0))
                drift.append((name, f"V{f}", start, stop, float(psi[m, f])))
    return {"model_metrics": metrics, "data_quality": quality, "feature_drift": drift}


def build(home: Path, models: int, breaching: int, features: int, days: int) -> Settings:
    settings = Settings.load(home=home, **SETTINGS)
    engine = open_monitoring(settings.resolved_database_url, create=True)
    engine.dispose()
    path = home / "agentops.db"
    with sqlite3.connect(path) as raw:
        for table, rows in fleet(models, breaching, features, days).items():
            marks = ", ".join("?" * len(rows[0]))
            raw.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
    return settings


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy (the store runs in WAL mode: the file alone may lack the last rows)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def detect_once(settings: Settings) -> float:
    engine = open_monitoring(settings.resolved_database_url)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        with engine.connect() as conn:
            evaluate_rules(conn, NOW)
        timings.append(time.perf_counter() - started)
    engine.dispose()
    return statistics.median(timings)


def whole_pass(settings: Settings) -> tuple[float, int]:
    with local_runtime(settings, "bench") as rt:
        started = time.perf_counter()
        report = rt.scheduler().run_pass(NOW)
        seconds = time.perf_counter() - started
    assert not report.errors, report.errors
    return seconds, len(report.handled)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="passes per fleet (median)")
    args = parser.parse_args()
    fleets = [(100, 20), (1000, 20), (1000, 50), (1000, 200)]
    print(f"{args.days} days of hourly windows, {args.features} features per model, SQLite")
    print(
        f"{'models':>7} {'incidents':>9} {'detect s':>9} {'pass s':>8} {'s/incident':>10} "
        f"{'incidents/min':>13} {'pass / detect':>13}"
    )
    results: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="agentops-fleet-") as tmp:
        # warm-up, not printed: the first pass in a process pays one-off imports and caches
        whole_pass(build(Path(tmp), 10, 2, args.features, 1))
    for models, breaching in fleets:
        with tempfile.TemporaryDirectory(prefix="agentops-fleet-") as tmp:
            settings = build(Path(tmp) / "built", models, breaching, args.features, args.days)
            detect = detect_once(settings)
            runs = []
            for attempt in range(args.repeat):  # each on a copy of the fleet, fresh state
                home = Path(tmp) / f"run{attempt}"
                home.mkdir()
                copy_db(settings.home / "agentops.db", home / "agentops.db")
                runs.append(whole_pass(Settings.load(home=home, **SETTINGS)))
            seconds = statistics.median(r[0] for r in runs)
            handled = runs[0][1]
        results[(models, breaching)] = seconds
        per = seconds / max(handled, 1)
        print(
            f"{models:>7} {handled:>9} {detect:>9.2f} {seconds:>8.2f} {per:>10.3f} "
            f"{60 / per:>13.0f} {seconds / detect:>13.1f}"
        )
    ratio = results[(1000, 20)] / results[(100, 20)]
    print(f"20 incidents over 1,000 models cost {ratio:.2f}x the same 20 over 100 (target <= 1.6)")


if __name__ == "__main__":
    main()
