"""The Diagnostic and Action agents, and the deterministic analyzers behind them.

Seams the graph calls: `make_chat_model(settings)`,
`gather_evidence(conn, incident, now, thresholds=ThresholdSet)`, `diagnose(...) ->
AgentOutcome`, `plan(...) -> PlanOutcome`; references the graph adds to the evidence:
`with_references(evidence, runbook_hits=, incident_hits=)` (query from `symptom_query`); and the
rules alone: `rank_hypotheses`, `diagnose_by_rules`, `plan_by_rules`, `validate_plan`.
"""

from agentops.agents.analyzers import diagnose_by_rules, rank_hypotheses
from agentops.agents.diagnostic import AgentOutcome, check_answer, diagnose
from agentops.agents.evidence import first_breach, gather_evidence
from agentops.agents.hypothesis import Hypothesis
from agentops.agents.model import make_chat_model, model_id
from agentops.agents.planner import PlanOutcome, plan, validate_plan
from agentops.agents.references import (
    incident_evidence,
    runbook_evidence,
    symptom_query,
    with_references,
)
from agentops.agents.remedies import plan_by_rules

__all__ = [
    "AgentOutcome",
    "Hypothesis",
    "PlanOutcome",
    "check_answer",
    "diagnose",
    "diagnose_by_rules",
    "first_breach",
    "gather_evidence",
    "incident_evidence",
    "make_chat_model",
    "model_id",
    "plan",
    "plan_by_rules",
    "rank_hypotheses",
    "runbook_evidence",
    "symptom_query",
    "validate_plan",
    "with_references",
]
