"""Lessons drawn from the incident's own record: the seed's three response times against
their SLA, what detected it, what was slowest, what failed, and action items, each owned by
the people holding an escalation-matrix role and due by a date set by severity and cause.

Pure: the report, the times of the template's phases and the clock in, lines out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agentops.actions.untrusted import github_text
from agentops.actions.wording import ROLE_WORDS, cut
from agentops.domain import ActionResult, EscalationTarget, RootCauseCategory, Severity
from agentops.postmortem.model import PostMortemInput

E = EscalationTarget
# The seed's Response Time SLAs: (policy key, the seed's words, from phase, to phase).
SLA_PHASES: tuple[tuple[str, str, str, str], ...] = (
    ("detection_to_triage", "Detection → Triage", "detected", "triage_started"),
    (
        "triage_to_investigation",
        "Triage → Investigation",
        "triage_started",
        "root_cause_identified",
    ),
    (
        "investigation_to_resolution",
        "Investigation → Resolution",
        "root_cause_identified",
        "service_restored",
    ),
)
DEFAULT_SLA_MINUTES = {
    Severity.P1: {
        "detection_to_triage": 5,
        "triage_to_investigation": 10,
        "investigation_to_resolution": 120,
    },
    Severity.P2: {
        "detection_to_triage": 15,
        "triage_to_investigation": 30,
        "investigation_to_resolution": 480,
    },
    Severity.P3: {
        "detection_to_triage": 60,
        "triage_to_investigation": 240,
        "investigation_to_resolution": 1440,
    },
}
# A breach noticed within one hourly window of its first window's end was noticed promptly.
PROMPT_DETECTION = 60
# When action items fall due: sooner for worse incidents, a security one within days.
DUE_DAYS = {Severity.P1: 7, Severity.P2: 14, Severity.P3: 30}
SECURITY_DUE_DAYS = 3
# The cause's own follow-up and the role that owns it (the matrix's line for the cause).
CAUSE_ITEMS: dict[RootCauseCategory, tuple[EscalationTarget, str]] = {
    RootCauseCategory.bad_deployment: (
        E.ml_team_lead,
        "Gate releases like {subject} on a canary F1 and error-rate check before they take traffic",
    ),
    RootCauseCategory.upstream_data_change: (
        E.data_engineering_lead,
        "Put a schema and value-range contract on {subject} so a format change alerts before "
        "the features drift",
    ),
    RootCauseCategory.pipeline_failure: (
        E.data_engineering_lead,
        "Alert on partial or failed runs of {subject} before their gaps reach the model",
    ),
    RootCauseCategory.concept_drift: (
        E.ml_team_lead,
        "Set a retraining cadence for {subject} on recent data with matured labels",
    ),
    RootCauseCategory.infrastructure: (
        E.platform_engineering,
        "Add capacity headroom for {subject} and alert on saturation before latency breaches",
    ),
    RootCauseCategory.adversarial: (
        E.security_team,
        "Review the suspicious traffic on {subject}; add rate limits and anomaly screening",
    ),
    RootCauseCategory.benign: (
        E.ml_team_lead,
        "Decide whether this P3 signal on {subject} needs a tuned threshold",
    ),
    RootCauseCategory.unknown: (
        E.ml_team_lead,
        "Record how the cause on {subject} was decided and add the signal that tells the "
        "causes apart",
    ),
}


@dataclass(frozen=True)
class SlaCheck:
    label: str
    minutes: int | None  # None: the phase was never reached
    limit: int

    @property
    def met(self) -> bool | None:
        return None if self.minutes is None else self.minutes <= self.limit

    def line(self) -> str:
        if self.minutes is None:
            return f"- {self.label}: not reached (SLA {self.limit} minutes)"
        verdict = "met" if self.met else "BREACHED"
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"- {self.label}: {self.minutes} {unit} (SLA {self.limit}) — {verdict}"


@dataclass(frozen=True)
class ActionItem:
    text: str
    role: EscalationTarget
    due: date


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() / 60))


def sla_checks(report: PostMortemInput, times: dict[str, datetime | None]) -> list[SlaCheck]:
    """Each of the seed's three response times for the incident's severity; resolution ends
    at the restoration, else when a person closed it."""
    severity = report.incident.severity
    limits = {**DEFAULT_SLA_MINUTES[severity], **report.sla_minutes}
    ends = dict(times)
    if ends.get("service_restored") is None and report.incident.resolved_at is not None:
        ends["service_restored"] = report.incident.resolved_at
    out = []
    for key, label, start, end in SLA_PHASES:
        began, done = ends.get(start), ends.get(end)
        minutes = _minutes(began, done) if began is not None and done is not None else None
        out.append(SlaCheck(label, minutes, limits[key]))
    return out


def _gated_failures(report: PostMortemInput) -> list[ActionResult]:
    withdrawn = {a.action_key for a in report.approvals if a.decision == "withdrawn"}
    return [
        r
        for r in report.results
        if r.action.requires_approval
        and r.status in {"failed", "rejected", "skipped"}
        and r.idempotency_key not in withdrawn
    ]


def _unstaffed(report: PostMortemInput) -> list[str]:
    """Roles an escalation found nobody for (the ledger's note says so)."""
    found = []
    for result in report.results:
        for role in E:
            if f"nobody holds {role.value}" in result.detail and role.value not in found:
                found.append(role.value)
    return found


def _phase(report: PostMortemInput, phase: str) -> datetime | None:
    times = [e.at for e in report.timeline if e.phase == phase]
    return min(times) if times else None


def slowest(report: PostMortemInput, times: dict[str, datetime | None]) -> str | None:
    """The step that took longest: noticing the breach, a person's answer, or the windows
    that confirmed the recovery."""
    steps: list[tuple[int, str]] = []
    impact = report.impact
    if impact is not None:
        lag = _minutes(impact.first_breach_end, report.incident.opened_at)
        steps.append((lag, f"noticing the breach ({lag} minutes after its first window ended)"))
    asked, answered = _phase(report, "approval_requested"), _phase(report, "approval_decided")
    if asked is not None:
        waited = _minutes(asked, answered or report.incident.resolved_at or asked)
        steps.append((waited, f"waiting for an approval ({waited} minutes)"))
    done, restored = _phase(report, "remediation_done"), times.get("service_restored")
    if done is not None and restored is not None:
        wait = _minutes(done, restored)
        windows = impact.recovery_windows if impact else 0
        what = f"{windows} healthy windows" if windows else "the healthy windows"
        steps.append((wait, f"confirming the recovery ({what}: {wait} minutes)"))
    return max(steps)[1] if steps and max(steps)[0] > 0 else None


def went_well(report: PostMortemInput, checks: list[SlaCheck], remedy: list[str]) -> list[str]:
    inc = report.incident
    lag = _detection_lag(report)
    out = []
    if lag is None or lag <= PROMPT_DETECTION:
        detected = f"the automated monitor detected it at {inc.opened_at:%H:%M} UTC"
        out.append(detected + (f", {lag} minutes after its first window ended" if lag else ""))
    met = [c.label for c in checks if c.met]
    if met:
        out.append(f"within the SLA: {', '.join(met)}")
    if remedy:
        out.append("; ".join(remedy))
    diag = report.diagnosis
    if diag is not None and diag.evidence_ids and diag.confidence >= 0.6:
        out.append(
            f"the {diag.category.value} diagnosis cited {len(diag.evidence_ids)} pieces of "
            f"evidence (confidence {diag.confidence:.2f})"
        )
    return out


def _detection_lag(report: PostMortemInput) -> int | None:
    """Minutes from the end of the first breaching window to the incident's opening."""
    if report.impact is None:
        return None
    return _minutes(report.impact.first_breach_end, report.incident.opened_at)


def improve(report: PostMortemInput, checks: list[SlaCheck]) -> list[str]:
    out = []
    lag = _detection_lag(report)
    if lag is not None and lag > PROMPT_DETECTION:
        out.append(
            f"the breach went unnoticed for {lag} minutes after its first window ended "
            "(was the monitor running every window?)"
        )
    out += [f"{c.label} took {c.minutes} minutes (SLA {c.limit})" for c in checks if c.met is False]
    for result in _gated_failures(report):
        out.append(
            f"`{result.action.type.value}` was {result.status}: "
            f"{cut(result.detail or 'no detail', 160)}"
        )
    for role in _unstaffed(report):
        out.append(f"nobody held {role}, so its escalation reached no one directly")
    if report.undelivered:
        out.append(f"{len(report.undelivered)} message(s) never got through")
    diag = report.diagnosis
    if diag is not None and diag.confidence < 0.6:
        out.append(f"the diagnosis was unsure (confidence {diag.confidence:.2f})")
    return out


def _subject(report: PostMortemInput, category: RootCauseCategory) -> str:
    """What the cause's follow-up is about: the pipeline, the release, else the model."""
    cited = set(report.diagnosis.evidence_ids) if report.diagnosis else set()
    model = f"`{report.incident.model_name}`"
    if category in {RootCauseCategory.upstream_data_change, RootCauseCategory.pipeline_failure}:
        runs = [e for e in report.evidence if e.kind == "pipeline_run" and e.id in cited]
        for run in runs:
            name, source = run.data.get("pipeline_name"), run.data.get("source")
            if name:
                return f"`{name}`" + (f" (source `{source}`)" if source else "")
    if category is RootCauseCategory.bad_deployment:
        for result in report.results:
            version = result.action.params.get("from_version")
            if version:
                return f"{model} {version}"
    return model


def action_items(
    report: PostMortemInput, checks: list[SlaCheck], now: datetime, *, proposal: bool
) -> list[ActionItem]:
    """The cause's follow-up, then one item per failure, SLA breach, unstaffed role,
    undelivered message and runbook proposal."""
    inc = report.incident
    category = (
        report.diagnosis.category if report.diagnosis else inc.root_cause_category
    ) or RootCauseCategory.unknown
    days = DUE_DAYS[inc.severity]
    if category is RootCauseCategory.adversarial:
        days = min(days, SECURITY_DUE_DAYS)
    due = (now + timedelta(days=days)).date()
    role, text = CAUSE_ITEMS[category]
    items = [ActionItem(text.format(subject=_subject(report, category)), role, due)]
    for result in _gated_failures(report):
        what = f"`{result.action.type.value}` on `{result.action.target}`"
        items.append(
            ActionItem(
                f"Settle the {result.status} {what}: record what replaced it and why",
                E.ml_team_lead,
                due,
            )
        )
    for check in checks:
        if check.met is False:
            owner = E.engineering_manager if inc.severity is Severity.P1 else E.ml_team_lead
            items.append(
                ActionItem(
                    f"Find out why {check.label} took {check.minutes} minutes "
                    f"(SLA {check.limit}) and fix the hand-off",
                    owner,
                    due,
                )
            )
    for unstaffed in _unstaffed(report):
        items.append(
            ActionItem(
                f"Name who holds {unstaffed} in the policy file (`roles.{unstaffed}`)",
                E.engineering_manager,
                due,
            )
        )
    if report.undelivered:
        items.append(
            ActionItem(
                f"Fix message delivery: {', '.join(report.undelivered[:3])} never got through",
                E.platform_engineering,
                due,
            )
        )
    if proposal:
        items.append(
            ActionItem("Review and merge the proposed runbook addition", E.ml_team_lead, due)
        )
    return items


def owner_text(report: PostMortemInput, role: EscalationTarget) -> str:
    return report.owners.get(role.value) or ROLE_WORDS[role]


def lessons_lines(
    report: PostMortemInput,
    times: dict[str, datetime | None],
    now: datetime,
    *,
    remedy: list[str],
    proposal: bool,
) -> list[str]:
    """The template's Lessons Learned: the SLA lines, then what went well, what could be
    improved (what was slow, what failed) and the action items."""
    checks = sla_checks(report, times)
    out = [f"Response times against the SLA ({report.incident.severity.value}):"]
    out += [github_text(c.line()) for c in checks]
    out.append("")
    good = went_well(report, checks, remedy)
    bad = improve(report, checks)
    slow = slowest(report, times)
    out.append(f"1. What went well: {github_text('; '.join(good))}.")
    out.append(f"2. What could be improved: {github_text('; '.join(bad) or 'nothing failed')}.")
    if slow:
        out.append(f"   The slowest step was {github_text(slow)}.")
    out.append("3. Action items:")
    for item in action_items(report, checks, now, proposal=proposal):
        out.append(
            f"   - [ ] {github_text(item.text)} — owner: {github_text(owner_text(report, item.role))}, "
            f"due {item.due.isoformat()}"
        )
    return out
