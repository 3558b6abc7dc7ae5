"""When the trouble began: the run of degraded MODEL_METRICS windows that ends at the latest.

Detection alerts on the latest complete window only, so an alert's window is often hours
after the degradation began. A deployment or a pipeline run can only explain what came
after it, so the analyzers time every change against the start of this episode (the onset),
and take the "normal" to compare with from the windows before it.

A window is degraded when, against the thresholds of the model (ThresholdSet) or against
the median of the earlier windows, F1 fell, errors rose, p99 latency rose, or the service
was down or degraded. A window whose labels have not arrived (F1 NULL) and that is
otherwise fine neither breaks nor extends the episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from agentops.detection.thresholds import Thresholds

Row = dict[str, Any]

# F1 this far under its earlier median is a degradation even above the P1 line; noise between
# healthy hourly windows is about a hundredth.
F1_DROP = 0.05
# An error rate this many times its earlier median (and at least two points higher) is
# degraded even under the P1 line.
ERROR_RISE = 3.0
ERROR_RISE_MIN = 0.02


@dataclass(frozen=True)
class Episode:
    """The degraded windows at the end of the history (possibly none)."""

    onset: datetime  # start of the first degraded window, else of the first alert's window
    onset_end: datetime
    windows: int  # degraded windows in the episode
    before: Row | None  # the last window before the episode, if any
    first: Row | None  # the first degraded window, if any

    @property
    def version_at_onset(self) -> str | None:
        return _version(self.first)

    @property
    def version_before(self) -> str | None:
        return _version(self.before)


def _version(row: Row | None) -> str | None:
    value = (row or {}).get("model_version")
    return str(value) if value else None


def reference(history: list[Row], column: str) -> float | None:
    """The median of `column` over the earlier half of the history (at least one window,
    never the latest): a normal that a long degradation cannot drag along."""
    earlier = history[:-1]
    half = earlier[: max(1, (len(earlier) + 1) // 2)]
    values = [float(r[column]) for r in half if r.get(column) is not None]
    return median(values) if values else None


def degraded(row: Row, history: list[Row], limits: Thresholds) -> bool | None:
    """Whether one window is degraded; None when it cannot tell (no labels, else fine)."""
    status = row.get("status")
    if status in ("down", "degraded"):
        return True
    rate, base_rate = row.get("error_rate"), reference(history, "error_rate")
    if rate is not None and (
        rate > limits.error_rate_p1
        or (
            base_rate is not None and rate > max(ERROR_RISE * base_rate, base_rate + ERROR_RISE_MIN)
        )
    ):
        return True
    p99, base_p99 = row.get("latency_p99_ms"), reference(history, "latency_p99_ms")
    if p99 is not None and (
        p99 > limits.latency_p99_p2_ms
        or (base_p99 is not None and p99 >= limits.latency_increase_p3 * base_p99)
    ):
        return True
    f1, base_f1 = row.get("f1"), reference(history, "f1")
    if f1 is None:
        return None
    return f1 < limits.f1_p1 or (base_f1 is not None and f1 < base_f1 - F1_DROP)


def find_episode(
    history: list[Row], alert_window: tuple[datetime, datetime], limits: Thresholds
) -> Episode:
    """Walk back from the latest window while windows are degraded (or unlabelled); with no
    degraded window (a data-only incident) the episode is the first alert's window."""
    first: Row | None = None
    count = 0
    before: Row | None = None
    for row in reversed(history):
        verdict = degraded(row, history, limits)
        if verdict is False:
            before = row
            break
        if verdict:
            first, count = row, count + 1
    if first is None:
        return Episode(alert_window[0], alert_window[1], 0, before, None)
    return Episode(first["window_start"], first["window_end"], count, before, first)
