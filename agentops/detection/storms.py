"""Storms: one upstream failure breaking many models at once pages once.

When at least `storm_min_models` incidents a pass opened share an upstream cause — the same
failed or partial pipeline run, or runs of one source that failed or went partial for all of
them — they are one storm: a parent incident lists the affected models and pages once; each
model's incident is linked under it (`parent_id`) and replies in the parent's thread instead
of paging on its own. Decided from PIPELINE_RUNS structure (status, run, source, time), not
from notes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from agentops.domain import Incident
from agentops.store.load import to_db_time
from agentops.store.queries import as_row
from agentops.store.tables import pipeline_runs

BROKEN = ("failed", "partial")
LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class Storm:
    cause: str  # e.g. "pipeline run etl-2026112009" or "source vendor_api"
    incidents: list[Incident]


def find_storms(
    conn: sa.Connection, incidents: list[Incident], now: datetime, min_models: int
) -> list[Storm]:
    """The storms among `incidents` (the ones a pass just opened), largest first; an incident
    belongs to one storm at most."""
    if len(incidents) < min_models:
        return []
    start = min(i.opened_at for i in incidents) - LOOKBACK
    query = sa.select(pipeline_runs).where(
        pipeline_runs.c.status.in_(BROKEN),
        pipeline_runs.c.started_at >= to_db_time(start, what="start"),
        pipeline_runs.c.started_at <= to_db_time(now, what="now"),
    )
    runs = [as_row(r) for r in conn.execute(query).mappings()]
    models = {i.model_name for i in incidents}
    by_cause: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        fed = {run["model_name"]} & models if run.get("model_name") else models
        by_cause[f"pipeline run {run['run_id']}"] |= fed
        if run.get("source"):
            by_cause[f"source {run['source']}"] |= fed
    storms: list[Storm] = []
    taken: set[str] = set()
    for cause, hit in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        members = [i for i in incidents if i.model_name in hit and i.incident_id not in taken]
        if len(members) >= min_models:
            storms.append(Storm(cause, members))
            taken.update(i.incident_id for i in members)
    return storms
