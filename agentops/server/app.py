"""The HTTP app: Slack's interactivity callbacks and a health check.

- `POST /slack/interactions`: a signed Approve / Reject (or Acknowledge / Upstream fix
  confirmed) click. The answer is verified and recorded before the HTTP answer — Slack wants
  one within 3 s — and the thread is resumed after it (`followup.py`).
- `GET /healthz`: the workers' last passes (`store.workers`). 200 while some worker finished
  a pass within `stale_after_s` (default 3 × the 60 s `watch` interval), else 503, so an
  outside monitor can page when the responder itself has stopped.

`agentops serve` runs `create_app(resume="local")`: threads are resumed in this process on
the state store's checkpoints. The module-level `app` is what langgraph.json mounts on the
LangGraph server (`http.app`); there it resumes threads through the server itself
(`inprocess.py`), as the person who clicked.

Database work runs in the threadpool: the LangGraph server refuses blocking calls on its
event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from langgraph_sdk.errors import LangGraphError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentops import controls
from agentops.clock import iso, parse_instant, utcnow
from agentops.errors import AgentOpsError
from agentops.server import followup, inprocess
from agentops.server.slack import (
    DECISIONS,
    Click,
    Refused,
    Taken,
    parse_click,
    take_click,
    verify_signature,
)
from agentops.settings import Settings
from agentops.store import Stores, open_monitoring, open_state, workers
from agentops.store import answers as store_answers
from agentops.store import queries as q
from agentops.store.queries import Row

log = logging.getLogger("agentops.server")
DEFAULT_STALE_S = 3 * 60.0
Resume = Literal["auto", "local", "server"]
PASSED = {"ok", "error", "running"}  # "failed": the pass itself raised


class _Backend:
    """Settings and stores, opened at the first request (the server imports the app at
    startup, before anyone may need them) and closed at shutdown."""

    def __init__(self, settings: Settings | None, resume: Resume, stale_after_s: float) -> None:
        self._settings, self.resume, self.stale_after_s = settings, resume, stale_after_s
        self._state: sa.Engine | None = None
        self._stores: Stores | None = None
        self._lock = threading.Lock()  # two first requests at once open one set of engines

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.load()
        return self._settings

    def state(self) -> sa.Engine:
        """The state store alone (all /healthz needs)."""
        with self._lock:
            if self._state is None:
                self._state = open_state(self.settings.resolved_state_url)
            return self._state

    def stores(self) -> Stores:
        state = self.state()
        with self._lock:
            if self._stores is None:
                monitoring = open_monitoring(self.settings.resolved_database_url)
                self._stores = Stores(monitoring=monitoring, state=state)
            return self._stores

    def on_server(self) -> bool:
        return self.resume == "server" or (self.resume == "auto" and inprocess.mounted_on_server())

    async def opened(self) -> tuple[Settings, Stores]:
        """Settings and stores, opened off the event loop (opening touches files)."""
        stores = await run_in_threadpool(self.stores)
        return self.settings, stores

    def close(self) -> None:
        with self._lock:
            if self._stores is not None:
                self._stores.monitoring.dispose()
            if self._state is not None:
                self._state.dispose()
            self._stores = self._state = None


# ---- POST /slack/interactions ----------------------------------------------------------------
async def _slack(backend: _Backend, request: Request) -> Response:
    body = await request.body()
    try:
        settings = await run_in_threadpool(lambda: backend.settings)
        secret = settings.slack_signing_secret
        verify_signature(
            secret.get_secret_value() if secret else None, request.headers, body, now=time.time()
        )
        click = parse_click(body)
    except Refused as refused:
        log.warning("slack click refused (%s): %s", refused.status, refused.reason)
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    except AgentOpsError as exc:  # a bad setting: the operator's to fix
        return JSONResponse({"error": str(exc)}, status_code=503)
    on_server = False
    try:
        settings, stores = await backend.opened()
        on_server = backend.on_server() and await _thread_on_server(stores, click)
        taken = await run_in_threadpool(
            take_click, settings, stores, click, at=utcnow(), on_server=on_server
        )
    except Refused as refused:
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    except AgentOpsError as exc:
        taken = Taken(ephemeral=f"Nothing was done: {exc}")
    if taken.answer is not None:
        log.info(
            "slack: %s %s %s (recorded; resumed %s)",
            taken.answer["person"],
            taken.answer["decision"],
            taken.answer["action_key"],
            "through the LangGraph server" if on_server else "in this process",
        )
    return Response(status_code=200, background=_after(backend, click, taken, on_server))


async def _thread_on_server(stores: Stores, click: Click) -> bool:
    """Whether the clicked approval's thread lives on this LangGraph server (else its
    checkpoints are in the state store, and this process resumes it)."""
    if click.action_id not in DECISIONS:
        return False
    incident_id = click.value.split("|", 1)[0]
    row = await run_in_threadpool(_incident_row, stores, incident_id)
    thread_id = (row or {}).get("thread_id")
    return bool(thread_id) and await inprocess.has_thread(str(thread_id))


def _incident_row(stores: Stores, incident_id: str) -> Row | None:
    with stores.state.connect() as conn:
        return q.get_incident_row(conn, incident_id)


def _after(backend: _Backend, click: Click, taken: Taken, on_server: bool) -> BackgroundTask:
    """The work after Slack's acknowledgement."""
    if taken.answer is not None and on_server:
        return BackgroundTask(_finish_on_server, backend, taken.answer, click)
    return BackgroundTask(_finish_here, backend, click, taken)


def _finish_here(backend: _Backend, click: Click, taken: Taken) -> None:
    if taken.ephemeral:
        followup.tell(click, taken.ephemeral)
    if taken.control is not None:
        controls.announce(backend.stores(), backend.settings, taken.control, at=utcnow())
    if taken.answer is not None:
        followup.finish_locally(backend.settings, backend.stores(), taken.answer, click)


async def _finish_on_server(backend: _Backend, answer: Row, click: Click) -> None:
    settings, stores = await backend.opened()
    action_key = str(answer["action_key"])
    first = followup.first_line(answer)
    await run_in_threadpool(
        followup.show_decision, settings, stores, action_key, first, clicked=click.message
    )
    try:
        await inprocess.resume_as(
            str(answer["person"]),
            str(answer["thread_id"]),
            store_answers.resume_value(answer),
            approves=True,
        )
        outcome = await run_in_threadpool(followup.server_outcome, stores, answer)
    except (LangGraphError, httpx.HTTPError) as exc:  # not taken: say so, hold nothing
        log.error("%s: resume on the server failed: %s", action_key, exc)
        outcome = f"refused: the LangGraph server could not resume the thread ({exc})"
    await run_in_threadpool(followup.record_outcome, stores, answer, outcome)
    await run_in_threadpool(followup.settle, settings, stores, answer, click, outcome)


# ---- GET /healthz -----------------------------------------------------------------------------
def health(state: sa.Engine, now: datetime, stale_after_s: float) -> tuple[int, dict[str, Any]]:
    """(HTTP status, report): 200 while some worker finished a pass within the window."""
    rows = workers.latest(state)
    since = now - timedelta(seconds=stale_after_s)
    listed, fresh = [], []
    for row in rows:
        last = row.get("last_pass_at")
        listed.append(
            {
                "worker_id": row["worker_id"],
                "kind": row["kind"],
                "host": row.get("host"),
                "pid": row.get("pid"),
                "last_beat": iso(row["last_beat"]),
                "last_pass_at": iso(last) if last else None,
                "last_pass_status": row.get("last_pass_status"),
                "detail": row.get("detail") or "",
            }
        )
        if last and parse_instant(last) >= since and row.get("last_pass_status") in PASSED:
            fresh.append(row)
    passes = [parse_instant(r["last_pass_at"]) for r in rows if r.get("last_pass_at")]
    report: dict[str, Any] = {
        "status": "ok" if fresh else "stale",
        "checked_at": iso(now),
        "stale_after_s": stale_after_s,
        "last_pass_at": iso(max(passes)) if passes else None,
        "workers": listed,
    }
    if not fresh:
        report["reason"] = (
            "no worker has ever run a pass (start `agentops watch`)"
            if not rows
            else f"no worker finished a pass in the last {stale_after_s:g} s"
        )
    return (200 if fresh else 503), report


async def _healthz(backend: _Backend, _request: Request) -> Response:
    def check() -> tuple[int, dict[str, Any]]:
        return health(backend.state(), utcnow(), backend.stale_after_s)

    try:
        status, report = await run_in_threadpool(check)
    except (AgentOpsError, sa.exc.SQLAlchemyError) as exc:  # the store is down: say so
        return JSONResponse({"status": "error", "reason": f"{type(exc).__name__}: {exc}"}, 503)
    return JSONResponse(report, status_code=status)


def create_app(
    settings: Settings | None = None,
    *,
    resume: Resume = "auto",
    stale_after_s: float = DEFAULT_STALE_S,
) -> Starlette:
    """The app. `resume`: "local" (agentops serve), "server" (mounted on the LangGraph
    server), "auto" (the server when this process is one)."""
    backend = _Backend(settings, resume, stale_after_s)

    async def slack(request: Request) -> Response:
        return await _slack(backend, request)

    async def healthz(request: Request) -> Response:
        return await _healthz(backend, request)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(backend.close)

    routes = [
        Route("/slack/interactions", slack, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


app = create_app()
