"""The metrics store: tables, the engine factory, validated loads and read queries."""

from agentops.store.engine import (
    check_reachable,
    create_store_engine,
    describe,
    init_schema,
    require_tables,
)

__all__ = ["check_reachable", "create_store_engine", "describe", "init_schema", "require_tables"]
