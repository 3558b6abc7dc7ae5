"""A stand-in for the GitHub REST API on 127.0.0.1: repository get, issue create, get and
edit (with labels). Point PyGithub at it with `Github(base_url=fake.base_url, ...)`.

It records every request and can be told to answer the next ones with an HTTP error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeGitHub:
    repo: str = "acme/fraud-ml"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def fail_next(self, status: int, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def recover(self) -> None:
        """Answer normally again."""
        self._failures.clear()

    def _issue_json(self, number: int) -> dict[str, Any]:
        issue = self.issues[number]
        url = f"{self.base_url}/repos/{self.repo}/issues/{number}"
        return {
            "id": 1000 + number,
            "number": number,
            "url": url,
            "html_url": url.replace("/repos/", "/"),
            "title": issue["title"],
            "body": issue["body"],
            "state": issue.get("state", "open"),
            "labels": [{"name": name} for name in issue["labels"]],
        }

    def handle(
        self, verb: str, path: str, body: dict[str, Any], auth: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((verb, path, auth))
            if self._failures:
                return self._failures.pop(0), {"message": "Server Error"}
            repo_path = f"/repos/{self.repo}"
            if verb == "GET" and path == repo_path:
                owner, name = self.repo.split("/")
                return 200, {
                    "id": 1,
                    "name": name,
                    "full_name": self.repo,
                    "owner": {"login": owner},
                    "url": f"{self.base_url}{repo_path}",
                }
            if verb == "POST" and path == f"{repo_path}/issues":
                number = len(self.issues) + 1
                self.issues[number] = {
                    "title": body["title"],
                    "body": body.get("body", ""),
                    "labels": list(body.get("labels", [])),
                    "edits": 0,
                }
                return 201, self._issue_json(number)
            match = re.fullmatch(rf"{re.escape(repo_path)}/issues/(\d+)", path)
            if match and int(match.group(1)) in self.issues:
                number = int(match.group(1))
                if verb == "PATCH":
                    issue = self.issues[number]
                    for key in ("title", "body", "labels", "state"):
                        if key in body:
                            issue[key] = body[key]
                    issue["edits"] += 1
                return 200, self._issue_json(number)
            return 404, {"message": "Not Found"}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            body = json.loads(raw) if raw else {}
            path = self.path.split("?")[0]
            status, answer = fake.handle(
                self.command, path, body, self.headers.get("Authorization")
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler


@contextmanager
def running_github(repo: str = "acme/fraud-ml") -> Iterator[FakeGitHub]:
    fake = FakeGitHub(repo=repo)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
