"""What the evidence says about the model, its traffic and its inputs, as graded facts.

`Facts` reads evidence records (whatever subset the store could provide) into strengths
between 0 (absent) and 1 (as clear as it gets): did performance fall, did recall collapse
while precision held, did traffic jump, is drift concentrated or broad, are there nulls or
format errors, and how much of it the evidence could tell at all (the `*_known` facts).
Thresholds come from the evidence, which recorded the model's own ThresholdSet values.
`signals.Signals` adds what changed around the incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any, Self

from agentops.detection.thresholds import Thresholds
from agentops.domain import Evidence, Incident, Severity

DEFAULTS = Thresholds()  # only when the evidence carries no thresholds (no metrics at all)
# Shapes of the signatures, not alert thresholds: how far a value must move to count fully.
RECALL_COLLAPSE = 0.35  # a relative recall drop this large is a full collapse
PRECISION_HOLDS = 0.03  # precision within this of its baseline holds; 0.08 below has fallen
PRECISION_FALLEN = 0.08
# Without a baseline (one window), absolute levels stand in: recall under 0.5 is collapsing
# (fully at 0.3), precision of 0.85 or more holds.
RECALL_LOW, RECALL_LOWEST, PRECISION_HIGH = 0.5, 0.3, 0.85
VOLUME_FLAT, VOLUME_JUMP = 1.3, 2.0  # x the same-hour baseline; the daily cycle stays < 1.3
MIN_F1_GAP = 0.05  # the smallest baseline-to-P1 distance a decline is measured against
F1_NOISE = 0.02  # healthy hourly windows differ by about a hundredth: smaller moves are noise


def clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)


@dataclass
class Facts:
    model_name: str = ""
    severity: Severity | None = None
    alert_types: set[str] = field(default_factory=set)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=dict)  # features at or over psi_p3
    drift_total: int = 0
    nulls: dict[str, float] = field(default_factory=dict)  # notable null rates
    format_errors: dict[str, float] = field(default_factory=dict)  # schema errors / out of range
    limits: dict[str, float] = field(default_factory=dict)  # as the evidence recorded them
    deployments: list[Evidence] = field(default_factory=list)
    runs: list[Evidence] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    # ---- reading evidence ----------------------------------------------------------------
    @classmethod
    def read(cls, incident: Incident, evidence: list[Evidence]) -> Self:
        s = cls(
            model_name=incident.model_name,
            severity=incident.severity,
            alert_types={t.value for t in incident.alert_types},
        )
        for item in evidence:
            s.ids.add(item.id)
            data = item.data
            if item.kind == "metric" and "metric" in data:
                s.metrics[str(data["metric"])] = data
                s._keep_limits(
                    data,
                    f1_p1="f1_p1",
                    error_rate_p1="error_rate_p1",
                    latency_p99_p2_ms="latency_p99_p2_ms",
                )
            elif item.kind == "drift" and "psi" in data:
                s.drift[str(data["feature"])] = float(data["psi"])
            elif item.kind == "drift" and item.id == "drift:summary":
                s.drift_total = int(data.get("total") or 0)
                s._keep_limits(data, psi_p3="psi_p3", psi_p2="psi_p2")
            elif item.kind == "data_quality" and "feature" in data:
                s._read_quality(data)
            elif item.kind == "deployment" and "deployment_id" in data:
                s.deployments.append(item)
            elif item.kind == "pipeline_run" and "run_id" in data:
                s.runs.append(item)
            elif item.kind == "alert" and data.get("type") == "feature_drift":
                # an alert alone still says the feature drifts when no drift rows were read
                component = str(data.get("component"))
                if component != "model" and isinstance(data.get("value"), (int, float)):
                    s.drift.setdefault(component, float(data["value"]))
        s.drift_total = max(s.drift_total, len(s.drift))
        return s

    def _keep_limits(self, data: dict[str, Any], **names: str) -> None:
        for name, key in names.items():
            if data.get(key) is not None:
                self.limits[name] = float(data[key])

    def _read_quality(self, data: dict[str, Any]) -> None:
        feature = str(data["feature"])
        self._keep_limits(data, null_rate_p2="null_threshold")
        notable = float(data.get("notable") or self.null_threshold / 2)
        if float(data.get("null_rate") or 0) >= notable:
            self.nulls[feature] = float(data["null_rate"])
        out_of_range = float(data.get("out_of_range_rate") or 0)
        if int(data.get("schema_errors") or 0):
            self.format_errors[feature] = 1.0
        elif out_of_range >= notable:
            self.format_errors[feature] = clamp(out_of_range / self.null_threshold)

    # ---- metrics --------------------------------------------------------------------------
    def latest(self, metric: str) -> Any:
        return self.metrics.get(metric, {}).get("latest")

    def baseline(self, metric: str) -> Any:
        return self.metrics.get(metric, {}).get("baseline")

    def limit(self, name: str) -> float:
        """A threshold as the evidence recorded it (the model's ThresholdSet values)."""
        return self.limits.get(name, float(getattr(DEFAULTS, name)))

    @property
    def null_threshold(self) -> float:
        return self.limit("null_rate_p2")

    @property
    def onset(self) -> dict[str, Any]:
        return self.metrics.get("onset", {})

    @cached_property
    def perf_decline(self) -> float:
        """How far F1 fell: 1 at or under the P1 line, else the share of the way down to it."""
        f1 = self.latest("f1")
        if f1 is None:
            return 1.0 if "model_performance" in self.alert_types else 0.0
        floor = self.limit("f1_p1")
        if f1 < floor:
            return 1.0
        refs = [v for v in (self.baseline("f1"), self.metrics["f1"].get("first")) if v is not None]
        if not refs:
            return 0.0
        top = max(refs)
        return clamp((top - f1 - F1_NOISE) / max(top - floor - F1_NOISE, MIN_F1_GAP))

    @cached_property
    def gradual(self) -> float:
        """1 when F1 slid window by window, 0 when it fell in one step."""
        series = list(self.metrics.get("f1", {}).get("recent") or [])
        total = series[0] - series[-1] if len(series) >= 3 else 0.0
        if total <= 0:
            return 0.0
        steps = [a - b for a, b in pairwise(series)]
        return clamp(1.0 - (max(steps) / total - 0.4) / 0.4)

    @cached_property
    def recall_collapse(self) -> float:
        recall, base = self.latest("recall"), self.baseline("recall")
        if recall is None:
            return 0.0
        if base:
            return clamp((base - recall) / base / RECALL_COLLAPSE)
        return clamp((RECALL_LOW - recall) / (RECALL_LOW - RECALL_LOWEST))

    @cached_property
    def precision_holds(self) -> float:
        precision, base = self.latest("precision"), self.baseline("precision")
        if precision is None:
            return 0.0
        if base is None:
            return 1.0 if precision >= PRECISION_HIGH else 0.0
        fall = base - precision
        return clamp((PRECISION_FALLEN - fall) / (PRECISION_FALLEN - PRECISION_HOLDS))

    @property
    def evasion(self) -> float:
        """Recall collapsed while precision held: the adversarial pattern's core."""
        return self.recall_collapse * self.precision_holds

    @property
    def volume_ratio(self) -> float | None:
        ratio = self.metrics.get("request_count", {}).get("ratio")
        return float(ratio) if ratio is not None else None

    @property
    def volume_jump(self) -> float:
        ratio = self.volume_ratio
        if ratio is None:
            return 0.0
        return clamp((ratio - VOLUME_FLAT) / (VOLUME_JUMP - VOLUME_FLAT))

    @property
    def errors_up(self) -> float:
        rate, base = self.latest("error_rate"), self.baseline("error_rate")
        if rate is None:
            return 1.0 if "error_rate" in self.alert_types else 0.0
        ceiling = self.limit("error_rate_p1")
        if rate > ceiling:
            return 1.0
        if base is None:
            return 0.0
        return clamp((rate - base) / max(ceiling - base, 1e-6))

    @property
    def service_bad(self) -> float:
        """Latency, errors or downtime at the P1/P2 level (CONTRACT's infrastructure signs);
        a P3 "minor latency increase" alone does not count."""
        if self.only_p3:
            return 0.0
        status = self.latest("status")
        p99 = self.latest("latency_p99_ms")
        signs = [
            self.errors_up,
            1.0 if status in ("down", "degraded") else 0.0,
            1.0 if p99 is not None and p99 > self.limit("latency_p99_p2_ms") else 0.0,
        ]
        if self.alert_types & {"latency", "service_down", "error_rate"}:
            signs.append(1.0)
        return max(signs)

    @property
    def only_p3(self) -> bool:
        return self.severity == Severity.P3

    # ---- features --------------------------------------------------------------------------
    @property
    def drifting(self) -> list[str]:
        return sorted(self.drift, key=lambda f: (-self.drift[f], f))

    @property
    def drift_few(self) -> float:
        """Drift sits in a few features (one or two; three counts half)."""
        n = len(self.drift)
        return {0: 0.0, 1: 1.0, 2: 1.0, 3: 0.5}.get(n, 0.0)

    @property
    def drift_broad(self) -> float:
        """Drift across many features (four or more; three of a small set counts half)."""
        n, share = len(self.drift), len(self.drift) / max(self.drift_total, 1)
        if n >= 4:
            return 1.0
        return 0.5 if n == 3 and share >= 0.5 else 0.0

    @property
    def inputs_moved(self) -> float:
        """Inputs visibly changed: drift past P2, notable nulls or format errors."""
        drift = 1.0 if any(psi > self.limit("psi_p2") for psi in self.drift.values()) else 0.0
        return max(drift, self.null_strength, max(self.format_errors.values(), default=0.0))

    @property
    def inputs_known(self) -> bool:
        """Drift or data-quality rows were read: "inputs unchanged" is then a fact."""
        return "drift:summary" in self.ids or "dq:summary" in self.ids

    @property
    def quality_known(self) -> bool:
        return self.latest("f1") is not None

    @property
    def performance_known(self) -> bool:
        """F1 was read, or an alert says it breached."""
        return self.quality_known or "model_performance" in self.alert_types

    @property
    def trend_known(self) -> float:
        """Whether a decay can be told: F1 with a baseline or several windows fully; a single
        window (or an alert) shows the level, not that it fell, so half."""
        f1 = self.metrics.get("f1", {})
        if f1.get("baseline") is not None or len(f1.get("recent") or []) >= 2:
            return 1.0
        return 0.5 if self.performance_known else 0.0

    @property
    def service_known(self) -> bool:
        """Something says how the model or its service did: F1, the error rate, an alert."""
        return (
            self.performance_known
            or self.latest("error_rate") is not None
            or bool(self.alert_types & {"error_rate", "latency", "service_down"})
        )

    @property
    def drift_known(self) -> bool:
        return "drift:summary" in self.ids or bool(self.drift)

    @property
    def release_record(self) -> float:
        """How well the absence of an implicated release is known: versions in the metrics
        or deployment rows show it; an empty DEPLOYMENTS table alone, half as well."""
        if "model_version" in self.metrics or self.deployments:
            return 1.0
        return 0.5 if "deploy:none" in self.ids else 0.0

    @property
    def null_strength(self) -> float:
        return clamp(max(self.nulls.values(), default=0.0) / self.null_threshold)

    @property
    def affected(self) -> set[str]:
        """Features whose values moved: drifting, or with schema or range errors."""
        return set(self.drift) | set(self.format_errors)
