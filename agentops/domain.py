"""The records every layer shares, in the vocabulary of CONTRACT.md.

Pydantic at the boundaries: alerts, incidents, diagnoses and action plans cross from code to
model and back, into the store and into reports, so each validates itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentops.params import parse_params


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """Higher is more severe: P1 -> 3, P3 -> 1."""
        return {"P1": 3, "P2": 2, "P3": 1}[self.value]

    @classmethod
    def highest(cls, severities: list[Severity]) -> Severity:
        return max(severities, key=lambda s: s.rank)


class AlertType(StrEnum):
    model_performance = "model_performance"
    service_down = "service_down"
    error_rate = "error_rate"
    feature_drift = "feature_drift"
    latency = "latency"
    data_quality = "data_quality"
    no_data = "no_data"  # the model's metrics stopped arriving: silence is not health


class RootCauseCategory(StrEnum):
    bad_deployment = "bad_deployment"
    upstream_data_change = "upstream_data_change"
    pipeline_failure = "pipeline_failure"
    concept_drift = "concept_drift"
    infrastructure = "infrastructure"
    adversarial = "adversarial"
    benign = "benign"
    # the evidence fits no category well enough: a person decides (ml_team_lead)
    unknown = "unknown"


class ActionType(StrEnum):
    notify_slack = "notify_slack"
    log_metrics = "log_metrics"
    escalate = "escalate"
    open_github_issue = "open_github_issue"
    rollback_model = "rollback_model"
    retrain_model = "retrain_model"
    scale_infrastructure = "scale_infrastructure"

    @property
    def requires_approval(self) -> bool:
        return self in APPROVAL_REQUIRED


APPROVAL_REQUIRED: frozenset[ActionType] = frozenset(
    {ActionType.rollback_model, ActionType.retrain_model, ActionType.scale_infrastructure}
)


class EscalationTarget(StrEnum):
    ml_team_lead = "ml_team_lead"
    engineering_manager = "engineering_manager"
    data_engineering_lead = "data_engineering_lead"
    platform_engineering = "platform_engineering"
    security_team = "security_team"


class IncidentStatus(StrEnum):
    """CONTRACT.md's statuses. `monitoring`: remediation done or under way, waiting to
    see recovery; `escalated`: a person owns it (it is still verified and resolves on
    recovery); `resolved`: every breached condition recovered (or a person closed it)."""

    open = "open"
    awaiting_approval = "awaiting_approval"
    monitoring = "monitoring"
    escalated = "escalated"
    resolved = "resolved"


class Record(BaseModel):
    """Base for domain records: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- detection ---------------------------------------------------------------------------
class Alert(Record):
    """One threshold breach in one window."""

    type: AlertType
    severity: Severity
    model_name: str
    component: str = Field(
        "model", description="'model' for model-level metrics, else the feature name"
    )
    metric: str = Field(description="the column that breached, e.g. f1, psi, null_rate")
    value: float | str | None = Field(description="observed value ('down' for status)")
    threshold: float | str | None
    window_start: datetime
    window_end: datetime
    message: str = ""

    @property
    def fingerprint(self) -> str:
        """Same condition on the same thing: (model, type, component)."""
        return f"{self.model_name}:{self.type.value}:{self.component}"


class Incident(Record):
    incident_id: str = Field(description="INC-YYYY-MMDD-N")
    model_name: str
    severity: Severity
    alert_types: list[AlertType]
    alerts: list[Alert] = Field(default_factory=list)
    status: IncidentStatus = IncidentStatus.open
    opened_at: datetime
    resolved_at: datetime | None = None
    root_cause_category: RootCauseCategory | None = None
    root_cause: str | None = None
    resolution: str | None = None
    postmortem: str | None = Field(None, description="path of the post-mortem report")
    parent_id: str | None = Field(
        None, description="the storm incident it belongs to (one upstream cause, many models)"
    )

    @property
    def fingerprints(self) -> set[str]:
        return {alert.fingerprint for alert in self.alerts}


# --- diagnosis ---------------------------------------------------------------------------
class Evidence(Record):
    """A fact a diagnosis may cite. `id` is stable: e.g. `drift:V14`, `deploy:d-102`."""

    id: str
    kind: Literal[
        "alert",
        "metric",
        "drift",
        "data_quality",
        "deployment",
        "pipeline_run",
        "runbook",
        "incident",
        "query",
    ]
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class Diagnosis(Record):
    category: RootCauseCategory
    root_cause: str = Field(
        description="names the specific feature, version or pipeline behind the incident"
    )
    headline: str = Field(
        "",
        description="the cause in one line of at most 90 characters, for the page and the "
        "resolution message; empty: the messages shorten `root_cause` by rule",
    )
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_ids: list[str] = Field(default_factory=list)
    recommended_actions: list[ActionType] = Field(default_factory=list)
    escalate_to: list[EscalationTarget] = Field(default_factory=list)
    diagnosed_by: str = Field(
        "rules", description="'rules' or the model id, e.g. 'openai:gpt-4o-mini'"
    )
    note: str = Field("", description="how it was reached, e.g. why the rules were used")
    refused: list[str] = Field(
        default_factory=list,
        description="claims code refused on the way (a model's category the evidence does not "
        "fit, benign on a P1/P2), each with its reason",
    )


# --- actions -----------------------------------------------------------------------------
class ActionFacts(Record):
    """What an approver weighs before an approval-required action, read from the monitoring
    tables by code when the plan was made (`actions.approval_facts`): the rollback target's
    metrics and feature schema, the retraining data, load against capacity. Never what runs."""

    as_of: datetime = Field(description="the clock the facts were read at")
    lines: list[str] = Field(default_factory=list, description="one fact per line, for people")
    data: dict[str, Any] = Field(default_factory=dict, description="the same facts as numbers")


class Action(Record):
    type: ActionType
    target: str = Field(description="what it acts on: a model, channel, person or team")
    reason: str = ""
    priority: int = Field(0, description="lower runs first")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the type's parameters (agentops.params), checked when the action is built",
    )
    facts: ActionFacts | None = Field(
        None, description="evidence for the approver (approval-required actions)"
    )

    @model_validator(mode="after")
    def _typed_params(self) -> Action:
        # a field the executor does not read (a renamed one) fails here, where it was written
        parse_params(self.type.value, self.params)
        return self

    @property
    def requires_approval(self) -> bool:
        return self.type.requires_approval

    def key(self, incident_id: str) -> str:
        """The ledger's idempotency key: (incident, action, target), and for an escalation
        its reason code too (`params.reason_code`): a person is told once per reason."""
        base = f"{incident_id}|{self.type.value}|{self.target}"
        code = self.params.get("reason_code") if self.type is ActionType.escalate else None
        return f"{base}|{code}" if code else base


class DroppedAction(Record):
    """Something a planner proposed that code refused, and why."""

    proposed: str
    reason: str


class ChangedAction(Record):
    """Something a planner proposed that code kept in another form (a retarget, parameters
    replaced by the evidence's), and why: never silent."""

    proposed: str
    became: str
    reason: str


class PlanCredit(Record):
    """Where one step of the plan came from: the runbook's baseline, the model, or both (a
    baseline step the model proposed too). `model_reason` is the model's words, kept as data."""

    action: str = Field(description="'<type> → <target>'")
    source: Literal["baseline", "model", "baseline+model"]
    model_reason: str = ""


class ActionPlan(Record):
    actions: list[Action] = Field(default_factory=list)
    dropped: list[DroppedAction] = Field(default_factory=list)
    planned_by: str = "rules"
    changed: list[ChangedAction] = Field(default_factory=list)
    credit: list[PlanCredit] = Field(default_factory=list)

    @field_validator("actions")
    @classmethod
    def _ordered(cls, actions: list[Action]) -> list[Action]:
        return sorted(actions, key=lambda a: a.priority)


ActionStatus = Literal["succeeded", "failed", "rejected", "skipped", "queued"]


class ActionResult(Record):
    action: Action
    status: ActionStatus
    detail: str = ""
    approved_by: str | None = None
    executed_at: datetime | None = None
    idempotency_key: str
    replayed: bool = Field(False, description="the ledger already held this result")


class Approval(Record):
    """A human's answer to one approval request, with how the person was identified
    (`via`: cli, server, slack; eval and demo for their own runs). `withdrawn`: the
    incident recovered before anyone answered, so the action is not needed."""

    action_key: str
    decision: Literal["approve", "reject", "withdrawn"]
    approver: str
    via: str = "unknown"
    comment: str = ""
    decided_at: datetime


class LLMUsage(Record):
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: int = 0

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(
            calls=self.calls + other.calls,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            tool_calls=self.tool_calls + other.tool_calls,
        )


# --- post-mortem -------------------------------------------------------------------------
class TimelineEntry(Record):
    phase: Literal[
        "detected",
        "paged",
        "triage_started",
        "root_cause_identified",
        "remediation_started",
        "approval_requested",
        "answer_refused",
        "approval_decided",
        "remediation_done",
        "recovery_check",
        "service_restored",
        "escalated",
        "sla_breached",
        "acknowledged",
        "note",
        "upstream_fix_confirmed",
        "diagnosis_edited",
        "resolved_by_hand",
        "false_positive",
        "reopened",
        "postmortem_completed",
    ]
    at: datetime
    note: str = ""


class PostMortem(Record):
    incident_id: str
    path: str
    markdown: str
    chart_path: str | None = None
    runbook_proposal: str | None = Field(None, description="a Markdown diff, when one is due")
