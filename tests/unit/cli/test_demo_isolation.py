"""`agentops demo` with a real-looking configuration: a store with other models in it, Slack,
GitHub and SMTP credentials, a retrain command and a policy file naming a real approver.
The demo must touch none of them (issue 18): it runs in its own home, approves as the demo
operator and leaves its messages in its own outbox."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def _record(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        body = b'{"ok": true, "channel": "C1", "ts": "1.0"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _record

    def log_message(self, *args: object) -> None:  # quiet
        return


@pytest.fixture
def service() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for Slack and GitHub that records every request it gets."""
    _Recorder.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_demo_with_credentials_configured_touches_nothing_real(
    tmp_path: Path, service: tuple[str, list[str]]
) -> None:
    base, seen = service
    home = tmp_path / "home"
    home.mkdir()
    store = tmp_path / "production.db"
    with sqlite3.connect(store) as db:  # somebody's real monitoring store
        db.execute("CREATE TABLE model_metrics (model_name TEXT, f1 REAL)")
        db.executemany(
            "INSERT INTO model_metrics VALUES (?, ?)",
            [("fraud", 0.9), ("churn", 0.8), ("spam", 0.95), ("claims", 0.7)],
        )
    marker = tmp_path / "retrain-ran"
    (home / "config.yaml").write_text(
        "contacts:\n  alice: {slack: U0ALICE, email: alice@example.com}\n"
        "roles:\n  ml_team_lead: [alice]\napprovers: [alice]\n"
    )
    env = {
        "AGENTOPS_HOME": str(home),
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "AGENTOPS_EMBEDDINGS": "lexical",
        "AGENTOPS_DATABASE_URL": f"sqlite:///{store}",
        "AGENTOPS_APPROVERS": "alice",
        "AGENTOPS_SLACK_TOKEN": "xoxb-real-looking",
        "AGENTOPS_SLACK_BASE_URL": f"{base}/api/",
        "AGENTOPS_GITHUB_TOKEN": "ghp_real_looking",
        "AGENTOPS_GITHUB_REPO": "acme/ml",
        "AGENTOPS_GITHUB_BASE_URL": base,
        "AGENTOPS_SMTP_HOST": "127.0.0.1",
        "AGENTOPS_SMTP_PORT": "9",
        "AGENTOPS_RETRAIN_COMMAND": f"touch {marker}",
    }
    demo = subprocess.run(
        [sys.executable, "-m", "agentops", "demo", "--yes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert seen == [], "no request reached the configured Slack or GitHub"
    assert not marker.exists(), "the configured retrain command did not run"
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM model_metrics").fetchone() == (4,)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert tables == {"model_metrics"}, "the configured store was not written to"
    assert "approved by demo-operator" in demo.stdout and "by alice" not in demo.stdout
    outbox = subprocess.run(
        [sys.executable, "-m", "agentops", "outbox", "--json"],
        capture_output=True,
        text=True,
        env={**env, "AGENTOPS_HOME": str(home / "demo"), "AGENTOPS_DATABASE_URL": ""},
        timeout=120,
    )
    messages = json.loads(outbox.stdout)
    assert any(m["text"].startswith("✅ [Resolved]") for m in messages)
    assert not any(m["target"] == "U0ALICE" for m in messages), "alice is not the demo's"
