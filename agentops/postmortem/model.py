"""What a post-mortem is written from: the incident's final state, as one validated record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentops.domain import (
    ActionPlan,
    ActionResult,
    Approval,
    Diagnosis,
    Evidence,
    Incident,
    LLMUsage,
    TimelineEntry,
)

# A runbook hit below this similarity (cosine, 0..1, as the runbook index scores) is not a
# match an on-call engineer would follow; the post-mortem then proposes a runbook addition.
RUNBOOK_MATCH_THRESHOLD = 0.5


class RunbookHit(BaseModel):
    """One runbook section the diagnosis consulted, with its retrieval score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    runbook: str = Field(description="file stem or path, e.g. model_drift")
    section: str = ""
    score: float


class MetricReading(BaseModel):
    """One breached condition's value at some point of the incident, e.g. F1 0.66 (0.7)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(description="as a reader says it: F1, Latency p99 (ms), V14 PSI")
    value: float
    threshold: float | None = None


class ImpactFacts(BaseModel):
    """What the monitoring tables say about the incident's reach (`impact.measure`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_breach_at: datetime = Field(description="start of the first breaching window")
    first_breach_end: datetime = Field(description="end of that window")
    degraded_until: datetime | None = Field(
        None, description="start of the first window of the healthy streak that resolved it"
    )
    degraded_windows: int = 0
    requests_while_degraded: int | None = Field(
        None, description="sum of MODEL_METRICS request_count over the degraded windows"
    )
    versions: list[str] = Field(default_factory=list, description="serving while degraded")
    baseline: list[MetricReading] = Field(
        default_factory=list, description="median of the healthy windows before the breach"
    )
    worst: list[MetricReading] = Field(default_factory=list, description="worst while degraded")
    recovered: list[MetricReading] = Field(
        default_factory=list, description="worst over the healthy windows that confirmed it"
    )
    recovery_windows: int = 0


class PostMortemInput(BaseModel):
    """Everything the report needs; the graph's final state maps onto it one to one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident: Incident
    diagnosis: Diagnosis | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    plan: ActionPlan | None = None
    results: list[ActionResult] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    usage: LLMUsage = Field(default_factory=LLMUsage)
    runbook_hits: list[RunbookHit] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # the ledger's outcome data by idempotency key (versions rolled back, the retrain job)
    action_data: dict[str, dict[str, Any]] = Field(default_factory=dict)
    impact: ImpactFacts | None = None
    undelivered: list[str] = Field(
        default_factory=list, description="messages that never got through, as 'channel → target'"
    )
    # from the policy file, filled by `write_postmortem`: the SLA minutes of the incident's
    # severity (detection_to_triage, ...) and who holds each role of the matrix, in words
    sla_minutes: dict[str, int] = Field(default_factory=dict)
    owners: dict[str, str] = Field(default_factory=dict)

    @property
    def best_runbook_score(self) -> float:
        return max((hit.score for hit in self.runbook_hits), default=0.0)
