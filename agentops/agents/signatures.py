"""One scorer per root-cause category of CONTRACT.md, each reading its signature off `Signals`.

A scorer adds every clause of its category's signature, weighted, times the strength with
which the evidence shows it (0..1), and subtracts what speaks against it. The weights of a
category's supporting clauses sum to 1, so a score of 1 means every clause is fully there;
a scorer whose defining clause is absent offers no hypothesis at all. Each term that counts
leaves a reason and the ids of the evidence behind it.
"""

from __future__ import annotations

from agentops.agents.hypothesis import Builder, features_text, perf_text
from agentops.agents.signals import Signals
from agentops.domain import RootCauseCategory

C = RootCauseCategory


# A signature's defining clause must hold at least this strongly for the category to be
# considered at all: a trace of a sign is not the sign.
GATE = 0.25
NULLS_ALONE = 0.6
PERF_IDS = ("metric:f1", "metric:precision", "metric:recall", "metric:onset")


def _other_changes(s: Signals) -> float:
    return max(s.deploy_implicated, s.upstream_implicated, s.pipeline_implicated)


def _drift_p2(s: Signals) -> float:
    return 1.0 if any(psi > s.limit("psi_p2") for psi in s.drift.values()) else 0.0


def bad_deployment(s: Signals) -> Builder:
    b = Builder(C.bad_deployment, s, s.deploy_implicated)
    if b.core < GATE:
        return b
    deploy = s.deployment
    data = deploy.data if deploy else {}
    version = (
        data.get("model_version") or s.onset.get("version_at_onset") or s.latest("model_version")
    )
    ids = [deploy.id] if deploy else []
    when = (
        f"{data.get('hours_before_onset')} h before the degradation began"
        if deploy
        else "as the degradation began"
    )
    b.add(0.40, s.deploy_implicated, f"{version} released {when}", *ids, "metric:onset")
    b.add(
        0.10,
        s.version_switch,
        "the metrics show it serving the degraded windows",
        "metric:model_version",
    )
    b.add(
        0.25,
        max(s.perf_decline, s.errors_up),
        "performance or errors worsened after it",
        *PERF_IDS,
        "metric:error_rate",
        known=s.service_known,
    )
    data_cause = max(s.upstream_implicated, s.pipeline_implicated)
    b.absent(0.15, 1 - data_cause, "no upstream data change or pipeline failure", "run:routine")
    b.absent(
        0.10, 1 - s.inputs_moved, "input data unchanged", "drift:summary", known=s.inputs_known
    )
    b.add(-0.35, data_cause, "an upstream change or pipeline failure explains it as well")
    b.add(-0.25, s.volume_jump, "traffic jumped, which a release does not cause")
    b.add(-0.20, _drift_p2(s), "inputs drift past P2, which a release does not cause")
    previous = data.get("previous_version") or s.onset.get("version_before")
    where = [f"deployment {data['deployment_id']}"] if deploy else []
    if previous:
        where.append(f"replacing {previous}")
    b.root_cause = (
        f"Bad deployment: {s.model_name} version {version} "
        + (f"({', '.join(where)}) " if where else "")
        + "degraded the model from the first window it served"
        + (f"; {perf_text(s)}" if perf_text(s) else "")
        + ("; input data unchanged" if not s.inputs_moved else "")
    )
    return b


def upstream_data_change(s: Signals) -> Builder:
    run, strength = s.source_change
    b = Builder(C.upstream_data_change, s, strength)
    if strength < GATE:
        return b
    formats = sorted(f for f in s.format_errors if f in s.affected)
    linked = list(run.features) if run and run.features else []
    features = linked or sorted(formats, key=lambda f: (-s.drift.get(f, 0.0), f)) or s.drifting
    # CONTRACT.md: "a pipeline run's notes or schema errors say so" - either is the record
    if linked and run:
        record = f"{run.data['pipeline_name']} run {run.data['run_id']} names {', '.join(linked)}"
    else:
        record = f"schema or range errors in {', '.join(formats)}"
    b.add(
        0.45, strength, record, *([run.id] if linked and run else []), *(f"dq:{f}" for f in formats)
    )
    ran = f"{run.data['pipeline_name']} ran before the onset" if run else "no run on record"
    b.add(0.15, (1.0 if linked else 0.5) if run else 0.0, ran, *([run.id] if run else []))
    share = s.movement_share(features)
    b.add(
        0.15,
        max(s.drift_few, share),
        "the drift sits in the features that source feeds",
        *(f"drift:{f}" for f in features),
        known=s.drift_known or bool(formats),
    )
    b.add(-0.20, s.drift_broad * (1 - share), "drift spreads well beyond what that source feeds")
    reading = run.reading if run else None
    b.add(
        0.10,
        max(reading.change, 0.0) if reading else 0.0,
        reading.describe() if reading else "no notes to read",
        *([run.id] if run else []),
        known=bool(run and run.data.get("notes")),
    )
    b.add(
        0.15, max(s.perf_decline, _drift_p2(s)), "performance or inputs moved after it", *PERF_IDS
    )
    b.add(
        -0.25,
        s.evasion * s.volume_jump,
        "recall collapsed with traffic up and precision holding, which a source change does "
        "not cause",
    )
    b.add(-0.15, s.deploy_implicated, "a release at the onset could explain it as well")
    where = (
        f"{run.data['pipeline_name']} (source {run.data.get('source') or '?'}, run "
        f"{run.data['run_id']}"
        + (f": {_clip(run.data.get('notes') or '', 160)})" if run.data.get("notes") else ")")
        if run
        else "the feature pipeline (schema errors)"
    )
    b.root_cause = (
        f"Upstream data change in {where}; affected features: {features_text(s, features)}"
        + (f"; {perf_text(s)}" if perf_text(s) else "")
    )
    return b


def pipeline_failure(s: Signals) -> Builder:
    run = s.failed_run
    # CONTRACT.md's defining clause is the failed run; nulls with none on record may still
    # be stale data from a job nobody recorded, so they count, for less
    b = Builder(
        C.pipeline_failure, s, max(run.strength if run else 0.0, NULLS_ALONE * s.null_strength)
    )
    if b.core < GATE:
        return b
    null_ids = [f"dq:{f}" for f in sorted(s.nulls, key=lambda f: -s.nulls[f])]
    ended = (
        f"{run.data['pipeline_name']} run ended {run.data['status']}"
        + (f" with {run.data['rows_processed']} rows" if run.data.get("typical_rows") else "")
        if run
        else "no failed run on record"
    )
    b.add(0.45, run.strength if run else 0.0, ended, *([run.id] if run else []))
    b.add(
        0.30,
        s.null_strength,
        f"null rates rose in {len(s.nulls)} feature(s)",
        *null_ids,
        known="dq:summary" in s.ids or bool(s.nulls),
    )
    fed = bool(run and run.features)
    b.add(
        0.10,
        1.0 if fed else (0.5 if 0 < len(s.nulls) <= 3 else 0.0),
        "the nulls sit in the features it feeds" if fed else "the nulls sit in a few features",
    )
    b.absent(
        0.15,
        1 - s.deploy_implicated,
        "no release explains it",
        "deploy:none",
        known=s.release_record,
    )
    b.add(-0.35, s.deploy_implicated, "a release at the onset could explain it as well")
    b.add(-0.20, s.upstream_implicated, "a format change upstream explains it better")
    features = sorted(s.nulls, key=lambda f: (-s.nulls[f], f))
    nulls = ", ".join(f"{f} ({s.nulls[f]:.0%} null)" for f in features[:6])
    if run:
        notes = _clip(run.data.get("notes") or "no notes", 160)
        b.root_cause = (
            f"Pipeline failure: {run.data['pipeline_name']} run {run.data['run_id']} ended "
            f"{run.data['status']} ({notes})" + (f"; nulls in {nulls}" if nulls else "")
        )
    else:
        b.root_cause = f"Pipeline failure upstream of the model: nulls in {nulls}"
    return b


def concept_drift(s: Signals) -> Builder:
    b = Builder(C.concept_drift, s, max(s.perf_decline, s.drift_broad))
    if b.core < GATE:
        return b
    b.add(
        0.30,
        s.drift_broad,
        f"{len(s.drift)} of {s.drift_total} features drift",
        "drift:summary",
        *(f"drift:{f}" for f in s.drifting[:5]),
        known=s.drift_known,
    )
    b.add(0.30, s.perf_decline, "performance decays", *PERF_IDS, known=s.trend_known)
    b.add(
        0.10,
        s.gradual,
        "F1 slid window by window rather than in one step",
        "metric:f1",
        known=len(s.metrics.get("f1", {}).get("recent") or []) >= 3,
    )
    other = _other_changes(s)
    b.absent(
        0.30,
        1 - other,
        "nothing deployed or changed upstream",
        "deploy:none",
        "run:routine",
        known=s.release_record,
    )
    b.add(-0.30, other, "a release, a source change or a pipeline failure could explain it")
    b.add(-0.15, s.evasion, "recall fell alone while precision held: the adversarial pattern")
    b.add(-0.25, s.evasion * s.volume_jump, "and traffic jumped with it")
    b.add(
        -0.20,
        (1 - s.perf_decline) * s.drift_broad,
        "performance intact: broad drift alone is covariate shift, a notice",
    )
    b.add(
        -0.20,
        s.drift_few,
        "drift sits in a few features, which points at a source or an "
        "attack rather than a changed world",
    )
    label = s.metrics.get("f1", {}).get("label_lag_hours")
    b.root_cause = (
        f"Concept drift: {len(s.drift)} feature(s) drifting"
        + (f" ({features_text(s, s.drifting)})" if s.drift else "")
        + (f", {perf_text(s)}" if perf_text(s) else "")
        + (f" (labels lag {label} h)" if label else "")
        + "; no deployment, pipeline or upstream change"
    )
    return b


def infrastructure(s: Signals) -> Builder:
    b = Builder(C.infrastructure, s, s.service_bad)
    if b.core < GATE:
        return b
    ids = ("metric:latency_p99_ms", "metric:error_rate", "metric:status")
    b.add(0.45, s.service_bad, "latency, errors or status degraded at the serving layer", *ids)
    b.absent(
        0.20, 1 - s.perf_decline, "model quality unchanged", "metric:f1", known=s.quality_known
    )
    b.absent(
        0.15, 1 - s.inputs_moved, "input data unchanged", "drift:summary", known=s.inputs_known
    )
    b.absent(
        0.20,
        1 - s.deploy_implicated,
        "model version unchanged",
        "deploy:none",
        "metric:model_version",
        known=s.release_record,
    )
    b.add(-0.40, s.deploy_implicated, "a release at the onset could explain it as well")
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


def adversarial(s: Signals) -> Builder:
    b = Builder(C.adversarial, s, s.evasion)
    if b.core < GATE:
        return b
    b.add(
        0.40,
        s.evasion,
        "recall collapsed while precision held",
        "metric:recall",
        "metric:precision",
    )
    b.add(
        0.20,
        s.volume_jump,
        f"request volume x{s.volume_ratio}",
        "metric:request_count",
        known=s.volume_ratio is not None,
    )
    b.add(
        0.15,
        s.drift_few,
        "drift sits in a few features",
        *(f"drift:{f}" for f in s.drifting),
        known=s.drift_known,
    )
    other = _other_changes(s)
    b.absent(
        0.25,
        1 - other,
        "nothing deployed or changed upstream",
        "deploy:none",
        "run:routine",
        known=s.release_record,
    )
    b.add(-0.35, s.deploy_implicated, "a release at the onset could explain it as well")
    b.add(-0.30, s.upstream_implicated, "a source change could explain it as well")
    b.add(-0.20, s.pipeline_implicated, "a pipeline failure could explain it as well")
    recall, precision = s.latest("recall"), s.latest("precision")
    b.root_cause = (
        f"Likely adversarial traffic: recall {recall:.2f} while precision {precision:.2f} holds"
        + (f", request volume x{s.volume_ratio} the baseline" if s.volume_jump else "")
        + (f", drift only in {', '.join(s.drifting)}" if s.drift_few else "")
        + "; nothing deployed or changed upstream"
    )
    return b


def benign(s: Signals) -> Builder:
    b = Builder(C.benign, s)
    if not s.only_p3:
        return b
    alert_ids = sorted(i for i in s.ids if i.startswith("alert:"))
    b.add(0.60, 1.0, "P3-only alerts", *alert_ids)
    b.add(0.20, 1 - s.perf_decline, "performance unchanged", "metric:f1", known=s.quality_known)
    b.add(
        0.20,
        1 - s.inputs_moved,
        "no input moved past P2, no nulls or format errors",
        "drift:summary",
        known=s.inputs_known,
    )
    what = features_text(s, s.drifting) if s.drift else "a P3 threshold"
    b.root_cause = f"Benign: minor drift in {what}; P3 only, performance unchanged"
    if not s.drift and s.latest("latency_p99_ms") is not None:
        b.root_cause = (
            f"Benign: minor latency increase (p99 {s.latest('latency_p99_ms'):.0f} ms, under "
            f"the P2 line); P3 only, performance unchanged"
        )
    return b


SCORERS = (
    bad_deployment,
    upstream_data_change,
    pipeline_failure,
    concept_drift,
    infrastructure,
    adversarial,
    benign,
)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
