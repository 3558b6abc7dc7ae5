"""`agentops eval` (the scenario suite), `agentops eval export` and `agentops replay`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentops.cli.app import app, console, engine, eval_app, settings
from agentops.errors import ConfigError
from agentops.evals import (
    CHECKS,
    CaseOutcome,
    export_case,
    next_case_number,
    replay_incident,
    report_json,
    run_suite,
    totals,
)
from agentops.store import require_tables

PROJECT_CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
SHORT = {
    "incident": "inc",
    "severity": "sev",
    "alert_types": "alerts",
    "category": "cat",
    "mentions": "ment",
    "actions_include": "incl",
    "actions_exclude": "excl",
    "executed": "exec",
    "escalation": "esc",
}


def _default_cases() -> Path:
    local = Path("evals/cases")
    return local if local.is_dir() else PROJECT_CASES


@eval_app.callback()
def eval_cases(
    ctx: typer.Context,
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="folder of NNN_slug/case.yaml (default: evals/cases)"),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="offline or provider:model (default: AGENTOPS_MODEL)"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the results as JSON to this file")
    ] = None,
) -> None:
    """Run every scenario case through the whole lifecycle on a fresh store and score it.
    Exits 1 unless every case passes."""
    if ctx.invoked_subcommand is not None:
        return
    if model is not None and model != "offline" and ":" not in model:
        raise ConfigError("--model: expected 'offline' or provider:model, e.g. openai:gpt-4o-mini")
    folder = cases or _default_cases()
    runbooks = settings().runbooks_dir
    with Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def on_case(outcome: CaseOutcome, done: int, total: int) -> None:
            mark = "[green]pass[/]" if outcome.passed else "[red]FAIL[/]"
            progress.update(task, completed=done, total=total, description=outcome.id)
            progress.console.print(f"{mark} {outcome.id} ({outcome.seconds:.2f}s)")

        outcomes = run_suite(folder, model=model, runbooks_dir=runbooks, on_case=on_case)
    _print_cases(outcomes)
    summary = totals(outcomes)
    _print_totals(summary)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report_json(outcomes), indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {json_out}")
    if summary["cases"]["passed"] < summary["cases"]["total"]:
        sys.exit(1)


def _print_cases(outcomes: list[CaseOutcome]) -> None:
    table = Table(title="eval cases")
    table.add_column("case", no_wrap=True)
    for name in CHECKS:
        table.add_column(SHORT[name], justify="center")
    for name in ("s", "llm", "tokens"):
        table.add_column(name, justify="right")
    for o in outcomes:
        cells = []
        for name in CHECKS:
            if name not in o.checks:
                cells.append("")
            else:
                cells.append("[green]✓[/]" if o.checks[name] else "[red]✗[/]")
        style = None if o.passed else "red"
        table.add_row(
            o.id,
            *cells,
            f"{o.seconds:.2f}",
            str(o.usage.calls),
            str(o.usage.tokens_in + o.usage.tokens_out),
            style=style,
        )
    # CI logs are narrow: let the table keep its width instead of truncating case ids
    Console(width=max(console.width, 130), highlight=False).print(table)
    for o in outcomes:
        if o.error:
            console.print(f"[red]{o.id}[/]: {o.error}", soft_wrap=True)


def _print_totals(summary: dict[str, object]) -> None:
    checks = summary["checks"]
    assert isinstance(checks, dict)
    table = Table("expectation", "passed", "of", "rate", title="totals")
    for name, counts in checks.items():
        rate = counts["passed"] / counts["total"]
        table.add_row(name, str(counts["passed"]), str(counts["total"]), f"{rate:.0%}")
    cases = summary["cases"]
    assert isinstance(cases, dict)
    table.add_row(
        "[bold]cases[/]", str(cases["passed"]), str(cases["total"]), f"{summary['pass_rate']:.0%}"
    )
    console.print(table)
    llm = summary["llm"]
    assert isinstance(llm, dict)
    console.print(
        f"{summary['seconds']:.2f}s in total; LLM calls {llm['calls']}, tokens in "
        f"{llm['tokens_in']}, out {llm['tokens_out']}, tool calls {llm['tool_calls']}"
    )


@eval_app.command("export")
def eval_export(
    incident_id: Annotated[str, typer.Argument(help="a resolved incident, e.g. INC-2026-1104-1")],
    directory: Annotated[Path, typer.Argument(help="the cases folder to add it to")],
) -> None:
    """Turn a resolved incident into a new eval case (CONTRACT.md format): its data trimmed
    to what detection and diagnosis need, its resolution as the expectation."""
    eng = engine()
    require_tables(eng)
    path = export_case(eng, incident_id, directory, number=next_case_number(directory))
    console.print(
        f"wrote {path}; check its `expect:` block, then run `agentops eval --cases {directory}`"
    )


@app.command("replay")
def replay(
    incident_id: Annotated[str, typer.Argument(help="the incident to re-run")],
) -> None:
    """Re-run a past incident's data with today's thresholds, prompts and model (on a copy,
    clock = its opened_at) and show how the diagnosis differs from the recorded one."""
    cfg = settings()
    eng = engine(cfg)
    require_tables(eng)
    with console.status(f"replaying {incident_id} on a copy of its data...", spinner="dots"):
        diffs = replay_incident(cfg, eng, incident_id)
    table = Table("field", "recorded", "replayed today", "", title=f"replay of {incident_id}")
    for d in diffs:
        table.add_row(
            d.field,
            _cell(d.recorded),
            _cell(d.replayed),
            "[green]same[/]" if d.same else "[yellow]differs[/]",
        )
    console.print(table)
    changed = [d.field for d in diffs if not d.same]
    console.print(f"differs in: {', '.join(changed)}" if changed else "no differences")


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
