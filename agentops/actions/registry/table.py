"""The built-in registry: agentops's own MODEL_REGISTRY table, with DEPLOYMENTS as the record
of what was deployed. The default, and what the demo and the eval cases use.

A team that does not copy its registry into MODEL_REGISTRY still has DEPLOYMENTS: the serving
version is then the newest deployment's, and the first switch writes MODEL_REGISTRY rows for
the two versions involved, so later rollbacks have a history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.actions.registry.port import RegistryChange, RegistryError, RegistryVersion
from agentops.clock import utcnow
from agentops.store import engine as store_engine
from agentops.store import queries
from agentops.store.load import to_db_time
from agentops.store.tables import deployments, model_registry

# A DEPLOYMENTS row with one of these statuses never served.
FAILED_DEPLOYMENT_STATUSES = frozenset({"failed", "cancelled", "canceled", "aborted"})


def deployments_newest_first(conn: sa.Connection, model: str) -> list[queries.Row]:
    """The DEPLOYMENTS rows of `model` that took effect, newest first."""
    query = (
        sa.select(deployments)
        .where(deployments.c.model_name == model)
        .order_by(deployments.c.deployed_at.desc())
    )
    rows = [queries.as_row(r) for r in conn.execute(query).mappings()]
    return [r for r in rows if str(r.get("status") or "").lower() not in FAILED_DEPLOYMENT_STATUSES]


class TableRegistry:
    """MODEL_REGISTRY as the registry. Give it an engine (each call is its own transaction)
    or a connection inside the caller's transaction (each write is a savepoint in it)."""

    name = "the MODEL_REGISTRY table"

    def __init__(
        self, bind: sa.Engine | sa.Connection, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._bind = bind
        self._clock = clock

    def describe(self) -> dict[str, str]:
        engine = self._bind if isinstance(self._bind, sa.Engine) else self._bind.engine
        return {
            "kind": "table",
            "database": engine.url.render_as_string(hide_password=True),
        }

    def serving_version(self, model: str) -> str | None:
        with self._connection(writing=False) as conn:
            return self._serving(conn, model)

    def history(self, model: str) -> list[RegistryVersion]:
        with self._connection(writing=False) as conn:
            rows = queries.registry(conn, model)
        # Unpromoted rows last on every dialect (Snowflake sorts NULL first in DESC).
        rows.sort(key=lambda r: (r["promoted_at"] is not None, r["promoted_at"]), reverse=True)
        return [
            RegistryVersion(
                version=str(r["model_version"]),
                promoted_at=r["promoted_at"],
                status="bad" if (r.get("status") or "good") == "bad" else "good",
                source="MODEL_REGISTRY",
            )
            for r in rows
        ]

    def set_serving(
        self,
        model: str,
        version: str,
        *,
        reason: str,
        actor: str,
        mark_replaced_bad: bool = False,
    ) -> RegistryChange:
        """Make `version` the only active row (written if missing), mark the one it replaces
        bad when asked, and record the switch as a DEPLOYMENTS row."""
        now = to_db_time(self._clock(), what="now")
        with self._connection(writing=True) as conn:
            rows = {str(r["model_version"]): r for r in queries.registry(conn, model)}
            deployed = deployments_newest_first(conn, model)
            known = set(rows) | _deployed_versions(deployed)
            if version not in known:
                raise RegistryError(
                    f"version {version} of {model} is in neither MODEL_REGISTRY nor DEPLOYMENTS"
                )
            previous = self._serving(conn, model)
            where = model_registry.c.model_name == model
            conn.execute(model_registry.update().where(where).values(active=False))
            if previous is not None and previous != version:
                replaced_status = "bad" if mark_replaced_bad else None
                if previous in rows:
                    if replaced_status:
                        conn.execute(
                            model_registry.update()
                            .where(where, model_registry.c.model_version == previous)
                            .values(status=replaced_status)
                        )
                else:
                    _register_deployed(
                        conn, model, previous, deployed, active=False, status=replaced_status
                    )
            target = {"active": True, "status": "good", "promoted_at": now}
            if version in rows:
                conn.execute(
                    model_registry.update()
                    .where(where, model_registry.c.model_version == version)
                    .values(**target)
                )
            else:
                conn.execute(
                    model_registry.insert().values(
                        model_name=model, model_version=version, **target
                    )
                )
            conn.execute(
                deployments.insert().values(
                    deployment_id=f"agentops-{uuid.uuid4().hex[:20]}",
                    model_name=model,
                    model_version=version,
                    previous_version=previous,
                    deployed_at=now,
                    deployed_by=actor,
                    description=reason,
                    status="succeeded",
                )
            )
        return RegistryChange(
            model=model,
            previous_version=previous,
            serving_version=version,
            detail=f"MODEL_REGISTRY: {version} active"
            + (f", {previous} marked bad" if mark_replaced_bad and previous else "")
            + "; DEPLOYMENTS row written",
        )

    def register(self, model: str, version: str) -> bool:
        """Add a retrained candidate to MODEL_REGISTRY (good, not serving), so a promotion can
        switch to it; False when the version is already known. A rollback never registers:
        it refuses a version nobody has seen."""
        with self._connection(writing=True) as conn:
            rows = queries.registry(conn, model)
            deployed = deployments_newest_first(conn, model)
            known = {str(r["model_version"]) for r in rows} | _deployed_versions(deployed)
            if version in known:
                return False
            serving = self._serving(conn, model)
            if not rows and serving is not None:
                # DEPLOYMENTS said who serves; the first MODEL_REGISTRY rows must say so too
                _register_deployed(conn, model, serving, deployed, active=True)
            conn.execute(
                model_registry.insert().values(
                    model_name=model, model_version=version, active=False, status="good"
                )
            )
        return True

    @staticmethod
    def _serving(conn: sa.Connection, model: str) -> str | None:
        rows = queries.registry(conn, model)
        if rows:
            active = [r for r in rows if r["active"]]
            return str(active[0]["model_version"]) if active else None
        deployed = deployments_newest_first(conn, model)
        return str(deployed[0]["model_version"]) if deployed else None

    @contextmanager
    def _connection(self, *, writing: bool) -> Iterator[sa.Connection]:
        try:
            if isinstance(self._bind, sa.Connection):
                if writing:
                    with self._bind.begin_nested():
                        yield self._bind
                else:
                    yield self._bind
            elif writing:
                # BEGIN IMMEDIATE on SQLite: this transaction reads and then writes
                with store_engine.writing(self._bind) as conn:
                    yield conn
            else:
                with self._bind.connect() as conn:
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise RegistryError(
                f"{self.name} could not be read or written: {store_engine.db_error_text(exc)}"
            ) from None


def _deployed_versions(rows: list[queries.Row]) -> set[str]:
    versions = {str(r["model_version"]) for r in rows}
    return versions | {str(r["previous_version"]) for r in rows if r.get("previous_version")}


def _register_deployed(
    conn: sa.Connection,
    model: str,
    version: str,
    deployed: list[queries.Row],
    *,
    active: bool,
    status: str | None = None,
) -> None:
    """A MODEL_REGISTRY row for a version DEPLOYMENTS knows, dated when it was deployed."""
    conn.execute(
        model_registry.insert().values(
            model_name=model,
            model_version=version,
            active=active,
            promoted_at=_deployed_at(deployed, version),
            status=status or "good",
        )
    )


def _deployed_at(rows: list[queries.Row], version: str) -> Any:
    for row in rows:
        if str(row["model_version"]) == version:
            return to_db_time(row["deployed_at"], what="deployed_at")
    return None
