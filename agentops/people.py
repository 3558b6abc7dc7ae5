"""People in the policy file: who they are, which role of the escalation matrix each holds,
who may approve what, and the API tokens the LangGraph server accepts (CONTRACT.md).

    contacts:                       # people, by name
      alice: {slack: U0ALICE, email: alice@example.com}
    roles:                          # the escalation matrix's roles -> people or a channel
      ml_team_lead: [alice]
      security_team: {slack: "#sec-oncall"}
    approvers: [alice, bob]         # or per action: {rollback_model: [alice, ml_team_lead]}
    auth:
      tokens: {alice: <sha256 hex of alice's token>}

Names in `roles`, `approvers` and `auth.tokens` must be people in `contacts` (approvers may
also name a role, meaning its people), so a typo is an error naming the key, not a silent
"nobody may approve". A first-wave file whose `contacts` were keyed by role
(`contacts: {ml_team_lead: {...}}`) still reads: each such entry becomes a person of that
name holding that role.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentops.domain import ActionType, EscalationTarget
from agentops.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Contact(_Strict):
    """One person: a display name, a Slack user id (U...) for DMs, an email address."""

    name: str | None = None
    slack: str | None = Field(None, description="a Slack user id such as U0123ABCD")
    email: str | None = None


class RoleChannel(_Strict):
    """A role served by a channel rather than named people (e.g. a security on-call)."""

    slack: str | None = None
    email: str | None = None


class People(_Strict):
    contacts: dict[str, Contact] = Field(default_factory=dict)
    roles: dict[EscalationTarget, list[str] | RoleChannel] = Field(default_factory=dict)
    # None: not set in the file (AGENTOPS_APPROVERS applies); a list: everyone; a mapping:
    # per action type
    approvers: list[str] | dict[ActionType, list[str]] | None = None
    tokens: dict[str, str] = Field(default_factory=dict)

    def role_people(self, role: EscalationTarget) -> list[str]:
        members = self.roles.get(role)
        return list(members) if isinstance(members, list) else []

    def role_channel(self, role: EscalationTarget) -> RoleChannel | None:
        members = self.roles.get(role)
        return members if isinstance(members, RoleChannel) else None

    def contact(self, name: str) -> Contact:
        return self.contacts.get(name) or Contact()

    def display_name(self, name: str) -> str:
        return self.contact(name).name or name

    def approvers_for(self, action: ActionType, fallback: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The people who may approve `action`: the file's list (roles expanded), else
        `fallback` (AGENTOPS_APPROVERS of the process that runs the graph)."""
        if self.approvers is None:
            return fallback
        names = (
            self.approvers if isinstance(self.approvers, list) else self.approvers.get(action, [])
        )
        out: list[str] = []
        for name in names:
            expanded = self.role_people(EscalationTarget(name)) if _is_role(name) else [name]
            out.extend(n for n in expanded if n not in out)
        return tuple(out)

    def approver_roles_for(self, action: ActionType) -> list[str]:
        """The roles named as approvers of `action` (shown in an approval request)."""
        if not isinstance(self.approvers, dict):
            return []
        return [n for n in self.approvers.get(action, []) if _is_role(n)]

    def person_for_slack_user(self, user_id: str) -> str | None:
        for name, contact in self.contacts.items():
            if contact.slack and contact.slack == user_id:
                return name
        return None

    def person_for_token(self, token: str) -> str | None:
        """The person whose configured sha256 matches `token` (constant-time compare)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        found = None
        for name, expected in self.tokens.items():
            if hmac.compare_digest(digest, expected.lower()):
                found = name
        return found


def _is_role(name: str) -> bool:
    return name in EscalationTarget.__members__


def parse_people(sections: dict[str, Any]) -> People:
    """People from the policy file's `contacts`, `roles`, `approvers` and `auth` sections;
    ConfigError naming the key path when something is wrong."""
    contacts_raw = dict(sections.get("contacts") or {})
    roles_raw = dict(sections.get("roles") or {})
    # first-wave files keyed contacts by role: each becomes a person holding that role
    for key in list(contacts_raw):
        if _is_role(str(key)) and key not in roles_raw:
            roles_raw[key] = [key]
    auth = sections.get("auth") or {}
    if not isinstance(auth, dict):
        raise ConfigError("policy file: auth: expected a mapping with `tokens`")
    unknown = sorted(set(auth) - {"tokens"})
    if unknown:
        raise ConfigError(f"policy file: auth: unknown key(s) {unknown}; expected `tokens`")
    try:
        people = People.model_validate(
            {
                "contacts": contacts_raw,
                "roles": roles_raw,
                "approvers": sections.get("approvers"),
                "tokens": auth.get("tokens") or {},
            },
            strict=False,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("list["))
        where = where.replace("tokens", "auth.tokens", 1) if where.startswith("tokens") else where
        raise ConfigError(f"policy file: {where}: {first['msg']}") from None
    _check_names(people)
    return people


def _check_names(people: People) -> None:
    known = set(people.contacts)
    for role, members in people.roles.items():
        if isinstance(members, list):
            for name in members:
                if name not in known:
                    raise ConfigError(
                        f"policy file: roles.{role.value}: {name!r} is not a person in contacts"
                    )
    approvers = people.approvers
    if approvers is not None:
        groups = {"": approvers} if isinstance(approvers, list) else approvers
        for action, names in groups.items():
            where = f"approvers.{action}" if action else "approvers"
            for name in names:
                if name not in known and not _is_role(name):
                    raise ConfigError(
                        f"policy file: {where}: {name!r} is neither a person in contacts nor a role"
                    )
    for name, digest in people.tokens.items():
        if name not in known:
            raise ConfigError(f"policy file: auth.tokens: {name!r} is not a person in contacts")
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ConfigError(
                f"policy file: auth.tokens.{name}: expected the sha256 hex digest of the "
                "token (64 hex characters), never the token itself"
            )
