"""`agentops` starts without loading what its commands use: the import of the command line,
`--help` and a usage error load no store, graph, model client or SDK (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
HEAVY = {
    "langgraph",
    "langchain_core",
    "langsmith",
    "sqlalchemy",
    "github",
    "numpy",
    "matplotlib",
    "faiss",
    "pydantic_settings",
    "openai",
}


def _loaded(code: str) -> list[str]:
    """The modules of HEAVY packages loaded once `code` has run in a fresh interpreter."""
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_command_line_loads_nothing_heavy() -> None:
    assert _loaded("import agentops.cli") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", "--help"],
        ["incidents", "list", "--help"],
        ["watch", "--interval", "0"],
        ["approve"],
        ["nosuchcommand"],
    ],
)
def test_help_and_usage_errors_load_nothing_heavy(argv: list[str]) -> None:
    run = (
        "import contextlib, io\nfrom agentops.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    try:\n        app({argv!r})\n    except SystemExit:\n        pass"
    )
    assert _loaded(run) == []


def test_the_names_help_lists_are_the_packages_own() -> None:
    """`--help` lists scenarios and alert types from copies (the real ones import numpy and
    pydantic): they must not drift."""
    from agentops.cli.app import ALERT_TYPES, DEFAULT_SCENARIO, SCENARIO_NAMES
    from agentops.domain import AlertType
    from agentops.scenarios import DEFAULT_SCENARIO as PACKAGE_DEFAULT
    from agentops.scenarios import SCENARIOS

    assert tuple(SCENARIOS) == SCENARIO_NAMES
    assert PACKAGE_DEFAULT == DEFAULT_SCENARIO
    assert tuple(t.value for t in AlertType) == ALERT_TYPES


def test_every_command_is_still_there() -> None:
    """Users and scripts call these names (CONTRACT.md, README): lazy loading kept them all."""
    import typer.main

    from agentops.cli import app

    root = typer.main.get_command(app)
    groups = {"db", "incidents", "index", "eval", "drift"}
    found = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if name in groups:
            found |= {f"{name} {sub}" for sub in command.commands}
        else:
            found.add(name)
    assert found == {
        *("seed", "replay", "outbox", "deliver", "sweep", "detect", "run", "approve"),
        *("threads", "watch", "graph", "demo", "serve", "doctor", "gc", "ack", "note"),
        *(
            "confirm-fix",
            "retrain-result",
            "resolve",
            "false-positive",
            "reopen",
            "silence",
            "unsilence",
        ),
        *("retire", "unretire", "silences", "db init", "db normalize-times", "db upgrade"),
        *("db load-case", "incidents list", "incidents show", "index build", "index search"),
        *("index similar", "eval export", "eval retrieval", "drift compute"),
    }
