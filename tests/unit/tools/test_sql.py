"""The guarded SQL tool: one SELECT over the allowed tables, limited rows, bounded work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agentops.domain import Incident
from agentops.tools import SQLRefused, ToolResult, build_tools, check_sql, run_guarded_sql
from tests.unit.tools.conftest import NOW


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM model_metrics", "only SELECT"),
        ("SELECT 1; DROP TABLE model_metrics", "exactly one"),
        ("SELECT * FROM action_log", "not allowed"),
        ("SELECT * FROM sqlite_master", "not allowed"),
        ("SELECT load_extension('x')", "load_extension"),
        ("WITH x AS (SELECT * FROM messages) SELECT * FROM x", "messages"),
        ("PRAGMA writable_schema = 1", "only SELECT"),
        ("SELECT * FROM model_metrics WHERE", "parse"),
    ],
)
def test_refused_queries_say_why(query: str, why: str) -> None:
    with pytest.raises(SQLRefused, match=why):
        check_sql(query, "sqlite")


def test_snowflake_dialect_is_parsed_as_snowflake() -> None:
    sql = check_sql(
        "SELECT model_name, f1 FROM model_metrics QUALIFY ROW_NUMBER() OVER "
        "(PARTITION BY model_name ORDER BY window_end DESC) = 1",
        "snowflake",
    )
    assert "QUALIFY" in sql and "LIMIT 51" in sql


def test_rows_are_limited(seeded: sa.Engine) -> None:
    result = run_guarded_sql(seeded, "SELECT feature_name, psi FROM feature_drift", max_rows=5)
    assert result["row_count"] == 5 and result["more_rows"] is True
    assert result["columns"] == ["feature_name", "psi"]


def test_a_runaway_query_is_interrupted_not_hung(seeded: sa.Engine, incident: Incident) -> None:
    runaway = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
        "SELECT count(*) FROM n"
    )
    tool = {t.name: t for t in build_tools(seeded, incident, NOW)}["run_sql"]
    result = ToolResult.model_validate_json(tool.invoke({"query": runaway}))
    assert result.status == "error" and "interrupted" in (result.error or "")
    # the connection is usable and writable again afterwards
    with seeded.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM deployments")).scalar()


def test_the_tool_cites_its_query(seeded: sa.Engine, incident: Incident) -> None:
    tool = {t.name: t for t in build_tools(seeded, incident, NOW)}["run_sql"]
    result = ToolResult.model_validate_json(
        tool.invoke({"query": "SELECT deployment_id FROM deployments ORDER BY deployed_at"})
    )
    assert result.status == "ok" and result.evidence_ids == ["query:sql"]
    assert result.data["rows"][0] == ["dep-210"]
