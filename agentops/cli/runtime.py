"""What the lifecycle commands share: the local runtime (`graph.local`) and how progress is
shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from agentops.cli.app import console

if TYPE_CHECKING:
    from agentops.graph.context import Context
    from agentops.graph.local import LocalRuntime
    from agentops.graph.runner import RunResult
    from agentops.graph.scheduler import Scheduler
    from agentops.settings import Settings
    from agentops.store import Stores


def local_runtime(cfg: Settings, kind: str, stores: Stores | None = None) -> Any:
    """`graph.local.local_runtime`: the commands' runtime (the graph is imported here, when a
    command runs, not when the CLI starts)."""
    from agentops.graph import local as graph_local

    return graph_local.local_runtime(cfg, kind, stores)


def scheduler(
    rt: LocalRuntime, *, context: Context | None = None, quiet: bool = False
) -> Scheduler:
    """A scheduler that shows each step as it happens (unless `quiet`, e.g. for --json)."""
    return rt.scheduler(context=context, on_event=None if quiet else show_event)


# ---- progress ------------------------------------------------------------------------------
def _plain(text: object) -> str:
    """Text from data (notes, details) shown verbatim: Rich markup in it is escaped."""
    return escape(str(text or ""))


_GATED = {"rollback_model", "retrain_model", "scale_infrastructure"}


def show_event(node: str, update: dict[str, Any]) -> None:
    """One or a few lines per lifecycle step, as it happens."""
    if node == "detect":
        incident = update.get("incident")
        if not incident:
            console.print(f"[green]detect[/]      {update.get('summary', 'nothing to do')}")
            return
        if update.get("resubmitted"):
            return
        alerts = ", ".join(
            f"{a['severity']} {a['type']}({a['component']}={a['value']})"
            for a in incident["alerts"]
        )
        console.print(
            f"[red]detect[/]      {incident['incident_id']} {incident['severity']} "
            f"{incident['model_name']}: {alerts}"
        )
    elif node == "page":
        for entry in update.get("timeline") or []:
            console.print(f"[red]page[/]        {_plain(entry.get('note', ''))}")
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
                f"{result['status']}{_plain(who)} {_plain(result.get('detail', '')[:90])}"
            )
        if update.get("pending_action"):
            console.print(f"[magenta]approval[/]    requested: {update['pending_action']}")
    elif node == "request_approval":
        for approval in update.get("approvals") or []:
            console.print(
                f"[magenta]approval[/]    {approval['decision']} by {approval['approver']} "
                f"({approval.get('via', '?')})"
                + (f": {approval['comment']}" if approval.get("comment") else "")
            )
        for entry in update.get("timeline") or []:
            if entry.get("phase") == "answer_refused":
                console.print(f"[red]refused[/]     {_plain(entry.get('note'))}")
    elif node == "verify":
        recovery = update.get("recovery") or {}
        console.print(
            f"[blue]verify[/]      {recovery.get('status', 'resolved')}: "
            f"{_plain(recovery.get('summary', ''))}"
        )
    elif node == "postmortem":
        console.print(f"[green]resolved[/]    post-mortem {update.get('postmortem_path')}")
    elif node == "progress" and update.get("by") not in (None, "rules"):
        # a model is asked: say so before the wait (the rules answer at once)
        console.print(f"[dim]            … {_plain(update.get('progress'))} ({update['by']})[/]")


def show_waiting(result: RunResult) -> None:
    pending = result.pending or {}
    if result.waiting_for == "approval":
        action = pending.get("action", {})
        console.print(
            f"[bold]waiting for approval[/] on thread [bold]{result.thread_id}[/]: "
            f"{action.get('type')} → {action.get('target')} ({pending.get('incident_id')})"
        )
        console.print(f"  why:  {_plain(pending.get('why'))}")
        console.print(f"  risk: {_plain(pending.get('risk'))}")
        allowed = ", ".join(pending.get("approvers") or []) or (
            "nobody — set `approvers` in the policy file (or AGENTOPS_APPROVERS)"
        )
        console.print(f"  approvers: {allowed}")
        console.print(
            f"  answer: agentops approve {pending.get('incident_id')} --approver NAME "
            "[--reject] [--comment TEXT]"
        )
    elif result.waiting_for == "recovery":
        console.print(
            f"[bold]monitoring[/] {pending.get('incident_id')}: {_plain(pending.get('detail'))} "
            "— each pass (`agentops run`, `watch`) checks recovery again"
        )
