"""A stand-in serving system for the command and webhook registry adapters
(`agentops.actions.registry.remote`): it keeps, per model, the serving version and the known
versions, and answers the adapters' JSON requests (serving_version, history, set_serving).

Two ways to run it, same behaviour:
- as a webhook: `with running_registry(fake) as fake:` serves POSTs on 127.0.0.1 at `fake.url`;
- as a command: `python registry_server.py STATE.json` answers one request from stdin, its
  state kept in STATE.json between runs (`fake.save(path)` writes it, `FakeRegistry.load`
  reads it back, requests included).

It can be told to fail the next requests (HTTP status, or exit 2 as a command), to answer
late, to keep no history, or to lie: report `claims_serving` as serving, whatever it was
asked, in its answers to the ops in `lies_on`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class FakeRegistry:
    serving: dict[str, str | None] = field(default_factory=dict)
    # model -> [{"version", "promoted_at", "status"}], newest first
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keeps_history: bool = True
    claims_serving: str | None = None
    lies_on: list[str] = field(default_factory=lambda: ["serving_version", "set_serving"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def fail_next(self, status: int, times: int = 1) -> None:
        self.failures.extend([status] * times)

    def delay_next(self, seconds: float) -> None:
        self.delays.append(seconds)

    def handle(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(request)
            if self.delays:
                time.sleep(self.delays.pop(0))
            if self.failures:
                return self.failures.pop(0), {"error": "the registry is down"}
            op, model = request.get("op"), str(request.get("model"))
            if op == "serving_version":
                return 200, {"serving_version": self._reported(model, op)}
            if op == "history":
                if not self.keeps_history:
                    return 200, {"serving_version": self._reported(model, op)}
                return 200, {"versions": self.versions.get(model, [])}
            if op == "set_serving":
                return self._set_serving(model, request)
            return 400, {"error": f"unknown op {op!r}"}

    def _set_serving(self, model: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        version = str(request.get("version"))
        entries = {e["version"]: e for e in self.versions.get(model, [])}
        if version not in entries:
            return 404, {"error": f"unknown version {version} of {model}"}
        previous = self.serving.get(model)
        self.serving[model] = version
        entries[version]["status"] = "good"
        if request.get("mark_replaced_bad") and previous in entries and previous != version:
            entries[previous]["status"] = "bad"
        return 200, {
            "serving_version": self._reported(model, "set_serving"),
            "previous_version": previous,
        }

    def _reported(self, model: str, op: str) -> str | None:
        if self.claims_serving is not None and op in self.lies_on:
            return self.claims_serving
        return self.serving.get(model)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FakeRegistry:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _handler(fake: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else "{}"
            status, body = fake.handle(json.loads(raw))
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                return

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler


@contextmanager
def running_registry(fake: FakeRegistry | None = None) -> Iterator[FakeRegistry]:
    """Serve `fake` on a free port; `fake.url` takes the adapter's POSTs."""
    fake = fake or FakeRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/registry"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str]) -> int:
    """Command mode: one request on stdin, the answer on stdout; state in argv[1]."""
    state = Path(argv[1])
    fake = FakeRegistry.load(state)
    status, body = fake.handle(json.loads(sys.stdin.read()))
    fake.save(state)
    if status >= 400:
        print(f"registry error {status}: {body.get('error')}", file=sys.stderr)
        return 2
    print(json.dumps(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
