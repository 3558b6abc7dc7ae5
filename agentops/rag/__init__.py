"""Runbooks and retrieval: the runbook index, the retriever the agents use, similar incidents.

RunbookIndex.open(settings) -> RunbookIndex      load, build if missing, rebuild if stale
RunbookIndex.search(query, k=3) -> list[RunbookHit]
RunbookIndex.as_retriever(k=3) -> BaseRetriever  (Documents: runbook, section, score)
runbook_retriever(settings, k=3) -> BaseRetriever
runbook_text(settings, stem) -> str
similar_incidents(engine, settings, text, k=3, *, exclude=()) -> list[IncidentHit]
add_incident(engine, settings, incident_id) -> None    (every post-mortem calls it)
"""

from agentops.rag.embeddings import make_embeddings
from agentops.rag.incidents import IncidentHit, IncidentIndex, add_incident, similar_incidents
from agentops.rag.index import RunbookHit, RunbookIndex, runbook_retriever
from agentops.rag.runbooks import Runbook, load_runbooks, runbook_text

__all__ = [
    "IncidentHit",
    "IncidentIndex",
    "Runbook",
    "RunbookHit",
    "RunbookIndex",
    "add_incident",
    "load_runbooks",
    "make_embeddings",
    "runbook_retriever",
    "runbook_text",
    "similar_incidents",
]
