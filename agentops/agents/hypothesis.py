"""A hypothesis about the root cause, and how a scorer builds one clause by clause."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentops.agents.signals import Signals
from agentops.domain import RootCauseCategory


class Hypothesis(BaseModel):
    category: RootCauseCategory
    score: float = Field(ge=0.0, le=1.0)
    root_cause: str
    reasons: list[str] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)
    coverage: float = Field(
        1.0, ge=0.0, le=1.0, description="share of the signature the evidence could check"
    )


class Builder:
    """Accumulates one hypothesis's score, reasons and cited evidence."""

    def __init__(self, category: RootCauseCategory, signals: Signals, core: float = 1.0) -> None:
        self.category = category
        self.signals = signals
        self.core = core  # how strongly the category's defining clause holds
        self.score = 0.0
        self.checked = 0.0  # weight of the supporting clauses whose evidence was there
        self.weight = 0.0  # weight of all supporting clauses
        self.reasons: list[str] = []
        self.ids: list[str] = []
        self.root_cause = ""

    def add(
        self, weight: float, strength: float, reason: str, *ids: str, known: float = 1.0
    ) -> None:
        """A clause that holds with `strength`; a negative weight is a contradiction.
        `known`: how far the evidence the clause needs was there at all (0: no rows to say)."""
        points = weight * strength * known
        if weight > 0:
            self.weight += weight
            self.checked += weight * known
        if abs(points) < 0.005:
            return
        self.score += points
        self.reasons.append(f"{points:+.2f} {reason}")
        if points > 0:
            self.cite(*ids)

    def absent(
        self, weight: float, strength: float, reason: str, *ids: str, known: float = 1.0
    ) -> None:
        """A clause that another cause is absent: it supports this category only as far as
        the category's own defining sign is there (no alternative is not evidence for X)."""
        self.add(weight, strength * self.core, reason, *ids, known=known)

    def cite(self, *ids: str) -> None:
        self.ids.extend(i for i in ids if i in self.signals.ids and i not in self.ids)

    def build(self) -> Hypothesis | None:
        if self.score <= 0 or not self.root_cause:
            return None
        return Hypothesis(
            category=self.category,
            score=round(min(self.score, 1.0), 3),
            root_cause=self.root_cause,
            reasons=self.reasons,
            evidence_ids=self.ids,
            coverage=round(self.checked / self.weight, 3) if self.weight else 0.0,
        )


def perf_text(s: Signals) -> str:
    f1, base = s.latest("f1"), s.baseline("f1")
    if f1 is None:
        return ""
    return f"F1 {f1:.2f}" + (f" vs {base:.2f} before" if base is not None else "")


def features_text(s: Signals, features: list[str], limit: int = 4) -> str:
    parts = [f"{f} (PSI {s.drift[f]:.2f})" if f in s.drift else f for f in features[:limit]]
    more = len(features) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")
