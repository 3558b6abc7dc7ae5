"""deploy/agentops-watch.service: its commands exist with the options it passes, it stops
the way agentops stops (SIGTERM, exit 143: leases given back), and systemd itself reads it
without a complaint."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentops.settings import Settings
from agentops.store import open_monitoring
from tests.unit.deploy.conftest import ROOT, check_command

UNIT = ROOT / "deploy" / "agentops-watch.service"


def _unit() -> dict[str, dict[str, list[str]]]:
    """Sections → key → values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} before any section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_unit_runs_existing_agentops_commands() -> None:
    service = _unit()["Service"]
    [start] = service["ExecStart"]
    program, *args = shlex.split(start)
    assert Path(program).name == "agentops" and args[0] == "watch"
    check_command(args)
    for before in service.get("ExecStartPre", []):
        program, *args = shlex.split(before.lstrip("-"))
        assert Path(program).name == "agentops"
        check_command(args)
    assert "multi-user.target" in _unit()["Install"]["WantedBy"]
    assert service["Restart"] == ["always"]


def test_a_stopped_watch_exits_as_the_unit_expects(tmp_path: Path) -> None:
    """systemd stops the service with KillSignal; agentops exits 143 then, which the unit
    must count as success or every restart of the host logs a failed service."""
    service = _unit()["Service"]
    assert service.get("KillSignal", ["SIGTERM"]) == ["SIGTERM"]
    home = tmp_path / "home"
    open_monitoring(Settings.load(home=home).resolved_database_url, create=True).dispose()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_EMBEDDINGS": "lexical",
        "PYTHONUNBUFFERED": "1",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "agentops", "watch", "--interval", "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as watch:
        assert watch.stdout is not None
        deadline = time.monotonic() + 120
        seen = ""
        while "nothing to handle" not in seen and time.monotonic() < deadline:
            seen += watch.stdout.readline()
        assert "nothing to handle" in seen, seen
        watch.send_signal(signal.SIGTERM)
        code = watch.wait(timeout=60)
        rest = watch.stdout.read()
    assert code == 143, rest
    assert "terminated" in rest and "Traceback" not in rest
    assert str(code) in " ".join(service["SuccessExitStatus"]).split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_reads_the_unit_without_a_complaint(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, its install path swapped for this agentops."""
    agentops = Path(sys.executable).parent / "agentops"
    assert agentops.is_file()
    text = UNIT.read_text()
    [start] = _unit()["Service"]["ExecStart"]
    installed = shlex.split(start)[0]
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(installed, str(agentops)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if str(copy) in line or "agentops" in line
    ]
    assert done.returncode == 0 and complaints == [], done.stdout + done.stderr
