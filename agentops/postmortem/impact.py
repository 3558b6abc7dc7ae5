"""How far an incident reached, measured from the monitoring tables: from the first breaching
window to the first window of the healthy streak that resolved it, the requests scored in
between (MODEL_METRICS request_count), the versions that served them, and each breached
condition's healthy baseline, its worst value and its value once recovered.

    measure(conn, incident, first_breach=..., remediated_at=..., restored_at=..., now=...,
            recovery_windows=2) -> ImpactFacts
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

import sqlalchemy as sa

from agentops.actions.breaches import METRIC_LABEL
from agentops.actions.untrusted import github_code, github_text
from agentops.actions.wording import pair
from agentops.domain import Alert, Incident
from agentops.postmortem.model import ImpactFacts, MetricReading, PostMortemInput
from agentops.store import queries

# How far before the first breach the healthy baseline is read.
BASELINE = timedelta(hours=12)
# How far back a breach that detection noticed late is traced.
LOOKBACK_LIMIT = timedelta(days=3)
LOWER_IS_WORSE = frozenset({"f1", "precision", "recall", "request_count"})
FEATURE_TABLES = {"psi": "drift", "null_rate": "quality", "out_of_range_rate": "quality"}


def label(alert: Alert) -> str:
    """A condition as a reader names it: "F1", "Latency p99 (ms)", "V14 PSI"."""
    word = METRIC_LABEL.get(alert.metric, alert.metric)
    if alert.component == "model":
        return word
    return f"{alert.component} {word if word.isupper() else word.lower()}"


def conditions(incident: Incident) -> list[Alert]:
    """One alert per breached condition (its newest window's), model-level first."""
    newest: dict[str, Alert] = {}
    for alert in incident.alerts:
        kept = newest.get(alert.fingerprint)
        if kept is None or alert.window_end > kept.window_end:
            newest[alert.fingerprint] = alert
    return sorted(
        newest.values(), key=lambda a: (a.component != "model", -a.severity.rank, a.component)
    )


def first_breach(incident: Incident, stored: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) of the first breaching window: the alerts' earliest, or what detection
    stored (`first_breach_at`) when it is earlier."""
    if not incident.alerts:
        start = stored or incident.opened_at
        return start, start
    earliest = min(incident.alerts, key=lambda a: a.window_start)
    if stored is not None and stored < earliest.window_start:
        return stored, stored + (earliest.window_end - earliest.window_start)
    return earliest.window_start, earliest.window_end


def series(
    conn: sa.Connection, incident: Incident, alert: Alert, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, float]]:
    """(window_start, window_end, value) of the condition's metric, oldest first."""
    if alert.component == "model":
        rows = queries.metrics_history(conn, incident.model_name, start, end)
        column = "request_count" if alert.metric == "status" else alert.metric
    elif FEATURE_TABLES.get(alert.metric) == "drift":
        rows = queries.drift_history(conn, incident.model_name, [alert.component], start, end)
        column = "psi"
    elif FEATURE_TABLES.get(alert.metric) == "quality":
        rows = queries.quality_history(conn, incident.model_name, [alert.component], start, end)
        column = alert.metric
    else:
        return []
    return [
        (r["window_start"], r["window_end"], float(r[column]))
        for r in rows
        if isinstance(r.get(column), (int, float))
    ]


def breaches(alert: Alert, value: float) -> bool:
    """Whether `value` is past the alert's threshold, in the metric's bad direction."""
    if not isinstance(alert.threshold, (int, float)):
        return False
    if alert.metric in LOWER_IS_WORSE:
        return value < alert.threshold
    return value > alert.threshold


def _breach_began(
    alert: Alert, values: list[tuple[datetime, datetime, float]], stored: datetime
) -> tuple[datetime, datetime] | None:
    """The first window of the unbroken run of breaching windows that reaches `stored`."""
    began = None
    for start, end, value in reversed([v for v in values if v[0] <= stored]):
        if not breaches(alert, value):
            break
        began = (start, end)
    return began


def _worst(metric: str, values: list[float]) -> float:
    return min(values) if metric in LOWER_IS_WORSE else max(values)


def _reading(alert: Alert, value: float) -> MetricReading:
    threshold = alert.threshold if isinstance(alert.threshold, (int, float)) else None
    return MetricReading(label=label(alert), value=value, threshold=threshold)


def measure(
    conn: sa.Connection,
    incident: Incident,
    *,
    first_breach_at: datetime | None,
    remediated_at: datetime | None,
    restored_at: datetime | None,
    now: datetime,
    recovery_windows: int,
) -> ImpactFacts:
    """The incident's reach (monitoring reads only). The breach began at the first of the
    consecutive breaching windows that lead up to the stored first breach (detection may
    have come late); the healthy streak is the newest `recovery_windows` windows ending in
    (remediated_at, restored_at]; without a restoration the degradation runs to `now`."""
    stored, stored_end = first_breach(incident, first_breach_at)
    end = restored_at or now
    found = [a for a in conditions(incident) if a.metric != "status"]
    histories = {
        a.fingerprint: series(conn, incident, a, stored - LOOKBACK_LIMIT, end) for a in found
    }
    start, start_end = stored, stored_end
    for alert in found:
        began = _breach_began(alert, histories[alert.fingerprint], stored)
        if began is not None and began[0] < start:
            start, start_end = began
    metrics = queries.metrics_history(conn, incident.model_name, start - BASELINE, end)
    after = remediated_at or incident.opened_at
    healthy = [r for r in metrics if restored_at and after < r["window_end"] <= restored_at]
    healthy = healthy[-recovery_windows:] if restored_at else []
    until = min(r["window_start"] for r in healthy) if healthy else None
    cutoff = until or end
    degraded = [r for r in metrics if start <= r["window_start"] < cutoff]
    counts = [
        int(r["request_count"])
        for r in degraded
        if isinstance(r.get("request_count"), (int, float))
    ]
    versions = list(
        dict.fromkeys(str(r["model_version"]) for r in degraded if r.get("model_version"))
    )
    baseline, worst, recovered = [], [], []
    for alert in found:
        values = histories[alert.fingerprint]
        before = [v for s, _, v in values if start - BASELINE <= s < start]
        during = [v for s, _, v in values if start <= s < cutoff]
        back = [v for s, _, v in values if until is not None and s >= until]
        if before:
            baseline.append(_reading(alert, round(median(before), 6)))
        if during:
            worst.append(_reading(alert, _worst(alert.metric, during)))
        if back:
            recovered.append(_reading(alert, _worst(alert.metric, back)))
    return ImpactFacts(
        first_breach_at=start,
        first_breach_end=start_end,
        degraded_until=until,
        degraded_windows=len(degraded),
        requests_while_degraded=sum(counts) if counts else None,
        versions=versions,
        baseline=baseline,
        worst=worst,
        recovered=recovered,
        recovery_windows=len(healthy),
    )


def readings_for_words(readings: list[MetricReading]) -> list[tuple[str, float, float | None]]:
    """(label, value, threshold) triples, as `wording.recovery_words` takes them."""
    return [(r.label, r.value, r.threshold) for r in readings]


# ---- the report's Impact section, in words ----------------------------------------------
def affected_systems(report: PostMortemInput) -> list[str]:
    """The model (and the versions that served while degraded), the breached features, and
    the pipelines the diagnosis implicated."""
    inc = report.incident
    versions = report.impact.versions if report.impact else []
    model = f"model `{github_code(inc.model_name)}`"
    if versions:
        model += f" (version {', '.join(github_code(v) for v in versions)})"
    systems = [model]
    features = sorted({a.component for a in inc.alerts if a.component != "model"})
    if features:
        shown = ", ".join(f"`{github_code(f)}`" for f in features[:8])
        more = f" and {len(features) - 8} more" if len(features) > 8 else ""
        systems.append(f"features {shown}{more}")
    cited = set(report.diagnosis.evidence_ids) if report.diagnosis else set()
    pipelines = sorted(
        {
            str(e.data.get("pipeline_name"))
            for e in report.evidence
            if e.kind == "pipeline_run"
            and e.data.get("pipeline_name")
            and (e.id in cited or e.data.get("status") not in {None, "success"})
        }
    )
    if pipelines:
        systems.append("pipelines " + ", ".join(f"`{github_code(p)}`" for p in pipelines))
    return systems


WHAT_IT_MEANT = {
    "model_performance": "predictions were less accurate",
    "service_down": "requests were not served",
    "error_rate": "a share of requests failed",
    "feature_drift": "inputs shifted away from the training data",
    "latency": "responses were slower",
    "data_quality": "inputs arrived incomplete",
    "no_data": "nothing showed how the model served",
}


def user_impact(report: PostMortemInput) -> str:
    """An estimate: the requests scored while degraded (MODEL_METRICS request_count over the
    degraded windows), and how the worst value compared with the healthy baseline."""
    meant = "; ".join(WHAT_IT_MEANT[t.value] for t in report.incident.alert_types)
    impact = report.impact
    if impact is None:
        return meant or "none observed"
    parts = []
    if impact.requests_while_degraded is not None:
        parts.append(
            f"about {impact.requests_while_degraded:,} requests were scored while degraded "
            f"(request_count over {impact.degraded_windows} window(s))"
        )
    if meant:
        parts.append(meant)
    parts += [against_baseline(w, impact) for w in impact.worst[:3]]
    return "; ".join(parts)


def against_baseline(worst: MetricReading, impact: ImpactFacts) -> str:
    base = next((b for b in impact.baseline if b.label == worst.label), None)
    limit = worst.threshold
    text = f"{github_text(worst.label)} reached "
    text += pair(worst.value, limit)[0] if limit is not None else f"{worst.value:g}"
    if limit is not None:
        text += f" (threshold {pair(worst.value, limit)[1]})"
    if base is not None:
        text += f" against a healthy {pair(base.value, limit if limit is not None else 0.0)[0]}"
    return text
