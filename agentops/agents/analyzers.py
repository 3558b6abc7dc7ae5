"""Deterministic root-cause analysis: the offline mode and the fallback of the agents.

`rank_hypotheses` scores every root-cause category of CONTRACT.md against its signature,
read from the evidence by `Signals`; `diagnose_by_rules` turns the best one into a
`Diagnosis` whose root-cause text names the feature, version or pipeline and whose
evidence ids all exist. The scores are additive and explained: each term that fires adds
a reason and the ids of the evidence behind it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentops.agents.policy import ESCALATIONS, RECOMMENDED
from agentops.agents.signals import FEW_FEATURES, Signals
from agentops.domain import Diagnosis, Evidence, Incident, RootCauseCategory

C = RootCauseCategory


class Hypothesis(BaseModel):
    category: RootCauseCategory
    score: float = Field(ge=0.0, le=1.0)
    root_cause: str
    reasons: list[str] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)


class _Builder:
    """Accumulates one hypothesis's score, reasons and cited evidence."""

    def __init__(self, category: RootCauseCategory, signals: Signals) -> None:
        self.category = category
        self.signals = signals
        self.score = 0.0
        self.reasons: list[str] = []
        self.ids: list[str] = []
        self.root_cause = ""

    def add(self, points: float, reason: str, *ids: str) -> None:
        self.score += points
        self.reasons.append(f"{'+' if points >= 0 else ''}{points:.2f} {reason}")
        self.ids.extend(i for i in ids if i in self.signals.ids and i not in self.ids)

    def build(self) -> Hypothesis | None:
        if self.score <= 0:
            return None
        return Hypothesis(
            category=self.category,
            score=round(min(max(self.score, 0.0), 1.0), 3),
            root_cause=self.root_cause,
            reasons=self.reasons,
            evidence_ids=self.ids,
        )


def rank_hypotheses(incident: Incident, evidence: list[Evidence]) -> list[Hypothesis]:
    """Every category whose signature the evidence supports, best first (never empty)."""
    s = Signals.read(incident, evidence)
    perf_ids: list[str] = [
        i for i in ("metric:f1", "metric:precision", "metric:recall") if i in s.ids
    ]
    alert_ids = sorted(i for i in s.ids if i.startswith("alert:"))
    builders = [
        _bad_deployment(s, perf_ids),
        _upstream(s, perf_ids),
        _pipeline_failure(s),
        _concept_drift(s, perf_ids),
        _infrastructure(s),
        _adversarial(s),
        _benign(s, alert_ids),
    ]
    found = [h for h in (b.build() for b in builders) if h is not None]
    if not found:
        found = [_from_alert_types(s, alert_ids, incident.model_name)]
    order = list(C)
    return sorted(found, key=lambda h: (-h.score, order.index(h.category)))


def diagnose_by_rules(incident: Incident, evidence: list[Evidence], note: str) -> Diagnosis:
    """The best hypothesis as a Diagnosis; confidence drops when the runner-up is close."""
    ranked = rank_hypotheses(incident, evidence)
    best = ranked[0]
    confidence = best.score
    if len(ranked) > 1 and ranked[1].score >= best.score - 0.1:
        confidence -= 0.1
    if len(best.evidence_ids) < 2:
        confidence = min(confidence, 0.5)
    known = {e.id for e in evidence}
    return Diagnosis(
        category=best.category,
        root_cause=best.root_cause,
        confidence=round(min(max(confidence, 0.05), 0.95), 2),
        evidence_ids=[i for i in best.evidence_ids if i in known],
        recommended_actions=list(RECOMMENDED[best.category]),
        escalate_to=list(ESCALATIONS[best.category]),
        diagnosed_by="rules",
        note=note,
    )


# ---- one scorer per category ------------------------------------------------------------------
def _perf_text(s: Signals) -> str:
    f1, base = s.latest("f1"), s.baseline("f1")
    if f1 is None:
        return ""
    return f"F1 {f1:.2f}" + (f" vs {base:.2f} before" if base is not None else "")


def _features_text(s: Signals, features: list[str], limit: int = 4) -> str:
    parts = [f"{f} (PSI {s.drift[f]:.2f})" if f in s.drift else f for f in features[:limit]]
    more = len(features) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _bad_deployment(s: Signals, perf_ids: list[str]) -> _Builder:
    b = _Builder(C.bad_deployment, s)
    if not s.recent_deploy:
        return b
    deploy = s.deployments[0] if s.deployments else None
    deploy_ids = [deploy.id] if deploy else []
    if deploy:
        d = deploy.data
        b.add(
            0.45,
            f"{d['model_version']} deployed {d['hours_before_breach']} h before the breach",
            deploy.id,
        )
        version, previous = d["model_version"], d.get("previous_version")
    else:
        version = s.latest("model_version")
        previous = s.baseline("model_version")
        b.add(0.4, "the serving model version changed", "metric:model_version")
    if s.version_changed:
        b.add(0.05, "metrics show the new version serving", "metric:model_version")
    if s.perf_drop or s.errors_up:
        b.add(0.3, "performance or errors worsened after it", *perf_ids, "metric:error_rate")
    if not s.upstream_change and not s.failed_runs and not s.nulls:
        b.add(0.1, "no upstream data change or pipeline failure", "run:routine", *deploy_ids)
    else:
        b.add(-0.35, "an upstream data change or pipeline failure explains it as well")
    if s.drift_broad:
        b.add(-0.1, "drift across many features points at the data")
    b.root_cause = (
        f"Bad deployment: {s.model_name} version {version} "
        + (f"(deployment {deploy.data['deployment_id']}, replacing {previous}) " if deploy else "")
        + "degraded the model shortly before the first breach"
        + (f"; {_perf_text(s)}" if _perf_text(s) else "")
        + "; input data unchanged"
    )
    return b


def _upstream(s: Signals, perf_ids: list[str]) -> _Builder:
    b = _Builder(C.upstream_data_change, s)
    if not s.upstream_change:
        return b
    runs = s.change_runs
    named = s.features_named_in(runs) if runs else []
    if runs:
        run = runs[0]
        b.add(0.5, f"pipeline notes describe a source change ({run.data['pipeline_name']})", run.id)
    if s.schema:
        ids = [f"dq:{f}" for f in sorted(s.schema)]
        b.add(0.25 if not runs else 0.1, f"schema errors in {', '.join(sorted(s.schema))}", *ids)
    features = named or sorted(s.schema, key=lambda f: (-s.drift.get(f, 0), f)) or s.drifting
    if s.drift and (s.drift_few or set(named) & set(s.drift)):
        b.add(
            0.15, "drift concentrates in the features it feeds", *(f"drift:{f}" for f in features)
        )
    if named:
        b.add(0.1, f"the notes name {', '.join(named)}")
    if s.perf_drop:
        b.add(0.05, "performance fell after it", *perf_ids)
    where = (
        f"{runs[0].data['pipeline_name']} (source {runs[0].data.get('source') or '?'}, run "
        f"{runs[0].data['run_id']}: {_clip(runs[0].data.get('notes') or '', 160)})"
        if runs
        else "the feature pipeline (schema errors)"
    )
    b.root_cause = (
        f"Upstream data change in {where}; affected features: {_features_text(s, features)}"
        + (f"; {_perf_text(s)}" if _perf_text(s) else "")
    )
    return b


def _pipeline_failure(s: Signals) -> _Builder:
    b = _Builder(C.pipeline_failure, s)
    run = s.failed_runs[0] if s.failed_runs else None
    null_ids = [f"dq:{f}" for f in sorted(s.nulls, key=lambda f: -s.nulls[f])]
    if run:
        b.add(0.5, f"{run.data['pipeline_name']} run ended {run.data['status']}", run.id)
    if s.nulls:
        b.add(0.35 if run else 0.45, f"null rates rose in {len(s.nulls)} features", *null_ids)
    if b.score and s.recent_deploy and not s.nulls:
        b.add(-0.2, "a deployment happened as well")
    features = sorted(s.nulls, key=lambda f: (-s.nulls[f], f))
    nulls = ", ".join(f"{f} ({s.nulls[f]:.0%} null)" for f in features[:6])
    if run:
        b.root_cause = (
            f"Pipeline failure: {run.data['pipeline_name']} run {run.data['run_id']} ended "
            f"{run.data['status']} ({_clip(run.data.get('notes') or 'no notes', 160)})"
            + (f"; nulls in {nulls}" if nulls else "")
        )
    else:
        b.root_cause = f"Pipeline failure upstream of the model: nulls in {nulls}"
    return b


def _concept_drift(s: Signals, perf_ids: list[str]) -> _Builder:
    b = _Builder(C.concept_drift, s)
    if not (s.drift_broad or (len(s.drift) > FEW_FEATURES and s.perf_drop)):
        return b
    b.add(0.5, f"{len(s.drift)} of {s.drift_total} features drift", "drift:summary")
    b.ids.extend(f"drift:{f}" for f in s.drifting[:5] if f"drift:{f}" in s.ids)
    if s.perf_drop:
        b.add(0.25, "performance decays with it", *perf_ids)
    if not s.recent_deploy and not s.upstream_change and not s.failed_runs:
        b.add(0.15, "nothing deployed or changed upstream", "deploy:none", "run:routine")
    else:
        b.add(-0.3, "a deployment or pipeline change could explain it")
    b.root_cause = (
        f"Concept drift: {len(s.drift)} features drifting ({_features_text(s, s.drifting)})"
        + (f", {_perf_text(s)}" if _perf_text(s) else "")
        + "; no deployment or pipeline change"
    )
    return b


def _infrastructure(s: Signals) -> _Builder:
    b = _Builder(C.infrastructure, s)
    if not s.service_bad:
        return b
    ids = ["metric:latency_p99_ms", "metric:error_rate", "metric:status"]
    b.add(0.55, "latency, errors or status degraded at the serving layer", *ids)
    if not s.perf_drop:
        b.add(0.2, "model quality unchanged", "metric:f1")
    if not s.drift and not s.nulls and not s.schema:
        b.add(0.1, "input data unchanged", "drift:summary")
    if not s.recent_deploy:
        b.add(0.05, "model version unchanged", "deploy:none", "metric:model_version")
    elif s.perf_drop:
        b.add(-0.3, "a deployment and a quality drop point at the model")
    parts = []
    if s.latest("latency_p99_ms") is not None:
        parts.append(f"p99 latency {s.latest('latency_p99_ms'):.0f} ms")
    if s.latest("error_rate") is not None:
        parts.append(f"error rate {s.latest('error_rate'):.1%}")
    if s.latest("status") is not None:
        parts.append(f"status {s.latest('status')}")
    version = s.latest("model_version")
    b.root_cause = f"Infrastructure: serving degraded ({', '.join(parts) or 'latency/errors'})" + (
        f" while model {version} and its input data are unchanged" if version else ""
    )
    return b


def _adversarial(s: Signals) -> _Builder:
    b = _Builder(C.adversarial, s)
    if not (s.recall_collapse and s.precision_holds):
        return b
    b.add(0.45, "recall collapsed while precision held", "metric:recall", "metric:precision")
    if s.volume_jump:
        b.add(0.2, f"request volume x{s.volume_ratio}", "metric:request_count")
    if s.drift_few:
        b.add(0.15, "drift sits in a few features", *(f"drift:{f}" for f in s.drifting))
    if not s.recent_deploy and not s.upstream_change and not s.failed_runs:
        b.add(0.1, "nothing deployed or changed upstream", "deploy:none", "run:routine")
    else:
        b.add(-0.3, "a deployment or upstream change could explain it")
    recall, precision = s.latest("recall"), s.latest("precision")
    b.root_cause = (
        f"Likely adversarial traffic: recall {recall:.2f} while precision {precision:.2f} holds"
        + (f", request volume x{s.volume_ratio} the baseline" if s.volume_jump else "")
        + (f", drift only in {', '.join(s.drifting)}" if s.drift_few else "")
        + "; nothing deployed or changed upstream"
    )
    return b


def _benign(s: Signals, alert_ids: list[str]) -> _Builder:
    b = _Builder(C.benign, s)
    if not s.only_p3 or s.perf_drop or s.service_bad:
        return b
    b.add(0.7, "P3-only alerts with performance and serving unchanged", *alert_ids, "metric:f1")
    what = _features_text(s, s.drifting) if s.drift else "a P3 threshold"
    b.root_cause = f"Benign: minor drift in {what}; P3 only, performance unchanged"
    return b


def _from_alert_types(s: Signals, alert_ids: list[str], model: str) -> Hypothesis:
    """Little evidence: a weak guess from the alert types alone."""
    types = s.alert_types
    if types & {"latency", "service_down", "error_rate"}:
        category = C.infrastructure
    elif "data_quality" in types:
        category = C.pipeline_failure
    elif s.only_p3:
        category = C.benign
    else:
        category = C.concept_drift
    return Hypothesis(
        category=category,
        score=0.2,
        root_cause=(
            f"Insufficient evidence for {model}: {category.value} guessed from the alert types "
            f"({', '.join(sorted(types)) or 'none'}); needs a person to confirm"
        ),
        reasons=["+0.20 only the alert types are known"],
        evidence_ids=alert_ids,
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
