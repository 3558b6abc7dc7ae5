"""The post-mortem's chart: what the incident breached, against its threshold and its healthy
baseline, with the moments that explain it marked.

`chart_spec` reads the store and says what to plot (pure data, so a test can check it):
- one panel per breached model-level metric (a latency incident plots p99, an error-rate one
  the error rate; a service that went down, its request volume), with the threshold line and
  the median of the healthy windows before the breach;
- one panel for the breached features (only those), per feature metric (PSI, null rate);
- markers: deployments and notable pipeline runs (failed, partial, or with notes) in the
  window, detection, each remediation that ran, and recovery; the degraded span shaded.
`draw` renders a spec with matplotlib's Agg backend (no display).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any, Literal

import sqlalchemy as sa

from agentops.domain import ActionType, Alert, Incident
from agentops.postmortem.impact import conditions, label, measure, series
from agentops.postmortem.model import PostMortemInput
from agentops.store import queries

# How far back of the first breach the chart starts, so the reader sees the healthy baseline.
LOOKBACK = timedelta(hours=12)
MODEL_PANELS = 2
FEATURES_MAX = 6
MarkerKind = Literal["deployment", "pipeline_run", "detected", "remediation", "recovered"]
MARKER_STYLE: dict[str, tuple[str, str]] = {
    "deployment": ("purple", "-"),
    "pipeline_run": ("brown", "-."),
    "detected": ("red", ":"),
    "remediation": ("green", "--"),
    "recovered": ("teal", "-"),
}


@dataclass(frozen=True)
class Series:
    label: str
    xs: list[datetime]
    ys: list[float]


@dataclass(frozen=True)
class Level:
    """A horizontal line: a threshold or a healthy baseline."""

    label: str
    y: float


@dataclass(frozen=True)
class Panel:
    ylabel: str
    series: list[Series]
    thresholds: list[Level] = field(default_factory=list)
    baseline: Level | None = None


@dataclass(frozen=True)
class Marker:
    at: datetime
    kind: MarkerKind
    label: str


@dataclass(frozen=True)
class ChartSpec:
    title: str
    start: datetime
    end: datetime
    panels: list[Panel]
    markers: list[Marker]
    degraded: tuple[datetime, datetime] | None = None


def _threshold(alert: Alert) -> float | None:
    return float(alert.threshold) if isinstance(alert.threshold, (int, float)) else None


def _panel(
    conn: sa.Connection,
    incident: Incident,
    alerts: list[Alert],
    start: datetime,
    end: datetime,
    breach: datetime,
) -> Panel | None:
    """One metric's panel: a series per alert (one for a model metric, one per feature)."""
    lines, before = [], []
    for alert in alerts:
        values = series(conn, incident, alert, start, end)
        if not values:
            continue
        name = "request_count (status down)" if alert.metric == "status" else label(alert)
        lines.append(Series(name, [s for s, _, _ in values], [v for _, _, v in values]))
        before += [v for s, _, v in values if s < breach]
    if not lines:
        return None
    limits = sorted({t for t in (_threshold(a) for a in alerts) if t is not None})
    first = alerts[0]
    ylabel = "request_count" if first.metric == "status" else first.metric
    return Panel(
        ylabel=ylabel,
        series=lines,
        thresholds=[Level(f"threshold {t:g}", t) for t in limits],
        baseline=Level("healthy median", round(median(before), 6)) if before else None,
    )


def _markers(
    conn: sa.Connection, report: PostMortemInput, start: datetime, end: datetime
) -> list[Marker]:
    incident = report.incident
    out = [Marker(incident.opened_at, "detected", "detected")]
    for row in queries.deployments_between(conn, incident.model_name, start, end):
        out.append(Marker(row["deployed_at"], "deployment", f"deploy {row['model_version']}"))
    for row in queries.pipeline_runs_between(conn, incident.model_name, start, end):
        if row.get("status") != "success" or (row.get("notes") or "").strip():
            what = f"{row['pipeline_name']} {row['status']}"
            out.append(Marker(row["started_at"], "pipeline_run", what))
    for result in report.results:
        action = result.action
        if action.requires_approval and result.status in {"succeeded", "queued"}:
            at = result.executed_at or incident.opened_at
            word = {
                ActionType.rollback_model: "rollback",
                ActionType.retrain_model: "retrain",
                ActionType.scale_infrastructure: "scale-out",
            }[action.type]
            out.append(Marker(at, "remediation", word))
    restored = [e.at for e in report.timeline if e.phase == "service_restored"]
    if restored:
        out.append(Marker(min(restored), "recovered", "recovered"))
    return sorted(out, key=lambda m: (m.at, m.kind))


def chart_spec(conn: sa.Connection, report: PostMortemInput, now: datetime) -> ChartSpec | None:
    """What the chart plots; None when the store holds no history of what breached."""
    incident = report.incident
    restored = [e.at for e in report.timeline if e.phase == "service_restored"]
    impact = report.impact or measure(
        conn,
        incident,
        first_breach_at=None,
        remediated_at=None,
        restored_at=min(restored) if restored else None,
        now=now,
        recovery_windows=2,
    )
    breach = impact.first_breach_at
    start = breach - LOOKBACK
    end = max([now, incident.opened_at, *restored])
    found = conditions(incident)
    panels: list[Panel] = []
    for alert in [a for a in found if a.component == "model"][:MODEL_PANELS]:
        panel = _panel(conn, incident, [alert], start, end, breach)
        if panel is not None:
            panels.append(panel)
    by_metric: dict[str, list[Alert]] = {}
    for alert in found:
        if alert.component != "model":
            by_metric.setdefault(alert.metric, []).append(alert)
    for alerts in by_metric.values():
        worst = sorted(
            alerts, key=lambda a: -float(a.value) if isinstance(a.value, (int, float)) else 0.0
        )
        panel = _panel(conn, incident, worst[:FEATURES_MAX], start, end, breach)
        if panel is not None:
            panels.append(panel)
    if not panels:
        return None
    until = impact.degraded_until
    return ChartSpec(
        title=f"{incident.incident_id} — {incident.model_name} ({incident.severity.value})",
        start=start,
        end=end,
        panels=panels,
        markers=_markers(conn, report, start, end),
        degraded=(breach, until or (min(restored) if restored else end)),
    )


def draw_chart(
    engine: sa.Engine, report: PostMortemInput, path: Path, *, now: datetime
) -> Path | None:
    """Write the PNG to `path`; None when the store holds no history to draw."""
    with engine.connect() as conn:
        spec = chart_spec(conn, report, now)
    if spec is None:
        return None
    draw(spec, path)
    return path


def draw(spec: ChartSpec, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a server has no display; Agg renders straight to PNG
    import matplotlib.pyplot as plt

    rows = len(spec.panels)
    fig, axes = plt.subplots(
        rows, 1, figsize=(9, 2.6 * rows + 0.8), sharex=True, squeeze=False, constrained_layout=True
    )
    try:
        for index, (axis, panel) in enumerate(zip((a[0] for a in axes), spec.panels, strict=True)):
            _draw_panel(axis, panel, spec, named=index == 0)
        axes[-1][0].set_xlabel("window start (UTC)")
        fig.suptitle(spec.title)
        fig.autofmt_xdate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _draw_panel(axis: Any, panel: Panel, spec: ChartSpec, *, named: bool) -> None:
    for line in panel.series:
        axis.plot(line.xs, line.ys, marker=".", label=line.label)
    for level in panel.thresholds:
        axis.axhline(level.y, color="red", linestyle="--", linewidth=1, label=level.label)
    if panel.baseline is not None:
        axis.axhline(
            panel.baseline.y, color="grey", linestyle=":", linewidth=1, label=panel.baseline.label
        )
    if spec.degraded is not None:
        axis.axvspan(*spec.degraded, color="red", alpha=0.06)
    seen: set[str] = set()
    for marker in spec.markers:
        color, style = MARKER_STYLE[marker.kind]
        axis.axvline(
            marker.at,
            color=color,
            linestyle=style,
            linewidth=1,
            label=marker.kind.replace("_", " ") if marker.kind not in seen else None,
        )
        seen.add(marker.kind)
    if named:  # what the markers are, along the top panel; markers close together share a note
        for at, text, color in _notes(spec):
            note = axis.annotate(
                _fit(text),
                (at, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=7,
                va="top",
                ha="right",
                color=color,
                clip_on=True,
            )
            # a note never reshapes the figure: the panels keep their size (the legend and
            # the post-mortem's timeline name every marker in full)
            note.set_in_layout(False)
    axis.set_ylabel(panel.ylabel)
    axis.set_xlim(spec.start, spec.end + (spec.end - spec.start) / 40)
    axis.legend(loc="best", fontsize="x-small", ncol=2)
    axis.grid(alpha=0.3)


NOTE_CHARS = 30  # what fits down one panel at 7 pt


def _fit(text: str) -> str:
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1].rstrip(", ") + "…"


def _notes(spec: ChartSpec) -> list[tuple[datetime, str, str]]:
    """(time, text, colour) per group of markers within 1/50 of the chart's span."""
    near = (spec.end - spec.start) / 50
    groups: list[list[Marker]] = []
    for marker in spec.markers:
        if groups and marker.at - groups[-1][0].at <= near:
            groups[-1].append(marker)
        else:
            groups.append([marker])
    return [
        (group[0].at, ", ".join(m.label for m in group), MARKER_STYLE[group[0].kind][0])
        for group in groups
    ]
