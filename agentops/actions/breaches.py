"""The lines that say what breached, shared by the alert and the tracking issue: the drift
score (the highest feature PSI, the aggregate the per-feature threshold applies to), the top
features, one line per breached metric (feature-level breaches of one metric share a line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentops.actions.untrusted import quote
from agentops.actions.wording import number, pair
from agentops.domain import Alert, AlertType, Severity

TITLE_ORDER: tuple[tuple[AlertType, str], ...] = (
    (AlertType.service_down, "Service Down"),
    (AlertType.no_data, "No Data"),
    (AlertType.error_rate, "Error Rate"),
    (AlertType.feature_drift, "Model Drift"),
    (AlertType.model_performance, "Model Performance"),
    (AlertType.latency, "Latency"),
    (AlertType.data_quality, "Data Quality"),
)
SEVERITY_WORD = {Severity.P1: "Critical", Severity.P2: "Warning", Severity.P3: "Info"}
METRIC_LABEL = {
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "error_rate": "Error rate",
    "latency_p99_ms": "Latency p99 (ms)",
    "latency_p50_ms": "Latency p50 (ms)",
    "status": "Status",
    "null_rate": "Null rate",
    "out_of_range_rate": "Out-of-range rate",
    "schema_errors": "Schema errors",
    "psi": "PSI",
    "hours_since_last_window": "Hours since the last metrics window",
}
TOP_FEATURES = 3
NAME_LIMIT = 120  # a model or feature name from the tables, as a message shows it
SHORT_NAME = 40  # a name inside a line that lists several


def one_line(name: str) -> str:
    """A name from the tables on one line: a line break in it must not start a line that
    reads like the system's own (a fake "Approving runs ..." or "Root cause: ...")."""
    return quote(name, NAME_LIMIT)


def alert_title(alerts: Sequence[Alert], alert_types: Sequence[AlertType] = ()) -> str:
    present = {a.type for a in alerts} | set(alert_types)
    for alert_type, title in TITLE_ORDER:
        if alert_type in present:
            return title
    return "Model Alert"


def _latest(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per condition: the newest window's."""
    newest: dict[str, Alert] = {}
    for alert in alerts:
        kept = newest.get(alert.fingerprint)
        if kept is None or alert.window_end > kept.window_end:
            newest[alert.fingerprint] = alert
    return list(newest.values())


def top_features(
    alerts: Sequence[Alert], diagnosis_features: Sequence[dict[str, Any]] | None = None
) -> list[tuple[str, float]]:
    """(feature, psi) pairs, most drifted first: the diagnosis's list, else the drift alerts."""
    return _ranked_features(alerts, diagnosis_features)[:TOP_FEATURES]


def _ranked_features(
    alerts: Sequence[Alert], diagnosis_features: Sequence[dict[str, Any]] | None
) -> list[tuple[str, float]]:
    if diagnosis_features:
        pairs = [(str(f["feature"]), float(f["psi"])) for f in diagnosis_features]
    else:
        best: dict[str, float] = {}
        for alert in alerts:
            if alert.type is AlertType.feature_drift and isinstance(alert.value, (int, float)):
                best[alert.component] = max(best.get(alert.component, 0.0), float(alert.value))
        pairs = list(best.items())
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def _drift_lines(
    alerts: Sequence[Alert], diagnosis_features: Sequence[dict[str, Any]] | None
) -> list[str]:
    drift = [
        a for a in alerts if a.type is AlertType.feature_drift and isinstance(a.value, (int, float))
    ]
    threshold = max(drift, key=lambda a: float(a.value)).threshold if drift else None  # type: ignore[arg-type]
    lines = []
    if drift:
        worst = max(drift, key=lambda a: float(a.value))  # type: ignore[arg-type]
        shown, bound = pair(worst.value, worst.threshold)
        lines.append(f"Drift score (max feature PSI): {shown} (threshold: {bound})")
    ranked = _ranked_features(alerts, diagnosis_features)
    if ranked:
        listed = ", ".join(
            f"{quote(name, SHORT_NAME)} (PSI={pair(psi, threshold)[0]})"
            for name, psi in ranked[:TOP_FEATURES]
        )
        more = len(ranked) - TOP_FEATURES
        lines.append(f"Top features: {listed}" + (f" +{more} more" if more > 0 else ""))
    return lines


def metric_line(alert: Alert) -> str:
    label = METRIC_LABEL.get(alert.metric, alert.metric)
    if alert.component != "model":
        label = f"{label} {one_line(alert.component)}"
    if alert.type is AlertType.service_down:
        return f"{label}: {number(alert.value)}"
    shown, bound = pair(alert.value, alert.threshold)
    return f"{label}: {shown} (threshold: {bound})"


def _feature_line(alerts: Sequence[Alert]) -> str:
    """One line for one metric breached on several features, worst first."""
    first = alerts[0]
    label = METRIC_LABEL.get(first.metric, first.metric)
    # feature-level metrics (PSI, null and out-of-range rates, schema errors): higher is worse
    ranked = sorted(
        alerts, key=lambda a: -float(a.value) if isinstance(a.value, (int, float)) else 0.0
    )
    listed = ", ".join(
        f"{quote(a.component, SHORT_NAME)} {pair(a.value, a.threshold)[0]}"
        for a in ranked[:TOP_FEATURES]
    )
    more = len(ranked) - TOP_FEATURES
    bound = pair(first.value, first.threshold)[1]
    return f"{label}: {listed}" + (f" +{more} more" if more > 0 else "") + f" (threshold: {bound})"


def _order(alert: Alert) -> tuple[int, str]:
    return next(i for i, (t, _) in enumerate(TITLE_ORDER) if t is alert.type), alert.component


def breach_lines(
    chosen: Sequence[Alert], top_drifted: Sequence[dict[str, Any]] | None
) -> list[str]:
    lines: list[str] = []
    drift_done = False
    grouped: dict[tuple[str, str], list[Alert]] = {}
    for alert in sorted(_latest(chosen), key=_order):
        if alert.type is AlertType.feature_drift:
            if not drift_done:
                lines.extend(_drift_lines(chosen, top_drifted))
                drift_done = True
            continue
        if alert.component == "model":
            line = metric_line(alert)
            if line not in lines:
                lines.append(line)
            continue
        key = (alert.metric, str(alert.threshold))
        if key not in grouped:
            grouped[key] = []
            lines.append(f"\x00{key}")  # placeholder: the group's place in the order
        grouped[key].append(alert)
    for key, members in grouped.items():
        line = metric_line(members[0]) if len(members) == 1 else _feature_line(members)
        lines[lines.index(f"\x00{key}")] = line
    if not drift_done and top_drifted:
        lines.extend(_drift_lines([], top_drifted))
    return lines
