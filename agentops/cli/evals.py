"""`agentops eval` (the scenario suite), `agentops eval export` and `agentops replay`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import app, console, err_console, eval_app, model_name, settings
from agentops.cli.tables import table, whole, wrapped

if TYPE_CHECKING:
    from rich.progress import Progress

    from agentops.cases import Case
    from agentops.evals import CaseOutcome
    from agentops.evals.calibration import Calibration
    from agentops.evals.flips import PerturbReport
    from agentops.settings import Settings

PROJECT_CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"


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
        typer.Option(
            "--model",
            help="offline or provider:model (default: AGENTOPS_MODEL)",
            callback=model_name,
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the results as JSON to this file")
    ] = None,
    perturb: Annotated[
        bool,
        typer.Option(
            "--perturb",
            help="also run every case's generated variants (notes reworded, harmless notes "
            "and rows added) and report the flip rate",
        ),
    ] = False,
) -> None:
    """Run every scenario case through the whole lifecycle on a fresh store and score it,
    with the calibration of the diagnosis's confidence. Exits 1 unless every case passes
    (and, with --perturb, no variant flips)."""
    if ctx.invoked_subcommand is not None:
        return
    from agentops.evals import report_json, run_suite, runner, totals
    from agentops.evals.calibration import calibrate, diagnosis_confidence

    folder = cases or _default_cases()
    if perturb:
        _eval_perturbed(folder, model, json_out)
        return
    runbooks = settings().runbooks_dir
    confidences: dict[str, float | None] = {}

    def play_and_keep_confidence(settings: Settings, case: Case) -> dict[str, Any]:
        state = runner.play_case(settings, case)  # looked up per call: tests stand in for it
        confidences[case.id] = diagnosis_confidence(state)
        return state

    with _progress("eval") as progress:
        task = progress.add_task("starting", total=None)

        def on_case(outcome: CaseOutcome, done: int, total: int) -> None:
            mark = "[green]pass[/]" if outcome.passed else "[red]FAIL[/]"
            progress.update(task, completed=done, total=total, description=outcome.id)
            progress.console.print(f"{mark} {outcome.id} ({outcome.seconds:.2f}s)")

        outcomes = run_suite(
            folder,
            model=model,
            runbooks_dir=runbooks,
            on_case=on_case,
            run_case_fn=play_and_keep_confidence,
        )
    _print_cases(outcomes)
    summary = totals(outcomes)
    _print_totals(summary)
    calibration = calibrate(
        (confidence, o.checks["category"])
        for o in outcomes
        if "category" in o.checks and (confidence := confidences.get(o.id)) is not None
    )
    _print_calibration(calibration, "diagnosis confidence vs category correct")
    if json_out is not None:
        report = {**report_json(outcomes), "calibration": calibration.as_json()}
        _write_json(json_out, report)
    if summary["cases"]["passed"] < summary["cases"]["total"]:
        sys.exit(1)


def _progress(label: str) -> Progress:
    """A progress bar over the cases; the lines printed through it are the results."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _write_json(path: Path, report: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")


def _eval_perturbed(folder: Path, model: str | None, json_out: Path | None) -> None:
    from agentops.evals import report_json, totals
    from agentops.evals.calibration import calibrate
    from agentops.evals.flips import run_perturbed

    with _progress("eval --perturb") as progress:
        task = progress.add_task("starting", total=None)

        def on_run(case_id: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=case_id)

        report = run_perturbed(
            folder, model=model, runbooks_dir=settings().runbooks_dir, on_case=on_run
        )
    outcomes = list(report.outcomes.values())
    _print_totals(totals(outcomes))
    _print_flips(report)
    calibration = calibrate(report.calibration_pairs())
    _print_calibration(calibration, "confidence vs category correct, cases and variants")
    if json_out is not None:
        _write_json(
            json_out,
            {
                **report_json(outcomes),
                "perturbation": {
                    "variants": len(report.variants),
                    "flips": [v.case.id for v, _ in report.flips],
                    "flip_rate": round(report.flip_rate, 4),
                    "per_kind": {
                        k: {"flips": f, "variants": n} for k, (f, n) in report.per_kind().items()
                    },
                },
                "calibration": calibration.as_json(),
            },
        )
    failed = any(not o.passed for o in outcomes)
    if failed or report.flips:
        sys.exit(1)


def _print_flips(report: PerturbReport) -> None:
    kinds = table(
        whole("variant kind"),
        whole("variants", justify="right"),
        whole("flips"),
        title="perturbation",
    )
    for kind, (flips, count) in report.per_kind().items():
        kinds.add_row(kind, str(count), f"[red]{flips}[/]" if flips else "0")
    kinds.add_row(
        "[bold]all[/]", str(len(report.variants)), f"{len(report.flips)} ({report.flip_rate:.1%})"
    )
    console.print(kinds)
    for variant, got in report.flips:
        before = report.originals[variant.base_id]
        changed = sorted(set(before.actions) ^ set(got.actions))
        console.print(
            f"[red]flip[/] {variant.case.id}: {before.category} -> {got.category}"
            + (f"; actions differ in {changed}" if changed else ""),
            soft_wrap=True,
        )


def _print_calibration(calibration: Calibration, title: str) -> None:
    bins = table(
        whole("confidence"),
        whole("runs", justify="right"),
        whole("mean confidence", justify="right"),
        whole("correct", justify="right"),
        title=f"calibration: {title}",
    )
    for b in calibration.bins:
        if b.count:
            bins.add_row(
                f"{b.low:.1f}-{b.high:.1f}",
                str(b.count),
                f"{b.confidence:.2f}",
                f"{b.accuracy:.0%}",
            )
    console.print(bins)
    console.print(
        f"Brier score {calibration.brier:.4f}, expected calibration error {calibration.ece:.4f} "
        f"over {calibration.count} runs"
    )


def _print_cases(outcomes: list[CaseOutcome]) -> None:
    # a column per expectation does not fit 80 columns beside the case ids: the table counts
    # them, the lines under it name the ones that failed (the totals table counts each one)
    cases = table(
        whole("case"),
        whole("held", justify="right"),
        whole("s", justify="right"),
        whole("llm", justify="right"),
        whole("tokens", justify="right"),
        title="eval cases",
    )
    for o in outcomes:
        cases.add_row(
            o.id,
            f"{sum(o.checks.values())}/{len(o.checks)}",
            f"{o.seconds:.2f}",
            str(o.usage.calls),
            str(o.usage.tokens_in + o.usage.tokens_out),
            style=None if o.passed else "red",
        )
    console.print(cases)
    for o in outcomes:
        failed = [name for name, held in o.checks.items() if not held]
        if failed:
            console.print(f"[red]{escape(o.id)}[/] failed: {', '.join(failed)}")
        if o.error:
            console.print(f"[red]{escape(o.id)}[/]: {escape(o.error)}")


def _print_totals(summary: dict[str, object]) -> None:
    checks = summary["checks"]
    assert isinstance(checks, dict)
    held = table(
        whole("expectation"),
        whole("passed", justify="right"),
        whole("of", justify="right"),
        whole("rate", justify="right"),
        title="totals",
    )
    for name, counts in checks.items():
        rate = counts["passed"] / counts["total"]
        held.add_row(name, str(counts["passed"]), str(counts["total"]), f"{rate:.0%}")
    cases = summary["cases"]
    assert isinstance(cases, dict)
    held.add_row(
        "[bold]cases[/]", str(cases["passed"]), str(cases["total"]), f"{summary['pass_rate']:.0%}"
    )
    console.print(held)
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
    from agentops.evals import export_case, next_case_number
    from agentops.graph.local import open_stores

    stores = open_stores(settings())
    path = export_case(stores, incident_id, directory, number=next_case_number(directory))
    console.print(
        f"wrote {path}; check its `expect:` block, then run `agentops eval --cases {directory}`"
    )


@app.command("replay")
def replay(
    incident_id: Annotated[str, typer.Argument(help="the incident to re-run")],
) -> None:
    """Re-run a past incident's data with today's thresholds, prompts and model (on a copy,
    clock = its opened_at) and show how the diagnosis differs from the recorded one."""
    from agentops.evals import replay_incident
    from agentops.graph.local import open_stores

    cfg = settings()
    stores = open_stores(cfg)
    with err_console.status(f"replaying {incident_id} on a copy of its data...", spinner="dots"):
        diffs = replay_incident(cfg, stores, incident_id)
    compared = table(
        whole("field"),
        wrapped("recorded"),
        wrapped("replayed today"),
        whole(""),
        title=f"replay of {incident_id}",
        rows_apart=True,
    )
    for d in diffs:
        compared.add_row(
            d.field,
            escape(_cell(d.recorded)),
            escape(_cell(d.replayed)),
            "[green]same[/]" if d.same else "[yellow]differs[/]",
        )
    console.print(compared)
    changed = [d.field for d in diffs if not d.same]
    console.print(f"differs in: {', '.join(changed)}" if changed else "no differences")


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
