"""`agentops demo`: the runbook's own incident, end to end, on the embedded default."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from agentops.cli.app import app, console
from agentops.cli.lifecycle import durable_graph, show_event, show_pending
from agentops.clock import iso, utcnow
from agentops.graph.context import Context
from agentops.graph.runner import resume, start
from agentops.scenarios import DEFAULT_SCENARIO, SCENARIOS, seed_store
from agentops.settings import Settings
from agentops.store import create_store_engine, describe, init_schema
from agentops.store import queries as q

DEMO_APPROVER = "demo-operator"


@app.command("demo")
def demo(
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=f"approve as the demo approver ({DEMO_APPROVER})")
    ] = False,
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"one of: {', '.join(SCENARIOS)}")
    ] = DEFAULT_SCENARIO,
) -> None:
    """Seed classifier_v2 with the runbook's incident (a vendor format change on V14: drift,
    then F1 below 0.70) and run the whole lifecycle, asking you to approve the retraining."""
    cfg = Settings.load()
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"choose one of {list(SCENARIOS)}", param_hint="--scenario")
    # the demo names its own approver unless the team configured theirs
    approver = cfg.approvers[0] if cfg.approvers else DEMO_APPROVER
    engine = create_store_engine(cfg.resolved_database_url)
    now = utcnow()
    console.rule("[bold]agentops demo")
    console.print(f"store:   {describe(engine)}  (AGENTOPS_HOME={cfg.home})")
    model = cfg.resolved_model
    if model == "offline":
        console.print(
            "model:   offline — no LLM is configured, so diagnosis and planning are done by "
            "agentops's deterministic rule-based analyzers, not a language model"
        )
    else:
        console.print(f"model:   {model} (falls back to the rule-based analyzers if it fails)")
    _say_where_messages_go(cfg)
    with console.status("seeding 14 days of hourly classifier_v2 history...", spinner="dots"):
        init_schema(engine)
        seed_store(engine, now, scenario)
    console.print(f"seeded:  scenario {scenario}: {SCENARIOS[scenario].summary}")
    console.rule("lifecycle")
    context = Context(approvers=(approver,))
    with durable_graph(cfg) as graph:
        result = start(graph, now=now, model_name=None, context=context, on_event=show_event)
        while result.pending is not None:
            show_pending(result)
            approved = yes or typer.confirm(f"approve as {approver}?", default=True)
            if yes:
                console.print(f"  --yes: approving as {approver}")
            answer = {
                "decision": "approve" if approved else "reject",
                "approver": approver,
                "comment": "approved from agentops demo" if approved else "rejected in the demo",
            }
            result = resume(graph, result.thread_id, answer, context, on_event=show_event)
    incident = result.state.get("incident")
    if not incident:
        console.print(result.state.get("summary", "no incident"))
        return
    _show_results(cfg, engine, incident["incident_id"])


def _say_where_messages_go(cfg: Settings) -> None:
    missing = [
        name
        for name, configured in (
            ("Slack", cfg.slack_token is not None),
            ("GitHub", cfg.github_token is not None and cfg.github_repo is not None),
            ("email", cfg.smtp_host is not None),
        )
        if not configured
    ]
    if missing:
        console.print(
            f"outbox:  no credentials for {', '.join(missing)}: those messages go to the local "
            f"outbox {cfg.outbox_dir} (`agentops outbox` lists them)"
        )


def _show_results(cfg: Settings, engine: sa.Engine, incident_id: str) -> None:
    with engine.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
        messages = q.messages_for(conn, incident_id)
    console.rule("Slack messages")
    for message in messages:
        if message["channel"] == "slack":
            console.print(f"[bold]{message['target']}[/] ({message['status']})")
            console.print(message["text"])
            console.print()
    others = [m for m in messages if m["channel"] != "slack"]
    for message in others:
        console.print(f"{message['channel']} → {message['target']} ({message['status']})")
    console.rule("INCIDENTS row")
    assert row is not None
    for key in (
        "incident_id",
        "model_name",
        "severity",
        "alert_types",
        "root_cause_category",
        "root_cause",
        "resolution",
        "opened_at",
        "resolved_at",
        "status",
        "postmortem",
    ):
        value = row.get(key)
        console.print(f"{key:<20} {iso(value) if isinstance(value, datetime) else value}")
    path = Path(str(row.get("postmortem") or ""))
    if path.is_file():
        console.rule(f"post-mortem: {path}")
        console.print(path.read_text(encoding="utf-8")[:2500], markup=False)
        console.print(f"[dim]... the full report is {path}[/]")
    timeline = json.loads(row.get("timeline") or "[]")
    console.print(
        f"[dim]{len(timeline)} timeline entries; `agentops incidents show {incident_id}`[/]"
    )
