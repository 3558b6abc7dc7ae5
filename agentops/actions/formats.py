"""The runbook's message formats, as pure functions of an incident (no clock, no I/O).

Alert (runbook "Slack Message Format")::

    🚨 [P1] Model Drift Critical — classifier_v2
    Drift score: 0.45 (threshold: 0.3)
    Top features: V14 (PSI=0.8), V17 (PSI=0.6)
    Investigating automatically...

- The title names the alert mix by the first type present in this order: Service Down,
  Error Rate, Model Drift, Model Performance, Latency, Data Quality. Drift outranks
  performance because when both fire the drift is the lead and the F1 drop its symptom.
- The word after the title is the incident's severity: Critical (P1), Warning (P2), Info (P3).
- "Drift score" is the highest PSI among the incident's drift alerts, shown with that alert's
  threshold; "Top features" are the three most drifted features by PSI (the diagnosis's own
  list when the caller gives one).
- Each other breached metric follows as `<Metric>: <value> (threshold: <threshold>)`; a
  diagnosis, when given, adds `Suspected root cause: ...` before the last line.

Resolution::

    ✅ [Resolved] Model Drift — classifier_v2
    Root cause: Vendor API format change affecting V14
    Resolution: Retrained model with updated feature pipeline
    Time to resolve: 45 minutes
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agentops.clock import iso
from agentops.domain import Alert, AlertType, Diagnosis, EscalationTarget, Incident, Severity

TITLE_ORDER: tuple[tuple[AlertType, str], ...] = (
    (AlertType.service_down, "Service Down"),
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
}
TOP_FEATURES = 3


def number(value: float | str | None) -> str:
    """Compact numbers as the runbook writes them: 0.45, 0.3, 0.8, 2400."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def alert_title(alerts: Sequence[Alert], alert_types: Sequence[AlertType] = ()) -> str:
    present = {a.type for a in alerts} | set(alert_types)
    for alert_type, title in TITLE_ORDER:
        if alert_type in present:
            return title
    return "Model Alert"


def top_features(
    alerts: Sequence[Alert], diagnosis_features: Sequence[dict[str, Any]] | None = None
) -> list[tuple[str, float]]:
    """(feature, psi) pairs, most drifted first: the diagnosis's list, else the drift alerts."""
    if diagnosis_features:
        pairs = [(str(f["feature"]), float(f["psi"])) for f in diagnosis_features]
    else:
        best: dict[str, float] = {}
        for alert in alerts:
            if alert.type is AlertType.feature_drift and isinstance(alert.value, (int, float)):
                best[alert.component] = max(best.get(alert.component, 0.0), float(alert.value))
        pairs = list(best.items())
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:TOP_FEATURES]


def _drift_lines(
    alerts: Sequence[Alert], diagnosis_features: Sequence[dict[str, Any]] | None
) -> list[str]:
    drift = [
        a for a in alerts if a.type is AlertType.feature_drift and isinstance(a.value, (int, float))
    ]
    lines = []
    if drift:
        worst = max(drift, key=lambda a: float(a.value))  # type: ignore[arg-type]
        lines.append(f"Drift score: {number(worst.value)} (threshold: {number(worst.threshold)})")
    features = top_features(alerts, diagnosis_features)
    if features:
        listed = ", ".join(f"{name} (PSI={number(psi)})" for name, psi in features)
        lines.append(f"Top features: {listed}")
    return lines


def _metric_line(alert: Alert) -> str:
    label = METRIC_LABEL.get(alert.metric, alert.metric)
    if alert.component != "model":
        label = f"{label} {alert.component}"
    if alert.type is AlertType.service_down:
        return f"{label}: {number(alert.value)}"
    return f"{label}: {number(alert.value)} (threshold: {number(alert.threshold)})"


def format_alert_message(
    incident: Incident,
    alerts: Sequence[Alert] | None = None,
    diagnosis: Diagnosis | None = None,
    *,
    top_drifted: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The runbook's Slack alert for `alerts` (default: all of the incident's alerts).

    `top_drifted` ([{"feature": "V14", "psi": 0.8}, ...]) replaces the features taken from the
    drift alerts, e.g. with the investigation's per-feature drift.
    """
    chosen = list(alerts if alerts is not None else incident.alerts)
    types = [a.type for a in chosen] or list(incident.alert_types)
    title = alert_title(chosen, types)
    severity = Severity.highest([a.severity for a in chosen]) if chosen else incident.severity
    lines = [f"🚨 [{severity.value}] {title} {SEVERITY_WORD[severity]} — {incident.model_name}"]
    ordered = sorted(
        chosen,
        key=lambda a: (next(i for i, (t, _) in enumerate(TITLE_ORDER) if t is a.type), a.component),
    )
    drift_done = False
    for alert in ordered:
        if alert.type is AlertType.feature_drift:
            if not drift_done:
                lines.extend(_drift_lines(chosen, top_drifted))
                drift_done = True
            continue
        line = _metric_line(alert)
        if line not in lines:
            lines.append(line)
    if not drift_done and top_drifted:
        lines.extend(_drift_lines([], top_drifted))
    if diagnosis is not None:
        lines.append(f"Suspected root cause: {diagnosis.root_cause}")
    lines.append("Investigating automatically...")
    return "\n".join(lines)


def duration_text(start: datetime, end: datetime) -> str:
    """'45 minutes', '1 minute', '2 hours 5 minutes' (rounded to the minute)."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    tail = f" {rest} minute{'s' if rest != 1 else ''}" if rest else ""
    return f"{hours} hours{tail}"


def format_resolution_message(
    incident: Incident, *, root_cause: str, resolution: str, resolved_at: datetime
) -> str:
    """The runbook's Slack resolution message; time to resolve runs from `opened_at`."""
    title = alert_title(incident.alerts, incident.alert_types)
    return "\n".join(
        [
            f"✅ [Resolved] {title} — {incident.model_name}",
            f"Root cause: {root_cause}",
            f"Resolution: {resolution}",
            f"Time to resolve: {duration_text(incident.opened_at, resolved_at)}",
        ]
    )


def format_escalation_message(
    incident: Incident,
    target: EscalationTarget,
    *,
    who: str,
    reason: str,
    root_cause: str | None = None,
) -> str:
    """The Slack DM (and email body) that hands an incident to a person."""
    title = alert_title(incident.alerts, incident.alert_types)
    lines = [
        f"⚠️ [{incident.severity.value}] Escalation to {who} — {incident.model_name}",
        f"Incident: {incident.incident_id} ({title}, opened {iso(incident.opened_at)}, "
        f"status {incident.status.value})",
        f"Why you: {reason}",
    ]
    cause = root_cause or incident.root_cause
    if cause:
        lines.append(f"Root cause so far: {cause}")
    lines.append(f"Details: agentops incidents show {incident.incident_id}")
    return "\n".join(lines)


def escalation_subject(incident: Incident, who: str) -> str:
    title = alert_title(incident.alerts, incident.alert_types)
    return (
        f"[{incident.severity.value}] {incident.incident_id} escalated to {who}: "
        f"{title} — {incident.model_name}"
    )


def github_title(incident: Incident) -> str:
    title = alert_title(incident.alerts, incident.alert_types)
    return f"[{incident.severity.value}] {incident.incident_id}: {title} — {incident.model_name}"


def github_labels(incident: Incident, category: str | None) -> list[str]:
    """Severity and root-cause category, as the tracking issue's labels."""
    labels = [incident.severity.value]
    if category:
        labels.append(category)
    return labels


def github_body(incident: Incident, diagnosis: Diagnosis | None = None) -> str:
    """The tracking issue before the post-mortem exists: what fired, what is suspected."""
    lines = [
        f"## {incident.incident_id} — {incident.model_name}",
        "",
        f"- Severity: {incident.severity.value}",
        f"- Opened: {iso(incident.opened_at)}",
        f"- Alert types: {', '.join(t.value for t in incident.alert_types)}",
        f"- Status: {incident.status.value}",
    ]
    cause = diagnosis.root_cause if diagnosis else incident.root_cause
    category = diagnosis.category.value if diagnosis else incident.root_cause_category
    if category:
        lines.append(f"- Root-cause category: {category}")
    if cause:
        lines.append(f"- Root cause: {cause}")
    lines += ["", "### Alerts", ""]
    lines += [f"- {a.severity.value} {a.type.value} {_metric_line(a)}" for a in incident.alerts]
    lines += ["", "The post-mortem replaces this body once the incident is resolved."]
    return "\n".join(lines)
