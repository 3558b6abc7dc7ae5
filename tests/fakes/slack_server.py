"""A stand-in for the Slack Web API on 127.0.0.1: chat.postMessage, chat.update and
conversations.open, plus the `response_url`s of interactivity payloads (`/actions/...`).

Point slack-sdk at it with `WebClient(base_url=fake.base_url)` (or
`Settings.load(slack_base_url=fake.base_url, slack_token=...)`). It records every call and
can be told to answer the next calls with an HTTP error (429 with Retry-After, 500, ...) or
with a Slack error (`ok: false`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SlackCall:
    method: str
    payload: dict[str, Any]
    token: str | None


@dataclass
class FakeSlack:
    calls: list[SlackCall] = field(default_factory=list)
    _failures: list[tuple[int, str, int | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""
    # seconds to wait before answering a method (e.g. a slow chat.update), by method name
    delays: dict[str, float] = field(default_factory=dict)

    def fail_next(self, status: int, times: int = 1, *, retry_after: int | None = None) -> None:
        """Answer the next `times` calls with HTTP `status` (429 gets Retry-After)."""
        error = "ratelimited" if status == 429 else "internal_error"
        self._failures.extend([(status, error, retry_after)] * times)

    def refuse_next(self, error: str, times: int = 1) -> None:
        """Answer the next calls with HTTP 200 and `{"ok": false, "error": error}`."""
        self._failures.extend([(200, error, None)] * times)

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The chat.postMessage payloads Slack accepted, in order."""
        return [
            c.payload for c in self.calls if c.method == "chat.postMessage" and "ts" in c.payload
        ]

    @property
    def updates(self) -> list[dict[str, Any]]:
        """The chat.update payloads Slack accepted, in order."""
        return [c.payload for c in self.calls if c.method == "chat.update" and "ok" in c.payload]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response URLs (ephemeral answers to a click), in order."""
        return [c.payload for c in self.calls if c.method == "response_url"]

    def response_url(self, name: str = "T0/1/click") -> str:
        """A response URL as Slack puts in an interactivity payload, pointing here."""
        return self.base_url.removesuffix("api/") + f"actions/{name}"

    def handle(
        self, method: str, payload: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            call = SlackCall(method, payload, token)
            self.calls.append(call)
            if self._failures:
                status, error, retry_after = self._failures.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return status, {"ok": False, "error": error}, headers
            if method == "response_url":
                return 200, {"ok": True}, {}
            if method == "chat.update":
                payload["ok"] = True
                return (
                    200,
                    {"ok": True, "channel": payload.get("channel"), "ts": payload.get("ts")},
                    {},
                )
            if method == "conversations.open":
                return 200, {"ok": True, "channel": {"id": f"D{payload.get('users', '')}"}}, {}
            if method == "chat.postMessage":
                channel = str(payload.get("channel", ""))
                channel_id = (
                    channel
                    if channel[:1] in "CD"
                    else "C" + channel.strip("#").upper().replace("-", "")
                )
                ts = f"{1700000000 + len(self.posts)}.000100"
                payload["ts"] = ts
                return (
                    200,
                    {
                        "ok": True,
                        "channel": channel_id,
                        "ts": ts,
                        "message": {"text": payload.get("text")},
                    },
                    {},
                )
            return 200, {"ok": False, "error": "unknown_method"}, {}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if "json" in (self.headers.get("Content-Type") or ""):
                payload = json.loads(raw or "{}")
            else:
                payload = {k: v[0] for k, v in parse_qs(raw).items()}
            auth = self.headers.get("Authorization") or ""
            token = auth.removeprefix("Bearer ") or None
            method = self.path.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            if self.path.startswith("/actions/"):
                method = "response_url"
            time.sleep(fake.delays.get(method, 0.0))
            status, body, headers = fake.handle(method, payload, token)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler


@contextmanager
def running_slack() -> Iterator[FakeSlack]:
    """Start the fake on a free port; `fake.base_url` ends with /api/ as slack.com's does."""
    fake = FakeSlack()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
