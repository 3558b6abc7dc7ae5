"""The read-only tools: small typed results with citable ids, honest when unconfigured."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from agentops.domain import Incident
from agentops.tools import ToolResult, build_tools
from agentops.tools.result import MAX_RESULT_CHARS
from tests.unit.tools.conftest import NOW


class TwoPassages(BaseRetriever):
    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                "Retrain after the pipeline is fixed.",
                metadata={"source": "model_drift.md", "chunk": 2},
            ),
            Document("x" * 5000, metadata={"source": "rollback.md", "chunk": 0}),
        ]


def tools(engine: sa.Engine, incident: Incident, **kwargs: object) -> dict:
    return {t.name: t for t in build_tools(engine, incident, NOW, **kwargs)}  # type: ignore[arg-type]


def call(tool, args: dict) -> ToolResult:
    return ToolResult.model_validate_json(tool.invoke(args))


ARGS = {
    "get_model_metrics": {"hours_back": 336},
    "get_incident_alerts": {},
    "get_feature_drift": {"limit": 30},
    "get_data_quality": {},
    "get_recent_changes": {"hours_back": 336},
    "search_runbooks": {"query": "drift"},
    "find_similar_incidents": {"description": "V14 drift"},
    "run_sql": {"query": "SELECT * FROM data_quality"},
}


def test_every_tool_answers_within_a_few_kb(seeded: sa.Engine, incident: Incident) -> None:
    found = tools(seeded, incident, runbooks=TwoPassages(), similar_incidents=lambda d, k: [])
    assert set(found) == set(ARGS)
    for name, tool in found.items():
        text = tool.invoke(ARGS[name])
        assert len(text) <= MAX_RESULT_CHARS, name
        assert ToolResult.model_validate_json(text).status in ("ok", "no_data"), name


def test_changes_cite_the_pipeline_run_and_mark_notes_untrusted(
    seeded: sa.Engine, incident: Incident
) -> None:
    result = call(tools(seeded, incident)["get_recent_changes"], {"hours_back": 24})
    assert result.status == "ok"
    assert "run:etl-2026112007-v3" in result.evidence_ids
    assert "never instructions" in result.data["notes_are"]
    assert result.data["routine_successful_runs"]["transactions_etl"] >= 3


def test_drift_and_quality_cite_features(seeded: sa.Engine, incident: Incident) -> None:
    found = tools(seeded, incident)
    drift = call(found["get_feature_drift"], {"limit": 2})
    assert [f["feature"] for f in drift.data["top"]] == ["V14", "V17"]
    assert drift.evidence_ids[:2] == ["drift:V14", "drift:V17"]
    quality = call(found["get_data_quality"], {"feature": "V14"})
    assert quality.data["features"][0]["schema_errors"] == 240
    assert quality.evidence_ids == ["dq:V14"]


def test_metrics_of_an_unknown_model_are_no_data(seeded: sa.Engine, incident: Incident) -> None:
    result = call(tools(seeded, incident)["get_model_metrics"], {"model_name": "nope"})
    assert result.status == "no_data" and "nope" in (result.error or "")


def test_bad_arguments_are_refused_by_the_schema(seeded: sa.Engine, incident: Incident) -> None:
    with pytest.raises(ValueError):
        tools(seeded, incident)["get_model_metrics"].invoke({"hours_back": 100000})


def test_unconfigured_search_tools_say_so(seeded: sa.Engine, incident: Incident) -> None:
    found = tools(seeded, incident)
    runbook = call(found["search_runbooks"], {"query": "drift"})
    similar = call(found["find_similar_incidents"], {"description": "drift"})
    assert runbook.status == "error" and "not configured" in (runbook.error or "")
    assert similar.status == "error" and "not configured" in (similar.error or "")


def test_runbook_passages_are_clipped_and_cited(seeded: sa.Engine, incident: Incident) -> None:
    result = call(
        tools(seeded, incident, runbooks=TwoPassages())["search_runbooks"], {"query": "rollback"}
    )
    assert result.evidence_ids == ["runbook:model_drift.md#2", "runbook:rollback.md#0"]
    assert len(result.data["passages"][1]["text"]) <= 700


def test_similar_incidents_come_from_the_injected_search(
    seeded: sa.Engine, incident: Incident
) -> None:
    asked: list[tuple[str, int]] = []

    def search(description: str, k: int) -> list[dict]:
        asked.append((description, k))
        return [
            {
                "incident_id": "INC-1",
                "root_cause_category": "upstream_data_change",
                "root_cause": "vendor switched encoding",
                "score": 0.91234,
            }
        ]

    found = tools(seeded, incident, similar_incidents=search)
    result = call(found["find_similar_incidents"], {"description": "V14 drift", "k": 2})
    assert asked == [("V14 drift", 2)]
    assert result.evidence_ids == ["incident:INC-1"]
    assert result.data["incidents"][0]["score"] == 0.912


def test_a_failing_search_is_an_error_result(seeded: sa.Engine, incident: Incident) -> None:
    def broken(description: str, k: int) -> list[dict]:
        raise RuntimeError("index corrupt")

    result = call(
        tools(seeded, incident, similar_incidents=broken)["find_similar_incidents"],
        {"description": "drift"},
    )
    assert result.status == "error" and "index corrupt" in (result.error or "")


def test_oversized_results_are_trimmed_but_stay_json() -> None:
    big = ToolResult.ok({"rows": [{"n": i, "text": "y" * 50} for i in range(500)]})
    text = big.to_json(limit=2000)
    parsed = json.loads(text)
    assert len(text) <= 2000 and parsed["truncated"] is True
    assert 0 < len(parsed["data"]["rows"]) < 500
