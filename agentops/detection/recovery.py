"""Has an incident recovered? Every condition that breached must be back inside its
threshold for `recovery_windows` consecutive complete windows that end after the remediation.

A condition is an alert fingerprint the incident holds: (model, type, component). It is
healthy in a window when the same rules that detect it (`rules.metric_alerts`,
`drift_alert`, `quality_alert`) raise no alert of that fingerprint there, at any severity.
`no_data` recovers when that many windows arrived after the remediation and the newest is
fresh again. A finished plan is not a recovery, and neither is a triggered retrain: only
windows measured after the remediation count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from agentops.detection.rules import drift_alert, metric_alerts, quality_alert
from agentops.detection.thresholds import Thresholds
from agentops.domain import Alert, AlertType, Incident
from agentops.store.load import to_db_time
from agentops.store.queries import Row, as_row
from agentops.store.tables import data_quality, feature_drift, model_metrics

MODEL_LEVEL = {
    AlertType.model_performance,
    AlertType.service_down,
    AlertType.error_rate,
    AlertType.latency,
}


@dataclass(frozen=True)
class Condition:
    fingerprint: str
    healthy: int  # consecutive healthy windows, newest first, ending after the remediation
    needed: int
    latest: str  # the newest value seen, for messages

    @property
    def recovered(self) -> bool:
        return self.healthy >= self.needed


@dataclass(frozen=True)
class RecoveryCheck:
    recovered: bool
    conditions: list[Condition] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{c.fingerprint.split(':', 1)[1]} {c.latest} "
            f"({c.healthy}/{c.needed} healthy window(s))"
            for c in self.conditions
        ]
        state = "recovered" if self.recovered else "not recovered"
        return f"{state}: " + "; ".join(parts) if parts else state


def _windows_after(
    conn: sa.Connection, table: sa.Table, model: str, since: datetime, now: datetime, **where: str
) -> list[Row]:
    """Complete windows ending in (since, now], newest first."""
    query = sa.select(table).where(
        table.c.model_name == model,
        table.c.window_end > to_db_time(since, what="since"),
        table.c.window_end <= to_db_time(now, what="now"),
    )
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    query = query.order_by(table.c.window_end.desc())
    return [as_row(r) for r in conn.execute(query).mappings()]


def _metric_history(conn: sa.Connection, model: str, before: datetime, n: int) -> list[Row]:
    query = (
        sa.select(model_metrics.c.latency_p99_ms, model_metrics.c.window_end)
        .where(
            model_metrics.c.model_name == model,
            model_metrics.c.window_end < to_db_time(before, what="before"),
        )
        .order_by(model_metrics.c.window_end.desc())
        .limit(n)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def _streak(windows: list[Row], breaches: list[bool]) -> int:
    """Consecutive healthy windows counted from the newest."""
    count = 0
    for breached in breaches:
        if breached:
            break
        count += 1
    return count


def _model_condition(
    conn: sa.Connection, alert: Alert, windows: list[Row], t: Thresholds, needed: int
) -> Condition:
    breaches: list[bool] = []
    for index, row in enumerate(windows[:needed]):
        older = windows[index + 1 :] + _metric_history(
            conn, alert.model_name, windows[-1]["window_end"], t.latency_history_windows
        )
        raised = metric_alerts(row, older, t)
        breaches.append(any(a.fingerprint == alert.fingerprint for a in raised))
    latest = windows[0].get(alert.metric) if windows else None
    return Condition(alert.fingerprint, _streak(windows, breaches), needed, _shown(alert, latest))


def _feature_condition(
    conn: sa.Connection, alert: Alert, since: datetime, now: datetime, t: Thresholds, needed: int
) -> Condition:
    table = feature_drift if alert.type is AlertType.feature_drift else data_quality
    rule = drift_alert if alert.type is AlertType.feature_drift else quality_alert
    rows = _windows_after(conn, table, alert.model_name, since, now, feature_name=alert.component)
    breaches = [rule(row, t) is not None for row in rows[:needed]]
    latest = rows[0].get(alert.metric) if rows else None
    return Condition(alert.fingerprint, _streak(rows, breaches), needed, _shown(alert, latest))


def _shown(alert: Alert, value: object) -> str:
    if value is None:
        return f"{alert.metric}: no window yet"
    if isinstance(value, float):
        return f"{alert.metric} {value:.4g}"
    return f"{alert.metric} {value}"


def check_recovery(
    conn: sa.Connection,
    incident: Incident,
    *,
    since: datetime,
    now: datetime,
    thresholds: Thresholds,
) -> RecoveryCheck:
    """The incident's conditions over windows ending in (since, now] (monitoring reads)."""
    needed = thresholds.recovery_windows
    metric_windows = _windows_after(conn, model_metrics, incident.model_name, since, now)
    conditions: list[Condition] = []
    seen: set[str] = set()
    for alert in incident.alerts:
        if alert.fingerprint in seen:
            continue
        seen.add(alert.fingerprint)
        if alert.type in MODEL_LEVEL:
            conditions.append(_model_condition(conn, alert, metric_windows, thresholds, needed))
        elif alert.type is AlertType.no_data:
            fresh = bool(metric_windows) and metric_windows[0]["window_end"] >= now - timedelta(
                hours=thresholds.stale_after_hours
            )
            arrived = len(metric_windows) if fresh else 0
            newest = metric_windows[0]["window_end"] if metric_windows else None
            latest = f"newest window ends {newest:%Y-%m-%d %H:%M}" if newest else "no window yet"
            conditions.append(Condition(alert.fingerprint, arrived, needed, latest))
        else:
            conditions.append(_feature_condition(conn, alert, since, now, thresholds, needed))
    recovered = bool(conditions) and all(c.recovered for c in conditions)
    return RecoveryCheck(recovered=recovered, conditions=conditions)
