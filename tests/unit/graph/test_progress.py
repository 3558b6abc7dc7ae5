"""Long nodes say what they are doing on LangGraph's custom stream (what Studio shows while
a run is under way), in the order the lifecycle does it."""

from __future__ import annotations

from typing import Any

from agentops.graph.local import local_runtime
from agentops.settings import Settings
from tests.conftest import NOW
from tests.unit.graph.conftest import ALICE, approve, only_incident


def test_a_run_streams_what_each_long_step_is_doing(graph_settings: Settings, seeded) -> None:
    stores = seeded("upstream_data_change")
    events: list[tuple[str, dict[str, Any]]] = []
    with local_runtime(graph_settings, "test") as rt:
        scheduler = rt.scheduler(
            decide=approve, decider=ALICE, on_event=lambda n, u: events.append((n, u))
        )
        scheduler.run_pass(NOW)
    incident_id = only_incident(stores)["incident_id"]
    steps = [u["progress"] for n, u in events if n == "progress"]
    expected = [
        "triage: gathering evidence",
        "triage: diagnosing",
        "investigate: testing hypotheses",
        "remediate: planning",
        "running retrain_model → classifier_v2",
        "verify: checking recovery",
    ]
    assert [s for s in steps if s in expected] == expected
    progress = [u for n, u in events if n == "progress"]
    assert all(u["incident_id"] == incident_id for u in progress)
    diagnosing = next(u for u in progress if u["progress"] == "triage: diagnosing")
    assert diagnosing["by"] == "rules" and diagnosing["evidence"] > 0
    # each progress event comes before the update of the node that sent it
    nodes = [n for n, _ in events]
    assert nodes.index("progress") < nodes.index("triage") < nodes.index("investigate")
