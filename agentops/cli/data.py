"""`agentops seed`, `agentops db ...` and `agentops incidents ...`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import (
    DEFAULT_SCENARIO,
    SCENARIO_NAMES,
    JsonFlag,
    NowOption,
    app,
    console,
    db_app,
    engine,
    err_console,
    incidents_app,
    print_json,
    resolve_now,
    scenario_name,
    settings,
)
from agentops.cli.tables import shorten, table, when, whole, wrapped
from agentops.clock import iso
from agentops.errors import DataError

if TYPE_CHECKING:
    from agentops.store import Stores


@db_app.command("init")
def db_init(json_out: JsonFlag = False) -> None:
    """Create every monitoring table and index that is missing, and the state store. Safe
    to run again."""
    from agentops.store import describe, init_schema, open_state
    from agentops.store.migrations import HEAD

    cfg = settings()
    eng = engine(cfg)
    created = init_schema(eng)
    state = open_state(cfg.resolved_state_url)
    if json_out:
        print_json({"store": describe(eng), "created": created, "state": describe(state)})
        return
    if created:
        console.print(f"created {len(created)} tables in {describe(eng)}: {', '.join(created)}")
    else:
        console.print(f"monitoring schema already complete in {describe(eng)}")
    console.print(f"state store ready at {describe(state)} (schema version {HEAD})")


@db_app.command("normalize-times")
def db_normalize_times(json_out: JsonFlag = False) -> None:
    """Rewrite time values a job wrote as ISO text with T, Z, an offset or fractions to the
    UTC 'YYYY-MM-DD HH:MM:SS' SQLite compares (SQLite monitoring databases only)."""
    from agentops.store import describe, open_monitoring, writing
    from agentops.store.timecheck import normalize_times

    eng = open_monitoring(settings().resolved_database_url)
    if eng.dialect.name != "sqlite":
        raise DataError(f"{describe(eng)} has real timestamp types: nothing to normalize")
    with writing(eng) as conn:
        changed = normalize_times(conn)
    if json_out:
        print_json({"store": describe(eng), "changed": changed})
        return
    if not changed:
        console.print(f"every time in {describe(eng)} already has the UTC shape SQLite compares")
        return
    for where, count in changed.items():
        console.print(f"rewrote {count} value(s) of {where} to UTC")


@db_app.command("upgrade")
def db_upgrade(json_out: JsonFlag = False) -> None:
    """Apply the state store's pending migrations (each in its own transaction)."""
    from agentops.store import check_reachable, create_store_engine, describe
    from agentops.store.migrations import HEAD, current_version, upgrade

    cfg = settings()
    state = create_store_engine(cfg.resolved_state_url, role="state")
    check_reachable(state)
    with state.connect() as conn:
        before = current_version(conn)
    applied = upgrade(state)
    if json_out:
        print_json(
            {
                "state": describe(state),
                "from": before,
                "to": HEAD,
                "applied": [m.version for m in applied],
            }
        )
        return
    if not applied:
        console.print(f"the state store at {describe(state)} is at version {HEAD}: up to date")
        return
    for migration in applied:
        console.print(f"applied {migration.version}: {migration.description}")
    console.print(f"the state store at {describe(state)} is at version {HEAD}")


@db_app.command("load-case")
def db_load_case(
    path: Annotated[Path, typer.Argument(help="a case.yaml, or the folder holding one")],
    json_out: JsonFlag = False,
) -> None:
    """Load an eval case's `tables:` block (CONTRACT.md format) into the store, in one
    transaction: a bad row writes nothing."""
    from agentops.cases import load_case, read_case
    from agentops.store import describe, init_schema

    case = read_case(path)
    eng = engine()
    init_schema(eng)
    counts = load_case(eng, case)
    if json_out:
        print_json({"case": case.id, "now": iso(case.now), "rows": counts})
        return
    total = sum(counts.values())
    detail = ", ".join(f"{name} {n}" for name, n in counts.items())
    console.print(f"loaded case {case.id}: {total} rows ({detail}) into {describe(eng)}")
    console.print(f"its clock: --now {iso(case.now)}")


@app.command("seed")
def seed(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help=f"one of: {', '.join(SCENARIO_NAMES)}, or 'none' for healthy data",
            callback=scenario_name,
        ),
    ] = DEFAULT_SCENARIO,
    now: NowOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace a store that already holds data")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Replace the monitoring tables with 14 days of hourly classifier_v2 history and inject
    a scenario; clears everything agentops holds in the state store. A store that already
    holds data is refused unless --force."""
    from agentops.scenarios import SCENARIOS, seed_store
    from agentops.store import Stores, describe, init_schema, open_state

    name = None if scenario == "none" else scenario
    clock = resolve_now(now)
    cfg = settings()
    eng = engine(cfg)
    with err_console.status("creating schema...", spinner="dots") as status:
        init_schema(eng)
        stores = Stores(monitoring=eng, state=open_state(cfg.resolved_state_url))
        if not force:
            _refuse_if_holding_data(stores)
        status.update("generating 14 days of hourly history and writing it...")
        counts = seed_store(stores, clock, name)
    if json_out:
        print_json({"scenario": scenario, "now": iso(clock), "rows": counts})
        return
    console.print(f"seeded {describe(eng)} up to {iso(clock)}")
    for table_name, n in counts.items():
        console.print(f"  {table_name:<16} {n:>7} rows")
    if name is not None:
        console.print(f"scenario [bold]{name}[/]: {SCENARIOS[name].summary}")


def _refuse_if_holding_data(stores: Stores) -> None:
    import sqlalchemy as sa

    from agentops.store import describe
    from agentops.store.state_tables import incidents as handled
    from agentops.store.tables import model_metrics

    with stores.monitoring.connect() as conn:
        metrics = conn.execute(sa.select(sa.func.count()).select_from(model_metrics)).scalar()
    with stores.state.connect() as conn:
        opened = conn.execute(sa.select(sa.func.count()).select_from(handled)).scalar()
    if metrics or opened:
        raise DataError(
            f"the store at {describe(stores.monitoring)} already holds data ({metrics} metric "
            f"rows, {opened} incidents); `agentops seed --force` replaces all of it"
        )


@incidents_app.command("list")
def incidents_list(
    model: Annotated[str | None, typer.Option("--model", help="only this model")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open / resolved / ...")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    json_out: JsonFlag = False,
) -> None:
    """Incidents, newest first: those agentops handles, and the history in the monitoring
    database's INCIDENTS."""
    rows = _all_incidents(model_name=model, status=status, limit=limit)
    if json_out:
        print_json([_incident_summary(r) for r in rows])
        return
    if not rows:
        console.print("no incidents")
        return
    # two short values a cell, so that the ids fit whole in 80 columns
    listed = table(
        whole("incident\nmodel"),
        whole("sev"),
        whole("status\nopened"),
        wrapped("root cause"),
        rows_apart=True,
    )
    for r in rows:
        category = r.get("root_cause_category")
        cause = f"{category}: {r.get('root_cause') or ''}" if category else r.get("root_cause")
        listed.add_row(
            escape(f"{r['incident_id']}\n{r['model_name']}"),
            r["severity"],
            f"{r.get('status') or ''}\n{when(r['opened_at'])}",
            escape(shorten(cause, 100)),
        )
    console.print(listed)


@incidents_app.command("show")
def incidents_show(incident_id: str, json_out: JsonFlag = False) -> None:
    """One incident: its alerts, diagnosis, actions, messages and post-mortem."""
    from agentops.store import open_monitoring, open_state
    from agentops.store import queries as q

    cfg = settings()
    state = open_state(cfg.resolved_state_url)
    with state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
        actions = q.action_log_for(conn, incident_id)
        messages = q.messages_for(conn, incident_id)
    if row is None:
        with open_monitoring(cfg.resolved_database_url).connect() as conn:
            row = q.history_incident_row(conn, incident_id)
    if row is None:
        raise DataError(f"no incident {incident_id!r}; `agentops incidents list` shows them")
    summary: dict[str, Any] = _incident_summary(row)
    summary["alerts"] = json.loads(row.get("alerts") or "[]")
    summary["timeline"] = json.loads(row.get("timeline") or "[]")
    summary["actions"] = [
        {
            k: a.get(k)
            for k in ("action_type", "target", "status", "approved_by", "approved_via", "detail")
        }
        for a in actions
    ]
    summary["messages"] = [
        {k: m[k] for k in ("channel", "target", "status", "attempts", "last_error")}
        for m in messages
    ]
    if json_out:
        print_json(summary)
        return
    console.print(f"[bold]{row['incident_id']}[/]  {row['severity']}  {row['model_name']}")
    for key in ("status", "alert_types", "root_cause_category", "root_cause", "resolution"):
        console.print(f"  {key:<20} {summary.get(key) or ''}")
    console.print(f"  {'opened_at':<20} {summary['opened_at']}")
    console.print(f"  {'resolved_at':<20} {summary.get('resolved_at') or ''}")
    for alert in summary["alerts"]:
        console.print(
            f"  alert {alert['severity']} {alert['type']} {alert['component']}: "
            f"{alert['metric']}={alert['value']} (threshold {alert['threshold']})"
        )
    for entry in summary["timeline"]:
        console.print(f"  {entry['at']}  {entry['phase']}  {entry.get('note', '')}")
    for action in summary["actions"]:
        who = f" approved by {action['approved_by']}" if action["approved_by"] else ""
        console.print(
            f"  action {action['action_type']} → {action['target']}: {action['status']}{who}"
        )
    for message in summary["messages"]:
        error = f" ({message['last_error']})" if message["last_error"] else ""
        console.print(
            f"  message {message['channel']} → {message['target']}: {message['status']}"
            f" after {message['attempts']} attempt(s){error}"
        )
    if row.get("postmortem"):
        console.print(f"  post-mortem: {row['postmortem']}")


def _all_incidents(*, model_name: str | None, status: str | None, limit: int) -> list[Any]:
    from agentops.store import open_monitoring, open_state
    from agentops.store import queries as q

    cfg = settings()
    monitoring = open_monitoring(cfg.resolved_database_url)
    state = open_state(cfg.resolved_state_url)
    with state.connect() as conn:
        handled = q.list_incidents(conn, model_name=model_name, status=status, limit=limit)
    with monitoring.connect() as conn:
        history = q.history_incidents(conn, model_name=model_name, status=status, limit=limit)
    seen = {r["incident_id"] for r in handled}
    rows = handled + [r for r in history if r["incident_id"] not in seen]
    rows.sort(key=lambda r: (r["opened_at"], len(r["incident_id"]), r["incident_id"]), reverse=True)
    return rows[:limit]


def _incident_summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "incident_id",
        "model_name",
        "severity",
        "status",
        "alert_types",
        "root_cause_category",
        "root_cause",
        "resolution",
        "opened_at",
        "resolved_at",
        "postmortem",
        "owner",
        "waiting_for",
    )
    out = {k: row.get(k) for k in keys}
    for k in ("opened_at", "resolved_at"):
        value = out[k]
        out[k] = iso(value) if isinstance(value, datetime) else value
    return out
