"""What must be true of the evidence before a category may be claimed.

A claim — the model's, or a person's edit of the diagnosis — is refused when the facts its
category's signature in CONTRACT.md needs are not there, or when the signature itself rules
it out. These are necessary conditions read off the same structural facts the analyzers use
(`signals.Signals`: timings, statuses, counts, where drift sits), not a second diagnosis: a
claim that passes may still differ from the rules' reading, and then the model's word is
taken with its confidence capped.

- bad_deployment: a release of the model inside the look-back window before the degradation
  began; performance or errors worse; no upstream change or pipeline failure to explain it;
  nothing a release cannot cause (a traffic jump, inputs drifting past P2).
- pipeline_failure: a failed or partial run (or one that wrote under half its usual rows)
  before the onset, or a data-quality breach.
- infrastructure: latency, errors or downtime at the P1/P2 level, with the model and its
  data unchanged.
- adversarial: recall collapsed while precision held, and nothing deployed or changed
  upstream.
- upstream_data_change: a run whose source changed what the moving features look like, or
  schema/range errors in them.
- concept_drift: performance decayed, with no deployment, pipeline or upstream change, and
  not in the adversarial pattern (its retrain would learn from a poisoned window).
- benign: P3 only; refused while any P1/P2 threshold is crossed.
- unknown: always allowed (a person decides).
"""

from __future__ import annotations

from collections.abc import Callable

from agentops.agents.meaning import read_note
from agentops.agents.signals import Signals
from agentops.agents.signatures import GATE
from agentops.domain import Evidence, Incident, RootCauseCategory, Severity

C = RootCauseCategory
# A traffic jump counts from half of the facts' full jump (1.65x the same-hour baseline).
JUMP = 0.5

Check = Callable[[Signals], list[str]]


def check_category(
    incident: Incident, evidence: list[Evidence], category: RootCauseCategory | str
) -> str | None:
    """Why `category` may not be claimed for `incident` on `evidence`, or None when the
    evidence fits it. `evidence` should be everything gathered, whatever the claimant saw."""
    try:
        claimed = RootCauseCategory(category)
    except ValueError:
        return f"{category!r} is not a root-cause category"
    if claimed is C.unknown:
        return None
    missing = CHECKS[claimed](Signals.read(incident, evidence))
    if not missing:
        return None
    return f"{claimed.value} does not fit the evidence: " + "; ".join(missing)


def _data_cause(s: Signals) -> float:
    return max(s.upstream_implicated, s.pipeline_implicated)


def _drift_past_p2(s: Signals) -> bool:
    return any(psi > s.limit("psi_p2") for psi in s.drift.values())


def _bad_deployment(s: Signals) -> list[str]:
    missing = []
    if s.deploy_implicated < GATE:
        missing.append(
            f"no release of {s.model_name} inside the look-back window before the degradation"
        )
    if max(s.perf_decline, s.errors_up) < GATE:
        missing.append("neither performance nor the error rate got worse")
    if _data_cause(s) >= GATE:
        missing.append("an upstream data change or a pipeline failure explains it")
    if s.volume_jump >= JUMP:
        missing.append(f"traffic jumped (x{s.volume_ratio}), which a release cannot cause")
    if _drift_past_p2(s):
        missing.append("inputs drift past P2, which a release cannot cause")
    return missing


def _pipeline_failure(s: Signals) -> list[str]:
    run = s.failed_run
    breach = "data_quality" in s.alert_types
    if (run is not None and run.strength >= GATE) or breach:
        return []
    return ["no failed or partial pipeline run before the onset and no data-quality breach"]


def _infrastructure(s: Signals) -> list[str]:
    missing = []
    if s.service_bad < GATE:
        missing.append("no latency, error or availability breach at P1/P2")
    if s.deploy_implicated >= GATE:
        missing.append("the model changed: a release at the onset explains it as well")
    if _data_cause(s) >= GATE:
        missing.append("the data changed: an upstream change or pipeline failure explains it")
    return missing


def _adversarial(s: Signals) -> list[str]:
    missing = []
    if s.evasion < GATE:
        missing.append("recall did not fall while precision held")
    if s.deploy_implicated >= GATE:
        missing.append("a release at the onset")
    if _data_cause(s) >= GATE:
        missing.append("an upstream change or pipeline failure")
    return missing


def _upstream_data_change(s: Signals) -> list[str]:
    _, strength = s.source_change
    if strength >= GATE:
        return []
    # a run before the onset whose notes describe a change, while features moved, is a
    # source change the notes did not tie to the features by name
    described = any(
        read_note(str(run.data.get("notes") or ""), written_at=run.data["started_at"]).change > 0
        for run in s.runs
        if not run.data.get("after_onset") and "started_at" in run.data
    )
    if described and s.affected:
        return []
    return [
        "no pipeline or source change before the onset and no schema errors in the "
        "features that moved"
    ]


def _concept_drift(s: Signals) -> list[str]:
    missing = []
    if s.perf_decline <= 0:
        missing.append("performance did not decay")
    changed = max(s.deploy_implicated, s.upstream_implicated, s.pipeline_implicated)
    if changed >= GATE:
        missing.append("a deployment, pipeline failure or upstream change explains it")
    if s.evasion * s.volume_jump >= GATE:
        # its remedy is a retrain, which CONTRACT.md forbids on a poisoned window
        missing.append(
            "recall collapsed while precision held and traffic jumped: the adversarial pattern"
        )
    return missing


def _benign(s: Signals) -> list[str]:
    if s.severity in (Severity.P1, Severity.P2):
        return [f"a {s.severity.value} threshold is crossed: benign is for P3-only events"]
    return []


CHECKS: dict[RootCauseCategory, Check] = {
    C.bad_deployment: _bad_deployment,
    C.upstream_data_change: _upstream_data_change,
    C.pipeline_failure: _pipeline_failure,
    C.concept_drift: _concept_drift,
    C.infrastructure: _infrastructure,
    C.adversarial: _adversarial,
    C.benign: _benign,
    C.unknown: lambda _: [],
}

__all__ = ["check_category"]
