"""The facts a diagnosis may cite, read from the monitoring tables for one incident.

Every fact becomes an `Evidence` with a stable id (`alert:<fingerprint>`, `metric:f1`,
`metric:onset`, `drift:V14`, `dq:V14`, `deploy:<deployment_id>`, `run:<run_id>`,
`incident:<id>`) so the analyzers, the model and the post-mortem all point at the same
things. Every comparison with a threshold uses the model's own thresholds (ThresholdSet with
its per-model overrides) and records the threshold it used, so nothing downstream compares
with a constant of its own. The store may be sparse (an eval case can hold one metrics window
and no history): each reader then returns less evidence, never an error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median
from typing import Any

import sqlalchemy as sa

from agentops.agents.changes import (
    CHANGE_LOOKBACK,
    deployment_evidence,
    history_evidence,
    pipeline_evidence,
)
from agentops.agents.episode import Episode, find_episode
from agentops.clock import iso
from agentops.detection.thresholds import Thresholds, ThresholdSet
from agentops.domain import Evidence, Incident
from agentops.store import queries

# History before the breach that serves as the "normal" the latest window is compared with.
BASELINE_SPAN = timedelta(days=7)
# Windows this close to the onset may already be degrading, so the baseline stops earlier
# when there is enough older history.
BASELINE_GAP = timedelta(hours=24)
MAX_FEATURE_EVIDENCE = 12


def first_breach(incident: Incident) -> datetime:
    """The start of the earliest breached window, else when the incident was opened."""
    starts = [alert.window_start for alert in incident.alerts]
    return min(starts) if starts else incident.opened_at


def notable_rate(limits: Thresholds) -> float:
    """A null or out-of-range rate worth citing: half the P2 null threshold (CONTRACT.md sets
    no threshold for out-of-range values, so they are read on the same scale)."""
    return limits.null_rate_p2 / 2


def gather_evidence(
    conn: sa.Connection,
    incident: Incident,
    now: datetime,
    *,
    thresholds: ThresholdSet | None = None,
) -> list[Evidence]:
    """Everything the monitoring tables say about `incident` up to `now`, as citable
    evidence, judged against `thresholds` (default: CONTRACT.md's) for the incident's model."""
    limits = (thresholds or ThresholdSet()).for_model(incident.model_name)
    breach = first_breach(incident)
    model = incident.model_name
    evidence = alert_evidence(incident)
    history = queries.metrics_history(conn, model, breach - BASELINE_SPAN, now)
    history = [row for row in history if row["window_end"] <= now]
    episode = find_episode(history, _alert_window(incident), limits)
    evidence += metric_evidence(history, episode, limits)
    drift_rows = queries.top_drifted_features(conn, model, now, limit=500)
    quality_rows = queries.data_quality_latest(conn, model, now)
    evidence += drift_evidence(drift_rows, limits)
    evidence += quality_evidence(quality_rows, limits)
    features = sorted({str(r["feature_name"]) for r in [*drift_rows, *quality_rows]})
    since = episode.onset - CHANGE_LOOKBACK
    evidence += deployment_evidence(
        queries.deployments_between(conn, model, since, now), history, episode, limits
    )
    evidence += pipeline_evidence(
        queries.pipeline_runs_between(conn, model, since, now), episode, features
    )
    evidence += history_evidence(conn, incident)
    return evidence


def _alert_window(incident: Incident) -> tuple[datetime, datetime]:
    if not incident.alerts:
        return incident.opened_at, incident.opened_at
    first = min(incident.alerts, key=lambda a: a.window_start)
    return first.window_start, first.window_end


def alert_evidence(incident: Incident) -> list[Evidence]:
    out: dict[str, Evidence] = {}
    for alert in sorted(incident.alerts, key=lambda a: (-a.severity.rank, a.window_start)):
        eid = f"alert:{alert.fingerprint}"
        if eid in out:
            continue
        out[eid] = Evidence(
            id=eid,
            kind="alert",
            summary=(
                f"{alert.severity.value} {alert.type.value} on {alert.component}: "
                f"{alert.metric}={_fmt(alert.value)} (threshold {_fmt(alert.threshold)}) "
                f"in window {iso(alert.window_start)}..{iso(alert.window_end)}"
            ),
            data={
                "type": alert.type.value,
                "severity": alert.severity.value,
                "component": alert.component,
                "metric": alert.metric,
                "value": alert.value,
                "threshold": alert.threshold,
                "window_start": iso(alert.window_start),
            },
        )
    return list(out.values())


# ---- metrics ------------------------------------------------------------------------------
def _baseline_rows(history: list[dict[str, Any]], episode: Episode) -> list[dict[str, Any]]:
    before = [r for r in history if r["window_end"] <= episode.onset]
    older = [r for r in before if r["window_end"] <= episode.onset - BASELINE_GAP]
    return older if len(older) >= 6 else before


def _values(rows: list[dict[str, Any]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r.get(column) is not None]


# (column, label, threshold it is judged against) for each model-level metric
_METRICS = (
    ("f1", "F1", "f1_p1"),
    ("precision", "precision", None),
    ("recall", "recall", None),
    ("error_rate", "error rate", "error_rate_p1"),
    ("latency_p99_ms", "p99 latency (ms)", "latency_p99_p2_ms"),
)


def metric_evidence(
    history: list[dict[str, Any]], episode: Episode, limits: Thresholds
) -> list[Evidence]:
    """Latest window vs the windows before the onset, for each model-level metric. A metric
    whose newest windows are still NULL (labels arrive late) is read from its newest
    labelled window, and says so."""
    if not history:
        return []
    latest = history[-1]
    base = _baseline_rows(history, episode)
    out: list[Evidence] = []
    for column, label, threshold_name in _METRICS:
        row = next((r for r in reversed(history) if r.get(column) is not None), None)
        if row is None:
            continue
        value = float(row[column])
        baseline = _values(base, column)
        base_value = round(median(baseline), 4) if baseline else None
        early = _values(history[:3], column)
        lag = round((latest["window_end"] - row["window_end"]).total_seconds() / 3600, 1)
        threshold = getattr(limits, threshold_name) if threshold_name else None
        change = f" vs baseline {_fmt(base_value)}" if base_value is not None else ""
        where = "the latest window" if not lag else f"the newest labelled window ({lag} h old)"
        out.append(
            Evidence(
                id=f"metric:{column}",
                kind="metric",
                summary=f"{label} {_fmt(value)} in {where}{change}",
                data={
                    "metric": column,
                    "latest": value,
                    "baseline": base_value,
                    "first": round(median(early), 4) if early else None,
                    "recent": _values(history[-8:], column),
                    "threshold": threshold,
                    "window_end": iso(row["window_end"]),
                    "label_lag_hours": lag,
                    "windows": len(history),
                },
            )
        )
    volume = _volume_evidence(base, latest)
    if volume is not None:
        out.append(volume)
    if latest.get("status") is not None:
        out.append(
            Evidence(
                id="metric:status",
                kind="metric",
                summary=f"serving status '{latest['status']}' in the latest window",
                data={"metric": "status", "latest": latest["status"]},
            )
        )
    out += _version_evidence(base, latest, episode)
    out.append(_onset_evidence(episode, limits))
    return out


def _version_evidence(
    base: list[dict[str, Any]], latest: dict[str, Any], episode: Episode
) -> list[Evidence]:
    versions = [r.get("model_version") for r in base if r.get("model_version")]
    current = latest.get("model_version")
    if not current:
        return []
    previous = max(set(versions), key=versions.count) if versions else None
    changed = previous is not None and previous != current
    summary = (
        f"model version changed from {previous} to {current} before the latest window"
        if changed
        else f"model version {current} serving, unchanged"
        + (" since the baseline" if previous else "")
    )
    return [
        Evidence(
            id="metric:model_version",
            kind="metric",
            summary=summary,
            data={
                "metric": "model_version",
                "latest": current,
                "baseline": previous,
                "changed": changed,
                "at_onset": episode.version_at_onset,
                "before_onset": episode.version_before,
            },
        )
    ]


def _onset_evidence(episode: Episode, limits: Thresholds) -> Evidence:
    if episode.windows:
        summary = (
            f"degradation began with the window starting {iso(episode.onset)} "
            f"({episode.windows} degraded window(s) up to the latest)"
        )
    else:
        summary = (
            f"model metrics not degraded; the first alert's window starts {iso(episode.onset)}"
        )
    switch = episode.version_at_onset and episode.version_at_onset != episode.version_before
    if switch:
        summary += f"; the first degraded window is served by {episode.version_at_onset}" + (
            f", the one before by {episode.version_before}" if episode.version_before else ""
        )
    return Evidence(
        id="metric:onset",
        kind="metric",
        summary=summary,
        data={
            "metric": "onset",
            "onset": iso(episode.onset),
            "onset_end": iso(episode.onset_end),
            "degraded_windows": episode.windows,
            "version_at_onset": episode.version_at_onset,
            "version_before": episode.version_before,
            "f1_p1": limits.f1_p1,
            "error_rate_p1": limits.error_rate_p1,
            "latency_p99_p2_ms": limits.latency_p99_p2_ms,
        },
    )


def _volume_evidence(base: list[dict[str, Any]], latest: dict[str, Any]) -> Evidence | None:
    value = latest.get("request_count")
    if value is None:
        return None
    # traffic has a daily cycle: compare with the same hour on earlier days when possible
    hour = latest["window_start"].hour
    same_hour = _values([r for r in base if r["window_start"].hour == hour], "request_count")
    baseline_values = same_hour or _values(base, "request_count")
    base_value = median(baseline_values) if baseline_values else None
    ratio = round(float(value) / base_value, 2) if base_value else None
    summary = f"request volume {int(value)} in the latest window"
    if ratio is not None:
        summary += f", x{ratio} the trailing baseline ({int(base_value or 0)})"
    return Evidence(
        id="metric:request_count",
        kind="metric",
        summary=summary,
        data={
            "metric": "request_count",
            "latest": int(value),
            "baseline": base_value,
            "ratio": ratio,
        },
    )


# ---- features -----------------------------------------------------------------------------
def drift_evidence(latest_window: list[dict[str, Any]], limits: Thresholds) -> list[Evidence]:
    """Per-feature PSI of the latest window: the features at or over the P3 line (psi_p3),
    and how concentrated the drift is."""
    rows = [r for r in latest_window if r.get("psi") is not None]
    if not rows:
        return []
    rows.sort(key=lambda r: (-float(r["psi"]), r["feature_name"]))
    drifting = [r for r in rows if float(r["psi"]) >= limits.psi_p3]
    out = [
        Evidence(
            id=f"drift:{r['feature_name']}",
            kind="drift",
            summary=f"{r['feature_name']} PSI {float(r['psi']):.2f} in the latest window",
            data={
                "feature": r["feature_name"],
                "psi": float(r["psi"]),
                "p2": float(r["psi"]) > limits.psi_p2,
                "window_end": iso(r["window_end"]),
            },
        )
        for r in drifting[:MAX_FEATURE_EVIDENCE]
    ]
    names = [r["feature_name"] for r in drifting]
    out.append(
        Evidence(
            id="drift:summary",
            kind="drift",
            summary=(
                f"{len(drifting)} of {len(rows)} monitored features have PSI >= {limits.psi_p3}"
                + (f": {', '.join(names[:8])}" if names else "")
            ),
            data={
                "drifting": names,
                "count": len(drifting),
                "total": len(rows),
                "max_psi": float(rows[0]["psi"]),
                "psi_p3": limits.psi_p3,
                "psi_p2": limits.psi_p2,
            },
        )
    )
    return out


def quality_evidence(latest_window: list[dict[str, Any]], limits: Thresholds) -> list[Evidence]:
    """Features of the latest DATA_QUALITY window with notable nulls, out-of-range values or
    schema errors; the null threshold they are judged against goes with them."""
    notable = notable_rate(limits)
    out: list[Evidence] = []
    for row in latest_window:
        nulls = float(row.get("null_rate") or 0.0)
        out_of_range = float(row.get("out_of_range_rate") or 0.0)
        schema_errors = int(row.get("schema_errors") or 0)
        if nulls < notable and out_of_range < notable and not schema_errors:
            continue
        feature = row["feature_name"]
        parts = [f"null rate {nulls:.1%}"]
        if out_of_range:
            parts.append(f"out of range {out_of_range:.1%}")
        if schema_errors:
            parts.append(f"{schema_errors} schema errors")
        out.append(
            Evidence(
                id=f"dq:{feature}",
                kind="data_quality",
                summary=f"{feature}: {', '.join(parts)} in the latest window",
                data={
                    "feature": feature,
                    "null_rate": nulls,
                    "out_of_range_rate": out_of_range,
                    "schema_errors": schema_errors,
                    "row_count": row.get("row_count"),
                    "null_threshold": limits.null_rate_p2,
                    "notable": notable,
                },
            )
        )
    out.sort(key=lambda e: (-e.data["null_rate"] - e.data["out_of_range_rate"], e.id))
    out = out[: MAX_FEATURE_EVIDENCE * 2]
    if latest_window:
        # clean features leave no item of their own: say how many were checked, so "no nulls"
        # is a fact read from the table rather than the absence of a row
        out.append(
            Evidence(
                id="dq:summary",
                kind="data_quality",
                summary=(
                    f"{len(out)} of {len(latest_window)} monitored features with notable nulls, "
                    f"out-of-range values or schema errors in the latest window"
                ),
                data={
                    "total": len(latest_window),
                    "notable_features": len(out),
                    "null_threshold": limits.null_rate_p2,
                },
            )
        )
    return out


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
