"""The `agentops` command line. Each command group lives in its own module and registers
itself on `app`; `main` is the entry point.

What a user sees when something goes wrong:
- a usage error (no command, a missing argument, an unknown option, a value out of range)
  prints the usage line and the error on stderr and exits 2 (typer does this);
- a runtime error prints one line `error: ...` on stderr and exits 1: agentops's own errors
  (`agentops.errors`), a database that cannot be reached or read, a file that cannot be
  written; anything else is a bug, and its traceback goes to a file the line names;
- Ctrl-C exits 130 and SIGTERM 143, after the leases this process held are given back.
"""

from __future__ import annotations

import signal
import sys

from rich.markup import escape

from agentops.cli.app import app, err_console
from agentops.errors import AgentOpsError

# Command modules register on import; they import what their commands use only when those
# run, so `agentops --help` starts fast.
from agentops.cli import data as _data  # noqa: F401  isort: skip
from agentops.cli import rag as _rag  # noqa: F401  isort: skip
from agentops.cli import evals as _evals  # noqa: F401  isort: skip
from agentops.cli import actions as _actions  # noqa: F401  isort: skip
from agentops.cli import detect as _detect  # noqa: F401  isort: skip
from agentops.cli import lifecycle as _lifecycle  # noqa: F401  isort: skip
from agentops.cli import demo as _demo  # noqa: F401  isort: skip
from agentops.cli import serve as _serve  # noqa: F401  isort: skip
from agentops.cli import doctor as _doctor  # noqa: F401  isort: skip
from agentops.cli import gc as _gc  # noqa: F401  isort: skip
from agentops.cli import controls as _controls  # noqa: F401  isort: skip
from agentops.cli import silences as _silences  # noqa: F401  isort: skip
from agentops.cli import jobs as _jobs  # noqa: F401  isort: skip

FREED = "incidents this process held are free for the next pass"


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so leases are given back on the way out."""


def _on_sigterm(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app(prog_name="agentops")  # also when started as `python -m agentops`
    except SystemExit as done:
        # typer turns Ctrl-C into exit 130
        if done.code == 130:
            err_console.print(f"interrupted: {FREED}")
        raise
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {FREED}")
        sys.exit(130)
    except Terminated:
        err_console.print(f"terminated: {FREED}")
        sys.exit(143)
    except Exception as exc:
        err_console.print(f"[red]error:[/] {escape(error_line(exc))}", soft_wrap=True)
        sys.exit(1)


def error_line(exc: Exception) -> str:
    """What went wrong, in one line."""
    if isinstance(exc, AgentOpsError):
        return _one_line(str(exc))
    database = _database_error(exc)
    if database is not None:
        return f"database: {database}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or _one_line(str(exc))}"
    return f"internal error, {type(exc).__name__}: {_one_line(str(exc))} ({_keep_traceback(exc)})"


def _database_error(exc: Exception) -> str | None:
    """The driver's first line when `exc` comes from a database (SQLAlchemy, sqlite3 as the
    graph's checkpointer uses it, psycopg); None otherwise."""
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return _one_line(str(exc))
    # only modules already loaded can have raised: checking costs no import
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        from agentops.store.engine import db_error_text

        return db_error_text(exc)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return _one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    return None


def _keep_traceback(exc: Exception) -> str:
    """A bug: its traceback goes to a file, so the terminal gets one line and the report
    loses nothing."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="agentops-traceback-", suffix=".txt", delete=False
        ) as kept:
            kept.write("".join(traceback.format_exception(exc)))
    except OSError:
        return "a bug in agentops"
    return f"a bug in agentops; the traceback is in {kept.name}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


__all__ = ["app", "main"]
