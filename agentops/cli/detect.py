"""`agentops detect` (read-only threshold check) and `agentops drift compute` (PSI)."""

from __future__ import annotations

import csv
import math
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import app, console, engine, err_console, iso_time, print_json, settings
from agentops.cli.tables import table, when, whole, wrapped
from agentops.clock import iso, parse_instant, utcnow
from agentops.errors import DataError

if TYPE_CHECKING:
    from rich.console import Console

    from agentops.detection.psi import FeaturePSI
    from agentops.detection.sanity import Finding
    from agentops.domain import Alert

drift_app = typer.Typer(help="Feature drift: compute PSI from raw samples into FEATURE_DRIFT.")
app.add_typer(drift_app, name="drift")

_SEVERITY_STYLE = {"P1": "bold red", "P2": "yellow", "P3": "cyan"}


def alert_json(alert: Alert) -> dict[str, Any]:
    """The `--json` shape of one alert (README documents it)."""
    return {
        "type": alert.type.value,
        "severity": alert.severity.value,
        "model_name": alert.model_name,
        "component": alert.component,
        "value": alert.value,
        "threshold": alert.threshold,
        "window_start": iso(alert.window_start),
        "window_end": iso(alert.window_end),
    }


@app.command("detect")
def detect(
    model: Annotated[str | None, typer.Option("--model", help="only this model")] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="the clock, ISO-8601 (default: now, UTC)", callback=iso_time),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Check each model's latest complete windows against the thresholds and list the
    alerts. Read-only: it opens no incident (`agentops run` / `watch` do)."""
    from agentops.detection import evaluate_rules, load_threshold_set
    from agentops.store import open_monitoring, open_state, silences

    clock = parse_instant(now, what="--now") if now else utcnow()
    cfg = settings()
    thresholds = load_threshold_set(cfg)
    findings: list[Finding] = []
    with open_monitoring(cfg.resolved_database_url).connect() as conn:
        found = evaluate_rules(conn, clock, model, thresholds, findings)
    with open_state(cfg.resolved_state_url).connect() as conn:
        quiet = silences.active(conn, clock)
    silenced = [
        a for a in found if any(silences.covers(s, a.model_name, a.type.value) for s in quiet)
    ]
    alerts = [a for a in found if a not in silenced]
    if json_out:
        print_json(
            {
                "alerts": [alert_json(a) for a in alerts],
                "silenced": [alert_json(a) for a in silenced],
                "findings": [f.model_dump(mode="json") for f in findings],
            }
        )
        show_findings(findings, to=err_console)
        return
    show_findings(findings)
    if silenced:
        console.print(f"{len(silenced)} alert(s) silenced (`agentops silences` says why)")
    if not alerts:
        console.print(f"no thresholds crossed at {iso(clock)}")
        return
    listed = table(
        whole("sev"),
        whole("alert\ncomponent"),
        whole("model"),
        whole("value\nthreshold", justify="right"),
        wrapped("window end"),
    )
    for alert in alerts:
        style = _SEVERITY_STYLE[alert.severity.value]
        listed.add_row(
            f"[{style}]{alert.severity.value}[/]",
            f"{alert.type.value}\n{escape(alert.component)}",
            escape(alert.model_name),
            f"{_number(alert.value)}\n{_number(alert.threshold)}",
            when(alert.window_end),
        )
    console.print(listed)
    console.print(f"{len(alerts)} alert(s) at {iso(clock)}")


def show_findings(findings: list[Finding], *, to: Console = console) -> None:
    """Impossible values in the monitoring tables: the job that writes them needs fixing.
    With --json they are in the JSON and shown `to` stderr as well."""
    for finding in findings:
        to.print(f"[yellow]bad row[/]     {escape(finding.describe())}")
    if findings:
        to.print(
            f"{len(findings)} row value(s) no monitoring job could produce: those rows raised "
            "no alert; fix the job that writes them"
        )


def _number(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


# ---- agentops drift compute --------------------------------------------------------------------
_MISSING = {"", "na", "nan", "null", "none"}


def read_samples(path: Path) -> dict[str, list[str]]:
    """A CSV file with a header row as columns of raw text; DataError if unreadable."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise DataError(f"{path}: empty CSV (expected a header row of feature names)")
            columns: dict[str, list[str]] = {name.strip(): [] for name in header}
            names = list(columns)
            for line, row in enumerate(reader, start=2):
                if len(row) != len(names):
                    raise DataError(
                        f"{path}: line {line} has {len(row)} fields, expected {len(names)}"
                    )
                for name, cell in zip(names, row, strict=True):
                    columns[name].append(cell.strip())
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    return columns


def _as_numbers(cells: list[str]) -> list[float] | None:
    """The column as floats (missing -> NaN), or None when a cell is not a number."""
    out: list[float] = []
    for cell in cells:
        if cell.lower() in _MISSING:
            out.append(math.nan)
            continue
        try:
            out.append(float(cell))
        except ValueError:
            return None
    return out


@drift_app.command("compute")
def drift_compute(
    model: Annotated[str, typer.Option("--model", help="the model the features feed")],
    reference: Annotated[
        Path | None, typer.Option("--reference", help="CSV of reference samples (header row)")
    ] = None,
    current: Annotated[
        Path | None, typer.Option("--current", help="CSV of the current window's samples")
    ] = None,
    reference_table: Annotated[
        str | None, typer.Option("--reference-table", help="or: a store table of reference rows")
    ] = None,
    current_table: Annotated[
        str | None, typer.Option("--current-table", help="and the table of current rows")
    ] = None,
    features: Annotated[
        str | None, typer.Option("--features", help="comma-separated (default: every column)")
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            "--categorical",
            help="comma-separated categorical features (CSV: also any column holding text)",
        ),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", min=2, max=1000)] = 10,
    window_end: Annotated[
        str | None,
        typer.Option("--window-end", help="ISO-8601 (default: --now, else now)", callback=iso_time),
    ] = None,
    window_start: Annotated[
        str | None,
        typer.Option(
            "--window-start", help="ISO-8601 (default: window end - 1 h)", callback=iso_time
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="the clock, ISO-8601", callback=iso_time)
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print, write nothing")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Compute PSI per feature between a reference sample and the current window and write
    one FEATURE_DRIFT row per feature. Samples come from two CSV files (computed here with
    numpy) or two tables in the store (computed in the database with SQL)."""
    from agentops.detection.psi import write_feature_drift
    from agentops.detection.psi_sql import sample_table, sql_psi
    from agentops.store import require_tables

    use_csv = reference is not None or current is not None
    use_sql = reference_table is not None or current_table is not None
    if (
        use_csv == use_sql
        or (use_csv and (reference is None or current is None))
        or (use_sql and (reference_table is None or current_table is None))
    ):
        raise typer.BadParameter(
            "give either --reference and --current (CSV files) or --reference-table and "
            "--current-table (store tables)",
            param_hint="'--reference'/'--reference-table'",
        )
    end = (
        parse_instant(window_end, what="--window-end")
        if window_end
        else (parse_instant(now, what="--now") if now else utcnow())
    )
    start = (
        parse_instant(window_start, what="--window-start")
        if window_start
        else (end - timedelta(hours=1))
    )
    wanted = [f.strip() for f in features.split(",") if f.strip()] if features else None
    cats = {f.strip() for f in categorical.split(",") if f.strip()} if categorical else set()
    eng = engine()
    with err_console.status("computing PSI...", spinner="dots"):
        if reference is not None and current is not None:
            results = _csv_psi(reference, current, wanted, cats, bins)
        else:
            assert reference_table is not None and current_table is not None
            with eng.connect() as conn:
                ref_t = sample_table(conn, reference_table)
                cur_t = sample_table(conn, current_table)
                names = wanted or [c.name for c in ref_t.c]
                results = sql_psi(conn, ref_t, cur_t, names, categorical=cats, bins=bins)
        written = 0
        if not dry_run:
            require_tables(eng, ["feature_drift"])
            with eng.begin() as conn:
                written = write_feature_drift(conn, model, start, end, results)
    if json_out:
        print_json(
            {
                "model_name": model,
                "window_start": iso(start),
                "window_end": iso(end),
                "written": written,
                "features": [
                    {"feature": r.feature, "psi": r.psi, "categorical": r.categorical}
                    for r in results
                ],
            }
        )
        return
    psi = table(whole("feature"), whole("psi", justify="right"), whole("kind"))
    for r in sorted(results, key=lambda r: -r.psi):
        psi.add_row(r.feature, f"{r.psi:.4f}", "categorical" if r.categorical else "numeric")
    console.print(psi)
    action = "dry run, nothing written" if dry_run else f"{written} FEATURE_DRIFT rows written"
    console.print(f"{model} {iso(start)} → {iso(end)}: {action}")


def _csv_psi(
    reference: Path, current: Path, wanted: list[str] | None, cats: set[str], bins: int
) -> list[FeaturePSI]:
    from agentops.detection.psi import compute_psi

    ref_cols, cur_cols = read_samples(reference), read_samples(current)
    names = wanted or list(ref_cols)
    ref_data: dict[str, Any] = {}
    cur_data: dict[str, Any] = {}
    for name in names:
        for path, cols in ((reference, ref_cols), (current, cur_cols)):
            if name not in cols:
                raise DataError(f"{path}: no column {name!r} (columns: {', '.join(cols)})")
        ref_num, cur_num = _as_numbers(ref_cols[name]), _as_numbers(cur_cols[name])
        if name in cats or ref_num is None:
            cats.add(name)
            ref_data[name], cur_data[name] = ref_cols[name], cur_cols[name]
        elif cur_num is None:
            raise DataError(f"{current}: column {name!r} holds text but is numeric in {reference}")
        else:
            ref_data[name], cur_data[name] = ref_num, cur_num
    return compute_psi(ref_data, cur_data, features=names, categorical=cats, bins=bins)
