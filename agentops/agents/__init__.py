"""The Diagnostic and Action agents, and the deterministic analyzers behind them."""

from agentops.agents.analyzers import Hypothesis, diagnose_by_rules, rank_hypotheses
from agentops.agents.evidence import first_breach, gather_evidence
from agentops.agents.remedies import plan_by_rules

__all__ = [
    "Hypothesis",
    "diagnose_by_rules",
    "first_breach",
    "gather_evidence",
    "plan_by_rules",
    "rank_hypotheses",
]
