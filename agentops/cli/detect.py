"""`agentops detect` (read-only threshold check) and `agentops drift compute` (PSI)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from agentops.cli.app import app, console, engine, print_json, settings
from agentops.clock import iso, parse_instant, utcnow
from agentops.detection import evaluate_rules, load_threshold_set
from agentops.domain import Alert

drift_app = typer.Typer(
    help="Feature drift: compute PSI from raw samples into FEATURE_DRIFT.", no_args_is_help=True
)
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
        str | None, typer.Option("--now", help="the clock, ISO-8601 (default: now, UTC)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    """Check each model's latest complete windows against the thresholds and list the
    alerts. Read-only: it opens no incident (`agentops run` / `watch` do)."""
    clock = parse_instant(now, what="--now") if now else utcnow()
    cfg = settings()
    thresholds = load_threshold_set(cfg)
    with engine(cfg).connect() as conn:
        alerts = evaluate_rules(conn, clock, model, thresholds)
    if json_out:
        print_json({"alerts": [alert_json(a) for a in alerts]})
        return
    if not alerts:
        console.print(f"no thresholds crossed at {iso(clock)}")
        return
    table = Table("sev", "type", "model", "component", "value", "threshold", "window end")
    for alert in alerts:
        style = _SEVERITY_STYLE[alert.severity.value]
        table.add_row(
            f"[{style}]{alert.severity.value}[/]",
            alert.type.value,
            alert.model_name,
            alert.component,
            _number(alert.value),
            _number(alert.threshold),
            iso(alert.window_end),
        )
    console.print(table)
    console.print(f"{len(alerts)} alert(s) at {iso(clock)}")


def _number(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
