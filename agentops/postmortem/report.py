"""The runbook's post-mortem template, filled from the incident's real state. Pure: the
same input and clock give the same Markdown.

The report is published as a GitHub issue, so every value that came from the tables, a
model, a runbook or a person is rendered through `untrusted.github_text` (no live @mention,
closing keyword or HTML) or, inside code spans, `github_code`."""

from __future__ import annotations

from datetime import datetime

from agentops.actions.untrusted import JOINER, github_code, github_text
from agentops.actions.wording import (
    handed_to,
    headline_of,
    pair,
    recovery_words,
    remedy_words,
)
from agentops.domain import Alert, RootCauseCategory, TimelineEntry
from agentops.postmortem.impact import (
    affected_systems,
    conditions,
    readings_for_words,
    user_impact,
)
from agentops.postmortem.lessons import lessons_lines
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


def resolution_text(report: PostMortemInput) -> str:
    """What fixed it, in words: what the approval-required actions did ("Rolled back 2.4.0 →
    2.3.0"), who was told, and the recovered values over the windows that confirmed it
    ("F1 0.86 for 2 windows")."""
    parts = remedy_words(report.results, report.action_data)
    told = handed_to(report.results)
    if told:
        parts.append(f"{', '.join(told)} told")
    impact = report.impact
    if impact is not None and impact.recovered:
        parts.append(recovery_words(readings_for_words(impact.recovered), impact.recovery_windows))
    elif not any(e.phase == "service_restored" for e in report.timeline):
        parts.append("closed before recovery was measured")
    text = "; ".join(parts) or "no change was needed"
    return text[0].upper() + text[1:]


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
    lines += _approval_facts(report)
    lines += _impact(report, times, now)
    lines += _lessons(report, now, proposal=bool(proposal))
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
    found = conditions(inc)
    breaches = "; ".join(
        f"{a.metric} of `{github_code(a.component)}` was {github_text(_shown(a))}"
        for a in found[:WHAT_HAPPENED_MAX]
    )
    if len(found) > WHAT_HAPPENED_MAX:
        breaches += f" and {len(found) - WHAT_HAPPENED_MAX} more"
    text = (
        f"On {inc.opened_at:%Y-%m-%d} at {inc.opened_at:%H:%M} UTC, agentops opened a "
        f"{inc.severity.value} incident on `{github_code(inc.model_name)}`"
    )
    text += f": {breaches}." if breaches else "."
    if report.diagnosis is not None:
        text += f" Cause: {github_text(headline_of(report.diagnosis))}."
    text += f" Resolution: {github_text(resolution_text(report))}."
    return text


WHAT_HAPPENED_MAX = 6


def _shown(alert: Alert) -> str:
    value, threshold = pair(alert.value, alert.threshold)
    return f"{value} (threshold {threshold})"


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
    """Duration from the first breaching window, what it touched, and how many requests
    were scored while degraded."""
    inc, impact = report.incident, report.impact
    restored = times["service_restored"] or inc.resolved_at
    if impact is not None:
        start = impact.first_breach_at
        until = impact.degraded_until or restored or now
        how = (
            "to the first window of the healthy streak"
            if impact.degraded_until
            else ("to the restoration" if restored else "to this report")
        )
        duration = (
            f"{_minutes(start, until)} minutes, from the first breaching window "
            f"({_when(start, inc.opened_at)} UTC) {how} ({_when(until, inc.opened_at)} UTC); "
            f"detected at {_when(inc.opened_at, inc.opened_at)}, "
            f"{_minutes(impact.first_breach_end, inc.opened_at)} minutes after that window ended"
        )
    else:
        start = times["detected"] or inc.opened_at
        duration = f"{_minutes(start, restored or now)} minutes (detection to "
        duration += f"{'restoration' if restored else 'this report'}; no metrics history)"
    return [
        "## Impact",
        f"- Duration: {duration}",
        f"- Affected systems: {'; '.join(affected_systems(report))}",
        f"- User impact: {user_impact(report)}",
        "",
    ]


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() / 60))


def _lessons(report: PostMortemInput, now: datetime, *, proposal: bool = False) -> list[str]:
    times = phase_times(report, now)
    remedy = remedy_words(report.results, report.action_data)
    lines = lessons_lines(report, times, now, remedy=remedy, proposal=proposal)
    return ["## Lessons Learned", *lines, ""]


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


def _approval_facts(report: PostMortemInput) -> list[str]:
    """What each approval-required action's approver was shown (`Action.facts`: the rollback
    target's metrics and schema, the retraining data, load against capacity)."""
    gated = [a for a in (report.plan.actions if report.plan else []) if a.facts]
    if not gated:
        return []
    out = ["### Evidence behind the approvals"]
    for action in gated:
        assert action.facts is not None
        out.append(
            f"- {action.type.value} → `{github_code(action.target)}` "
            f"(as of {action.facts.as_of:%Y-%m-%d %H:%M} UTC):"
        )
        out += [f"  - {github_text(line)}" for line in action.facts.lines]
    return [*out, ""]
