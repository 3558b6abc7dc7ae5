"""What every group of nodes shares: the services, and writing timeline entries through to
the incident's row as they happen (the SLA sweep and `incidents show` read them there)."""

from __future__ import annotations

from agentops.domain import TimelineEntry
from agentops.graph import records as r
from agentops.graph.services import Services
from agentops.graph.state import Json, State
from agentops.store import incidents as store_incidents


class NodeBase:
    def __init__(self, services: Services) -> None:
        self.svc = services

    def _record(self, state: State, entries: list[Json], incident_id: str | None = None) -> None:
        """Append entries to the stored timeline (same phase and note: already there)."""
        if not entries:
            return
        with self.svc.state.begin() as conn:
            store_incidents.add_timeline(
                conn,
                incident_id or r.incident(state).incident_id,
                [TimelineEntry.model_validate(e) for e in entries],
            )
