"""`agentops outbox`, `agentops deliver` and `agentops sweep`: the communication side."""

from __future__ import annotations

from typing import Annotated

import typer

from agentops.cli.app import (
    JsonFlag,
    NowOption,
    app,
    console,
    err_console,
    print_json,
    resolve_now,
    settings,
)


@app.command("outbox")
def outbox(
    incident: Annotated[
        str | None, typer.Option("--incident", help="only this incident's messages")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Messages written to the local outbox because no Slack / GitHub / SMTP credentials
    were set (also in $AGENTOPS_HOME/outbox/outbox.jsonl)."""
    from agentops.actions import list_outbox
    from agentops.store import open_state

    cfg = settings()
    state = open_state(cfg.resolved_state_url)
    with state.connect() as conn:
        entries = list_outbox(conn, incident)
    if json_out:
        print_json(entries)
        return
    if not entries:
        console.print("the outbox is empty (with credentials set, messages are sent instead)")
        return
    for entry in entries:
        console.print(
            f"[bold]{entry['channel']} → {entry['target']}[/]  {entry['incident_id']}  "
            f"{entry['sent_at']}"
        )
        console.print(entry["text"], markup=False)
        console.print()
    console.print(f"{len(entries)} message(s) in {cfg.outbox_dir}")


@app.command("deliver")
def deliver(now: NowOption = None, json_out: JsonFlag = False) -> None:
    """Send queued Slack / GitHub / email messages whose retry is due."""
    from agentops.actions import deliver_pending
    from agentops.store import open_state

    cfg = settings()
    state = open_state(cfg.resolved_state_url)
    with err_console.status("sending queued messages...", spinner="dots"):
        report = deliver_pending(state, cfg, now=resolve_now(now))
    if json_out:
        print_json(report.model_dump())
        return
    console.print(
        f"sent {len(report.sent)}, retrying later {len(report.retrying)}, "
        f"gave up {len(report.failed)}, waiting for a thread {len(report.waiting)}"
    )
    for message_id, error in report.errors.items():
        console.print(f"  {message_id}: {error}", markup=False)


@app.command("sweep")
def sweep_command(now: NowOption = None, json_out: JsonFlag = False) -> None:
    """Apply the SLA timers: escalate P1 incidents unresolved > 1 h and approvals waiting
    past their SLA, each once."""
    from agentops.actions import sweep
    from agentops.store import Stores, open_monitoring, open_state

    cfg = settings()
    stores = Stores(
        monitoring=open_monitoring(cfg.resolved_database_url),
        state=open_state(cfg.resolved_state_url),
    )
    with err_console.status("checking SLA timers...", spinner="dots"):
        results = sweep(stores, cfg, now=resolve_now(now))
    if json_out:
        print_json([r.model_dump(mode="json") for r in results])
        return
    if not results:
        console.print("no SLA breach needs escalating")
        return
    for result in results:
        incident_id = result.idempotency_key.split("|", 1)[0]
        console.print(
            f"escalated {incident_id} to {result.action.target}: {result.action.reason}",
            markup=False,
        )
        console.print(f"  {result.status}: {result.detail}", markup=False)
