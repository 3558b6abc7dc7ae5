"""The Typer app, the consoles and the helpers every command module uses.

This module and every command module import only typer, rich, the standard library and
`agentops.errors`/`agentops.clock` at module level: `agentops --help`, `agentops CMD --help`
and usage errors never load the stores, the graph or an SDK. Each command imports what it
uses when it runs. `tests/unit/cli/test_start.py` keeps it that way.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from agentops.clock import parse_instant, utcnow
from agentops.errors import DataError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from agentops.settings import Settings

app = typer.Typer(
    name="agentops",
    help="Incident response for ML models in production: detect, diagnose, remediate "
    "(with approval) and write the post-mortem.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
# A bare group (`agentops`, `agentops db`) is a usage error: "Missing command." and exit 2.
db_app = typer.Typer(help="The metrics store: create the schema, load eval cases.")
incidents_app = typer.Typer(help="Incidents opened by agentops and their history.")
index_app = typer.Typer(help="The runbook index: build it, search it.")
# `agentops eval` runs the scenario cases (its callback); subcommands measure other parts.
eval_app = typer.Typer(
    help="Evaluate agentops: scenario cases (default), retrieval, export.",
    invoke_without_command=True,
)
app.add_typer(db_app, name="db")
app.add_typer(incidents_app, name="incidents")
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")

# What a command answers goes to stdout (with --json, nothing else does); errors, warnings
# and progress go to stderr.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# The names help texts list, kept here so that `--help` imports nothing heavy;
# tests/unit/cli/test_start.py checks them against `agentops.scenarios` and `AlertType`.
SCENARIO_NAMES = (
    "upstream_data_change",
    "bad_deployment",
    "pipeline_failure",
    "concept_drift",
    "infrastructure",
    "adversarial",
    "benign",
)
DEFAULT_SCENARIO = "upstream_data_change"
ALERT_TYPES = (
    "model_performance",
    "service_down",
    "error_rate",
    "feature_drift",
    "latency",
    "data_quality",
    "no_data",
)


# ---- option values checked while parsing: a bad one is a usage error (exit 2) -----------------
def iso_time(value: str | None) -> str | None:
    """An ISO-8601 instant (checked, passed on as typed)."""
    if value is not None:
        try:
            parse_instant(value)
        except DataError:
            raise typer.BadParameter(
                f"{value!r} is not an ISO-8601 time, e.g. 2026-11-20T12:00:00Z"
            ) from None
    return value


def scenario_name(value: str) -> str:
    """A seed scenario, or 'none' for healthy data."""
    if value != "none" and value not in SCENARIO_NAMES:
        raise typer.BadParameter(
            f"unknown scenario {value!r}; choose from {', '.join(SCENARIO_NAMES)}"
        )
    return value


def model_name(value: str | None) -> str | None:
    if value is not None and value != "offline" and ":" not in value:
        raise typer.BadParameter(
            f"{value!r}: expected 'offline' or provider:model, e.g. openai:gpt-4o-mini"
        )
    return value


NowOption = Annotated[
    str | None,
    typer.Option("--now", help="the clock to use, ISO-8601 (default: now, UTC)", callback=iso_time),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def resolve_now(now: str | None) -> datetime:
    return parse_instant(now, what="--now") if now else utcnow()


# ---- what every command reads --------------------------------------------------------------
def settings() -> Settings:
    from agentops.settings import Settings

    return Settings.load()


def engine(cfg: Settings | None = None) -> sa.Engine:
    from agentops.store import create_store_engine

    return create_store_engine((cfg or settings()).resolved_database_url)


def print_json(payload: Any) -> None:
    """JSON on stdout for scripts: no colour, no wrapping."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def warn(text: str) -> None:
    """A warning on stderr: stdout stays what the command answers."""
    err_console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)
