"""`agentops seed`, `agentops db ...` and `agentops incidents ...`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from agentops.cases import load_case, read_case
from agentops.cli.app import app, console, db_app, engine, incidents_app, print_json
from agentops.clock import iso, parse_instant, utcnow
from agentops.errors import DataError
from agentops.scenarios import DEFAULT_SCENARIO, SCENARIOS, seed_store
from agentops.store import describe, init_schema, require_tables
from agentops.store import queries as q

NowOption = Annotated[
    str | None, typer.Option("--now", help="the clock to use, ISO-8601 (default: now, UTC)")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def resolve_now(now: str | None) -> datetime:
    return parse_instant(now, what="--now") if now else utcnow()


@db_app.command("init")
def db_init(json_out: JsonFlag = False) -> None:
    """Create every table and index that is missing. Safe to run again."""
    eng = engine()
    created = init_schema(eng)
    if json_out:
        print_json({"store": describe(eng), "created": created})
        return
    if created:
        console.print(f"created {len(created)} tables in {describe(eng)}: {', '.join(created)}")
    else:
        console.print(f"schema already complete in {describe(eng)}")


@db_app.command("load-case")
def db_load_case(
    path: Annotated[Path, typer.Argument(help="a case.yaml, or the folder holding one")],
    json_out: JsonFlag = False,
) -> None:
    """Load an eval case's `tables:` block (CONTRACT.md format) into the store, in one
    transaction: a bad row writes nothing."""
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
            help=f"one of: {', '.join(SCENARIOS)}, or 'none' for healthy data",
        ),
    ] = DEFAULT_SCENARIO,
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Replace the store with 14 days of hourly classifier_v2 history and inject a scenario."""
    name = None if scenario == "none" else scenario
    if name is not None and name not in SCENARIOS:
        raise DataError(f"--scenario: unknown scenario {scenario!r}; choose from {list(SCENARIOS)}")
    clock = resolve_now(now)
    eng = engine()
    with console.status("creating schema...", spinner="dots") as status:
        init_schema(eng)
        status.update("generating 14 days of hourly history and writing it...")
        counts = seed_store(eng, clock, name)
    if json_out:
        print_json({"scenario": scenario, "now": iso(clock), "rows": counts})
        return
    console.print(f"seeded {describe(eng)} up to {iso(clock)}")
    for table_name, n in counts.items():
        console.print(f"  {table_name:<16} {n:>7} rows")
    if name is not None:
        console.print(f"scenario [bold]{name}[/]: {SCENARIOS[name].summary}")


@incidents_app.command("list")
def incidents_list(
    model: Annotated[str | None, typer.Option("--model", help="only this model")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open / resolved / ...")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    json_out: JsonFlag = False,
) -> None:
    """Incidents, newest first."""
    eng = engine()
    require_tables(eng, ["incidents"])
    with eng.connect() as conn:
        rows = q.list_incidents(conn, model_name=model, status=status, limit=limit)
    if json_out:
        print_json([_incident_summary(r) for r in rows])
        return
    if not rows:
        console.print("no incidents")
        return
    table = Table("incident", "model", "sev", "status", "opened", "category", "root cause")
    for r in rows:
        table.add_row(
            r["incident_id"],
            r["model_name"],
            r["severity"],
            r.get("status") or "",
            iso(r["opened_at"]),
            r.get("root_cause_category") or "",
            (r.get("root_cause") or "")[:60],
        )
    console.print(table)


@incidents_app.command("show")
def incidents_show(incident_id: str, json_out: JsonFlag = False) -> None:
    """One incident: its alerts, diagnosis, actions, messages and post-mortem."""
    eng = engine()
    require_tables(eng, ["incidents"])
    with eng.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
        if row is None:
            raise DataError(f"no incident {incident_id!r}; `agentops incidents list` shows them")
        actions = q.action_log_for(conn, incident_id)
        messages = q.messages_for(conn, incident_id)
    summary: dict[str, Any] = _incident_summary(row)
    summary["alerts"] = json.loads(row.get("alerts") or "[]")
    summary["timeline"] = json.loads(row.get("timeline") or "[]")
    summary["actions"] = [
        {k: a[k] for k in ("action_type", "target", "status", "approved_by", "detail")}
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
    )
    out = {k: row.get(k) for k in keys}
    for k in ("opened_at", "resolved_at"):
        value = out[k]
        out[k] = iso(value) if isinstance(value, datetime) else value
    return out
