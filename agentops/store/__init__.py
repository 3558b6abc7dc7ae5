"""The two databases: the monitoring tables (read) and the state store (what agentops owns),
the engine factories, validated loads, read queries, the ledger and incident claims."""

from agentops.store.engine import (
    Stores,
    check_reachable,
    create_store_engine,
    db_error_text,
    describe,
    init_schema,
    open_monitoring,
    open_state,
    require_tables,
    writing,
)

__all__ = [
    "Stores",
    "check_reachable",
    "create_store_engine",
    "db_error_text",
    "describe",
    "init_schema",
    "open_monitoring",
    "open_state",
    "require_tables",
    "writing",
]
