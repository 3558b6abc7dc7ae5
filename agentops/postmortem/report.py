"""The runbook's post-mortem template, filled from the incident's real state. Pure: the
same input and clock give the same Markdown.

The report is published as a GitHub issue, so every value that came from the tables, a
model, a runbook or a person is rendered through `untrusted.github_text` (no live @mention,
closing keyword or HTML) or, inside code spans, `github_code`."""

from __future__ import annotations

from datetime import datetime, timedelta

from agentops.actions.untrusted import JOINER, github_code, github_text
from agentops.domain import RootCauseCategory, Severity, TimelineEntry
from agentops.postmortem.model import PostMortemInput

# The runbook's template phases, in order, with the wording of its Timeline block.
PHASES: tuple[tuple[str, str], ...] = (
    ("detected", "Alert triggered (detection)"),
    ("triage_started", "Agent began investigation (triage)"),
    ("root_cause_identified", "Root cause identified (investigation)"),
    ("remediation_started", "Remediation started (action)"),
    ("service_restored", "Service restored (resolution)"),
    ("postmortem_completed", "Post-mortem completed"),
)
# Every timeline label in lifecycle order (template phases and the steps between them).
LIFECYCLE_ORDER: tuple[str, ...] = (
    "Alert triggered (detection)",
    "Agent began investigation (triage)",
    "Root cause identified (investigation)",
    "Remediation started (action)",
    "Approval requested",
    "Approval decided",
    "Escalated",
    "Service restored (resolution)",
    "Post-mortem completed",
)
# When the post-mortem's action items fall due: sooner for worse incidents.
ACTION_ITEMS_DUE = {
    Severity.P1: timedelta(days=7),
    Severity.P2: timedelta(days=14),
    Severity.P3: timedelta(days=30),
}
OWNERS: dict[RootCauseCategory, str] = {
    RootCauseCategory.bad_deployment: "ml_team_lead",
    RootCauseCategory.upstream_data_change: "data_engineering_lead",
    RootCauseCategory.pipeline_failure: "data_engineering_lead",
    RootCauseCategory.concept_drift: "ml_team_lead",
    RootCauseCategory.infrastructure: "platform_engineering",
    RootCauseCategory.adversarial: "security_team",
    RootCauseCategory.benign: "ml_team_lead",
    RootCauseCategory.unknown: "ml_team_lead",
}
PREVENTION: dict[RootCauseCategory, tuple[str, str, str]] = {
    # (monitoring/alerting, runbooks, infrastructure)
    RootCauseCategory.bad_deployment: (
        "Gate releases on a shadow/canary F1 and error-rate check against the current version",
        "Rollback runbook: add this version's failure signature",
        "Keep the previous good version warm so a rollback is instant",
    ),
    RootCauseCategory.upstream_data_change: (
        "Schema and value-range contracts on upstream feeds, alerting before features drift",
        "Data quality runbook: record this source's format change and its affected features",
        "Version upstream payloads so a format change is explicit, not silent",
    ),
    RootCauseCategory.pipeline_failure: (
        "Alert on partial or failed pipeline runs before null rates reach the model",
        "Data quality runbook: the re-run procedure for this pipeline",
        "Retries with backoff and completeness checks on the failing pipeline step",
    ),
    RootCauseCategory.concept_drift: (
        "Track PSI trends per feature and alert on sustained P3 drift before it reaches P2",
        "Retraining runbook: the cadence and data window that fit this drift",
        "Schedule retraining on a rolling window",
    ),
    RootCauseCategory.infrastructure: (
        "Alert on saturation (CPU, replicas, queue depth) before latency breaches",
        "Latency spike runbook: the scaling limits that were hit",
        "Raise autoscaling ceilings and add capacity headroom for peaks",
    ),
    RootCauseCategory.adversarial: (
        "Alert on request-volume jumps together with recall drops",
        "Model drift runbook: how to tell probing from drift; never retrain on the window",
        "Rate limits and anomaly screening at the scoring API",
    ),
    RootCauseCategory.benign: (
        "Review whether this P3 signal needs a tuned threshold",
        "No runbook change unless it recurs",
        "None",
    ),
    RootCauseCategory.unknown: (
        "Add the signal that would have told the causes apart to the monitoring tables",
        "Incident response runbook: record how the person in charge decided",
        "None",
    ),
}


def phase_times(report: PostMortemInput, now: datetime) -> dict[str, datetime | None]:
    """The first time each template phase happened; detection falls back to opened_at and
    the post-mortem is completed `now`."""
    first: dict[str, datetime] = {}
    for entry in sorted(report.timeline, key=lambda e: e.at):
        first.setdefault(entry.phase, entry.at)
    first.setdefault("detected", report.incident.opened_at)
    first["postmortem_completed"] = now
    return {phase: first.get(phase) for phase, _ in PHASES}


def restored(report: PostMortemInput) -> bool:
    """Service counts as restored when the timeline says so, or a remedy ran and nothing
    approval-gated was rejected or failed."""
    if any(e.phase == "service_restored" for e in report.timeline):
        return True
    gated = [r for r in report.results if r.action.requires_approval]
    return not any(r.status in {"rejected", "failed"} for r in gated)


def resolution_text(report: PostMortemInput) -> str:
    done = [r for r in report.results if r.status == "succeeded"]
    parts = []
    for r in done:
        who = f" (approved by {r.approved_by})" if r.approved_by else ""
        parts.append(f"{r.action.type.value} → {github_text(r.action.target)}{who}")
    refused = [r for r in report.results if r.status in {"rejected", "failed"}]
    for r in refused:
        parts.append(f"{r.action.type.value} {r.status}")
    return "; ".join(parts) or "no action was needed beyond monitoring"


def render(
    report: PostMortemInput,
    *,
    now: datetime,
    chart_name: str | None,
    proposal: str | None,
    proposal_reasons: list[str] | None = None,
) -> str:
    inc = report.incident
    diag = report.diagnosis
    times = phase_times(report, now)
    category = diag.category if diag else inc.root_cause_category
    root = diag.root_cause if diag else (inc.root_cause or "not determined")
    lines = [f"# Post-Mortem: {inc.incident_id}", ""]
    lines += [
        f"**Model:** `{github_code(inc.model_name)}` · **Severity:** {inc.severity.value} · "
        f"**Alert types:** {', '.join(t.value for t in inc.alert_types)} · "
        f"**Category:** {category.value if category else 'unknown'}",
        "",
        "## What Happened",
        _what_happened(report),
        "",
    ]
    if chart_name:
        label = github_code(inc.model_name).replace("[", "(").replace("]", ")")
        lines += [f"![{label} during {inc.incident_id}]({chart_name})", ""]
    lines += ["## Root Cause", github_text(root), ""]
    if diag is not None:
        lines.append(
            f"Category `{diag.category.value}`, confidence {diag.confidence:.2f}, "
            f"diagnosed by {github_text(diag.diagnosed_by)}."
            + (f" {github_text(diag.note)}" if diag.note else "")
        )
        lines.append("")
    lines += _evidence(report)
    lines += _timeline(report, times)
    lines += _actions(report)
    lines += _impact(report, times, now)
    lines += _lessons(report, now)
    lines += _prevention(report, proposal, proposal_reasons or [])
    lines += [
        "## LLM Usage",
        f"- calls: {report.usage.calls}, tokens in: {report.usage.tokens_in}, "
        f"tokens out: {report.usage.tokens_out}, tool calls: {report.usage.tool_calls}",
        "",
    ]
    if report.notes:
        lines += ["## Notes", *(f"- {github_text(n)}" for n in report.notes), ""]
    return "\n".join(lines).rstrip() + "\n"


def _when(at: datetime | None, base: datetime, *, seconds: bool = False) -> str:
    if at is None:
        return "--:--"
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return at.strftime(clock) if at.date() == base.date() else at.strftime(f"%Y-%m-%d {clock}")


def _what_happened(report: PostMortemInput) -> str:
    inc = report.incident
    breaches = "; ".join(
        f"{a.metric} of `{github_code(a.component)}` was {github_text(str(a.value))} "
        f"(threshold {a.threshold})"
        for a in inc.alerts
    )
    text = (
        f"On {inc.opened_at:%Y-%m-%d} at {inc.opened_at:%H:%M} UTC, agentops opened a "
        f"{inc.severity.value} incident on `{github_code(inc.model_name)}`"
    )
    text += f": {breaches}." if breaches else "."
    text += f" Resolution: {resolution_text(report)}."
    return text


def _evidence(report: PostMortemInput) -> list[str]:
    if not report.evidence and not report.runbook_hits:
        return []
    cited = set(report.diagnosis.evidence_ids) if report.diagnosis else set()
    out = ["### Evidence"]
    for e in report.evidence:
        mark = " (cited)" if e.id in cited else ""
        out.append(f"- `{github_code(e.id)}`{mark} — {github_text(e.summary)}")
    for hit in report.runbook_hits:
        section = f" § {github_text(hit.section)}" if hit.section else ""
        out.append(f"- runbook `{github_code(hit.runbook)}`{section} (score {hit.score:.2f})")
    return [*out, ""]


def _timeline(report: PostMortemInput, times: dict[str, datetime | None]) -> list[str]:
    """The template's phases and the steps between them (approvals, escalations), in time
    order; a phase that never happened is listed last and says so."""
    base = report.incident.opened_at
    labels = dict(PHASES)
    rows: list[tuple[datetime, str]] = [
        (at, labels[phase]) for phase, at in times.items() if at is not None
    ]
    for entry in report.timeline:
        if entry.phase not in labels:
            note = f": {github_text(entry.note)}" if entry.note else ""
            rows.append((entry.at, f"{entry.phase.replace('_', ' ').capitalize()}{note}"))
    out = ["## Timeline"]
    # automated phases often share a second: break ties by lifecycle order, not by kind
    order = {label: i for i, label in enumerate(LIFECYCLE_ORDER)}
    ranked = sorted(rows, key=lambda r: (r[0], order.get(r[1].split(":")[0], 3.5)))
    out += [f"- {_when(at, base, seconds=True)} — {text}" for at, text in ranked]
    for phase, label in PHASES:
        if times[phase] is None:
            why = (
                "not restored automatically; left to a person"
                if phase == "service_restored"
                else "did not happen"
            )
            out.append(f"- --:-- — {label} — {why}")
    return [*out, ""]


def _actions(report: PostMortemInput) -> list[str]:
    out = ["### Actions and approvals"]
    if not report.results and not (report.plan and report.plan.actions):
        return [*out, "- none", ""]
    out += ["| action | target | status | approved by | at | detail |", "|---|---|---|---|---|---|"]
    for r in report.results:
        at = r.executed_at.strftime("%H:%M") if r.executed_at else ""
        out.append(
            f"| {r.action.type.value} | {_cell(r.action.target)} | {r.status} | "
            f"{_cell(r.approved_by or '')} | {at} | {_cell(r.detail)} |"
        )
    for a in report.approvals:
        comment = f" — “{github_text(a.comment)}”" if a.comment else ""
        out.append(
            f"- {a.decision} by **{github_text(a.approver)}** at "
            f"{a.decided_at:%Y-%m-%d %H:%M} UTC for `{github_code(a.action_key)}`{comment}"
        )
    if report.plan:
        for d in report.plan.dropped:
            out.append(f"- dropped `{github_code(d.proposed)}`: {github_text(d.reason)}")
        for c in report.plan.changed:
            out.append(
                f"- changed `{github_code(c.proposed)}` → {github_text(c.became)}: "
                f"{github_text(c.reason)}"
            )
        for credit in report.plan.credit:
            out.append(f"- {github_text(credit.action)}: from the {credit.source}")
    return [*out, ""]


def _impact(report: PostMortemInput, times: dict[str, datetime | None], now: datetime) -> list[str]:
    inc = report.incident
    start = times["detected"] or inc.opened_at
    end = times["service_restored"] or inc.resolved_at or now
    minutes = max(0, round((end - start).total_seconds() / 60))
    systems = [f"model `{github_code(inc.model_name)}`"]
    features = sorted({a.component for a in inc.alerts if a.component != "model"})
    if features:
        systems.append("features " + ", ".join(f"`{github_code(f)}`" for f in features))
    pipelines = sorted(
        {
            str(e.data.get("pipeline_name"))
            for e in report.evidence
            if e.kind == "pipeline_run" and e.data.get("pipeline_name")
        }
    )
    if pipelines:
        systems.append("pipelines " + ", ".join(f"`{github_code(p)}`" for p in pipelines))
    return [
        "## Impact",
        f"- Duration: {minutes} minutes (detection to "
        f"{'restoration' if times['service_restored'] else 'this report'})",
        f"- Affected systems: {'; '.join(systems)}",
        f"- User impact: {_user_impact(report)}",
        "",
    ]


def _user_impact(report: PostMortemInput) -> str:
    words = {
        "model_performance": "predictions were less accurate",
        "service_down": "requests were not served",
        "error_rate": "a share of requests failed",
        "feature_drift": "inputs shifted away from the training data",
        "latency": "responses were slower",
        "data_quality": "inputs arrived incomplete",
    }
    parts = [words[t.value] for t in report.incident.alert_types]
    return "; ".join(parts) or "none observed"


def _lessons(report: PostMortemInput, now: datetime) -> list[str]:
    inc = report.incident
    diag = report.diagnosis
    went_well = [f"detected automatically at {inc.opened_at:%H:%M} UTC"]
    if diag and diag.evidence_ids:
        went_well.append(f"the diagnosis cited {len(diag.evidence_ids)} pieces of evidence")
    ok = [r for r in report.results if r.status == "succeeded"]
    if ok:
        went_well.append(f"{len(ok)} action(s) completed")
    improve = []
    for r in report.results:
        if r.status in {"rejected", "failed"}:
            improve.append(
                f"`{r.action.type.value}` was {r.status}: {github_text(r.detail or 'no detail')}"
            )
    if diag and diag.confidence < 0.6:
        improve.append(f"diagnosis confidence was only {diag.confidence:.2f}")
    if diag and diag.note:
        improve.append(github_text(diag.note))
    category = diag.category if diag else inc.root_cause_category
    owner = OWNERS.get(category, "ml_team_lead") if category else "ml_team_lead"
    due = (now + ACTION_ITEMS_DUE[inc.severity]).strftime("%Y-%m-%d")
    return [
        "## Lessons Learned",
        f"1. What went well: {'; '.join(went_well)}.",
        f"2. What could be improved: {'; '.join(improve) or 'nothing stood out'}.",
        f"3. Action items: confirm the fix and the preventive measures below — owner "
        f"{owner}, due {due}.",
        "",
    ]


def _prevention(report: PostMortemInput, proposal: str | None, reasons: list[str]) -> list[str]:
    category = (
        report.diagnosis.category if report.diagnosis else report.incident.root_cause_category
    )
    monitoring, runbook, infra = PREVENTION.get(
        category or RootCauseCategory.benign, PREVENTION[RootCauseCategory.benign]
    )
    out = [
        "## Preventive Measures",
        f"- Changes to monitoring/alerting: {monitoring}",
        f"- Changes to runbooks: {runbook}",
        f"- Infrastructure improvements: {infra}",
        "",
    ]
    if proposal:
        why = "; ".join(reasons)
        out += ["### Proposed runbook addition", f"Proposed because {github_text(why)}.", ""]
        # a fence inside the diff would close the block and let the rest render as Markdown
        body = proposal.rstrip("\n").replace("```", "`" + JOINER + "``")
        out += ["```diff", body, "```", ""]
    return out


def _cell(text: str) -> str:
    """A table cell: a `|` would start a new column, a line break end the row."""
    return github_text(github_code(text)).replace("|", "/")


def timeline_with_completion(report: PostMortemInput, now: datetime) -> list[TimelineEntry]:
    """The incident's timeline plus the post-mortem's own completion, as stored."""
    done = TimelineEntry(phase="postmortem_completed", at=now, note="post-mortem written")
    return [*sorted(report.timeline, key=lambda e: e.at), done]
