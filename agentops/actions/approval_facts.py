"""What an approver weighs before an approval-required action, read from the monitoring
tables by code (never by a model):

- rollback_model: the target version's F1 / precision / recall in its last healthy windows
  (MODEL_METRICS rows of that version), the serving version's latest window beside it, and
  whether the target's feature schema matches today's (the FEATURE_DRIFT / DATA_QUALITY
  feature names in the target's windows against those of the newest window);
- retrain_model: the training window (per cause; matured labels only; what is left out and
  why), its rows (MODEL_METRICS request_count summed over the window) and label maturity;
- scale_infrastructure: load against capacity: requests and latency now against the
  baseline the current capacity served before the breach.

The planner attaches them to each approval-required action (`Action.facts`); the approval
request, its Slack text and the post-mortem show the same lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import mean, median
from typing import Any

import sqlalchemy as sa

from agentops.actions.executors import (
    hours_text,
    poisoned_windows,
    rows_in,
    training_window,
)
from agentops.actions.registry import RollbackPlan, TableRegistry, plan_rollback
from agentops.clock import iso
from agentops.detection.thresholds import Thresholds
from agentops.domain import Action, ActionFacts, ActionType, Incident
from agentops.params import RetrainParams, RollbackParams
from agentops.store import queries
from agentops.store.load import to_db_time
from agentops.store.tables import data_quality, feature_drift, model_metrics

HEALTHY_SHOWN = 3  # the target's last healthy windows an approver sees
SCHEMA_WINDOWS = 48  # the target's newest windows whose feature names count
BASELINE_SPAN = timedelta(hours=24)  # scale: the windows before the breach that are "normal"
SHOWN_FEATURES = 6


def approval_facts(
    conn: sa.Connection,
    incident: Incident,
    action: Action,
    *,
    now: datetime,
    thresholds: Thresholds,
) -> ActionFacts | None:
    """The facts for `action` as of `now` (`conn`: the monitoring database); None for an
    action that needs no approval."""
    if action.type is ActionType.rollback_model:
        return rollback_facts(conn, incident, RollbackParams.of(action), now, thresholds)
    if action.type is ActionType.retrain_model:
        return retrain_facts(conn, incident, RetrainParams.of(action), now)
    if action.type is ActionType.scale_infrastructure:
        return scale_facts(conn, incident, now)
    return None


# ---- rollback -----------------------------------------------------------------------------------
def rollback_facts(
    conn: sa.Connection,
    incident: Incident,
    params: RollbackParams,
    now: datetime,
    limits: Thresholds,
) -> ActionFacts:
    model = incident.model_name
    target, source = params.to_version, "the version the evidence names"
    if target is None:
        plan = plan_rollback(conn, TableRegistry(conn), model)
        if isinstance(plan, RollbackPlan):
            target, source = plan.to_version, plan.target_source
    if target is None:
        line = (
            "Rollback target: none known in MODEL_REGISTRY or DEPLOYMENTS; the configured "
            "registry chooses at execution"
        )
        return ActionFacts(as_of=now, lines=[line], data={"to_version": None})
    rows = _version_windows(conn, model, target, now)
    healthy = [r for r in rows if _healthy(r, limits)][:HEALTHY_SHOWN]
    data: dict[str, Any] = {"to_version": target, "target_source": source}
    lines = []
    if healthy:
        scores = {m: _mean(healthy, m) for m in ("f1", "precision", "recall")}
        data["target_healthy_windows"] = [_window_scores(r) for r in healthy]
        data["target_scores"] = scores
        span = f"{_day(healthy[-1]['window_start'])} → {_day(healthy[0]['window_end'])}"
        lines.append(
            f"Target {target} ({source}) in its last {len(healthy)} healthy window"
            f"{'s' if len(healthy) != 1 else ''} ({span}): {_scores_text(scores)}"
        )
    elif rows:
        lines.append(
            f"Target {target} ({source}): {len(rows)} MODEL_METRICS windows, none healthy "
            f"(F1 ≥ {limits.f1_p1:g}, status up): it did not serve well either"
        )
    else:
        lines.append(
            f"Target {target} ({source}): no MODEL_METRICS windows; how it performs is unknown"
        )
    latest = queries.latest_complete_windows(conn, now, model)
    if latest:
        row = latest[0]
        data["serving_latest"] = _window_scores(row)
        lines.append(
            f"Serving now: {row.get('model_version') or '?'}, "
            f"{_scores_text({m: row.get(m) for m in ('f1', 'precision', 'recall')})} in the "
            f"window ending {_day(row['window_end'])}"
        )
    match, text = _schema(conn, model, target, rows, now)
    data["schema_match"] = match
    lines.append(text)
    return ActionFacts(as_of=now, lines=lines, data=data)


def _version_windows(
    conn: sa.Connection, model: str, version: str, now: datetime
) -> list[dict[str, Any]]:
    """The complete MODEL_METRICS windows `version` served, newest first."""
    query = (
        sa.select(model_metrics)
        .where(
            model_metrics.c.model_name == model,
            model_metrics.c.model_version == version,
            model_metrics.c.window_end <= to_db_time(now, what="now"),
        )
        .order_by(model_metrics.c.window_end.desc())
        .limit(500)
    )
    return [queries.as_row(r) for r in conn.execute(query).mappings()]


def _healthy(row: dict[str, Any], limits: Thresholds) -> bool:
    f1, error_rate = row.get("f1"), row.get("error_rate")
    return (
        str(row.get("status") or "up") == "up"
        and f1 is not None
        and float(f1) >= limits.f1_p1
        and (error_rate is None or float(error_rate) <= limits.error_rate_p1)
    )


def _schema(
    conn: sa.Connection,
    model: str,
    target: str,
    rows: list[dict[str, Any]],
    now: datetime,
) -> tuple[bool | None, str]:
    """(matches?, the line): the features the target saw against today's."""
    starts = [r["window_start"] for r in rows[:SCHEMA_WINDOWS]]
    seen = _features(conn, model, starts)
    today = _latest_features(conn, model, now)
    if not seen:
        return None, (
            f"Feature schema: unknown; no FEATURE_DRIFT or DATA_QUALITY rows in {target}'s windows"
        )
    if not today:
        return None, "Feature schema: unknown; no FEATURE_DRIFT or DATA_QUALITY rows today"
    if seen == today:
        return True, f"Feature schema: {target} saw the same {len(today)} features as today's"
    parts = []
    if today - seen:
        parts.append(f"today's data has {_names(today - seen)} that {target} never saw")
    if seen - today:
        parts.append(f"{_names(seen - today)} that {target} used no longer arrive")
    return False, "Feature schema: differs from today's: " + "; ".join(parts)


def _features(conn: sa.Connection, model: str, starts: list[datetime]) -> set[str]:
    if not starts:
        return set()
    at = [to_db_time(s, what="window_start") for s in starts]
    found: set[str] = set()
    for table in (feature_drift, data_quality):
        query = sa.select(table.c.feature_name).distinct()
        query = query.where(table.c.model_name == model, table.c.window_start.in_(at))
        found |= {str(r[0]) for r in conn.execute(query)}
    return found


def _latest_features(conn: sa.Connection, model: str, now: datetime) -> set[str]:
    found: set[str] = set()
    for table in (feature_drift, data_quality):
        newest = conn.execute(
            sa.select(sa.func.max(table.c.window_end)).where(
                table.c.model_name == model, table.c.window_end <= to_db_time(now, what="now")
            )
        ).scalar()
        if newest is None:
            continue
        query = sa.select(table.c.feature_name).distinct()
        query = query.where(table.c.model_name == model, table.c.window_end == newest)
        found |= {str(r[0]) for r in conn.execute(query)}
    return found


# ---- retrain ------------------------------------------------------------------------------------
def retrain_facts(
    conn: sa.Connection, incident: Incident, params: RetrainParams, now: datetime
) -> ActionFacts:
    model = incident.model_name
    window = training_window(
        incident, now=now, params=params, poisoned=poisoned_windows(conn, model, now=now)
    )
    requests, windows = rows_in(conn, model, window)
    lines = []
    if params.mode == "after_upstream_fix":
        fix = f"pipeline {params.pipeline}'s next successful run" if params.pipeline else "it"
        lines.append(
            "Starts only once the upstream fix is confirmed "
            f"({fix}, or `agentops confirm-fix {incident.incident_id}`), then trains on the "
            "fixed pipeline's data; the window is set then"
        )
        lines.append(f"Training window, if it started now: {window.describe()}")
    else:
        lines.append(f"Training window: {window.describe()}")
    if windows:
        lines.append(
            f"Rows: {requests:,} requests in {windows} MODEL_METRICS windows of the training "
            "window (excluded spans left out)"
        )
    else:
        lines.append("Rows: no MODEL_METRICS windows inside the training window")
    if params.label_delay_hours:
        lines.append(
            f"Label maturity: labels of {model} take {hours_text(params.label_delay_hours)} "
            f"(policy `label_delay`); the window ends {_day(window.end)}, so every label "
            "trained on has matured"
        )
    else:
        lines.append(
            f"Label maturity: no label delay set for {model} (policy `label_delay`): labels "
            "are taken as final at once"
        )
    data = {**window.as_json(), "requests": requests, "metric_windows": windows}
    return ActionFacts(as_of=now, lines=lines, data=data)


# ---- scale --------------------------------------------------------------------------------------
LOAD_RISE = 1.2  # load this much over baseline: more traffic than the capacity was serving
LATENCY_RISE = 1.5  # the runbook's "minor latency increase" ratio


def scale_facts(conn: sa.Connection, incident: Incident, now: datetime) -> ActionFacts:
    model = incident.model_name
    breach = min((a.window_start for a in incident.alerts), default=incident.opened_at)
    history = [
        r
        for r in queries.metrics_history(conn, model, breach - BASELINE_SPAN, now)
        if r["window_end"] <= now
    ]
    baseline = [r for r in history if r["window_end"] <= breach]
    if not history:
        line = "Load: no MODEL_METRICS windows to compare load and latency with"
        return ActionFacts(as_of=now, lines=[line], data={})
    latest = max(history, key=lambda r: r["window_end"])
    if not baseline:
        line = (
            f"Load: {_int(latest.get('request_count'))} requests in the latest window; no "
            "windows before the breach to compare with"
        )
        return ActionFacts(as_of=now, lines=[line], data={"latest": _window_scores(latest)})
    base = {c: _median(baseline, c) for c in _LOAD}
    current = {c: _number(latest.get(c)) for c in _LOAD}
    ratio = {c: _ratio(current[c], base[c]) for c in _LOAD}
    lines = [
        f"Load: {_int(current['request_count'])} requests in the latest window "
        f"(ending {_day(latest['window_end'])}) vs {_int(base['request_count'])} at baseline "
        f"(median of {len(baseline)} windows before the breach){_times(ratio['request_count'])}",
        f"Latency: p99 {_int(current['latency_p99_ms'])} ms vs {_int(base['latency_p99_ms'])} ms"
        f"{_times(ratio['latency_p99_ms'])}, p50 {_int(current['latency_p50_ms'])} vs "
        f"{_int(base['latency_p50_ms'])} ms; error rate {_pct(current['error_rate'])} vs "
        f"{_pct(base['error_rate'])}",
        "Capacity: " + _capacity(ratio["request_count"], ratio["latency_p99_ms"]),
    ]
    data = {"baseline": base, "latest": current, "ratio": ratio, "baseline_windows": len(baseline)}
    return ActionFacts(as_of=now, lines=lines, data=data)


_LOAD = ("request_count", "latency_p50_ms", "latency_p99_ms", "error_rate")


def _capacity(load: float | None, latency: float | None) -> str:
    if load is None or latency is None:
        return "not comparable (a metric is missing)"
    if load >= LOAD_RISE:
        return (
            f"load is ×{load:.2f} what the current capacity served at baseline latency: "
            "more capacity matches the symptom"
        )
    if latency >= LATENCY_RISE:
        return (
            f"latency rose ×{latency:.2f} without more load (×{load:.2f}): capacity may not "
            "be the limit; check a slow dependency too"
        )
    return f"load ×{load:.2f} and p99 ×{latency:.2f} of baseline: near normal"


# ---- small helpers ------------------------------------------------------------------------------
def _window_scores(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("model_version", "f1", "precision", "recall", "error_rate", "request_count")
    return {
        "window_start": iso(row["window_start"]),
        "window_end": iso(row["window_end"]),
        **{k: row.get(k) for k in keep},
    }


def _scores_text(scores: dict[str, Any]) -> str:
    return ", ".join(
        f"{label} {_fmt(scores.get(key))}"
        for key, label in (("f1", "F1"), ("precision", "precision"), ("recall", "recall"))
    )


def _mean(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [float(r[column]) for r in rows if r.get(column) is not None]
    return round(mean(values), 4) if values else None


def _median(rows: list[dict[str, Any]], column: str) -> float | None:
    values = [float(r[column]) for r in rows if r.get(column) is not None]
    return median(values) if values else None


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None


def _ratio(now: float | None, base: float | None) -> float | None:
    if now is None or base is None or base <= 0:
        return None
    return round(now / base, 2)


def _times(ratio: float | None) -> str:
    return f": ×{ratio:.2f}" if ratio is not None else ""


def _fmt(value: Any) -> str:
    return f"{float(value):.3f}" if value is not None else "?"


def _int(value: Any) -> str:
    return f"{float(value):,.0f}" if value is not None else "?"


def _pct(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None else "?"


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _names(names: Iterable[str]) -> str:
    listed = sorted(names)
    shown = ", ".join(listed[:SHOWN_FEATURES])
    return shown + (f" and {len(listed) - SHOWN_FEATURES} more" if len(listed) > 6 else "")
