"""A proposed runbook addition, as a unified diff a person can review and apply.

It is due when retrieval found no runbook section that matched well (best score under
`RUNBOOK_MATCH_THRESHOLD`) or when the root-cause category had never been seen in a past
incident: both mean the next on-call engineer would have no page to follow.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from agentops.domain import ActionResult, RootCauseCategory
from agentops.postmortem.model import RUNBOOK_MATCH_THRESHOLD, PostMortemInput

# Where a new pattern belongs when retrieval gave no better place (the seed runbook's links).
RUNBOOK_FOR_CATEGORY: dict[RootCauseCategory, str] = {
    RootCauseCategory.bad_deployment: "rollback",
    RootCauseCategory.upstream_data_change: "data_quality",
    RootCauseCategory.pipeline_failure: "data_quality",
    RootCauseCategory.concept_drift: "model_drift",
    RootCauseCategory.infrastructure: "latency_spike",
    RootCauseCategory.adversarial: "model_drift",
    RootCauseCategory.benign: "incident_response",
    RootCauseCategory.unknown: "incident_response",
}


def proposal_reasons(report: PostMortemInput, *, category_seen: bool) -> list[str]:
    """Why a runbook change is proposed; empty when none is due."""
    reasons = []
    best = report.best_runbook_score
    if best < RUNBOOK_MATCH_THRESHOLD:
        reasons.append(
            f"no runbook matched well (best score {best:.2f} < {RUNBOOK_MATCH_THRESHOLD})"
        )
    category = _category(report)
    if category is not None and not category_seen:
        reasons.append(f"root-cause category {category.value!r} was never seen before")
    return reasons


def propose_runbook_change(report: PostMortemInput, runbooks_dir: Path) -> str:
    """A unified diff appending a section for this pattern to the runbook it belongs in."""
    category = _category(report) or RootCauseCategory.benign
    target = _target_runbook(report, category)
    path = runbooks_dir / f"{target}.md"
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    after = before.rstrip("\n") + ("\n\n" if before.strip() else "") + _section(report, category)
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/runbooks/{target}.md" if before else "/dev/null",
        tofile=f"b/runbooks/{target}.md",
    )
    return "".join(diff)


def _category(report: PostMortemInput) -> RootCauseCategory | None:
    if report.diagnosis is not None:
        return report.diagnosis.category
    return report.incident.root_cause_category


def _target_runbook(report: PostMortemInput, category: RootCauseCategory) -> str:
    # the closest section retrieval found is still the best home, even when it matched weakly
    if report.runbook_hits:
        best = max(report.runbook_hits, key=lambda h: h.score)
        return Path(best.runbook).stem
    return RUNBOOK_FOR_CATEGORY[category]


def _section(report: PostMortemInput, category: RootCauseCategory) -> str:
    incident = report.incident
    root = report.diagnosis.root_cause if report.diagnosis else (incident.root_cause or "")
    symptoms = [
        f"- {a.severity.value} {a.type.value} on `{a.component}`: {a.metric}={a.value} "
        f"(threshold {a.threshold})"
        for a in incident.alerts
    ] or [f"- {', '.join(t.value for t in incident.alert_types)}"]
    checks = sorted({f"- {e.kind}: {e.summary}" for e in report.evidence if e.kind != "runbook"})
    steps = [_step(r) for r in report.results] or ["- (no action was taken)"]
    escalate = report.diagnosis.escalate_to if report.diagnosis else []
    lines = [
        f"## Pattern: {category.value.replace('_', ' ')} ({incident.incident_id})",
        "",
        f"Seen on `{incident.model_name}`: {root}",
        "",
        "### Symptoms",
        *symptoms,
        "",
        "### Checks that told it apart",
        *(checks[:8] or ["- (no evidence recorded)"]),
        "",
        "### Remediation",
        *steps,
        "",
        "### Escalation",
        f"- {', '.join(t.value for t in escalate) or 'none needed'}",
        "",
    ]
    return "\n".join(lines)


def _step(result: ActionResult) -> str:
    gate = " (needs approval)" if result.action.requires_approval else ""
    return f"- `{result.action.type.value}` → {result.action.target}{gate}: {result.status}"
