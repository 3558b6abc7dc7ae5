"""The scheduler pass as a graph of its own, for the LangGraph server's cron.

The README's recipe: `client.crons.create("pass", schedule="*/5 * * * *", input={},
on_run_completed="delete")`. Each fire runs one pass in a throwaway thread (deleted when it
ends: no pile-up) and drives the incidents in their own threads — one per incident, created
with the incident's derived thread id, so a fire never orphans or duplicates one:

1. threads that wait for recovery get a tick at this clock; an incident waiting for approval
   that recovered has its request withdrawn;
2. the SLA sweep; detection (one scan); the page for every new incident;
3. every claimable incident (new, or whose run stopped) gets a run, P1 first.

Runs are queued on the server (`runs.create` with `multitask_strategy="reject"`: a busy
thread is left alone), so a fire ends in seconds whatever the incidents do, and the
in-process client carries no identity: approvals come from people, never from the pass.
Run either this cron or `agentops watch` workers on one state store, not both.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from agentops import actions
from agentops.actions.jobs import start_ready_jobs
from agentops.actions.policy import load_policy
from agentops.clock import iso, parse_instant, utcnow
from agentops.detection import detect_incidents, load_threshold_set
from agentops.detection.recovery import check_recovery
from agentops.graph.local import open_stores
from agentops.graph.storms import close_storms, page_new
from agentops.settings import Settings
from agentops.store import Stores, claims, workers
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.load import to_db_time
from agentops.store.state_tables import incidents as handled

log = logging.getLogger("agentops.server_pass")
GRAPH = "incident"


class PassInput(TypedDict, total=False):
    """A pass's clock (default: the wall clock) and, optionally, one model."""

    now: str | None
    model_name: str | None


class PassOutput(TypedDict, total=False):
    now: str | None
    paged: list[str]
    started: list[str]
    ticked: list[str]
    escalations: int
    summary: str


def _plan(settings: Settings, stores: Stores, now: datetime, model: str | None) -> dict[str, Any]:
    """The pass's database work (sync, run off the event loop): sweep, detect, page, and
    what each incident needs."""
    thresholds = load_threshold_set(settings)
    load_policy(settings)
    wall = utcnow()
    with stores.state.connect() as conn:
        waiting = claims.waiting(conn, wall, model)
    ticks, recovered = [], []
    for row in waiting:
        if row["waiting_for"] == "recovery":
            ticks.append(row)
        elif row["waiting_for"] == "approval":
            incident = q.incident_from_row(row)
            limits = thresholds.for_model(incident.model_name)
            since = row.get("remediated_at") or incident.opened_at
            with stores.monitoring.connect() as conn:
                check = check_recovery(conn, incident, since=since, now=now, thresholds=limits)
            if check.recovered:
                recovered.append(row)
    escalations = actions.sweep(stores, settings, now=now)
    start_ready_jobs(stores, settings, now)
    close_storms(stores, settings, now)  # the ones whose models resolved since the last pass
    detection = detect_incidents(stores, now, model, thresholds)
    actions.report_findings(stores, settings, detection.findings, now=now)
    paged = page_new(stores, settings, detection, now, thresholds)
    with stores.state.connect() as conn:
        fresh = claims.unclaimed_incident_ids(conn, model)
        stopped = claims.stranded(conn, utcnow(), model)
        rows = [r for i in fresh if (r := q.get_incident_row(conn, i)) is not None]
    work: dict[str, dict[str, Any]] = {r["incident_id"]: r for r in [*rows, *stopped]}
    order = {"P1": 0, "P2": 1, "P3": 2}
    ranked = sorted(
        work.values(),
        key=lambda r: (order.get(r["severity"], 3), r["opened_at"], len(r["incident_id"])),
    )
    for row in ranked:
        if not row.get("thread_id"):
            thread_id = store_incidents.thread_for(row["incident_id"])
            with stores.state.begin() as conn:
                store_incidents.claim_incident(conn, row["incident_id"], thread_id)
            row["thread_id"] = thread_id
    actions.deliver_pending(stores.state, settings, now=now)
    return {
        "ticks": ticks,
        "recovered": recovered,
        "start": ranked,
        "paged": paged,
        "escalations": len(escalations),
        "current": _current(stores, now),
    }


def _current(stores: Stores, now: datetime) -> list[dict[str, Any]]:
    """Each incident thread's searchable metadata as of this pass: the unresolved ones and
    those resolved in the last day (their last change shows once more)."""
    since = to_db_time(now - timedelta(days=1), what="now")
    query = sa.select(handled).where(
        handled.c.thread_id.is_not(None),
        handled.c.alerts.is_not(None),
        sa.or_(handled.c.status != "resolved", handled.c.resolved_at >= since),
    )
    with stores.state.connect() as conn:
        rows = [q.as_row(r) for r in conn.execute(query).mappings()]
    return [
        {
            "thread_id": row["thread_id"],
            "metadata": {
                "incident_id": row["incident_id"],
                "model_name": row["model_name"],
                "severity": row["severity"],
                "status": row["status"],
                "waiting_for": row.get("waiting_for"),
            },
        }
        for row in rows
    ]


def _planned(settings: Settings, now: datetime, model: str | None) -> dict[str, Any]:
    stores = open_stores(settings)
    try:
        return _plan(settings, stores, now, model)
    finally:
        stores.dispose()


def _beat(settings: Settings, summary: str) -> None:
    """The heartbeat `/healthz` and `agentops doctor` read: the server's passes run."""
    stores = open_stores(settings)
    try:
        workers.beat(stores.state, "server-cron", "server", status="ok", detail=summary)
    finally:
        stores.dispose()


async def _runs(client: Any, plan: dict[str, Any], now: str) -> tuple[list[str], list[str]]:
    started, ticked = [], []
    for row, command in [
        *((r, {"resume": {"kind": "tick", "now": now}}) for r in plan["ticks"]),
        *((r, {"resume": {"kind": "recovered", "now": now}}) for r in plan["recovered"]),
    ]:
        if await _queue(client, row["thread_id"], command=command):
            ticked.append(row["incident_id"])
    for row in plan["start"]:
        metadata = {
            "incident_id": row["incident_id"],
            "model_name": row["model_name"],
            "severity": row["severity"],
            "status": row["status"],
        }
        await client.threads.create(
            thread_id=row["thread_id"], metadata=metadata, if_exists="do_nothing", graph_id=GRAPH
        )
        state = await client.threads.get_state(row["thread_id"])
        started_before = bool(state.get("values"))
        payload: dict[str, Any] = (
            {"input": None}
            if started_before
            else {"input": {"incident_id": row["incident_id"], "now": now}}
        )
        if await _queue(client, row["thread_id"], **payload):
            started.append(row["incident_id"])
    await _label(client, plan["current"])
    return started, ticked


async def _label(client: Any, current: list[dict[str, Any]]) -> None:
    """Keep each incident thread's metadata (incident, model, severity, status, what it
    waits for) current, so threads can be searched by them in Studio and the SDK."""
    from langgraph_sdk.errors import NotFoundError

    for item in current:
        try:
            await client.threads.update(item["thread_id"], metadata=item["metadata"])
        except NotFoundError:  # a thread another runtime (a local watch) keeps
            continue


async def _queue(client: Any, thread_id: str, **kwargs: Any) -> bool:
    from langgraph_sdk.errors import ConflictError

    try:
        await client.runs.create(
            thread_id, GRAPH, multitask_strategy="reject", durability="sync", **kwargs
        )
    except ConflictError:  # the thread is busy with a run of its own: leave it alone
        return False
    return True


async def run_scheduler_pass(state: PassState) -> PassOutput:
    """The pass node: database work off the event loop, then runs queued on the server."""
    from langgraph_sdk import get_client

    settings = Settings.load()
    given = state.get("now")
    now = parse_instant(given, what="now") if given else utcnow()
    # every database and file touch happens off the server's event loop
    plan = await asyncio.to_thread(_planned, settings, now, state.get("model_name"))
    started, ticked = await _runs(get_client(), plan, iso(now))
    summary = (
        f"pass at {iso(now)}: paged {len(plan['paged'])}, started {len(started)}, "
        f"re-checked {len(ticked)}, escalations {plan['escalations']}"
    )
    log.info(summary)
    await asyncio.to_thread(_beat, settings, summary)
    return {
        "now": iso(now),
        "paged": plan["paged"],
        "started": started,
        "ticked": ticked,
        "escalations": plan["escalations"],
        "summary": summary,
    }


class PassState(PassInput, PassOutput, total=False):
    pass


def build_pass_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(PassState, input_schema=PassInput, output_schema=PassOutput)
    graph.add_node("run_scheduler_pass", run_scheduler_pass)
    graph.add_edge(START, "run_scheduler_pass")
    graph.add_edge("run_scheduler_pass", END)
    return graph.compile(name="agentops scheduler pass")
