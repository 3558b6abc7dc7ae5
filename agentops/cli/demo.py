"""`agentops demo`: the runbook's own incident through the whole truthful lifecycle.

It runs in a home of its own, `$AGENTOPS_HOME/demo` (kept afterwards, so you can look at
what it made), with its own SQLite stores, its own policy file naming the demo approver, and
the local outbox only — whatever store, credentials or executor commands are configured, the
demo never touches them. Only the model setting is carried over.

The clock is simulated after the first pass: the recovery windows the scenario would
produce arrive an hour apart, and each pass re-checks them, until the incident resolves.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import DEFAULT_SCENARIO, SCENARIO_NAMES, app, console, err_console
from agentops.cli.runtime import show_event, show_waiting
from agentops.clock import iso, utcnow

if TYPE_CHECKING:
    from agentops.graph.local import LocalRuntime
    from agentops.settings import Settings

DEMO_APPROVER = "demo-operator"
RECOVERY_WINDOWS = 2


def demo_settings(configured: Settings) -> Settings:
    """The demo's own home under AGENTOPS_HOME, its own policy file (one person per role of
    the escalation matrix, reached by email, so every escalation lands in the outbox), no
    outside system."""
    from agentops.settings import Settings

    home = configured.home / "demo"
    home.mkdir(parents=True, exist_ok=True)
    policy = home / "config.yaml"
    policy.write_text(
        "# written by `agentops demo`: the demo's approver and nobody else\n"
        f"contacts:\n  {DEMO_APPROVER}: {{name: Demo Operator}}\n"
        "  dana: {name: Dana Lee, email: dana@example.com}\n"
        "  erin: {name: Erin Park, email: erin@example.com}\n"
        "  pat: {name: Pat Kim, email: pat@example.com}\n"
        "  sam: {name: Sam Ortiz, email: security@example.com}\n"
        f"roles:\n  ml_team_lead: [{DEMO_APPROVER}]\n"
        "  data_engineering_lead: [dana]\n"
        "  engineering_manager: [erin]\n"
        "  platform_engineering: [pat]\n"
        "  security_team: [sam]\n"
        f"approvers: [{DEMO_APPROVER}]\n",
        encoding="utf-8",
    )
    return Settings.load(
        home=home,
        database_url=None,
        state_url=None,
        config_file=policy,
        runbooks_dir=configured.runbooks_dir,
        model=configured.model,
        openai_api_key=configured.openai_api_key,
        openai_base_url=configured.openai_base_url,
        embeddings=configured.embeddings,
        approvers="",
        slack_token=None,
        github_token=None,
        smtp_host=None,
        # the demo's simulated trainer (agentops/scenarios/trainer.py): trains nothing
        retrain_command=f"{sys.executable} -m agentops.scenarios.trainer",
        retrain_webhook=None,
        scale_command=None,
        scale_webhook=None,
    )


@app.command("demo")
def demo(
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help=f"approve as the demo approver ({DEMO_APPROVER})")
    ] = False,
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"one of: {', '.join(SCENARIO_NAMES)}")
    ] = DEFAULT_SCENARIO,
) -> None:
    """Seed classifier_v2 with the runbook's incident (a vendor format change on V14: drift,
    then F1 below 0.70) and run the whole lifecycle: page, diagnosis, approval, remediation,
    monitoring, the recovery windows arriving on a simulated clock, resolved."""
    if scenario not in SCENARIO_NAMES:
        raise typer.BadParameter(f"choose one of {list(SCENARIO_NAMES)}", param_hint="--scenario")
    from agentops.graph.identity import Identity
    from agentops.graph.local import local_runtime
    from agentops.scenarios import SCENARIOS, seed_store
    from agentops.settings import Settings
    from agentops.store import Stores, describe, open_monitoring, open_state

    cfg = demo_settings(Settings.load())
    now = utcnow()
    console.rule("[bold]agentops demo")
    stores = Stores(
        monitoring=open_monitoring(cfg.resolved_database_url, create=True),
        state=open_state(cfg.resolved_state_url),
    )
    console.print(f"home:    {cfg.home} (the demo's own; kept afterwards)")
    console.print(f"stores:  {describe(stores.monitoring)}, state {describe(stores.state)}")
    if cfg.resolved_model == "offline":
        console.print(
            "model:   offline — no LLM is configured, so diagnosis and planning are done by "
            "agentops's deterministic rule-based analyzers, not a language model"
        )
    else:
        console.print(
            f"model:   {cfg.resolved_model} (the rule-based analyzers answer if it fails)"
        )
    console.print(
        f"outbox:  Slack, GitHub and email go to the local outbox {cfg.outbox_dir} "
        "(`agentops outbox`), whatever credentials are configured"
    )
    with err_console.status("seeding 14 days of hourly classifier_v2 history...", spinner="dots"):
        seed_store(stores, now, scenario)
    console.print(f"seeded:  scenario {scenario}: {SCENARIOS[scenario].summary}")
    console.rule(f"pass 1 at {iso(now)}")

    def decide(payload: dict[str, Any]) -> dict[str, Any]:
        show_waiting_payload(payload)
        approved = yes or typer.confirm(f"approve as {DEMO_APPROVER}?", default=True)
        if yes:
            console.print(f"  --yes: approving as {DEMO_APPROVER}")
        verb = "approved" if approved else "rejected"
        return {"decision": "approve" if approved else "reject", "comment": f"{verb} in the demo"}

    with local_runtime(cfg, "demo", stores) as rt:
        scheduler = rt.scheduler(
            decide=decide, decider=Identity(DEMO_APPROVER, "demo"), on_event=show_event
        )
        started = time.perf_counter()
        report = scheduler.run_pass(now)
        console.print(f"[dim]pass 1 took {time.perf_counter() - started:.1f} s of real time[/]")
        incident_id = _incident_id(rt)
        if incident_id is None:
            console.print("no incident: nothing crossed a threshold")
            return
        _show_errors(report.errors)
        for result in report.results:
            if result.waiting_for:
                show_waiting(result)
        fixed = _fix_upstream(rt, scheduler, now, incident_id)
        _recover(rt, scheduler, fixed or now, scenario, incident_id, fix_loaded=bool(fixed))
        _show_results(rt, incident_id, now)


def show_waiting_payload(payload: dict[str, Any]) -> None:
    action = payload.get("action") or {}
    console.print(
        f"[magenta]approval[/]    {action.get('type')} → {action.get('target')} "
        f"({payload.get('incident_id')})"
    )
    console.print(f"            why:  {payload.get('why')}", markup=False)
    console.print(f"            risk: {payload.get('risk')}", markup=False)
    params = action.get("params") or {}
    if params:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        console.print(f"            params: {shown}", markup=False)
    for line in (payload.get("facts") or {}).get("lines") or []:
        console.print(f"            - {line}", markup=False)


def _show_errors(errors: list[str]) -> None:
    for error in errors:
        err_console.print(f"[red]error[/]       {escape(error)}", soft_wrap=True)


def _incident_id(rt: LocalRuntime) -> str | None:
    from agentops.store import queries as q

    with rt.stores.state.connect() as conn:
        rows = q.list_incidents(conn, limit=5)
    return str(rows[-1]["incident_id"]) if rows else None


def _status(rt: LocalRuntime, incident_id: str) -> dict[str, Any]:
    from agentops.store import queries as q

    with rt.stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
    assert row is not None
    return row


def _job(rt: LocalRuntime, incident_id: str) -> dict[str, Any] | None:
    """The incident's retraining job, if it has one."""
    from agentops.actions.jobs import find_job, job_id_for

    return find_job(rt.stores.state, job_id_for(incident_id))


def _fix_upstream(
    rt: LocalRuntime, scheduler: Any, now: datetime, incident_id: str
) -> datetime | None:
    """A retrain that waits for the upstream fix: data engineering's fixed pipeline run
    arrives (simulated) a few minutes later, and the next pass starts the job. Returns the
    clock of that pass (the recovery windows come after it), None when nothing waited."""
    from agentops.scenarios.scenarios import MODEL
    from agentops.store.load import load_tables

    job = _job(rt, incident_id)
    if job is None or job["status"] != "waiting":
        return None
    pipeline = json.loads(job.get("params") or "{}").get("params", {}).get("pipeline")
    if not pipeline:
        return None
    run = {
        "run_id": f"{pipeline}-{now:%Y%m%d%H%M}-fixed",
        "pipeline_name": pipeline,
        "model_name": MODEL,
        "source": "vendor_api",
        "started_at": now + timedelta(minutes=2),
        "finished_at": now + timedelta(minutes=9),
        "status": "success",
        "rows_processed": 210000,
        "notes": "re-run after the fix; every row passed schema validation",
    }
    load_tables(rt.stores.monitoring, {"pipeline_runs": [run]})
    clock = now + timedelta(minutes=10)
    console.rule(f"pass 2 at {iso(clock)} (simulated: {pipeline} re-ran with the fix)")
    _show_errors(scheduler.run_pass(clock).errors)
    job = _job(rt, incident_id) or job
    console.print(f"[cyan]retrain[/]     {job['job_id']}: {job['status']}", markup=True)
    console.print(f"            {job.get('detail') or ''}", markup=False)
    return clock


def _recover(
    rt: LocalRuntime,
    scheduler: Any,
    now: datetime,
    scenario: str,
    incident_id: str,
    *,
    fix_loaded: bool = False,
) -> None:
    """The scenario's recovery arrives one window per simulated hour; each pass re-checks."""
    from agentops.scenarios import recovery_rows
    from agentops.store.load import load_tables

    row = _status(rt, incident_id)
    if row["status"] in {"resolved"}:
        return
    version = _promoted(rt, incident_id) or _rolled_back_to(rt, incident_id)
    rows = recovery_rows(now, scenario, windows=RECOVERY_WINDOWS, version=version)
    if fix_loaded:  # the fixed pipeline run is in already, and pass 2 saw it
        rows.pop("pipeline_runs", None)
    first = 3 if fix_loaded else 2
    windows = sorted(rows["model_metrics"], key=lambda r: r["window_end"])
    for index, window in enumerate(windows, start=1):
        end = window["window_end"]
        arrived = {
            name: [r for r in table if (r.get("window_end") or r.get("finished_at")) <= end]
            for name, table in rows.items()
        }
        earlier = windows[index - 2]["window_end"] if index > 1 else None
        if earlier is not None:
            arrived = {
                name: [r for r in table if (r.get("window_end") or r.get("finished_at")) > earlier]
                for name, table in arrived.items()
            }
        load_tables(rt.stores.monitoring, {k: v for k, v in arrived.items() if v})
        clock = end + timedelta(minutes=5)
        console.rule(
            f"pass {first + index - 1} at {iso(clock)} (simulated: window {index} of the recovery)"
        )
        _show_errors(scheduler.run_pass(clock).errors)
        if _status(rt, incident_id)["status"] == "resolved":
            return


def _promoted(rt: LocalRuntime, incident_id: str) -> str | None:
    """The version a retraining job promoted, if one did."""
    job = _job(rt, incident_id)
    if job is None or job["status"] != "promoted":
        return None
    result = json.loads(job.get("result") or "{}").get("result") or {}
    version = result.get("candidate_version")
    return str(version) if version else None


def _rolled_back_to(rt: LocalRuntime, incident_id: str) -> str | None:
    from agentops.store import queries as q

    with rt.stores.state.connect() as conn:
        logged = q.action_log_for(conn, incident_id)
    for entry in logged:
        if entry["action_type"] == "rollback_model" and entry["status"] == "succeeded":
            data = json.loads(entry.get("result") or "{}").get("data") or {}
            return data.get("to_version")
    return None


def _show_results(rt: LocalRuntime, incident_id: str, started: datetime) -> None:
    from agentops.store import queries as q

    row = _status(rt, incident_id)
    with rt.stores.state.connect() as conn:
        messages = q.messages_for(conn, incident_id)
    console.rule("Slack thread (from the outbox)")
    for message in messages:
        if message["channel"] == "slack":
            console.print(f"[bold]{message['target']}[/] ({message['status']})")
            console.print(message["text"], markup=False)
            console.print()
    for message in (m for m in messages if m["channel"] != "slack"):
        console.print(f"{message['channel']} → {message['target']} ({message['status']})")
    console.rule("the incident")
    for key in ("incident_id", "severity", "status", "root_cause_category", "root_cause"):
        console.print(f"{key:<20} {row.get(key)}", markup=False)
    opened, resolved = row["opened_at"], row.get("resolved_at")
    console.print(f"{'opened_at':<20} {iso(opened)}")
    console.print(f"{'resolved_at':<20} {iso(resolved) if resolved else '-'}")
    if resolved:
        minutes = round((resolved - opened).total_seconds() / 60)
        console.print(f"{'time to resolve':<20} {minutes} minutes (simulated clock)")
    path = Path(str(row.get("postmortem") or ""))
    if path.is_file():
        console.rule(f"post-mortem: {path}")
        console.print(path.read_text(encoding="utf-8")[:2000], markup=False)
        console.print(f"[dim]... the full report is {path}[/]")
    console.print(
        f"[dim]`AGENTOPS_HOME={rt.settings.home} agentops incidents show {incident_id}`[/]"
    )
