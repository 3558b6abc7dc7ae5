"""The post-mortem's chart: the breaching metric and the top drifted features over the
incident window, read from the store and drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentops.domain import Alert, Incident
from agentops.store import queries as q

# How far back of the first breach the chart starts, so the reader sees the healthy baseline.
LOOKBACK = timedelta(hours=12)
TOP_FEATURES = 5
# Alert.metric -> the MODEL_METRICS column that shows it (status is plotted as traffic).
MODEL_COLUMNS = {
    "f1": "f1",
    "precision": "precision",
    "recall": "recall",
    "error_rate": "error_rate",
    "latency_p99_ms": "latency_p99_ms",
    "latency_p50_ms": "latency_p50_ms",
    "status": "request_count",
    "request_count": "request_count",
}


def breaching_alert(incident: Incident) -> Alert | None:
    """The alert the chart leads with: the most severe, model-level before feature-level."""
    if not incident.alerts:
        return None
    return max(
        incident.alerts,
        key=lambda a: (a.severity.rank, a.component == "model", str(a.value)),
    )


def chart_window(incident: Incident, now: datetime) -> tuple[datetime, datetime]:
    starts = [a.window_start for a in incident.alerts] or [incident.opened_at]
    return min(starts) - LOOKBACK, max(now, incident.opened_at)


def draw_chart(engine: sa.Engine, incident: Incident, path: Path, *, now: datetime) -> Path | None:
    """Write the PNG to `path`; None when the store holds no history to draw."""
    start, end = chart_window(incident, now)
    alert = breaching_alert(incident)
    with engine.connect() as conn:
        metrics = q.metrics_history(conn, incident.model_name, start, end)
        top = _top_features(conn, incident, start, end)
        drift = q.drift_history(conn, incident.model_name, top, start, end) if top else []
        nulls: list[dict[str, Any]] = []
        if alert is not None and alert.metric == "null_rate":
            nulls = q.quality_history(conn, incident.model_name, [alert.component], start, end)
    if not metrics and not drift:
        return None

    import matplotlib

    matplotlib.use("Agg")  # a server has no display; Agg renders straight to PNG
    import matplotlib.pyplot as plt

    fig, (upper, lower) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, constrained_layout=True)
    try:
        _plot_breach(upper, alert, metrics, nulls)
        _plot_drift(lower, drift, top)
        fig.suptitle(f"{incident.incident_id} — {incident.model_name} ({incident.severity.value})")
        lower.set_xlabel("window start (UTC)")
        fig.autofmt_xdate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def _top_features(
    conn: sa.Connection, incident: Incident, start: datetime, end: datetime
) -> list[str]:
    """The features with the highest PSI at the incident's latest window, else the alerts'."""
    ranked = [r["feature_name"] for r in q.top_drifted_features(conn, incident.model_name, end)]
    named = [a.component for a in incident.alerts if a.metric == "psi"]
    ordered = list(dict.fromkeys([*named, *ranked]))
    return ordered[:TOP_FEATURES]


def _plot_breach(
    axes: Any, alert: Alert | None, metrics: list[dict[str, Any]], nulls: list[dict[str, Any]]
) -> None:
    if alert is not None and alert.metric == "null_rate" and nulls:
        xs = [r["window_start"] for r in nulls]
        ys = [r["null_rate"] for r in nulls]
        label = f"null_rate of {alert.component}"
    else:
        column = MODEL_COLUMNS.get(alert.metric if alert else "f1", "f1")
        if alert is not None and alert.component != "model" and alert.metric not in MODEL_COLUMNS:
            column = "f1"  # a feature-level breach: show what the model did meanwhile
        xs = [r["window_start"] for r in metrics]
        ys = [r.get(column) for r in metrics]
        label = column
    axes.plot(xs, [y if y is not None else float("nan") for y in ys], marker="o", label=label)
    # the threshold line only where the plotted series is the one that breached
    if (
        alert is not None
        and isinstance(alert.threshold, (int, float))
        and (label == alert.metric or alert.metric == "null_rate")
    ):
        axes.axhline(
            alert.threshold, color="red", linestyle="--", label=f"threshold {alert.threshold}"
        )
    axes.set_ylabel(label)
    axes.legend(loc="best", fontsize="small")
    axes.grid(alpha=0.3)


def _plot_drift(axes: Any, drift: list[dict[str, Any]], features: list[str]) -> None:
    for feature in features:
        rows = [r for r in drift if r["feature_name"] == feature]
        if rows:
            axes.plot(
                [r["window_start"] for r in rows],
                [r["psi"] if r["psi"] is not None else float("nan") for r in rows],
                marker=".",
                label=feature,
            )
    axes.axhline(0.3, color="red", linestyle="--", linewidth=0.8, label="P2 (0.3)")
    axes.axhline(0.2, color="orange", linestyle=":", linewidth=0.8, label="P3 (0.2)")
    axes.set_ylabel("PSI")
    axes.legend(loc="best", fontsize="small", ncol=2)
    axes.grid(alpha=0.3)
