"""The runbook's communication policy as configuration: escalation matrix, SLA table,
channels and contacts.

Defaults are the runbook's own tables (`incident_response_runbook.md`); the YAML policy file
(`agentops.config.load_config`) may override any part under the sections `escalation`, `sla`,
`channels` and `contacts`. Everything is validated: an unknown key or a bad value raises
`ConfigError` naming the section and the key.

Example policy file::

    escalation:
      p1_unresolved_after_minutes: 60
    sla:
      P1: {detection_to_triage: 5, triage_to_investigation: 10, investigation_to_resolution: 120}
    channels:
      ml_alerts: "#ml-alerts"
      data_alerts: "#data-alerts"
    contacts:                         # people (see agentops.people)
      dana: {name: Dana Lee, slack: U0123ABCD, email: dana@example.com}
      erin: {email: eng-manager@example.com}
    roles:
      ml_team_lead: [dana]
      engineering_manager: [erin]
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentops.config import load_config
from agentops.domain import EscalationTarget, Severity
from agentops.errors import ConfigError
from agentops.people import Contact, People, RoleChannel, parse_people
from agentops.settings import Settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Escalation(_Strict):
    """The escalation matrix: which condition goes to whom, and when email is added."""

    remediation_failed: EscalationTarget = EscalationTarget.ml_team_lead
    p1_unresolved: EscalationTarget = EscalationTarget.engineering_manager
    p1_unresolved_after_minutes: int = Field(60, gt=0)
    upstream_data: EscalationTarget = EscalationTarget.data_engineering_lead
    infrastructure: EscalationTarget = EscalationTarget.platform_engineering
    security: EscalationTarget = EscalationTarget.security_team
    # an approval left unanswered past its SLA: the person who can unblock remediation
    approval_overdue: EscalationTarget = EscalationTarget.ml_team_lead
    # the runbook's "Email: P1 escalations, stakeholder updates (Management)"
    email_severities: tuple[Severity, ...] = (Severity.P1,)
    email_targets: tuple[EscalationTarget, ...] = (EscalationTarget.engineering_manager,)


class SlaTimes(_Strict):
    """Minutes allowed per phase (the runbook's Response Time SLAs)."""

    detection_to_triage: int = Field(gt=0)
    triage_to_investigation: int = Field(gt=0)
    investigation_to_resolution: int = Field(gt=0)


DEFAULT_SLA: dict[Severity, SlaTimes] = {
    Severity.P1: SlaTimes(
        detection_to_triage=5, triage_to_investigation=10, investigation_to_resolution=120
    ),
    Severity.P2: SlaTimes(
        detection_to_triage=15, triage_to_investigation=30, investigation_to_resolution=480
    ),
    Severity.P3: SlaTimes(
        detection_to_triage=60, triage_to_investigation=240, investigation_to_resolution=1440
    ),
}


class Channels(_Strict):
    """Slack channels by role. `None` fields fall back to the settings' channels."""

    ml_alerts: str | None = None
    data_alerts: str | None = None


ROLE_WORDS = {
    EscalationTarget.ml_team_lead: "ML team lead",
    EscalationTarget.engineering_manager: "engineering manager",
    EscalationTarget.data_engineering_lead: "data engineering lead",
    EscalationTarget.platform_engineering: "platform engineering",
    EscalationTarget.security_team: "security team",
}


class Policy(_Strict):
    escalation: Escalation = Field(default_factory=Escalation)
    sla: dict[Severity, SlaTimes] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    ml_alerts_channel: str = "#ml-alerts"
    data_alerts_channel: str = "#data-alerts"
    people: People = Field(default_factory=People)

    def recipients(self, target: EscalationTarget) -> list[tuple[str, Contact]]:
        """The people holding `target`'s role, with their contact details."""
        return [(name, self.people.contact(name)) for name in self.people.role_people(target)]

    def role_channel(self, target: EscalationTarget) -> RoleChannel | None:
        return self.people.role_channel(target)

    def contact(self, target: EscalationTarget) -> Contact:
        """The first person holding `target` (or an empty contact)."""
        found = self.recipients(target)
        return found[0][1] if found else Contact()

    def display_name(self, target: EscalationTarget) -> str:
        """Who holds the role, by name ("Dana Lee"), else the role in words ("ML team lead")."""
        names = [
            contact.name or (ROLE_WORDS[EscalationTarget(name)] if name in ROLE_WORDS else name)
            for name, contact in self.recipients(target)
        ]
        return ", ".join(names) if names else ROLE_WORDS[target]

    def resolve_channel(self, target: str) -> str:
        """An action's Slack target: a role name (`ml_alerts`, `data_alerts`) or a channel."""
        roles = {"ml_alerts": self.ml_alerts_channel, "data_alerts": self.data_alerts_channel}
        return roles.get(target.lstrip("#").replace("-", "_"), target)

    def needs_email(self, target: EscalationTarget, severity: Severity) -> bool:
        return target in self.escalation.email_targets or (
            severity in self.escalation.email_severities
        )


def build_policy(settings: Settings, sections: dict[str, Any]) -> Policy:
    """The policy from the runbook's defaults, the settings' channels and the file sections."""
    try:
        escalation = Escalation.model_validate(sections.get("escalation") or {})
        sla = dict(DEFAULT_SLA)
        for severity, times in (sections.get("sla") or {}).items():
            base = DEFAULT_SLA[Severity(severity)].model_dump()
            sla[Severity(severity)] = SlaTimes.model_validate({**base, **(times or {})})
        channels = Channels.model_validate(sections.get("channels") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"policy file: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigError(f"policy file: {exc}") from None
    return Policy(
        escalation=escalation,
        sla=sla,
        ml_alerts_channel=channels.ml_alerts or settings.slack_alerts_channel,
        data_alerts_channel=channels.data_alerts or settings.slack_data_channel,
        people=parse_people(sections),
    )


def load_policy(settings: Settings) -> Policy:
    """The policy in force: runbook defaults overridden by the YAML policy file, if any."""
    return build_policy(settings, load_config(settings))
