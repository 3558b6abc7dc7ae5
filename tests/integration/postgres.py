"""A fresh PostgreSQL database per test, on the server AGENTOPS_TEST_POSTGRES_URL names.

`.ci/run` sets the variable, so in CI a PostgreSQL that cannot be reached FAILS these tests
(it never skips them). Unset (a laptop without PostgreSQL), they are skipped, saying why.
Each test gets `agentops_test_<random>`, created as the URL's user and dropped afterwards
(WITH (FORCE): a worker a test killed may still hold a connection).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from agentops.store.engine import libpq_url

ENV = "AGENTOPS_TEST_POSTGRES_URL"


def server_url() -> str:
    url = os.environ.get(ENV, "").strip()
    if not url:
        pytest.skip(f"{ENV} is not set (.ci/run sets it to the machine's PostgreSQL)")
    return url


def _admin(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"{ENV}={url}: PostgreSQL cannot be reached: {exc}", pytrace=False)


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL (postgresql://, as a user would write it) of a new, empty database."""
    url = server_url()
    name = f"agentops_test_{uuid.uuid4().hex[:12]}"
    with _admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(libpq_url(url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(url) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
