"""Shared by the deployment checks: the repository root and `agentops` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def agentops_help(*command: str) -> str:
    """`agentops COMMAND --help`; fails the test when the command does not exist."""
    done = subprocess.run(
        [sys.executable, "-m", "agentops", *command, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200"},
        timeout=120,
    )
    assert done.returncode == 0, f"`agentops {' '.join(command)}` is no command: {done.stdout}"
    return done.stdout


def check_command(args: list[str]) -> None:
    """ARGS (after `agentops`) name an existing command and only options it has."""
    words = [a for a in args if not a.startswith("-")]
    command = words[: 2 if words and words[0] in {"db", "incidents", "index", "eval"} else 1]
    text = agentops_help(*command)
    for option in (a.split("=", 1)[0] for a in args if a.startswith("--")):
        assert option in text, f"`agentops {' '.join(command)}` has no option {option}"
