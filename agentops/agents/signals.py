"""The CONTRACT.md signatures, read off a list of evidence.

`Signals` turns evidence records (whatever subset the store could provide) into the yes/no
facts the root-cause signatures are written in: did performance drop, did recall collapse
while precision held, did traffic jump, is drift concentrated or spread, was anything
deployed or changed upstream before the first breach. Missing evidence reads as "unknown",
which counts as neither for nor against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentops.domain import Evidence, Incident, Severity

F1_P1 = 0.70  # CONTRACT.md P1 threshold
F1_DROP = 0.05  # a drop this large against the baseline is a real degradation
RECALL_DROP = 0.15
PRECISION_HOLDS = 0.05  # precision within this of its baseline "holds"
VOLUME_JUMP = 2.0  # x the same-hour baseline; the daily cycle alone stays under ~1.6
LATENCY_P2_MS = 2000.0
ERROR_P1 = 0.10
FEW_FEATURES = 3
MANY_FEATURES = 5
# A deployment this soon after the first breached window started may still be inside it.
DEPLOY_GRACE_H = 1.0

# Words with which pipeline notes describe a change in what the source sends (as opposed
# to a run that merely failed). Matched case-insensitively as word prefixes.
CHANGE_WORDS = (
    "format",
    "schema",
    "encod",
    "now sent",
    "renam",
    "changed",
    "change",
    "migrat",
    "currency",
    "unit",
    "semantic",
    "new field",
    "new column",
    "dtype",
    "type change",
    "now ",
    "previously",
    "instead of",
    "switch",
    "spec",
    "release",
    "v2",
    "v3",
    "v4",
    "v5",
)
_CHANGE_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in CHANGE_WORDS) + ")", re.I)


@dataclass
class Signals:
    model_name: str = ""
    severity: Severity | None = None
    alert_types: set[str] = field(default_factory=set)
    alert_severities: set[str] = field(default_factory=set)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=dict)  # drifting feature -> psi
    drift_total: int = 0
    nulls: dict[str, float] = field(default_factory=dict)
    schema: dict[str, int] = field(default_factory=dict)  # feature -> schema errors (or oor)
    deployments: list[Evidence] = field(default_factory=list)
    failed_runs: list[Evidence] = field(default_factory=list)
    change_runs: list[Evidence] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    # ---- reading evidence ----------------------------------------------------------------
    @classmethod
    def read(cls, incident: Incident, evidence: list[Evidence]) -> Signals:
        s = cls(
            model_name=incident.model_name,
            severity=incident.severity,
            alert_types={t.value for t in incident.alert_types},
        )
        s.alert_severities = {a.severity.value for a in incident.alerts}
        noted: list[Evidence] = []
        for item in evidence:
            s.ids.add(item.id)
            data = item.data
            if item.kind == "metric" and "metric" in data:
                s.metrics[str(data["metric"])] = data
            elif item.kind == "drift" and "psi" in data:
                s.drift[str(data["feature"])] = float(data["psi"])
            elif item.kind == "drift" and item.id == "drift:summary":
                s.drift_total = int(data.get("total") or 0)
            elif item.kind == "data_quality" and "feature" in data:
                feature = str(data["feature"])
                if float(data.get("null_rate") or 0) >= 0.05:
                    s.nulls[feature] = float(data["null_rate"])
                if (
                    int(data.get("schema_errors") or 0)
                    or float(data.get("out_of_range_rate") or 0) >= 0.05
                ):
                    s.schema[feature] = int(data.get("schema_errors") or 0)
            elif item.kind == "deployment" and "deployment_id" in data:
                if float(data.get("hours_before_breach") or 0) >= -DEPLOY_GRACE_H:
                    s.deployments.append(item)
            elif item.kind == "pipeline_run" and "run_id" in data:
                if data.get("status") in ("failed", "partial"):
                    s.failed_runs.append(item)
                elif _CHANGE_RE.search(str(data.get("notes") or "")):
                    s.change_runs.append(item)
                elif str(data.get("notes") or "").strip():
                    noted.append(item)
            elif item.kind == "alert" and data.get("type") == "feature_drift":
                # an alert alone still says the feature drifts when no drift rows were read
                component = str(data.get("component"))
                if component != "model" and isinstance(data.get("value"), (int, float)):
                    s.drift.setdefault(component, float(data["value"]))
        s.drift_total = max(s.drift_total, len(s.drift))
        # a successful run whose notes name an affected feature is a change, whatever the words
        s.change_runs += [r for r in noted if s.features_named_in([r])]
        return s

    # ---- metrics --------------------------------------------------------------------------
    def latest(self, metric: str) -> Any:
        return self.metrics.get(metric, {}).get("latest")

    def baseline(self, metric: str) -> Any:
        return self.metrics.get(metric, {}).get("baseline")

    @property
    def perf_drop(self) -> bool:
        f1, base = self.latest("f1"), self.baseline("f1")
        if f1 is None:
            return "model_performance" in self.alert_types
        return f1 < F1_P1 or (base is not None and f1 < base - F1_DROP)

    @property
    def recall_collapse(self) -> bool:
        recall, base = self.latest("recall"), self.baseline("recall")
        if recall is None:
            return False
        return (base is not None and recall < base - RECALL_DROP) or recall < 0.5

    @property
    def precision_holds(self) -> bool:
        precision, base = self.latest("precision"), self.baseline("precision")
        if precision is None:
            return False
        if base is not None:
            return precision >= base - PRECISION_HOLDS
        return precision >= 0.85

    @property
    def volume_ratio(self) -> float | None:
        ratio = self.metrics.get("request_count", {}).get("ratio")
        return float(ratio) if ratio is not None else None

    @property
    def volume_jump(self) -> bool:
        return (self.volume_ratio or 0.0) >= VOLUME_JUMP

    @property
    def errors_up(self) -> bool:
        rate, base = self.latest("error_rate"), self.baseline("error_rate")
        if rate is None:
            return "error_rate" in self.alert_types
        return rate > ERROR_P1 or (base is not None and rate > max(3 * base, base + 0.02))

    @property
    def service_bad(self) -> bool:
        """Latency, errors or downtime at the P1/P2 level (CONTRACT's infrastructure signs).

        A P3 "minor latency increase" (p99 up 1.5x but under 2 s) alone does not count.
        """
        if not self.only_p3 and self.alert_types & {"latency", "service_down", "error_rate"}:
            return True
        p99 = self.latest("latency_p99_ms")
        status = self.latest("status")
        rate = self.latest("error_rate")
        return bool(
            status in ("down", "degraded")
            or (p99 is not None and p99 > LATENCY_P2_MS)
            or (rate is not None and rate > ERROR_P1)
        )

    @property
    def version_changed(self) -> bool:
        return bool(self.metrics.get("model_version", {}).get("changed"))

    # ---- features and changes ----------------------------------------------------------------
    @property
    def drifting(self) -> list[str]:
        return sorted(self.drift, key=lambda f: (-self.drift[f], f))

    @property
    def drift_few(self) -> bool:
        return 1 <= len(self.drift) <= FEW_FEATURES

    @property
    def drift_broad(self) -> bool:
        n = len(self.drift)
        return n >= MANY_FEATURES or (n > FEW_FEATURES and n / max(self.drift_total, 1) >= 0.3)

    @property
    def upstream_change(self) -> bool:
        return bool(self.change_runs or self.schema)

    @property
    def recent_deploy(self) -> bool:
        return bool(self.deployments) or self.version_changed

    @property
    def only_p3(self) -> bool:
        return self.severity == Severity.P3

    def features_named_in(self, runs: list[Evidence]) -> list[str]:
        """Known features (drifting, null or with schema errors) that run notes name."""
        known = set(self.drift) | set(self.nulls) | set(self.schema)
        text = " ".join(str(r.data.get("notes") or "") for r in runs)
        named = [f for f in known if re.search(rf"\b{re.escape(f)}\b", text)]
        return sorted(named, key=lambda f: (-self.drift.get(f, 0.0), f))
