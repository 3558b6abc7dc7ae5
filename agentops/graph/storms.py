"""Storms in a scheduler pass: open the parent incident, page once, link the models'
incidents under it; close the parent when every one of them is resolved.

The parent carries no alerts of its own, so no thread claims it and the SLA sweep leaves it
alone: the models' incidents are handled (and escalated, once per person and reason for the
whole storm) as usual, replying in the parent's thread.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from agentops import actions
from agentops.detection import Detection, ThresholdSet
from agentops.detection.storms import Storm, find_storms
from agentops.domain import Incident, IncidentStatus, Severity
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.locks import serialize
from agentops.store.state_tables import incidents as handled

STORM_MODEL = "(storm)"


def page_new(
    stores: Stores,
    settings: Settings,
    detection: Detection,
    now: datetime,
    thresholds: ThresholdSet,
) -> list[str]:
    """Step 4 of a pass: a storm among the new incidents pages once (its parent); every other
    new or reopened incident pages on its own. Returns the ids paged."""
    storms = open_storms(stores, settings, detection, now, thresholds)
    covered = {i for members in storms.values() for i in members}
    paged = list(storms)
    for change in detection.changes:
        incident = change.incident
        if (change.new or change.reopened) and incident.incident_id not in covered:
            actions.page_incident(stores, settings, incident, now=now)
            paged.append(incident.incident_id)
    return paged


def open_storms(
    stores: Stores,
    settings: Settings,
    detection: Detection,
    now: datetime,
    thresholds: ThresholdSet,
) -> dict[str, list[str]]:
    """Open a parent per storm among the pass's new incidents and page it; returns each
    parent's id with the ids of the incidents it covers (not paged one by one)."""
    fresh = [c.incident for c in detection.changes if c.new]
    with stores.monitoring.connect() as conn:
        storms = find_storms(conn, fresh, now, thresholds.default.storm_min_models)
    opened: dict[str, list[str]] = {}
    for storm in storms:
        parent = _open_parent(stores, storm, now)
        actions.page_storm(stores, settings, parent, storm.incidents, storm.cause, now=now)
        opened[parent.incident_id] = [i.incident_id for i in storm.incidents]
    return opened


def _open_parent(stores: Stores, storm: Storm, now: datetime) -> Incident:
    types = []
    for incident in storm.incidents:
        types += [t for t in incident.alert_types if t not in types]
    with stores.state.begin() as conn:
        serialize(conn, "detect")
        with stores.monitoring.connect() as mconn:
            taken = store_incidents.monitoring_ids(mconn, now)
        parent = Incident(
            incident_id=store_incidents.next_incident_id(conn, now, taken=taken),
            model_name=STORM_MODEL,
            severity=Severity.highest([i.severity for i in storm.incidents]),
            alert_types=types,
            opened_at=now,
            root_cause=f"{len(storm.incidents)} models broken by {storm.cause}",
        )
        store_incidents.insert_incident(conn, parent)
        # no alerts: no thread claims the parent; its models' incidents are handled
        store_incidents.set_incident_fields(conn, parent.incident_id, alerts=None)
        for incident in storm.incidents:
            store_incidents.set_incident_fields(
                conn, incident.incident_id, parent_id=parent.incident_id
            )
    return parent


def close_storms(stores: Stores, settings: Settings, now: datetime) -> list[str]:
    """Resolve every open parent whose incidents are all resolved; returns their ids."""
    with stores.state.connect() as conn:
        parents = [
            q.as_row(r)
            for r in conn.execute(
                sa.select(handled).where(
                    handled.c.model_name == STORM_MODEL,
                    handled.c.status != IncidentStatus.resolved.value,
                )
            ).mappings()
        ]
        closed = []
        for row in parents:
            children = [
                q.as_row(r)
                for r in conn.execute(
                    sa.select(handled.c.status, handled.c.resolved_at).where(
                        handled.c.parent_id == row["incident_id"]
                    )
                ).mappings()
            ]
            if children and all(c["status"] == IncidentStatus.resolved.value for c in children):
                closed.append((row, max(c["resolved_at"] or now for c in children)))
    done = []
    for row, last in closed:
        with stores.state.begin() as conn:
            store_incidents.set_incident_fields(
                conn,
                row["incident_id"],
                status=IncidentStatus.resolved.value,
                resolved_at=last,
                resolution="every model's incident resolved",
            )
        parent = q.incident_from_row({**row, "resolved_at": last, "status": "resolved"})
        actions.post_resolution(
            stores,
            settings,
            parent,
            now=now,
            root_cause=row.get("root_cause") or "an upstream failure",
            resolution="every affected model recovered",
        )
        done.append(row["incident_id"])
    return done
