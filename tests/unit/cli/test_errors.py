"""A command line that never surprises: a usage error shows the usage and exits 2, a runtime
error is one line on stderr and exits 1, and neither shows a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from agentops.cli import app, error_line
from agentops.settings import Settings
from tests.conftest import make_stores, seeded_stores

ROOT = Path(__file__).parents[3]
NOW = "2026-11-20T12:00:00Z"


def agentops(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (`agentops.cli:main`) in its own process, as a user runs it."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home.parent),
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_EMBEDDINGS": "lexical",
        "COLUMNS": "80",
    }
    return subprocess.run(
        [sys.executable, "-c", "from agentops.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=300,
    )


def _commands() -> list[list[str]]:
    """Every command, as the words that call it (`db init`, `run`, ...)."""
    found: list[list[str]] = []
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [[name, sub] for sub in subcommands]
        else:
            found.append([name])
    return sorted(found)


def _usage_error(argv: list[str]) -> str:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output)
    assert result.stdout == "", "a usage error writes nothing on stdout"
    assert "Usage: agentops" in result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# ---- usage errors: exit 2 ------------------------------------------------------------------
@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_refuses_an_unknown_option_with_its_usage(command: list[str]) -> None:
    shown = _usage_error([*command, "--no-such-option"])
    assert "No such option: --no-such-option" in shown
    assert f"Usage: agentops {' '.join(command)}" in shown


@pytest.mark.parametrize(
    "argv",
    [
        ["approve"],
        ["approve", "INC-2026-1120-1"],
        ["ack", "INC-2026-1120-1"],
        ["note", "INC-2026-1120-1", "--as", "alice"],
        ["confirm-fix"],
        ["resolve", "INC-2026-1120-1", "--as", "alice"],
        ["false-positive", "INC-2026-1120-1"],
        ["reopen"],
        ["silence", "classifier_v2"],
        ["unsilence"],
        ["retire", "classifier_v2"],
        ["unretire"],
        ["incidents", "show"],
        ["db", "load-case"],
        ["index", "search"],
        ["index", "similar"],
        ["eval", "export", "INC-2026-1120-1"],
        ["replay"],
        ["gc"],
        ["drift", "compute"],
    ],
    ids=" ".join,
)
def test_a_missing_argument_or_option_is_named(argv: list[str]) -> None:
    assert "Missing" in _usage_error(argv)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["watch", "--interval", "0"], "'--interval'"),
        (["watch", "--passes", "0"], "'--passes'"),
        (["serve", "--port", "70000"], "'--port'"),
        (["serve", "--stale-after", "0"], "'--stale-after'"),
        (["incidents", "list", "--limit", "0"], "'--limit'"),
        (["index", "search", "drift", "--k", "99"], "'--k'"),
        (["drift", "compute", "--model", "m", "--bins", "1"], "'--bins'"),
        (["seed", "--scenario", "meteor"], "unknown scenario 'meteor'"),
        (["demo", "--scenario", "meteor"], "--scenario"),
        (["run", "--now", "yesterday"], "'yesterday' is not an ISO-8601 time"),
        (["detect", "--now", "noon"], "'noon' is not an ISO-8601 time"),
        (["silence", "m", "--until", "soon", "--reason", "r"], "'--until'"),
        (
            ["silence", "m", "--until", NOW, "--reason", "r", "--alert", "meteor"],
            "unknown alert type 'meteor'",
        ),
        (["run", "--llm", "gpt4"], "expected 'offline' or provider:model"),
        (["eval", "--model", "gpt4"], "expected 'offline' or provider:model"),
        (["gc", "--older-than", "2h"], "at least 1d"),
        (["drift", "compute", "--model", "m"], "give either --reference and --current"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_a_value_out_of_range_is_a_usage_error(argv: list[str], says: str) -> None:
    assert says in " ".join(_usage_error(argv).replace("│", " ").split())


@pytest.mark.parametrize(
    "argv", [[], ["db"], ["incidents"], ["index"], ["drift"], ["nosuchcommand"], ["--bogus"]]
)
def test_no_command_or_an_unknown_one_shows_the_usage_and_exits_2(
    tmp_path: Path, argv: list[str]
) -> None:
    done = agentops(tmp_path / "home", *argv)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("Usage: agentops") and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) <= 6, "a short usage message, not the whole help"


# ---- runtime errors: one line on stderr, exit 1 ----------------------------------------------
def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == "", "an error writes nothing on stdout"
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def _unwritable(tmp_path: Path) -> Path:
    """A home nobody may write in: a read-only folder (root writes there anyway: then a
    folder of sysfs, which refuses even root)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    return read_only


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with both stores created (empty), so that the database under test is the one
    that fails."""
    home = tmp_path / "home"
    make_stores(Settings.load(home=home)).dispose()
    return home


@pytest.fixture
def garbage(tmp_path: Path) -> str:
    """A SQLite URL to a file that is no database."""
    path = tmp_path / "x.db"
    path.write_bytes(bytes(range(256)) * 16)
    return f"sqlite:///{path}"


UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/x"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["db", "init"], "unable to open database file"),
        (["seed"], "unable to open database file"),
        (["outbox"], "unable to open database file"),
        (["demo", "--yes"], "/demo: Operation not permitted|Permission denied"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_an_unwritable_home(tmp_path: Path, argv: list[str], says: str) -> None:
    line = _one_line_error(agentops(_unwritable(tmp_path), *argv))
    assert any(part in line for part in says.split("|")), line


@pytest.mark.parametrize(
    "argv", [["db", "init"], ["run"], ["outbox", "--json"], ["demo", "--yes"], ["threads"]]
)
def test_a_regular_file_as_home(tmp_path: Path, argv: list[str]) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    line = _one_line_error(agentops(home, *argv))
    assert str(home) in line


@pytest.mark.parametrize(
    ("variable", "argv"),
    [
        ("AGENTOPS_STATE_URL", ["threads"]),
        ("AGENTOPS_STATE_URL", ["outbox", "--json"]),
        ("AGENTOPS_STATE_URL", ["silences"]),
        ("AGENTOPS_STATE_URL", ["approve", "INC-2026-1120-1", "--approver", "alice"]),
        ("AGENTOPS_DATABASE_URL", ["detect"]),
        ("AGENTOPS_DATABASE_URL", ["run", "--now", NOW]),
        ("AGENTOPS_DATABASE_URL", ["incidents", "list", "--json"]),
        ("AGENTOPS_DATABASE_URL", ["db", "init"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_corrupted_database(home: Path, garbage: str, variable: str, argv: list[str]) -> None:
    line = _one_line_error(agentops(home, *argv, **{variable: garbage}))
    assert "file is not a database" in line


@pytest.mark.parametrize("variable", ["AGENTOPS_STATE_URL", "AGENTOPS_DATABASE_URL"])
def test_an_unreachable_database(home: Path, variable: str) -> None:
    line = _one_line_error(agentops(home, "detect", **{variable: UNREACHABLE}))
    assert "cannot reach the store at postgresql" in line and "127.0.0.1" in line


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("contacts: [alice, bob\n  roles", "cannot read"),
        ("roles: {night_shift: [alice]}\n", "night_shift"),
    ],
)
def test_a_bad_policy_file(tmp_path: Path, policy: str, says: str) -> None:
    home = tmp_path / "home"
    seeded_stores(home, "bad_deployment", hours=48).dispose()
    config = tmp_path / "config.yaml"
    config.write_text(policy)
    line = _one_line_error(agentops(home, "run", "--now", NOW, AGENTOPS_CONFIG=str(config)))
    assert says in line


def test_a_bad_setting(tmp_path: Path) -> None:
    line = _one_line_error(agentops(tmp_path / "home", "threads", AGENTOPS_LEASE_SECONDS="soon"))
    assert line.startswith("error: AGENTOPS_LEASE_SECONDS:")


def test_serve_on_a_port_in_use(home: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = _one_line_error(agentops(home, "serve", "--port", str(port)))
    assert line == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_a_bug_is_one_line_that_says_where_its_traceback_is() -> None:
    def broken() -> None:
        raise KeyError("window_end")

    try:
        broken()
    except KeyError as exc:
        line = error_line(exc)
    assert line.startswith("internal error, KeyError: 'window_end' (a bug in agentops")
    kept = Path(line.rsplit("the traceback is in ", 1)[1].rstrip(")"))
    try:
        assert "in broken" in kept.read_text() and "KeyError: 'window_end'" in kept.read_text()
    finally:
        kept.unlink()
