"""The runbook's message formats, as pure functions of an incident (no clock, no I/O).

Alert (runbook "Slack Message Format")::

    🚨 [P1] Model Drift Critical — classifier_v2
    Drift score (max feature PSI): 0.8 (threshold: 0.3)
    Top features: V14 (PSI=0.8), V17 (PSI=0.6)
    F1: 0.66 (threshold: 0.7)
    Investigating automatically...

- The title names the alert mix by the first type present in this order: Service Down,
  No Data, Error Rate, Model Drift, Model Performance, Latency, Data Quality. Drift outranks
  performance because when both fire the drift is the lead and the F1 drop its symptom.
- The word after the title is the incident's severity: Critical (P1), Warning (P2), Info (P3).
- "Drift score" is the highest PSI among the incident's drifting features (the aggregate the
  per-feature threshold applies to: the model breaches when its worst feature does), shown
  with that alert's threshold; "Top features" are the three most drifted features by PSI (the
  diagnosis's own list when the caller gives one), "+N more" beyond them.
- Each other breached metric follows as `<Metric>: <value> (threshold: <threshold>)`, one
  line per metric: feature-level breaches share it ("Null rate: V3 0.35, V2 0.33 (threshold:
  0.1)"). Values print with as many decimals as it takes for the printed value to compare
  with its threshold as the real one does (PSI 0.3029 → "0.303", never "0.3").
- A P3 event is a notice, never a page: "ℹ️ [P3] ... Info" without "Investigating
  automatically...", posted quietly (a reply in the day's notices thread, or the digest).

Resolution::

    ✅ [Resolved] Model Drift — classifier_v2
    Root cause: Vendor API format change affecting V14
    Resolution: Rolled back 2.4.0 → 2.3.0; F1 0.86 for 2 windows
    Time to resolve: 45 minutes

The root cause in a page, resolution or escalation is its one-line headline (at most 90
characters, `wording.headline`); the whole text is the investigation's thread reply. Every
message kind has a length budget (`wording.BUDGETS`; the alert 8 lines and 500 characters,
the resolution 6 and 400) and is cut to it.

A security incident (root-cause category `adversarial`) is told in detail to the security
team only: its public texts (channel posts, the GitHub issue, the resolution) carry a neutral
title ("Model Incident") and no attack details.

Every message is built from untrusted parts (model and feature names from the tables, a
model's or a pipeline note's words), so each function returns its text neutralised for the
reader it is for (`untrusted.py`): Slack texts escaped, GitHub texts without live mentions or
issue references, email subjects on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from agentops.actions.breaches import SEVERITY_WORD, alert_title, breach_lines, one_line
from agentops.actions.untrusted import quote, slack_text
from agentops.actions.wording import (
    NEUTRAL_TITLE,
    RESTRICTED,
    cut,
    fit,
    headline,
    headline_of,
    is_security,
)
from agentops.domain import Alert, Diagnosis, EscalationTarget, Incident, Severity


def format_alert_message(
    incident: Incident,
    alerts: Sequence[Alert] | None = None,
    diagnosis: Diagnosis | None = None,
    *,
    top_drifted: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The runbook's Slack alert for `alerts` (default: all of the incident's alerts); a P3
    event reads as a notice. At most 8 lines and 500 characters.

    `top_drifted` ([{"feature": "V14", "psi": 0.8}, ...]) replaces the features taken from the
    drift alerts, e.g. with the investigation's per-feature drift. A security incident's
    alert is the neutral notice (`format_security_notice`).
    """
    if diagnosis is not None and is_security(incident, diagnosis):
        return format_security_notice(incident)
    chosen = list(alerts if alerts is not None else incident.alerts)
    types = [a.type for a in chosen] or list(incident.alert_types)
    title = alert_title(chosen, types)
    severity = Severity.highest([a.severity for a in chosen]) if chosen else incident.severity
    model = one_line(incident.model_name)
    quiet = severity is Severity.P3
    mark = "ℹ️" if quiet else "🚨"
    lines = [f"{mark} [{severity.value}] {title} {SEVERITY_WORD[severity]} — {model}"]
    lines += breach_lines(chosen, top_drifted)
    if diagnosis is not None:
        lines.append(f"Suspected root cause: {headline_of(diagnosis)}")
    lines.append(
        "Notice only, no page: followed up in this thread."
        if quiet
        else "Investigating automatically..."
    )
    return fit(slack_text("\n".join(lines)), "p3_notice" if quiet else "alert")


def format_security_notice(incident: Incident) -> str:
    """The public post of a security incident: a neutral title, no attack details."""
    mark = "ℹ️" if incident.severity is Severity.P3 else "🚨"
    lines = [
        f"{mark} [{incident.severity.value}] {NEUTRAL_TITLE} {SEVERITY_WORD[incident.severity]}"
        f" — {one_line(incident.model_name)}",
        f"{incident.incident_id} is handled with the security team; details are {RESTRICTED}.",
    ]
    return fit(slack_text("\n".join(lines)), "security_notice")


def format_finding(incident: Incident, diagnosis: Diagnosis, phase: str) -> str:
    """A thread reply with what triage or investigation found: the details the page and the
    resolution only headline (a security incident's stay with the security team)."""
    word = "Triage" if phase == "triage" else "Investigation"
    if is_security(incident, diagnosis):
        text = (
            f"{word} ({diagnosis.diagnosed_by}): a security concern, confidence "
            f"{diagnosis.confidence:.2f}\nDetails are {RESTRICTED} (escalated to them)."
        )
        return fit(slack_text(text), "finding")
    lines = [
        f"{word} ({diagnosis.diagnosed_by}): {diagnosis.category.value}, confidence "
        f"{diagnosis.confidence:.2f}",
        quote(diagnosis.root_cause, 600),
    ]
    if diagnosis.refused:
        lines.append("Refused model claims: " + "; ".join(quote(r, 200) for r in diagnosis.refused))
    return fit(slack_text("\n".join(lines)), "finding")


PLAN_STEPS = 8


def format_plan(
    incident: Incident, steps: Sequence[tuple[str, str, bool]], *, cause: str | None = None
) -> str:
    """A thread reply with the remediation plan: (action, target, needs approval) per step,
    after the suspected cause's headline when the channel has not seen it."""
    lines = [f"Plan for {incident.incident_id}:"]
    if cause:
        lines.insert(0, f"Suspected root cause: {cause}")
    for kind, target, gated in steps[:PLAN_STEPS]:
        lines.append(f"• {kind} → {quote(target, 60)}" + (" (needs approval)" if gated else ""))
    if len(steps) > PLAN_STEPS:
        lines.append(f"• … and {len(steps) - PLAN_STEPS} more (`agentops incidents show`)")
    return fit(slack_text("\n".join(lines)), "plan")


def format_approval_request(incident: Incident, action: Any, payload: dict[str, Any]) -> str:
    """What an approver reads. The first two lines are the system's: what runs, on what, with
    which parameters, and that nothing else is approved. A model's words come after them,
    quoted, attributed and capped (`payload["model_says"]`), never in those lines."""
    # every parameter the executor reads, as the payload lists them (defaults included)
    shown = (payload.get("action") or {}).get("params") or action.params or {}
    params = ", ".join(f"{k}={one_line(str(v))}" for k, v in sorted(shown.items()))
    target = one_line(action.target)
    lines = [
        f"🔐 Approval needed — {action.type.value} → {target} "
        f"({incident.incident_id}, {incident.severity.value}, {one_line(incident.model_name)})",
        f"Approving runs {action.type.value} on {target} once"
        + (f" with {params}" if params else "")
        + "; nothing else is approved.",
        f"Diagnosis: {payload.get('category') or '?'} by {payload.get('diagnosed_by') or '?'}",
    ]
    said = payload.get("model_says")
    if isinstance(said, dict) and said.get("text"):
        lines.append(
            f"The model ({said.get('by') or '?'}) says, unverified: “{quote(str(said['text']))}”"
        )
    else:
        lines.append(f"Why: {quote(str(payload.get('why') or action.reason), 600)}")
    lines.append(f"Risk: {payload.get('risk') or 'see the runbook'}")
    lines += approval_facts_lines(payload.get("facts"))
    evidence = payload.get("evidence") or []
    if evidence:
        lines.append(
            "Evidence: " + "; ".join(quote(str(e.get("summary")), 160) for e in evidence[:3])
        )
    approvers = payload.get("approvers") or []
    lines.append(
        "Approvers: " + (", ".join(approvers) if approvers else "none configured (set approvers)")
    )
    lines.append("Approve runs it once; Reject hands the incident to the ML team lead.")
    return slack_text("\n".join(lines))


def minutes_text(start: datetime, end: datetime) -> str:
    """'45 minutes', '125 minutes', '1 minute': the seed's form, in minutes."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def duration_text(start: datetime, end: datetime) -> str:
    """'45 minutes', '1 minute', '2 hours 5 minutes' (rounded to the minute)."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    tail = f" {rest} minute{'s' if rest != 1 else ''}" if rest else ""
    return f"{hours} hours{tail}"


def format_resolution_message(
    incident: Incident,
    *,
    root_cause: str,
    resolution: str,
    resolved_at: datetime,
    security: bool = False,
) -> str:
    """The runbook's Slack resolution message: the root cause's headline, what fixed it in
    words, and the time to resolve from `opened_at` to `resolved_at`. At most 6 lines and
    400 characters; a security incident's is neutral."""
    title = NEUTRAL_TITLE if security else alert_title(incident.alerts, incident.alert_types)
    cause = f"details are {RESTRICTED}" if security else headline(root_cause)
    lines = [
        f"✅ [Resolved] {title} — {quote(incident.model_name, 60)}",
        f"Root cause: {cause}",
        f"Resolution: {cut(resolution, 200)}",
        f"Time to resolve: {minutes_text(incident.opened_at, resolved_at)}",
    ]
    return fit(slack_text("\n".join(lines)), "resolution")


def format_escalation_message(
    incident: Incident,
    target: EscalationTarget,
    *,
    who: str,
    reason: str,
    root_cause: str | None = None,
) -> str:
    """The Slack DM (and email body) that hands an incident to a person: who, why them, the
    root cause's headline (once: a reason that already carries it is not repeated) and where
    the details are. At most 6 lines and 600 characters."""
    title = alert_title(incident.alerts, incident.alert_types)
    opened = incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")
    why = cut(reason, 240)
    cause = (
        headline(root_cause or incident.root_cause or "")
        if (root_cause or incident.root_cause)
        else ""
    )
    lines = [
        f"⚠️ [{incident.severity.value}] Escalation to {who} — {quote(incident.model_name, 60)}",
        f"{incident.incident_id} · {title} · opened {opened} · status {incident.status.value}",
        f"Why you: {why}",
    ]
    if cause and cause.lower() not in why.lower():
        lines.append(f"Root cause: {cause}")
    lines.append(f"Details: agentops incidents show {incident.incident_id}")
    return fit(slack_text("\n".join(lines)), "escalation")


def format_unreachable(
    incident: Incident, *, who: str, missing: str, reason: str, security: bool = False
) -> str:
    """A note in the incident's channel when an escalation reached nobody: who must be told,
    why, and what to configure. Never the DM's details."""
    why = f"details are {RESTRICTED}" if security else cut(reason, 200)
    lines = [
        f"⚠️ [{incident.severity.value}] {incident.incident_id} needs {who}, and agentops "
        f"could not reach them: {missing}. Please tell them.",
        f"Why: {why}",
    ]
    return fit(slack_text("\n".join(lines)), "unreachable")


STORM_LIST_MAX = 10


def format_storm_page(parent: Incident, members: Sequence[Incident], cause: str) -> str:
    """One page for many models broken by one upstream failure: the cause and each model's
    incident (the first STORM_LIST_MAX of them, worst first), answered in this thread."""
    ranked = sorted(members, key=lambda i: (i.severity.value, i.model_name))
    lines = [
        f"🚨 [{parent.severity.value}] Upstream failure {SEVERITY_WORD[parent.severity]} — "
        f"{len(members)} models ({quote(cause, 80)})",
        f"Incident: {parent.incident_id}; each model's incident is handled in this thread.",
    ]
    lines += _listed(
        [
            f"• {quote(i.model_name, 50)} — {i.incident_id} [{i.severity.value}] "
            f"{alert_title(i.alerts, i.alert_types)}"
            for i in ranked
        ],
        STORM_LIST_MAX,
    )
    lines.append("Investigating automatically...")
    return fit(slack_text("\n".join(lines)), "storm_page")


def _listed(items: list[str], limit: int) -> list[str]:
    """The first `limit` lines, then how many more and where to see them."""
    more = [f"… and {len(items) - limit} more (`agentops incidents list`)"]
    return items[:limit] + (more if len(items) > limit else [])


# ---- P3 notices: quiet, never a page ---------------------------------------------------------
def format_notices_root(day: date) -> str:
    """The day's notices thread: P3 events reply in it, so nobody is paged for them."""
    return fit(
        slack_text(
            f"ℹ️ P3 notices for {day.isoformat()}: one reply per event below; "
            "nothing here needs action unless it grows."
        ),
        "notices_root",
    )


DIGEST_MAX = 20


def format_digest(day: date, entries: Sequence[tuple[Incident, str]]) -> str:
    """The day's P3 digest: one line per event (incident, its headline or status)."""
    lines = [f"ℹ️ P3 digest for {day.isoformat()}: {len(entries)} notice(s), no action needed"]
    lines += _listed(
        [
            f"• {quote(i.model_name, 40)} — {i.incident_id} "
            f"{alert_title(i.alerts, i.alert_types)}: {cut(note, 90)} ({i.status.value})"
            for i, note in entries
        ],
        DIGEST_MAX,
    )
    return fit(slack_text("\n".join(lines)), "digest")


def approval_facts_lines(facts: Any) -> list[str]:
    """The facts an approver weighs (`payload["facts"]`, from the monitoring tables), one
    bullet each under a heading that says when they were read; [] when there are none."""
    if not isinstance(facts, dict) or not facts.get("lines"):
        return []
    when = f" as of {facts['as_of']}" if facts.get("as_of") else ""
    return [
        f"Facts for this decision (monitoring tables{when}):",
        *(f"• {quote(str(line), 300)}" for line in facts["lines"]),
    ]
