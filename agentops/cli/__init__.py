"""The `agentops` command line. Each command group lives in its own module and registers
itself on `app`; `main` turns expected errors into one line and exit code 1."""

from __future__ import annotations

import sys

import typer

from agentops.cli.app import app, console
from agentops.errors import AgentOpsError

# Command modules register on import.
from agentops.cli import data as _data  # noqa: F401  isort: skip
from agentops.cli import rag as _rag  # noqa: F401  isort: skip
from agentops.cli import evals as _evals  # noqa: F401  isort: skip
from agentops.cli import actions as _actions  # noqa: F401  isort: skip
from agentops.cli import detect as _detect  # noqa: F401  isort: skip
from agentops.cli import lifecycle as _lifecycle  # noqa: F401  isort: skip
from agentops.cli import demo as _demo  # noqa: F401  isort: skip


def main() -> None:
    try:
        app(standalone_mode=False)
    except AgentOpsError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


__all__ = ["app", "main"]
