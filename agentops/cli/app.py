"""The Typer app, the shared console and the helpers every command module uses."""

from __future__ import annotations

import json
import sys
from typing import Any

import sqlalchemy as sa
import typer
from rich.console import Console

from agentops.settings import Settings
from agentops.store import create_store_engine

app = typer.Typer(
    name="agentops",
    help="Incident response for ML models in production: detect, diagnose, remediate "
    "(with approval) and write the post-mortem.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The metrics store: create the schema, load eval cases.", no_args_is_help=True
)
incidents_app = typer.Typer(
    help="Incidents opened by agentops and their history.", no_args_is_help=True
)
index_app = typer.Typer(help="The runbook index: build it, search it.", no_args_is_help=True)
# `agentops eval` runs the scenario cases (its callback); subcommands measure other parts.
eval_app = typer.Typer(
    help="Evaluate agentops: scenario cases (default), retrieval, export.",
    invoke_without_command=True,
)
app.add_typer(db_app, name="db")
app.add_typer(incidents_app, name="incidents")
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")

console = Console(highlight=False)


def settings() -> Settings:
    return Settings.load()


def engine(cfg: Settings | None = None) -> sa.Engine:
    return create_store_engine((cfg or settings()).resolved_database_url)


def print_json(payload: Any) -> None:
    """JSON on stdout for scripts: no colour, no wrapping."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
