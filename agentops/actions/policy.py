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

Routing (the runbook's channel table): P1/P2 alerts and resolutions in `ml_alerts`; data
issues also in `data_alerts`; P3 events are quiet notices, replies in one thread per day
(`notices: thread`, the default) or one digest per day (`notices: digest`), never a page.
A fleet names its teams: the first team whose `models` (shell patterns) match a model gets
that model's messages in its channels, and its `roles` replace the global ones::

    channels:
      notices: thread
      teams:
        claims:
          models: ["claims_*"]
          ml_alerts: "#claims-ml"
          data_alerts: "#claims-data"
          roles: {ml_team_lead: [carol], data_engineering_lead: {slack: "#claims-de"}}
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentops.actions.wording import ROLE_WORDS
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


class Team(_Strict):
    """A team of a fleet: the models it owns (shell patterns), its channels and its people
    for the escalation matrix's roles (names from `contacts`, or a channel)."""

    models: list[str] = Field(min_length=1)
    ml_alerts: str | None = None
    data_alerts: str | None = None
    roles: dict[EscalationTarget, list[str] | RoleChannel] = Field(default_factory=dict)


Notices = Literal["thread", "digest"]


class Channels(_Strict):
    """Slack channels by role. `None` fields fall back to the settings' channels."""

    ml_alerts: str | None = None
    data_alerts: str | None = None
    notices: Notices = "thread"
    teams: dict[str, Team] = Field(default_factory=dict)


class Policy(_Strict):
    escalation: Escalation = Field(default_factory=Escalation)
    sla: dict[Severity, SlaTimes] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    ml_alerts_channel: str = "#ml-alerts"
    data_alerts_channel: str = "#data-alerts"
    notices: Notices = "thread"
    teams: dict[str, Team] = Field(default_factory=dict)
    people: People = Field(default_factory=People)

    # ---- routing: whose model, which channel ------------------------------------------------
    def team_for(self, model: str | None) -> Team | None:
        """The first team whose patterns match `model` (file order), else None."""
        if model is None:
            return None
        for team in self.teams.values():
            if any(fnmatchcase(model, pattern) for pattern in team.models):
                return team
        return None

    def alerts_channel(self, model: str | None = None) -> str:
        """Where P1/P2 alerts and resolutions of `model` go (its team's, else #ml-alerts)."""
        team = self.team_for(model)
        return (team.ml_alerts if team else None) or self.ml_alerts_channel

    def data_channel(self, model: str | None = None) -> str:
        """Where data issues of `model` go (its team's, else #data-alerts)."""
        team = self.team_for(model)
        return (team.data_alerts if team else None) or self.data_alerts_channel

    def _role(self, target: EscalationTarget, model: str | None) -> list[str] | RoleChannel | None:
        team = self.team_for(model)
        if team is not None and target in team.roles:
            return team.roles[target]
        return self.people.roles.get(target)

    def recipients(
        self, target: EscalationTarget, model: str | None = None
    ) -> list[tuple[str, Contact]]:
        """The people holding `target`'s role (for `model`'s team), with their contacts."""
        members = self._role(target, model)
        names = members if isinstance(members, list) else []
        return [(name, self.people.contact(name)) for name in names]

    def role_channel(
        self, target: EscalationTarget, model: str | None = None
    ) -> RoleChannel | None:
        members = self._role(target, model)
        return members if isinstance(members, RoleChannel) else None

    def contact(self, target: EscalationTarget, model: str | None = None) -> Contact:
        """The first person holding `target` (or an empty contact)."""
        found = self.recipients(target, model)
        return found[0][1] if found else Contact()

    def display_name(self, target: EscalationTarget, model: str | None = None) -> str:
        """The role in words, with who holds it when the file names them: "ML team lead",
        "Dana Lee (ML team lead)", "the security team"."""
        role = ROLE_WORDS[target]
        names = [contact.name or name for name, contact in self.recipients(target, model)]
        if not names or all(n in ROLE_WORDS for n in names):  # first-wave: keyed by role
            return role
        shown = names if len(names) <= 2 else [*names[:2], f"{len(names) - 2} more"]
        return f"{', '.join(shown)} ({role})"

    def emails(self, target: EscalationTarget, model: str | None = None) -> list[str]:
        """Every address that reaches `target` (its people's, its channel's)."""
        found = [c.email for _, c in self.recipients(target, model) if c.email]
        channel = self.role_channel(target, model)
        if channel is not None and channel.email:
            found.append(channel.email)
        return list(dict.fromkeys(found))

    def resolve_channel(self, target: str, model: str | None = None) -> str:
        """An action's Slack target: a role name (`ml_alerts`, `data_alerts`), the default
        channels (both become `model`'s team's), or any other channel as given."""
        word = target.lstrip("#").replace("-", "_")
        if word == "ml_alerts" or target == self.ml_alerts_channel:
            return self.alerts_channel(model)
        if word == "data_alerts" or target == self.data_alerts_channel:
            return self.data_channel(model)
        return target

    def channel_owner(self, channel: str, model: str | None = None) -> EscalationTarget:
        """The role a channel's P1 messages fall back to when Slack cannot take them."""
        if channel == self.data_channel(model):
            return EscalationTarget.data_engineering_lead
        return EscalationTarget.ml_team_lead

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
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"policy file: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigError(f"policy file: {exc}") from None
    try:
        channels = Channels.model_validate(sections.get("channels") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("list["))
        raise ConfigError(f"policy file: channels.{where}: {first['msg']}") from None
    except ValueError as exc:
        raise ConfigError(f"policy file: {exc}") from None
    people = parse_people(sections)
    _check_team_people(channels, people)
    return Policy(
        escalation=escalation,
        sla=sla,
        ml_alerts_channel=channels.ml_alerts or settings.slack_alerts_channel,
        data_alerts_channel=channels.data_alerts or settings.slack_data_channel,
        notices=channels.notices,
        teams=channels.teams,
        people=people,
    )


def _check_team_people(channels: Channels, people: People) -> None:
    for name, team in channels.teams.items():
        for role, members in team.roles.items():
            for person in members if isinstance(members, list) else []:
                if person not in people.contacts:
                    raise ConfigError(
                        f"policy file: channels.teams.{name}.roles.{role.value}: {person!r} "
                        "is not a person in contacts"
                    )


def load_policy(settings: Settings) -> Policy:
    """The policy in force: runbook defaults overridden by the YAML policy file, if any."""
    return build_policy(settings, load_config(settings))
