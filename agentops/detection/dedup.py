"""From alerts to incidents: dedup by fingerprint, grouping per model, flapping.

The rules, applied per model to the alerts of one pass (all in one transaction):

1. No alerts on a model: nothing changes. (Clearing does not resolve an incident: a person
   or the remediation does.)
2. The model has an open incident (status != resolved and no resolved_at): it absorbs the
   pass. Alerts whose fingerprint (model, type, component) it already holds are the same
   condition persisting and add nothing; new fingerprints are appended, their types join
   `alert_types`, and its severity rises to the highest alert. An alert it holds that comes
   back more severe (P3 drift turning P2) replaces the old one and raises the severity.
3. Else, the model has an incident resolved within `flap_cooldown_hours` (default 6) of
   `now` that holds one of the pass's fingerprints: the metric is flapping (breach, clear,
   breach). That incident is reopened and absorbs the pass, instead of one incident per flap.
4. Else, one new incident holds all the model's alerts, severity = the highest of them,
   id INC-YYYY-MMDD-N from `next_incident_id`.

An incident appears in `Detection.changes` when it is new, reopened, gained fingerprints or
rose in severity; a condition that merely persists produces no change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from agentops.clock import parse_instant
from agentops.detection.rules import evaluate_rules, require_tables_on, sort_alerts
from agentops.detection.sanity import Finding
from agentops.detection.thresholds import ThresholdSet
from agentops.domain import Alert, AlertType, Incident, IncidentStatus, Severity
from agentops.store import Stores, silences
from agentops.store.incidents import (
    insert_incident,
    mirror,
    monitoring_ids,
    next_incident_id,
    save_incident,
    set_incident_fields,
)
from agentops.store.load import to_db_time
from agentops.store.locks import serialize
from agentops.store.queries import as_row, incident_from_row, incident_order
from agentops.store.state_tables import incidents as incidents_table


class IncidentChange(BaseModel):
    """One incident this pass opened, reopened or added alerts to."""

    model_config = ConfigDict(frozen=True)

    incident: Incident
    new: bool = Field(description="opened by this pass")
    new_alerts: list[Alert] = Field(description="alerts whose fingerprint it did not hold")
    reopened: bool = Field(False, description="a recently resolved incident, flapping back")


class Detection(BaseModel):
    """What one detection pass saw (`alerts`) and did to INCIDENTS (`changes`)."""

    model_config = ConfigDict(frozen=True)

    alerts: list[Alert] = Field(default_factory=list)
    changes: list[IncidentChange] = Field(default_factory=list)
    silenced: list[Alert] = Field(
        default_factory=list, description="alerts a silence or a retirement kept from paging"
    )
    findings: list[Finding] = Field(
        default_factory=list, description="impossible values in the monitoring tables"
    )


def is_open(incident: Incident) -> bool:
    # History rows loaded without a status get the column default 'open'; a resolved_at
    # still marks them closed.
    return incident.status != IncidentStatus.resolved and incident.resolved_at is None


def absorb(
    incident: Incident, alerts: list[Alert], *, reopen: bool = False
) -> IncidentChange | None:
    """`incident` with `alerts` merged in, or None when they add nothing to it."""
    held = {a.fingerprint: a for a in incident.alerts}
    fresh = [a for a in alerts if a.fingerprint not in held]
    worse = [
        a
        for a in alerts
        if a.fingerprint in held and a.severity.rank > held[a.fingerprint].severity.rank
    ]
    if not fresh and not worse and not reopen:
        return None
    merged = {**held, **{a.fingerprint: a for a in worse + fresh}}
    kept = [merged[a.fingerprint] for a in incident.alerts] + fresh
    severity = Severity.highest([incident.severity, *(a.severity for a in kept)])
    types = list(incident.alert_types)
    for alert in sort_alerts(fresh):
        if alert.type not in types:
            types.append(alert.type)
    update: dict[str, object] = {"alerts": kept, "alert_types": types, "severity": severity}
    if reopen:
        update |= {"status": IncidentStatus.open, "resolved_at": None}
    return IncidentChange(
        incident=incident.model_copy(update=update),
        new=False,
        new_alerts=sort_alerts(fresh),
        reopened=reopen,
    )


def open_incident(incident_id: str, alerts: list[Alert], now: datetime) -> Incident:
    ordered = sort_alerts(alerts)
    types: list[AlertType] = []
    for alert in ordered:
        if alert.type not in types:
            types.append(alert.type)
    return Incident(
        incident_id=incident_id,
        model_name=ordered[0].model_name,
        severity=Severity.highest([a.severity for a in ordered]),
        alert_types=types,
        alerts=ordered,
        status=IncidentStatus.open,
        opened_at=now,
    )


def _candidates(
    conn: sa.Connection, models: list[str], now: datetime, cooldown_hours: float
) -> dict[str, list[Incident]]:
    """Open or recently resolved incidents of `models`, newest first: one query."""
    t = incidents_table
    since = to_db_time(now - timedelta(hours=cooldown_hours), what="now")
    query = (
        sa.select(t)
        .where(
            t.c.model_name.in_(models),
            # an open incident counts whatever its opening clock: a worker whose clock lags
            # joins the incident a faster one opened instead of opening a second
            sa.or_(
                t.c.resolved_at.is_(None),
                sa.and_(t.c.opened_at <= to_db_time(now, what="now"), t.c.resolved_at >= since),
            ),
        )
        .order_by(*(column.desc() for column in incident_order(t)))
    )
    found: dict[str, list[Incident]] = defaultdict(list)
    for row in conn.execute(query).mappings():
        incident = incident_from_row(as_row(row))
        found[incident.model_name].append(incident)
    return found


def plan_changes(
    alerts: list[Alert],
    candidates: dict[str, list[Incident]],
    now: datetime,
    thresholds: ThresholdSet,
    new_id: Callable[[], str],
) -> list[IncidentChange]:
    """Pure: the changes one pass makes. `new_id()` returns the next incident id."""
    by_model: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_model[alert.model_name].append(alert)
    changes: list[IncidentChange] = []
    for model, found in sorted(by_model.items()):
        known = candidates.get(model, [])
        open_ones = [i for i in known if is_open(i)]
        if open_ones:
            change = absorb(open_ones[0], found)
        else:
            cooldown = timedelta(hours=thresholds.for_model(model).flap_cooldown_hours)
            prints = {a.fingerprint for a in found}
            flapping = [
                i
                for i in known
                if i.resolved_at is not None
                and i.resolved_at >= now - cooldown
                and prints & i.fingerprints
            ]
            if flapping:
                # only a window that ended after the resolution is a breach coming back;
                # the same window seen again (no fresh data since the fix) changes nothing
                resolved_at = flapping[0].resolved_at
                assert resolved_at is not None
                fresh = [a for a in found if a.window_end > resolved_at]
                change = absorb(flapping[0], fresh, reopen=True) if fresh else None
            else:
                incident = open_incident(new_id(), found, now)
                change = IncidentChange(incident=incident, new=True, new_alerts=incident.alerts)
        if change is not None:
            changes.append(change)
    return sorted(changes, key=lambda c: (-c.incident.severity.rank, c.incident.model_name))


def detect_incidents(
    stores: Stores,
    now: datetime,
    model_name: str | None = None,
    thresholds: ThresholdSet | None = None,
) -> Detection:
    """Evaluate the rules on the monitoring database, then open, grow or reopen incidents
    in the state store in one serialized transaction (two workers detecting at once never
    open the same incident twice or pick the same id), then copy each changed incident into
    the monitoring INCIDENTS. Returns the pass's alerts and the incidents it changed, most
    severe first."""
    now = parse_instant(now, what="now")
    rule_set = thresholds or ThresholdSet()
    findings: list[Finding] = []
    with stores.monitoring.connect() as conn:
        require_tables_on(conn, ["incidents"])
        alerts = evaluate_rules(conn, now, model_name, rule_set, findings)
        history_ids = monitoring_ids(conn, now) if alerts else set()
    with stores.state.connect() as conn:
        quiet = silences.active(conn, now)
    silenced = [
        a for a in alerts if any(silences.covers(s, a.model_name, a.type.value) for s in quiet)
    ]
    alerts = [a for a in alerts if a not in silenced]
    if not alerts:
        return Detection(alerts=[], changes=[], silenced=silenced, findings=findings)
    models = sorted({a.model_name for a in alerts})
    widest = max(rule_set.for_model(m).flap_cooldown_hours for m in models)
    with stores.state.begin() as conn:
        serialize(conn, "detect")
        candidates = _candidates(conn, models, now, widest)
        taken = set(history_ids)

        def new_id() -> str:
            incident_id = next_incident_id(conn, now, taken=taken)
            taken.add(incident_id)
            return incident_id

        changes = plan_changes(alerts, candidates, now, rule_set, new_id)
        for change in changes:
            if change.new:
                first_breach = min(a.window_start for a in change.incident.alerts)
                insert_incident(conn, change.incident, first_breach_at=first_breach)
            else:
                save_incident(conn, change.incident)
            if change.reopened:  # a flap back is handled afresh, by a new thread
                set_incident_fields(
                    conn,
                    change.incident.incident_id,
                    thread_id=None,
                    waiting_for=None,
                    waiting_detail=None,
                    lease_owner=None,
                    lease_until=None,
                    remediated_at=None,
                )
    for change in changes:
        mirror(stores.monitoring, stores.state, change.incident.incident_id)
    return Detection(alerts=alerts, changes=changes, silenced=silenced, findings=findings)
