"""What a post-mortem is written from: the incident's final state, as one validated record."""

from __future__ import annotations

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

    @property
    def best_runbook_score(self) -> float:
        return max((hit.score for hit in self.runbook_hits), default=0.0)
