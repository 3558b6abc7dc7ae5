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

Every message is built from untrusted parts (model and feature names from the tables, a
model's or a pipeline note's words), so each function returns its text neutralised for the
reader it is for (`untrusted.py`): Slack texts escaped, GitHub texts without live mentions or
issue references, email subjects on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agentops.actions.untrusted import github_text, header_text, quote, slack_text
from agentops.clock import iso
from agentops.domain import Alert, AlertType, Diagnosis, EscalationTarget, Incident, Severity

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


def one_line(name: str) -> str:
    """A name from the tables on one line: a line break in it must not start a line that
    reads like the system's own (a fake "Approving runs ..." or "Root cause: ...")."""
    return quote(name, NAME_LIMIT)


def number(value: float | str | None) -> str:
    """Compact numbers as the runbook writes them: 0.45, 0.3, 0.8, 2400."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return one_line(value)
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
        listed = ", ".join(f"{one_line(name)} (PSI={number(psi)})" for name, psi in features)
        lines.append(f"Top features: {listed}")
    return lines


def _metric_line(alert: Alert) -> str:
    label = METRIC_LABEL.get(alert.metric, alert.metric)
    if alert.component != "model":
        label = f"{label} {one_line(alert.component)}"
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
    model = one_line(incident.model_name)
    lines = [f"🚨 [{severity.value}] {title} {SEVERITY_WORD[severity]} — {model}"]
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
    return slack_text("\n".join(lines))


def format_finding(incident: Incident, diagnosis: Diagnosis, phase: str) -> str:
    """A thread reply with what triage or investigation found."""
    word = "Triage" if phase == "triage" else "Investigation"
    text = (
        f"{word} ({diagnosis.diagnosed_by}): {diagnosis.category.value} "
        f"(confidence {diagnosis.confidence:.2f}) — {diagnosis.root_cause}"
    )
    if diagnosis.refused:
        text += "\nRefused model claims: " + "; ".join(quote(r, 200) for r in diagnosis.refused)
    return slack_text(text)


def format_plan(incident: Incident, steps: Sequence[tuple[str, str, bool]]) -> str:
    """A thread reply with the remediation plan: (action, target, needs approval) per step."""
    lines = [f"Plan for {incident.incident_id}:"]
    for kind, target, gated in steps:
        lines.append(f"• {kind} → {target}" + (" (needs approval)" if gated else ""))
    return slack_text("\n".join(lines))


def format_approval_request(incident: Incident, action: Any, payload: dict[str, Any]) -> str:
    """What an approver reads. The first two lines are the system's: what runs, on what, with
    which parameters, and that nothing else is approved. A model's words come after them,
    quoted, attributed and capped (`payload["model_says"]`), never in those lines."""
    params = ", ".join(f"{k}={one_line(str(v))}" for k, v in sorted((action.params or {}).items()))
    target = one_line(action.target)
    lines = [
        f"🔐 Approval needed — {action.type.value} → {target} "
        f"({incident.incident_id}, {incident.severity.value}, {one_line(incident.model_name)})",
        f"Approving runs {action.type.value} on {target} once"
        + (f" with {params}" if params else "")
        + "; nothing else is approved.",
        f"Diagnosis: {payload.get('category') or '?'} by {payload.get('diagnosed_by') or '?'}",
    ]
    said = payload.get("model_says")
    if isinstance(said, dict) and said.get("text"):
        lines.append(
            f"The model ({said.get('by') or '?'}) says, unverified: “{quote(str(said['text']))}”"
        )
    else:
        lines.append(f"Why: {quote(str(payload.get('why') or action.reason), 600)}")
    lines.append(f"Risk: {payload.get('risk') or 'see the runbook'}")
    evidence = payload.get("evidence") or []
    if evidence:
        lines.append(
            "Evidence: " + "; ".join(quote(str(e.get("summary")), 160) for e in evidence[:3])
        )
    approvers = payload.get("approvers") or []
    lines.append(
        "Approvers: " + (", ".join(approvers) if approvers else "none configured (set approvers)")
    )
    lines.append("Approve runs it once; Reject hands the incident to the ML team lead.")
    return slack_text("\n".join(lines))


def minutes_text(start: datetime, end: datetime) -> str:
    """'45 minutes', '125 minutes', '1 minute': the seed's form, in minutes."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


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
    return slack_text(
        "\n".join(
            [
                f"✅ [Resolved] {title} — {one_line(incident.model_name)}",
                f"Root cause: {root_cause}",
                f"Resolution: {resolution}",
                f"Time to resolve: {minutes_text(incident.opened_at, resolved_at)}",
            ]
        )
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
        f"⚠️ [{incident.severity.value}] Escalation to {who} — {one_line(incident.model_name)}",
        f"Incident: {incident.incident_id} ({title}, opened {iso(incident.opened_at)}, "
        f"status {incident.status.value})",
        f"Why you: {reason}",
    ]
    cause = root_cause or incident.root_cause
    if cause:
        lines.append(f"Root cause so far: {cause}")
    lines.append(f"Details: agentops incidents show {incident.incident_id}")
    return slack_text("\n".join(lines))


def escalation_subject(incident: Incident, who: str) -> str:
    """One header line: a model name with a CR/LF in it cannot add a header."""
    title = alert_title(incident.alerts, incident.alert_types)
    return header_text(
        f"[{incident.severity.value}] {incident.incident_id} escalated to {who}: "
        f"{title} — {incident.model_name}"
    )


def github_title(incident: Incident) -> str:
    title = alert_title(incident.alerts, incident.alert_types)
    return header_text(
        github_text(
            f"[{incident.severity.value}] {incident.incident_id}: {title} — {incident.model_name}"
        )
    )


def github_labels(incident: Incident, category: str | None) -> list[str]:
    """Severity and root-cause category, as the tracking issue's labels."""
    labels = [incident.severity.value]
    if category:
        labels.append(category)
    return labels


def github_body(incident: Incident, diagnosis: Diagnosis | None = None) -> str:
    """The tracking issue before the post-mortem exists: what fired, what is suspected."""
    lines = [
        f"## {incident.incident_id} — {one_line(incident.model_name)}",
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
    return github_text("\n".join(lines))


STORM_LIST_MAX = 20


def format_storm_page(parent: Incident, members: Sequence[Incident], cause: str) -> str:
    """One page for many models broken by one upstream failure: the cause and each model's
    incident (the first STORM_LIST_MAX of them, worst first), answered in this thread."""
    ranked = sorted(members, key=lambda i: (i.severity.value, i.model_name))
    lines = [
        f"🚨 [{parent.severity.value}] Upstream failure {SEVERITY_WORD[parent.severity]} — "
        f"{len(members)} models ({one_line(cause)})",
        f"Incident: {parent.incident_id}; each model's incident is handled in this thread.",
    ]
    for incident in ranked[:STORM_LIST_MAX]:
        title = alert_title(incident.alerts, incident.alert_types)
        lines.append(
            f"• {one_line(incident.model_name)} — {incident.incident_id} "
            f"[{incident.severity.value}] {title}"
        )
    if len(ranked) > STORM_LIST_MAX:
        lines.append(f"… and {len(ranked) - STORM_LIST_MAX} more (`agentops incidents list`)")
    lines.append("Investigating automatically...")
    return slack_text("\n".join(lines))
