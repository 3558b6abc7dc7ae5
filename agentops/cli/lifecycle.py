"""`agentops run | approve | threads | watch | graph`: the incident graph from a terminal.

Threads are checkpointed in $AGENTOPS_HOME/checkpoints.sqlite, so `run` can stop at an
approval and `approve` resumes it later from another process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from agentops import actions
from agentops.cli.app import app, console, print_json, settings
from agentops.cli.data import JsonFlag, NowOption, resolve_now
from agentops.clock import utcnow
from agentops.errors import ApprovalError, DataError
from agentops.graph.builder import IncidentGraph, build_graph
from agentops.graph.context import Context
from agentops.graph.runner import RunResult, pending_threads, resume, sqlite_checkpointer, start
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema
from agentops.store import queries as q

ModelOption = Annotated[
    str | None, typer.Option("--model", help="only this model (default: every model)")
]
LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm", help="'offline' or provider:model for this run (default: AGENTOPS_MODEL)"
    ),
]


@contextmanager
def durable_graph(cfg: Settings) -> Iterator[IncidentGraph]:
    with sqlite_checkpointer(cfg) as saver:
        yield build_graph(cfg, checkpointer=saver)


# ---- progress ------------------------------------------------------------------------------
def show_event(node: str, update: dict[str, Any]) -> None:
    """One or a few lines per lifecycle step, as it happens."""
    if node == "detect":
        incident = update.get("incident")
        if not incident:
            console.print(f"[green]detect[/]      {update.get('summary', 'nothing to do')}")
            return
        alerts = ", ".join(
            f"{a['severity']} {a['type']}({a['component']}={a['value']})"
            for a in incident["alerts"]
        )
        console.print(
            f"[red]detect[/]      {incident['incident_id']} {incident['severity']} "
            f"{incident['model_name']}: {alerts}"
        )
    elif node in {"triage", "investigate"}:
        diagnosis = update.get("diagnosis") or {}
        console.print(
            f"[yellow]{node:<11}[/] {diagnosis.get('category')} "
            f"(confidence {diagnosis.get('confidence', 0):.2f}) — {diagnosis.get('root_cause')}"
        )
        for note in update.get("notes") or []:
            console.print(f"            [dim]{note}[/]")
        for hit in update.get("runbook_hits") or []:
            console.print(
                f"            runbook {hit['runbook']} § {hit['section']} ({hit['score']:.2f})"
            )
    elif node == "remediate":
        plan = update.get("action_plan") or {}
        console.print("[cyan]remediate[/]   plan:")
        for action in plan.get("actions", []):
            gate = " [bold](needs approval)[/]" if action["type"] in _GATED else ""
            console.print(f"            {action['type']} → {action['target']}{gate}")
        for dropped in plan.get("dropped", []):
            console.print(f"            [dim]dropped {dropped['proposed']}: {dropped['reason']}[/]")
    elif node == "execute_action":
        for result in update.get("actions_taken") or []:
            action = result["action"]
            who = f" (approved by {result['approved_by']})" if result.get("approved_by") else ""
            console.print(
                f"[cyan]action[/]      {action['type']} → {action['target']}: "
                f"{result['status']}{who} {result.get('detail', '')[:90]}"
            )
        if update.get("pending_action"):
            console.print(f"[magenta]approval[/]    waiting: {update['pending_action']}")
    elif node == "request_approval":
        for approval in update.get("approvals") or []:
            console.print(
                f"[magenta]approval[/]    {approval['decision']} by {approval['approver']}"
                + (f": {approval['comment']}" if approval.get("comment") else "")
            )
    elif node == "postmortem":
        console.print(f"[green]postmortem[/]  {update.get('postmortem_path')}")


_GATED = {"rollback_model", "retrain_model", "scale_infrastructure"}


def show_pending(result: RunResult) -> None:
    pending = result.pending or {}
    action = pending.get("action", {})
    console.print()
    if pending.get("problem"):
        console.print(f"[red]the last answer was refused:[/] {pending['problem']}")
    console.print(
        f"[bold]waiting for approval[/] on thread [bold]{result.thread_id}[/]: "
        f"{action.get('type')} → {action.get('target')} ({pending.get('incident_id')})"
    )
    console.print(f"  why:  {pending.get('why')}")
    console.print(f"  risk: {pending.get('risk')}")
    allowed = ", ".join(pending.get("approvers") or []) or "nobody — set AGENTOPS_APPROVERS"
    console.print(f"  approvers: {allowed}")
    console.print(
        f"  approve: agentops approve {result.thread_id} --approver NAME [--reject] "
        "[--comment TEXT]"
    )


def finish(result: RunResult, json_out: bool) -> None:
    if json_out:
        print_json({"thread_id": result.thread_id, "pending": result.pending, **_output(result)})
        return
    if result.pending is not None:
        show_pending(result)
    elif result.state.get("summary"):
        console.print()
        console.print(result.state["summary"])


def _output(result: RunResult) -> dict[str, Any]:
    keys = ("incident", "summary", "escalated_to", "postmortem_path", "llm_usage")
    out = {k: result.state.get(k) for k in keys}
    out["actions_taken"] = [
        {
            "type": r["action"]["type"],
            "target": r["action"]["target"],
            "status": r["status"],
            "approved_by": r.get("approved_by"),
        }
        for r in result.state.get("actions_taken") or []
    ]
    return out


# ---- commands ------------------------------------------------------------------------------
@app.command("run")
def run(
    model: ModelOption = None,
    now: NowOption = None,
    llm: LlmOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Detect and handle the most severe new incident; stop at an approval and print the
    thread to resume with `agentops approve`."""
    cfg = settings()
    clock = resolve_now(now)
    with durable_graph(cfg) as graph:
        result = start(
            graph,
            now=clock,
            model_name=model,
            context=Context(model=llm),
            on_event=None if json_out else show_event,
        )
    finish(result, json_out)


@app.command("approve")
def approve(
    thread: Annotated[str, typer.Argument(help="the thread id `agentops run` printed")],
    approver: Annotated[str, typer.Option("--approver", help="who decides (AGENTOPS_APPROVERS)")],
    reject: Annotated[bool, typer.Option("--reject", help="reject instead of approve")] = False,
    comment: Annotated[str, typer.Option("--comment", help="why")] = "",
    json_out: JsonFlag = False,
) -> None:
    """Answer a pending approval and continue the incident from where it stopped."""
    cfg = settings()
    with durable_graph(cfg) as graph:
        waiting = pending_threads(graph, [thread])
        if not waiting:
            raise DataError(
                f"thread {thread!r} is not waiting for an approval; `agentops threads` lists those that are"
            )
        answer = {
            "decision": "reject" if reject else "approve",
            "approver": approver,
            "comment": comment,
        }
        result = resume(graph, thread, answer, Context(), on_event=None if json_out else show_event)
    refused = (result.pending or {}).get("problem")
    if refused and (result.pending or {}).get("action") == waiting[0].pending.get("action"):  # type: ignore[union-attr]
        if json_out:
            print_json({"thread_id": thread, "refused": refused})
        raise ApprovalError(f"nothing was executed: {refused}")
    finish(result, json_out)


@app.command("threads")
def threads(json_out: JsonFlag = False) -> None:
    """Incidents waiting for an approval, with their thread ids."""
    cfg = settings()
    engine = create_store_engine(cfg.resolved_database_url)
    init_schema(engine)
    with engine.connect() as conn:
        rows = q.list_incidents(conn, status="awaiting_approval", limit=200)
    ids = [r["thread_id"] for r in rows if r.get("thread_id")]
    with durable_graph(cfg) as graph:
        waiting = pending_threads(graph, ids)
    if json_out:
        print_json([{"thread_id": w.thread_id, "pending": w.pending} for w in waiting])
        return
    if not waiting:
        console.print("no approvals pending")
        return
    for w in waiting:
        show_pending(w)


@app.command("watch")
def watch(
    interval: Annotated[int, typer.Option("--interval", min=1, help="seconds between passes")] = 60,
    model: ModelOption = None,
    passes: Annotated[
        int | None, typer.Option("--passes", min=1, help="stop after N passes (default: never)")
    ] = None,
) -> None:
    """Run detection on a schedule: each new incident gets its own thread (stopping at
    approvals), the SLA sweep escalates overdue ones, and queued messages are retried."""
    cfg = settings()
    engine = create_store_engine(cfg.resolved_database_url)
    init_schema(engine)
    done = 0
    with durable_graph(cfg) as graph:
        while passes is None or done < passes:
            clock = utcnow()
            console.print(f"[dim]{clock:%Y-%m-%d %H:%M:%S}Z pass {done + 1}[/]")
            while True:  # one thread per new incident this pass
                result = start(
                    graph, now=clock, model_name=model, context=Context(), on_event=show_event
                )
                if result.pending is not None:
                    show_pending(result)
                if not result.state.get("incident"):
                    break
            for escalation in actions.sweep(engine, cfg, now=clock):
                console.print(
                    f"[red]sla[/]         escalated to {escalation.action.target}: {escalation.detail}"
                )
            actions.deliver_pending(engine, cfg, now=clock)
            done += 1
            if passes is None or done < passes:
                time.sleep(interval)


@app.command("graph")
def graph_command(
    mermaid: Annotated[bool, typer.Option("--mermaid", help="print Mermaid (the default)")] = True,
) -> None:
    """Print the incident graph (Mermaid), as Studio draws it."""
    compiled = build_graph(settings())
    print(compiled.get_graph().draw_mermaid())
