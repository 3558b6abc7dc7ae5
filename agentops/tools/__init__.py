"""The read-only tools a model may call, bound to one incident and one `now`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool

from agentops.detection.thresholds import ThresholdSet
from agentops.domain import Incident
from agentops.tools.knowledge import (
    SimilarIncidents,
    runbook_tool,
    similar_incidents_tool,
    sql_tool,
)
from agentops.tools.result import ToolResult, parse_tool_result
from agentops.tools.sql import SQLRefused, check_sql, run_guarded_sql
from agentops.tools.store_tools import store_tools


def build_tools(
    engine: sa.Engine,
    incident: Incident,
    now: datetime,
    *,
    runbooks: BaseRetriever | None = None,
    similar_incidents: SimilarIncidents | None = None,
    thresholds: ThresholdSet | None = None,
) -> list[BaseTool]:
    """Every tool, read-only: the store tools (judging by the model's own thresholds), runbook
    and past-incident search, guarded SQL."""
    return [
        *store_tools(engine, incident, now, thresholds),
        runbook_tool(runbooks),
        similar_incidents_tool(similar_incidents),
        sql_tool(engine),
    ]


__all__ = [
    "SQLRefused",
    "SimilarIncidents",
    "ToolResult",
    "build_tools",
    "check_sql",
    "parse_tool_result",
    "run_guarded_sql",
]
