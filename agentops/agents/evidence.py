"""The facts a diagnosis may cite, read from the store for one incident.

Every fact becomes an `Evidence` with a stable id (`alert:<fingerprint>`, `metric:f1`,
`drift:V14`, `dq:V14`, `deploy:<deployment_id>`, `run:<run_id>`) so the analyzers, the
model and the post-mortem all point at the same things. The store may be sparse (an eval
case can hold one metrics window and no history): each reader then returns less evidence,
never an error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median
from typing import Any

import sqlalchemy as sa

from agentops.clock import iso
from agentops.domain import Evidence, Incident
from agentops.store import queries

# Changes this long before the first breach can still explain it (a weekly vendor switch
# shows within hours, but a slow feature-store rollout can take days).
CHANGE_LOOKBACK = timedelta(hours=72)
# History before the breach that serves as the "normal" the latest window is compared with.
BASELINE_SPAN = timedelta(days=7)
# Windows this close to the breach may already be degrading, so the baseline stops earlier
# when there is enough older history.
BASELINE_GAP = timedelta(hours=24)

PSI_DRIFTING = 0.2  # CONTRACT.md: P3 starts at 0.2
NULL_RATE_NOTABLE = 0.05
OUT_OF_RANGE_NOTABLE = 0.05
MAX_FEATURE_EVIDENCE = 12


def first_breach(incident: Incident) -> datetime:
    """The start of the earliest breached window, else when the incident was opened."""
    starts = [alert.window_start for alert in incident.alerts]
    return min(starts) if starts else incident.opened_at


def gather_evidence(conn: sa.Connection, incident: Incident, now: datetime) -> list[Evidence]:
    """Everything the store says about `incident` up to `now`, as citable evidence."""
    breach = first_breach(incident)
    model = incident.model_name
    evidence = alert_evidence(incident)
    history = queries.metrics_history(conn, model, breach - BASELINE_SPAN, now)
    history = [row for row in history if row["window_end"] <= now]
    evidence += metric_evidence(history, breach)
    evidence += drift_evidence(queries.top_drifted_features(conn, model, now, limit=500))
    evidence += quality_evidence(queries.data_quality_latest(conn, model, now))
    since = breach - CHANGE_LOOKBACK
    evidence += deployment_evidence(queries.deployments_between(conn, model, since, now), breach)
    evidence += pipeline_evidence(queries.pipeline_runs_between(conn, model, since, now), breach)
    return evidence


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
def _baseline_rows(history: list[dict[str, Any]], breach: datetime) -> list[dict[str, Any]]:
    before = [r for r in history if r["window_end"] <= breach]
    older = [r for r in before if r["window_end"] <= breach - BASELINE_GAP]
    return older if len(older) >= 6 else before


def _values(rows: list[dict[str, Any]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r.get(column) is not None]


def metric_evidence(history: list[dict[str, Any]], breach: datetime) -> list[Evidence]:
    """Latest window vs the trailing baseline for each model-level metric."""
    if not history:
        return []
    latest = history[-1]
    base = _baseline_rows(history, breach)
    out: list[Evidence] = []
    for column, label in (
        ("f1", "F1"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("error_rate", "error rate"),
        ("latency_p99_ms", "p99 latency (ms)"),
    ):
        value = latest.get(column)
        if value is None:
            continue
        baseline = _values(base, column)
        base_value = round(median(baseline), 4) if baseline else None
        change = f" vs baseline {_fmt(base_value)}" if base_value is not None else ""
        out.append(
            Evidence(
                id=f"metric:{column}",
                kind="metric",
                summary=f"{label} {_fmt(value)} in the latest window{change}",
                data={
                    "metric": column,
                    "latest": float(value),
                    "baseline": base_value,
                    "window_end": iso(latest["window_end"]),
                    "windows": len(history),
                },
            )
        )
    volume = _volume_evidence(history, base, latest)
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
    versions = [r.get("model_version") for r in base if r.get("model_version")]
    current = latest.get("model_version")
    if current:
        previous = max(set(versions), key=versions.count) if versions else None
        changed = previous is not None and previous != current
        summary = (
            f"model version changed from {previous} to {current} before the latest window"
            if changed
            else f"model version {current} serving, unchanged"
            + (" since the baseline" if previous else "")
        )
        out.append(
            Evidence(
                id="metric:model_version",
                kind="metric",
                summary=summary,
                data={
                    "metric": "model_version",
                    "latest": current,
                    "baseline": previous,
                    "changed": changed,
                },
            )
        )
    return out


def _volume_evidence(
    history: list[dict[str, Any]], base: list[dict[str, Any]], latest: dict[str, Any]
) -> Evidence | None:
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
def drift_evidence(latest_window: list[dict[str, Any]]) -> list[Evidence]:
    """Per-feature PSI of the latest window: the drifting features and how concentrated."""
    rows = [r for r in latest_window if r.get("psi") is not None]
    if not rows:
        return []
    rows.sort(key=lambda r: (-float(r["psi"]), r["feature_name"]))
    drifting = [r for r in rows if float(r["psi"]) >= PSI_DRIFTING]
    out = [
        Evidence(
            id=f"drift:{r['feature_name']}",
            kind="drift",
            summary=f"{r['feature_name']} PSI {float(r['psi']):.2f} in the latest window",
            data={
                "feature": r["feature_name"],
                "psi": float(r["psi"]),
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
                f"{len(drifting)} of {len(rows)} monitored features have PSI >= {PSI_DRIFTING}"
                + (f": {', '.join(names[:8])}" if names else "")
            ),
            data={
                "drifting": names,
                "count": len(drifting),
                "total": len(rows),
                "max_psi": float(rows[0]["psi"]),
            },
        )
    )
    return out


def quality_evidence(latest_window: list[dict[str, Any]]) -> list[Evidence]:
    """Features of the latest DATA_QUALITY window with nulls, out-of-range values or schema errors."""
    out: list[Evidence] = []
    for row in latest_window:
        nulls = float(row.get("null_rate") or 0.0)
        out_of_range = float(row.get("out_of_range_rate") or 0.0)
        schema_errors = int(row.get("schema_errors") or 0)
        if nulls < NULL_RATE_NOTABLE and out_of_range < OUT_OF_RANGE_NOTABLE and not schema_errors:
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
                },
            )
        )
    out.sort(key=lambda e: (-e.data["null_rate"] - e.data["out_of_range_rate"], e.id))
    return out[: MAX_FEATURE_EVIDENCE * 2]


# ---- changes ------------------------------------------------------------------------------
def _hours_before(moment: datetime, breach: datetime) -> float:
    return round((breach - moment).total_seconds() / 3600, 1)


def deployment_evidence(rows: list[dict[str, Any]], breach: datetime) -> list[Evidence]:
    if not rows:
        return [
            Evidence(
                id="deploy:none",
                kind="deployment",
                summary=f"no deployment recorded in the {_hours(CHANGE_LOOKBACK)} h before the first breach",
                data={"count": 0},
            )
        ]
    out = []
    for row in rows:
        before = _hours_before(row["deployed_at"], breach)
        when = f"{before} h before the first breach" if before >= 0 else "after the first breach"
        out.append(
            Evidence(
                id=f"deploy:{row['deployment_id']}",
                kind="deployment",
                summary=(
                    f"deployment {row['deployment_id']}: {row['model_name']} "
                    f"{row.get('previous_version') or '?'} -> {row['model_version']} at "
                    f"{iso(row['deployed_at'])} ({when}), status {row.get('status') or '?'}"
                    + (f"; {_clip(row['description'])}" if row.get("description") else "")
                ),
                data={
                    "deployment_id": row["deployment_id"],
                    "model_version": row["model_version"],
                    "previous_version": row.get("previous_version"),
                    "deployed_at": iso(row["deployed_at"]),
                    "hours_before_breach": before,
                    "status": row.get("status"),
                    "description": row.get("description") or "",
                },
            )
        )
    return out


def pipeline_evidence(rows: list[dict[str, Any]], breach: datetime) -> list[Evidence]:
    """Runs that failed, were partial or left notes, plus one line for the routine rest."""
    notable = [r for r in rows if r.get("status") != "success" or (r.get("notes") or "").strip()]
    routine = [r for r in rows if r not in notable]
    out = []
    for row in notable[:MAX_FEATURE_EVIDENCE]:
        before = _hours_before(row["started_at"], breach)
        out.append(
            Evidence(
                id=f"run:{row['run_id']}",
                kind="pipeline_run",
                summary=(
                    f"pipeline {row['pipeline_name']} run {row['run_id']} from "
                    f"{row.get('source') or '?'} {row['status']} at {iso(row['started_at'])} "
                    f"({before} h before the first breach)"
                    + (f"; notes: {_clip(row['notes'])}" if row.get("notes") else "")
                ),
                data={
                    "run_id": row["run_id"],
                    "pipeline_name": row["pipeline_name"],
                    "source": row.get("source"),
                    "status": row["status"],
                    "started_at": iso(row["started_at"]),
                    "hours_before_breach": before,
                    "rows_processed": row.get("rows_processed"),
                    "notes": row.get("notes") or "",
                },
            )
        )
    pipelines = sorted({r["pipeline_name"] for r in routine})
    out.append(
        Evidence(
            id="run:routine",
            kind="pipeline_run",
            summary=(
                f"{len(routine)} routine successful pipeline runs without notes in the "
                f"{_hours(CHANGE_LOOKBACK)} h before the first breach"
                + (f" ({', '.join(pipelines)})" if pipelines else "")
            ),
            data={"count": len(routine), "pipelines": pipelines, "notable": len(notable)},
        )
    )
    return out


def _hours(span: timedelta) -> int:
    return int(span.total_seconds() // 3600)


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
