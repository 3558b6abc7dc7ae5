"""Heartbeats: each worker (a `watch` process, a `run`, the server's cron) records when it
last ran a pass and how it went, so `/healthz` and `agentops doctor` can tell when the
responder itself has stopped — an outside monitor pages on that."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from agentops.clock import utcnow
from agentops.store.load import to_db_time
from agentops.store.queries import Row, as_row
from agentops.store.state_tables import workers


def _now() -> datetime:
    return to_db_time(utcnow(), what="now")


def beat(engine: sa.Engine, worker_id: str, kind: str, *, status: str, detail: str = "") -> None:
    with engine.begin() as conn:
        values = {"last_beat": _now(), "last_pass_status": status, "detail": detail[:2000]}
        if status != "running":
            values["last_pass_at"] = _now()
        done = conn.execute(
            workers.update().where(workers.c.worker_id == worker_id).values(**values)
        )
        if done.rowcount == 0:
            conn.execute(
                workers.insert().values(
                    worker_id=worker_id,
                    kind=kind,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=_now(),
                    **values,
                )
            )


@dataclass
class Beat:
    engine: sa.Engine
    worker_id: str
    kind: str
    finished: bool = False

    def done(self, errors: list[str]) -> None:
        status = "error" if errors else "ok"
        beat(self.engine, self.worker_id, self.kind, status=status, detail="; ".join(errors))
        self.finished = True


@contextmanager
def beating(engine: sa.Engine, worker_id: str, kind: str) -> Iterator[Beat]:
    """Mark the pass running, then ok / error when it ends (failed when it raised)."""
    beat(engine, worker_id, kind, status="running")
    current = Beat(engine, worker_id, kind)
    try:
        yield current
    except BaseException as exc:
        beat(engine, worker_id, kind, status="failed", detail=f"{type(exc).__name__}: {exc}")
        raise
    if not current.finished:
        current.done([])


def latest(engine: sa.Engine) -> list[Row]:
    """Every worker, most recent pass first."""
    with engine.connect() as conn:
        query = sa.select(workers).order_by(workers.c.last_beat.desc())
        return [as_row(r) for r in conn.execute(query).mappings()]
