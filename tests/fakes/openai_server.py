"""A local OpenAI-compatible chat server that replays a script, one step per request.

Each step is one of:
- `{"tool_calls": [("name", {args}), ...]}`: an assistant message calling tools;
- `{"content": "text"}`: a plain assistant answer;
- `{"bad_tool_args": ("name", "not json")}`: a tool call whose arguments are not JSON;
- `{"status": 500}`: an HTTP error with an OpenAI-style error body;
- `{"sleep": seconds}`: answer only after a delay (for client timeouts);
- `{"raw": "..."}`: a 200 response whose body is not JSON.
When the script runs out the server answers 500, so an agent that calls too often fails
loudly. Every request body is kept in `requests` so tests can see what the model was sent.
Token usage is reported as characters / 4 of the request and of the reply: a stand-in for
a tokenizer, good enough to compare runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Step = dict[str, Any]


def submit(category: str, root_cause: str, evidence_ids: list[str], **extra: Any) -> Step:
    """A step whose assistant message submits a diagnosis through the submit tool."""
    args = {
        "category": category,
        "root_cause": root_cause,
        "confidence": extra.pop("confidence", 0.8),
        "evidence_ids": evidence_ids,
        **extra,
    }
    return {"tool_calls": [("submit_diagnosis", args)]}


def propose(actions: list[dict[str, Any]]) -> Step:
    """A step whose assistant message proposes a plan through the planner's tool."""
    return {"tool_calls": [("propose_plan", {"actions": actions})]}


class ScriptedOpenAI:
    def __init__(self, script: list[Step]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def served(self) -> int:
        return len(self.requests)

    def start(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_step(self, body: dict[str, Any]) -> Step | None:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                body = json.loads(raw or "{}")
                step = fake.next_step(body)
                if step is None:
                    return self._send(500, {"error": {"message": "script exhausted"}})
                if "sleep" in step:
                    time.sleep(float(step["sleep"]))
                    step = {"content": "too late"}
                if "status" in step:
                    return self._send(int(step["status"]), {"error": {"message": "scripted"}})
                if "raw" in step:
                    return self._send_text(200, str(step["raw"]))
                self._send(200, completion(body, step, len(raw)))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_text(status, json.dumps(payload))

            def _send_text(self, status: int, text: str) -> None:
                data = text.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        return Handler


def completion(request: dict[str, Any], step: Step, request_chars: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
    calls = []
    for i, (name, args) in enumerate(step.get("tool_calls", [])):
        calls.append(
            {
                "id": f"call_{len(calls)}_{i}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        )
    if "bad_tool_args" in step:
        name, text = step["bad_tool_args"]
        calls.append(
            {"id": "call_bad", "type": "function", "function": {"name": name, "arguments": text}}
        )
    if calls:
        message["tool_calls"] = calls
    reply_chars = len(json.dumps(message))
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "scripted"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": request_chars // 4,
            "completion_tokens": reply_chars // 4,
            "total_tokens": request_chars // 4 + reply_chars // 4,
        },
    }


@contextmanager
def scripted_openai(script: list[Step]) -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(script).start()
    try:
        yield server
    finally:
        server.stop()
