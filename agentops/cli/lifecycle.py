"""`agentops run | approve | threads | watch | graph`: the incident lifecycle from a terminal.

`run` is one scheduler pass (CONTRACT.md): resume what waits, the SLA sweep, detection, a
page per new incident, then every claimable incident, P1 first. `watch` runs a pass every
interval. Threads are checkpointed in the state store, so `approve` answers from any
process or host that points at it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import (
    JsonFlag,
    NowOption,
    app,
    console,
    err_console,
    model_name,
    print_json,
    resolve_now,
    settings,
)
from agentops.cli.detect import show_findings
from agentops.cli.runtime import local_runtime, scheduler, show_waiting
from agentops.clock import iso, utcnow
from agentops.errors import ApprovalError, DataError

if TYPE_CHECKING:
    from agentops.graph.context import Context
    from agentops.graph.local import LocalRuntime
    from agentops.graph.runner import RunResult
    from agentops.graph.scheduler import PassReport

ModelOption = Annotated[
    str | None, typer.Option("--model", help="only this model (default: every model)")
]
LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="'offline' or provider:model for this run (default: AGENTOPS_MODEL)",
        callback=model_name,
    ),
]


def _result_json(result: RunResult) -> dict[str, Any]:
    state = result.state
    incident = state.get("incident") or {}
    return {
        "thread_id": result.thread_id,
        "incident_id": incident.get("incident_id"),
        "waiting_for": result.waiting_for,
        "pending": result.pending,
        "incident": incident or None,
        "summary": state.get("summary"),
        "escalated_to": state.get("escalated_to"),
        "postmortem_path": state.get("postmortem_path"),
        "llm_usage": state.get("llm_usage"),
        "actions_taken": [
            {
                "type": r["action"]["type"],
                "target": r["action"]["target"],
                "status": r["status"],
                "approved_by": r.get("approved_by"),
            }
            for r in state.get("actions_taken") or []
        ],
    }


def _stored_statuses(stores: Any, report: PassReport) -> dict[str, str]:
    """Each handled incident's status as the store has it after the pass: the thread's
    state holds the incident as the graph last wrote it, which a later step (the approval
    wait, a recovery check) may have moved on."""
    from agentops.store import queries as q

    ids = {str((r.state.get("incident") or {}).get("incident_id")) for r in report.results}
    with stores.state.connect() as conn:
        rows = [q.get_incident_row(conn, incident_id) for incident_id in sorted(ids)]
    return {str(row["incident_id"]): str(row["status"]) for row in rows if row}


def report_json(report: PassReport, stored: dict[str, str] | None = None) -> dict[str, Any]:
    threads = [_result_json(r) for r in report.results]
    for thread in threads:
        status = (stored or {}).get(str(thread["incident_id"]))
        if status and thread["incident"]:
            thread["incident"] = {**thread["incident"], "status": status}
    return {
        "now": iso(report.now),
        "alerts": [a.model_dump(mode="json") for a in report.detection.alerts],
        "paged": report.paged,
        "threads": threads,
        "findings": [f.model_dump(mode="json") for f in report.detection.findings],
        "escalations": [
            {"target": e.action.target, "status": e.status, "detail": e.detail}
            for e in report.escalations
        ],
        "errors": report.errors,
    }


def show_errors(errors: list[str]) -> None:
    """An incident the pass could not handle (the pass went on with the others)."""
    for error in errors:
        err_console.print(f"[red]error[/]       {escape(error)}", soft_wrap=True)


def show_report(report: PassReport) -> None:
    show_findings(report.detection.findings)
    for escalation in report.escalations:
        console.print(
            f"[red]sla[/]         escalated to {escape(escalation.action.target)}: "
            f"{escape(escalation.action.reason or '')}"
        )
    for result in report.results:
        if result.waiting_for:
            show_waiting(result)
    show_errors(report.errors)
    if not report.results and not report.escalations and not report.errors:
        console.print(
            "nothing to handle: no threshold crossed, and no incident waits for a check"
            if not report.detection.alerts
            else "alerts joined incidents already handled (`agentops threads` lists them)"
        )


# ---- commands ------------------------------------------------------------------------------
@app.command("run")
def run(
    model: ModelOption = None,
    now: NowOption = None,
    llm: LlmOption = None,
    json_out: JsonFlag = False,
) -> None:
    """One pass: resume what waits, the SLA sweep, detection, a page per new incident, then
    every claimable incident (P1 first); each stops at an approval or to wait for recovery."""
    from agentops.graph.context import Context

    cfg = settings()
    clock = resolve_now(now)
    with local_runtime(cfg, "run") as rt:
        report = _pass(rt, clock, model, Context(model=llm), quiet=json_out)
        stored = _stored_statuses(rt.stores, report) if json_out else {}
    if json_out:
        print_json(report_json(report, stored))
        # in the JSON too; a person watching the terminal sees them as well
        show_findings(report.detection.findings, to=err_console)
        show_errors(report.errors)
    else:
        show_report(report)
    if report.errors:  # an incident whose handling failed is not a successful pass
        raise typer.Exit(1)


def _pass(
    rt: LocalRuntime, clock: Any, model: str | None, context: Context, *, quiet: bool
) -> PassReport:
    from agentops.store import workers

    runner = scheduler(rt, context=context, quiet=quiet)
    with workers.beating(rt.stores.state, rt.owner, "pass") as beat:
        report = runner.run_pass(clock, model)
        beat.done(report.errors)
    return report


@app.command("approve")
def approve(
    incident: Annotated[
        str, typer.Argument(help="the incident id (or its thread id) that waits for approval")
    ],
    approver: Annotated[
        str, typer.Option("--approver", help="you: a configured approver of this action")
    ],
    reject: Annotated[bool, typer.Option("--reject", help="reject instead of approve")] = False,
    comment: Annotated[str, typer.Option("--comment", help="why")] = "",
    json_out: JsonFlag = False,
) -> None:
    """Answer a pending approval as the local operator and continue the incident.

    APPROVER must be one of the policy file's `approvers` for this action (or
    AGENTOPS_APPROVERS); the decision is recorded as coming from the local CLI."""
    from agentops.actions.policy import load_policy
    from agentops.domain import ActionType
    from agentops.graph.approval import NO_APPROVERS
    from agentops.graph.runner import snapshot
    from agentops.store import answers as store_answers

    cfg = settings()
    with local_runtime(cfg, "approve") as rt:
        row = _waiting_row(rt, incident)
        thread_id = str(row["thread_id"])
        pending = snapshot(rt.graph, thread_id)
        if pending.waiting_for != "approval" or pending.pending is None:
            raise DataError(
                f"{row['incident_id']} is not waiting for an approval "
                f"(it waits for {row.get('waiting_for') or 'nothing'}); `agentops threads`"
            )
        kind = ActionType(pending.pending["action"]["type"])
        allowed = load_policy(cfg).people.approvers_for(kind, cfg.approvers)
        if not allowed:
            raise ApprovalError(f"nothing was decided: {NO_APPROVERS}")
        if approver not in allowed:
            raise ApprovalError(
                f"nothing was decided: {approver!r} may not approve "
                f"{pending.pending['action']['type']} (approvers: {', '.join(allowed)})"
            )
        with rt.stores.state.begin() as conn:
            answer_id = store_answers.record_answer(
                conn,
                incident_id=str(row["incident_id"]),
                thread_id=thread_id,
                kind="approval",
                action_key=pending.state.get("pending_action"),
                decision="reject" if reject else "approve",
                person=approver,
                via="cli",
                comment=comment,
                received_at=utcnow(),
            )
            stored = next(
                r for r in store_answers.unapplied(conn, thread_id) if r["answer_id"] == answer_id
            )
        result = scheduler(rt, quiet=json_out).apply_answer(stored)
    outcome = _outcome(rt, answer_id)
    if json_out:
        print_json({"outcome": outcome, **(_result_json(result) if result else {})})
    elif result is not None and result.waiting_for:
        show_waiting(result)
    if outcome.startswith("refused"):
        raise ApprovalError(f"nothing was decided: {outcome.removeprefix('refused: ')}")


def _outcome(rt: LocalRuntime, answer_id: str) -> str:
    from agentops.store.state_tables import answers

    with rt.stores.state.connect() as conn:
        found = (
            conn.execute(answers.select().where(answers.c.answer_id == answer_id))
            .mappings()
            .first()
        )
    outcome = found["outcome"] if found is not None else None
    return str(outcome or "recorded; the next pass applies it")


def _waiting_row(rt: LocalRuntime, key: str) -> dict[str, Any]:
    from agentops.store import claims
    from agentops.store import queries as q

    with rt.stores.state.connect() as conn:
        row = q.get_incident_row(conn, key)
        if row is None:
            found = [r for r in claims.waiting(conn) if r["thread_id"] == key]
            row = found[0] if found else None
    if row is None or not row.get("thread_id"):
        raise DataError(f"no incident or thread {key!r} waits; `agentops threads` lists them")
    return row


@app.command("threads")
def threads(json_out: JsonFlag = False) -> None:
    """Every incident that waits for something — an approval, recovery, a person — with
    what it waits for and its thread."""
    from agentops.graph.runner import snapshot
    from agentops.store import claims

    cfg = settings()
    with local_runtime(cfg, "threads") as rt:
        with rt.stores.state.connect() as conn:
            rows = claims.waiting(conn)
        listed = []
        for row in rows:
            current = snapshot(rt.graph, str(row["thread_id"]))
            listed.append(
                {
                    "thread_id": row["thread_id"],
                    "incident_id": row["incident_id"],
                    "model_name": row["model_name"],
                    "severity": row["severity"],
                    "status": row["status"],
                    "waiting_for": row["waiting_for"],
                    "detail": row.get("waiting_detail"),
                    "pending": current.pending,
                }
            )
    if json_out:
        print_json(listed)
        return
    if not listed:
        console.print("no incident waits for anything")
        return
    for item in listed:
        console.print(
            f"[bold]{escape(item['incident_id'])}[/] {item['severity']} "
            f"{escape(item['model_name'])} {item['status']}: waits for {item['waiting_for']} "
            f"— {escape(item['detail'] or '')}"
        )
        console.print(f"  thread {item['thread_id']}")


@app.command("watch")
def watch(
    interval: Annotated[int, typer.Option("--interval", min=1, help="seconds between passes")] = 60,
    model: ModelOption = None,
    passes: Annotated[
        int | None, typer.Option("--passes", min=1, help="stop after N passes (default: never)")
    ] = None,
) -> None:
    """A pass every INTERVAL seconds (see `agentops run`), with a heartbeat in the state
    store that `agentops serve`'s /healthz reports. Ctrl-C stops it (exit 130)."""
    from agentops.graph.context import Context

    cfg = settings()
    done = 0
    with local_runtime(cfg, "watch") as rt:
        while passes is None or done < passes:
            clock = utcnow()
            console.print(f"[dim]{clock:%Y-%m-%d %H:%M:%S}Z pass {done + 1}[/]")
            report = _pass(rt, clock, model, Context(), quiet=False)
            show_report(report)
            _warn_undelivered(rt.stores)
            done += 1
            if passes is None or done < passes:
                time.sleep(interval)


def _warn_undelivered(stores: Any) -> None:
    """P1 Slack messages Slack has refused so far, and where their email fallback stands."""
    from agentops.actions.deliver import undelivered_p1

    with stores.state.connect() as conn:
        stuck = undelivered_p1(conn)
    for row in stuck:
        err_console.print(
            f"[red]undelivered P1[/] {row['incident_id']} → {escape(str(row['target']))} "
            f"({row['attempts']} attempt(s), {row['status']}); email fallback: {row['fallback']}"
        )


@app.command("graph")
def graph_command(
    mermaid: Annotated[bool, typer.Option("--mermaid", help="print Mermaid (the default)")] = True,
) -> None:
    """Print the incident graph (Mermaid), as Studio draws it."""
    from agentops.graph.builder import build_graph

    compiled = build_graph(settings())
    print(compiled.get_graph().draw_mermaid())
