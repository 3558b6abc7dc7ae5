"""The runbook's threshold rules over each model's latest complete windows.

`evaluate_rules` is read-only: three SQL queries (see `scan`) fetch the candidates, and the
pure functions below turn rows into `Alert`s. Only CONTRACT.md's thresholds raise alerts:

| severity | type | condition (default) | component |
|---|---|---|---|
| P1 | model_performance | f1 < 0.70 | model |
| P1 | service_down | status = 'down' | model |
| P1 | error_rate | error_rate > 0.10 | model |
| P2 | feature_drift | psi > 0.3 | feature |
| P2 | latency | latency_p99_ms > 2000 | model |
| P2 | data_quality | null_rate > 0.10 | feature |
| P3 | feature_drift | 0.2 <= psi <= 0.3 | feature |
| P3 | latency | p99 >= 1.5 x median of the previous 24 windows, and <= 2000 | model |
| P2 | no_data | newest complete MODEL_METRICS window ended > stale_after (3 h) ago | model |

A NULL value never breaches (a window without traffic has no f1). 'degraded' status,
out_of_range_rate and schema_errors are evidence for the diagnosis, not alerts.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from agentops.clock import parse_instant
from agentops.detection.sanity import Finding, row_findings, value_problem
from agentops.detection.scan import latest_ends_query, run_scan
from agentops.detection.thresholds import Thresholds, ThresholdSet
from agentops.domain import Alert, AlertType, Severity
from agentops.errors import DataError
from agentops.store.engine import describe
from agentops.store.queries import Row, require_model
from agentops.store.timecheck import require_comparable_times

SCANNED_TABLES = ["model_metrics", "data_quality", "feature_drift"]
_TYPE_ORDER = {t: i for i, t in enumerate(AlertType)}


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    """Most severe first, then by type (CONTRACT.md order), model and component."""
    return sorted(
        alerts,
        key=lambda a: (-a.severity.rank, _TYPE_ORDER[a.type], a.model_name, a.component),
    )


def _alert(
    row: Row,
    type_: AlertType,
    severity: Severity,
    metric: str,
    value: float | str,
    threshold: float | str,
    message: str,
    component: str = "model",
) -> Alert:
    return Alert(
        type=type_,
        severity=severity,
        model_name=row["model_name"],
        component=component,
        metric=metric,
        value=value,
        threshold=threshold,
        window_start=row["window_start"],
        window_end=row["window_end"],
        message=message,
    )


def metric_alerts(latest: Row, history: list[Row], t: Thresholds) -> list[Alert]:
    """MODEL_METRICS rules for one model: `latest` is its latest window, `history` the
    earlier windows, newest first (only their latency_p99_ms is read)."""
    alerts: list[Alert] = []
    name = latest["model_name"]
    f1 = latest.get("f1")
    if f1 is not None and f1 < t.f1_p1:
        alerts.append(
            _alert(
                latest,
                AlertType.model_performance,
                Severity.P1,
                "f1",
                f1,
                t.f1_p1,
                f"{name}: F1 {f1:.3f} below {t.f1_p1}",
            )
        )
    if latest.get("status") == "down":
        alerts.append(
            _alert(
                latest,
                AlertType.service_down,
                Severity.P1,
                "status",
                "down",
                "down",
                f"{name}: service down",
            )
        )
    errors = latest.get("error_rate")
    if errors is not None and errors > t.error_rate_p1:
        alerts.append(
            _alert(
                latest,
                AlertType.error_rate,
                Severity.P1,
                "error_rate",
                errors,
                t.error_rate_p1,
                f"{name}: error rate {errors:.1%} above {t.error_rate_p1:.0%}",
            )
        )
    p99 = latest.get("latency_p99_ms")
    if p99 is None:
        return alerts
    if p99 > t.latency_p99_p2_ms:
        alerts.append(
            _alert(
                latest,
                AlertType.latency,
                Severity.P2,
                "latency_p99_ms",
                p99,
                t.latency_p99_p2_ms,
                f"{name}: p99 latency {p99:.0f} ms above {t.latency_p99_p2_ms:.0f} ms",
            )
        )
        return alerts
    earlier = [r["latency_p99_ms"] for r in history[: t.latency_history_windows]]
    earlier = [v for v in earlier if v is not None]
    if len(earlier) >= t.latency_min_history:
        median = float(statistics.median(earlier))
        line = t.latency_increase_p3 * median
        if median > 0 and p99 >= line:
            alerts.append(
                _alert(
                    latest,
                    AlertType.latency,
                    Severity.P3,
                    "latency_p99_ms",
                    p99,
                    round(line, 3),
                    f"{name}: p99 latency {p99:.0f} ms is {p99 / median:.2f}x "
                    f"its trailing median {median:.0f} ms",
                )
            )
    return alerts


def drift_alert(row: Row, t: Thresholds) -> Alert | None:
    """FEATURE_DRIFT rule for one feature's latest window."""
    psi = row.get("psi")
    feature = row["feature_name"]
    if psi is None:
        return None
    if psi > t.psi_p2:
        severity, line = Severity.P2, t.psi_p2
    elif psi >= t.psi_p3:
        severity, line = Severity.P3, t.psi_p3
    else:
        return None
    return _alert(
        row,
        AlertType.feature_drift,
        severity,
        "psi",
        psi,
        line,
        f"{row['model_name']}: {feature} PSI {psi:.3f} (threshold {line})",
        component=feature,
    )


def quality_alert(row: Row, t: Thresholds) -> Alert | None:
    """DATA_QUALITY rule for one feature's latest window."""
    nulls = row.get("null_rate")
    if nulls is None or nulls <= t.null_rate_p2:
        return None
    feature = row["feature_name"]
    return _alert(
        row,
        AlertType.data_quality,
        Severity.P2,
        "null_rate",
        nulls,
        t.null_rate_p2,
        f"{row['model_name']}: {feature} null rate {nulls:.1%} above {t.null_rate_p2:.0%}",
        component=feature,
    )


def alerts_from_rows(
    rows: dict[str, list[Row]],
    now: datetime,
    thresholds: ThresholdSet,
    findings: list[Finding] | None = None,
) -> list[Alert]:
    """Pure: the scan's rows -> sorted alerts. Rows older than a model's own lookback are
    dropped here (the SQL used the widest lookback of any model). A row holding a value no
    monitoring job could produce raises no alert; it goes to `findings` instead."""

    def fresh(row: Row) -> bool:
        hours = thresholds.for_model(row["model_name"]).lookback_hours
        return bool(row["window_end"] > now - timedelta(hours=hours))

    def sane(table: str, row: Row) -> bool:
        found = row_findings(table, row)
        if found and findings is not None and fresh(row):
            findings.extend(found)
        return not found

    alerts: list[Alert] = []
    by_model: dict[str, list[Row]] = defaultdict(list)
    for row in rows.get("model_metrics", []):
        # earlier windows count only for the latency median: only their p99 must be sane
        if row.get("rn") == 1 or value_problem("latency_p99_ms", row.get("latency_p99_ms")) is None:
            by_model[row["model_name"]].append(row)
    for name, ranked in list(by_model.items()):
        ranked.sort(key=lambda r: r["rn"])
        # an impossible newest row is a finding; the newest sane window still speaks for the
        # model (one bad row must not hide a real breach)
        while ranked and not sane("model_metrics", ranked[0]):
            ranked.pop(0)
        if not ranked:
            del by_model[name]
    for name, ranked in by_model.items():
        ranked.sort(key=lambda r: r["rn"])
        latest, history = ranked[0], [r for r in ranked[1:] if fresh(r)]
        if fresh(latest):
            alerts.extend(metric_alerts(latest, history, thresholds.for_model(name)))
    for row in rows.get("feature_drift", []):
        if not sane("feature_drift", row):
            continue
        drift = drift_alert(row, thresholds.for_model(row["model_name"]))
        if drift is not None and fresh(row):
            alerts.append(drift)
    for row in rows.get("data_quality", []):
        if not sane("data_quality", row):
            continue
        quality = quality_alert(row, thresholds.for_model(row["model_name"]))
        if quality is not None and fresh(row):
            alerts.append(quality)
    return sort_alerts(alerts)


def stale_alerts(
    conn: sa.Connection, now: datetime, thresholds: ThresholdSet, model_name: str | None = None
) -> list[Alert]:
    """`no_data` for every model whose newest complete window ended more than its
    `stale_after` before `now`: silence is never read as health."""
    alerts: list[Alert] = []
    query = latest_ends_query(conn.dialect.name, now, model_name)
    for row in conn.execute(query).mappings():
        ended = row["latest_end"]
        if ended is None:
            continue
        if isinstance(ended, str):  # SQLite returns MAX() over a DATETIME column as text
            ended = parse_instant(ended, what="window_end")
        ended = parse_instant(ended, what="window_end")
        t = thresholds.for_model(row["model_name"])
        silent = now - ended
        if silent <= timedelta(hours=t.stale_after_hours):
            continue
        hours = round(silent.total_seconds() / 3600, 1)
        alerts.append(
            Alert(
                type=AlertType.no_data,
                severity=Severity.P2,
                model_name=row["model_name"],
                component="model",
                metric="hours_since_last_window",
                value=hours,
                threshold=t.stale_after_hours,
                window_start=ended,
                window_end=now,
                message=f"{row['model_name']}: no MODEL_METRICS window since "
                f"{ended:%Y-%m-%d %H:%M}Z ({hours:g} h; stale after {t.stale_after_hours:g} h)",
            )
        )
    return alerts


def require_tables_on(conn: sa.Connection, names: list[str]) -> None:
    """`store.engine.require_tables` on an open connection (a second connection would
    deadlock on an in-memory SQLite store): DataError naming each missing table."""
    existing = {name.lower() for name in sa.inspect(conn).get_table_names()}
    missing = [name.upper() for name in names if name.lower() not in existing]
    if missing:
        raise DataError(
            f"table {', '.join(missing)} missing from the store at {describe(conn.engine)}; "
            "run `agentops db init` (or point AGENTOPS_DATABASE_URL at the monitoring schema)"
        )


def evaluate_rules(
    conn: sa.Connection,
    now: datetime,
    model_name: str | None = None,
    thresholds: ThresholdSet | None = None,
    findings: list[Finding] | None = None,
) -> list[Alert]:
    """Alerts for every model (or `model_name`) from each table's latest complete window
    (window_end <= now). Read-only; three queries per pass. DataError when a table is
    missing or the model is unknown."""
    now = parse_instant(now, what="now")
    require_tables_on(conn, SCANNED_TABLES)
    require_comparable_times(conn)
    if model_name is not None:
        require_model(conn, model_name)
    rule_set = thresholds or ThresholdSet()
    alerts = alerts_from_rows(run_scan(conn, now, rule_set, model_name), now, rule_set, findings)
    return sort_alerts(alerts + stale_alerts(conn, now, rule_set, model_name))
