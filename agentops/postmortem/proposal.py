"""A proposed runbook addition, as a unified diff a person can review and apply.

It is due when retrieval found no runbook section that matched well (best score under
`RUNBOOK_MATCH_THRESHOLD`) or when the runbook does not cover the cause (the category is named
neither in the runbook retrieval matched best nor in the category's own runbook): both mean
the next on-call engineer would have no page to follow. A category merely new to INCIDENTS
is no reason when the runbook already covers it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from agentops.domain import ActionResult, RootCauseCategory
from agentops.postmortem.impact import conditions
from agentops.postmortem.model import RUNBOOK_MATCH_THRESHOLD, PostMortemInput

SYMPTOMS_MAX = 5  # conditions a pattern lists; the rest is the same kind of breach

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


def proposal_reasons(report: PostMortemInput, *, covered: bool) -> list[str]:
    """Why a runbook change is proposed; empty when none is due."""
    reasons = []
    best = report.best_runbook_score
    if best < RUNBOOK_MATCH_THRESHOLD:
        reasons.append(
            f"no runbook matched well (best score {best:.2f} < {RUNBOOK_MATCH_THRESHOLD})"
        )
    category = _category(report)
    if category is not None and not covered:
        reasons.append(f"no runbook covers the root-cause category {category.value!r}")
    return reasons


def covered(report: PostMortemInput, runbooks_dir: Path) -> bool:
    """Whether the runbook a reader would open names the cause's category: the one retrieval
    matched best, else the category's own (`RUNBOOK_FOR_CATEGORY`)."""
    category = _category(report)
    if category is None:
        return True
    places = {_target_runbook(report, category), RUNBOOK_FOR_CATEGORY[category]}
    words = (category.value, category.value.replace("_", " "))
    for name in places:
        path = runbooks_dir / f"{name}.md"
        text = path.read_text(encoding="utf-8").lower() if path.is_file() else ""
        if any(word in text for word in words):
            return True
    return False


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
    found = conditions(incident)
    symptoms = [
        f"- {a.severity.value} {a.type.value} on `{a.component}`: {a.metric}={a.value} "
        f"(threshold {a.threshold})"
        for a in found[:SYMPTOMS_MAX]
    ] or [f"- {', '.join(t.value for t in incident.alert_types)}"]
    if len(found) > SYMPTOMS_MAX:
        symptoms.append(f"- … and {len(found) - SYMPTOMS_MAX} more of the same kind")
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
