"""Texts outside Slack: the GitHub tracking issue (title, labels, body) and email subjects
and bodies. GitHub texts carry no live mention or issue reference, subjects stay on one line;
a security incident's public issue has a neutral title, no category label and no details."""

from __future__ import annotations

from agentops.actions.breaches import alert_title, metric_line, one_line
from agentops.actions.untrusted import github_text, header_text
from agentops.actions.wording import NEUTRAL_TITLE, RESTRICTED, cut, fit, is_security
from agentops.clock import iso
from agentops.domain import Diagnosis, Incident, RootCauseCategory


def escalation_subject(incident: Incident, who: str, *, security: bool = False) -> str:
    """One header line: a model name with a CR/LF in it cannot add a header."""
    title = NEUTRAL_TITLE if security else alert_title(incident.alerts, incident.alert_types)
    return header_text(
        f"[{incident.severity.value}] {incident.incident_id} escalated to {who}: "
        f"{title} — {incident.model_name}"
    )


def github_title(incident: Incident, *, security: bool = False) -> str:
    title = NEUTRAL_TITLE if security else alert_title(incident.alerts, incident.alert_types)
    return header_text(
        github_text(
            f"[{incident.severity.value}] {incident.incident_id}: {title} — {incident.model_name}"
        )
    )


def github_labels(incident: Incident, category: str | None) -> list[str]:
    """Severity and root-cause category, as the tracking issue's labels (a security
    incident's category stays off the public issue)."""
    labels = [incident.severity.value]
    if category and category != RootCauseCategory.adversarial.value:
        labels.append(category)
    return labels


def github_body(incident: Incident, diagnosis: Diagnosis | None = None) -> str:
    """The tracking issue before the post-mortem exists: what fired, what is suspected (a
    security incident's issue says only that the security team has it)."""
    lines = [
        f"## {incident.incident_id} — {one_line(incident.model_name)}",
        "",
        f"- Severity: {incident.severity.value}",
        f"- Opened: {iso(incident.opened_at)}",
        f"- Status: {incident.status.value}",
    ]
    if is_security(incident, diagnosis):
        lines += ["", f"Handled with the security team; the details are {RESTRICTED}."]
        return github_text("\n".join(lines))
    lines.insert(4, f"- Alert types: {', '.join(t.value for t in incident.alert_types)}")
    cause = diagnosis.root_cause if diagnosis else incident.root_cause
    category = diagnosis.category.value if diagnosis else incident.root_cause_category
    if category:
        lines.append(f"- Root-cause category: {category}")
    if cause:
        lines.append(f"- Root cause: {cause}")
    lines += ["", "### Alerts", ""]
    lines += [f"- {a.severity.value} {a.type.value} {metric_line(a)}" for a in incident.alerts]
    lines += ["", "The post-mortem replaces this body once the incident is resolved."]
    return github_text("\n".join(lines))


def github_restricted_postmortem(incident: Incident) -> str:
    """The public post-mortem of a security incident: that it exists and who holds it."""
    lines = [
        f"# Post-Mortem: {incident.incident_id}",
        "",
        f"Resolved. The post-mortem is {RESTRICTED}; it was sent to them and is kept by "
        f"agentops (`agentops incidents show {incident.incident_id}`).",
    ]
    return github_text("\n".join(lines))


def fallback_email(text: str, *, where: str, error: str, attempts: int) -> tuple[str, str]:
    """(subject, body) of the email that carries a P1 Slack message Slack did not take."""
    first = text.split("\n", 1)[0]
    subject = header_text(f"[Slack undelivered] {first}")
    body = (
        f"Slack did not take this message for {where} after {attempts} attempt(s) "
        f"({cut(error, 160)}); it comes to you by email instead.\n\n{text}"
    )
    return subject, fit(body, "fallback_email")
