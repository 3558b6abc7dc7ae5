"""The Diagnostic Agent against a scripted OpenAI-compatible server: the happy path, repairs,
and every failure ending in the rules' diagnosis with an honest note."""

from __future__ import annotations

import json
import time

from langchain_openai import ChatOpenAI

from agentops.agents import diagnose
from agentops.domain import RootCauseCategory
from agentops.tools import build_tools
from tests.fakes.openai_server import ScriptedOpenAI, scripted_openai, submit
from tests.unit.agents.conftest import NOW, World

RUN = "run:etl-2026112007-v3"


def chat(server: ScriptedOpenAI, timeout: float = 5.0) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-test", base_url=server.base_url, api_key="test", timeout=timeout, max_retries=0
    )


def run(world: World, script: list, *, max_steps: int = 8, timeout: float = 5.0):
    with scripted_openai(script) as server:
        outcome = diagnose(
            world.incident,
            world.evidence,
            model=chat(server, timeout),
            tools=build_tools(world.engine, world.incident, NOW),
            phase="triage",
            max_steps=max_steps,
        )
    return outcome, server


def test_without_a_model_the_rules_diagnose_and_say_so(worlds: dict[str, World]) -> None:
    world = worlds["upstream_data_change"]
    outcome = diagnose(world.incident, world.evidence, model=None, tools=[], phase="triage")
    assert outcome.diagnosis.category == RootCauseCategory.upstream_data_change
    assert outcome.diagnosis.diagnosed_by == "rules"
    assert outcome.note == "triage: diagnosed by rules; no LLM configured"
    assert outcome.usage.calls == 0


def test_tools_run_their_results_reach_the_model_and_the_answer_is_parsed(
    worlds: dict[str, World],
) -> None:
    world = worlds["upstream_data_change"]
    script = [
        {"tool_calls": [("get_recent_changes", {"hours_back": 24})]},
        submit(
            "upstream_data_change", "vendor API v3 format change re-encoded V14", [RUN, "drift:V14"]
        ),
    ]
    outcome, server = run(world, script)
    diagnosis = outcome.diagnosis
    assert diagnosis.category == RootCauseCategory.upstream_data_change
    assert diagnosis.diagnosed_by == "openai:gpt-test"
    assert diagnosis.evidence_ids == [RUN, "drift:V14"]
    assert [t.value for t in diagnosis.escalate_to] == ["data_engineering_lead"]
    tool_reply = server.requests[1]["messages"][-1]
    assert tool_reply["role"] == "tool" and RUN in tool_reply["content"]
    assert outcome.usage.calls == 2 and outcome.usage.tool_calls == 1
    assert outcome.usage.tokens_in > 0 and outcome.usage.tokens_out > 0


def test_an_id_only_a_tool_returned_may_be_cited(worlds: dict[str, World]) -> None:
    world = worlds["upstream_data_change"]
    script = [
        {"tool_calls": [("get_feature_drift", {"limit": 5})]},
        submit("upstream_data_change", "V14 and V17 re-encoded upstream", ["drift:V12", RUN]),
    ]
    outcome, _ = run(world, script)
    assert "drift:V12" not in {e.id for e in world.evidence}  # PSI 0.12: only the tool shows it
    assert outcome.diagnosis.evidence_ids == ["drift:V12", RUN]


def test_a_hallucinated_evidence_id_gets_one_repair_turn(worlds: dict[str, World]) -> None:
    world = worlds["bad_deployment"]
    script = [
        submit("bad_deployment", "version 2.4.0 broke the model", ["deploy:dep-999"]),
        submit("bad_deployment", "version 2.4.0 broke the model", ["deploy:dep-240", "metric:f1"]),
    ]
    outcome, server = run(world, script)
    assert outcome.diagnosis.diagnosed_by == "openai:gpt-test"
    assert outcome.diagnosis.evidence_ids == ["deploy:dep-240", "metric:f1"]
    assert "after one repair" in outcome.note
    feedback = server.requests[1]["messages"][-1]["content"]
    assert "deploy:dep-999" in feedback


def test_a_second_invalid_answer_falls_back_to_the_rules(worlds: dict[str, World]) -> None:
    world = worlds["bad_deployment"]
    script = [
        submit("bad_deployment", "version 2.4.0 broke the model", ["deploy:dep-999"]),
        submit("sabotage", "version 2.4.0 broke the model", ["deploy:dep-240"]),
    ]
    outcome, _ = run(world, script)
    assert outcome.diagnosis.diagnosed_by == "rules"
    assert outcome.diagnosis.category == RootCauseCategory.bad_deployment
    assert "invalid after one repair" in outcome.note and "sabotage" in outcome.note
    assert outcome.note.endswith("diagnosed by rules")
    assert outcome.usage.calls == 2


def test_an_http_500_falls_back_to_the_rules(worlds: dict[str, World]) -> None:
    world = worlds["infrastructure"]
    outcome, _ = run(world, [{"status": 500}])
    assert outcome.diagnosis.category == RootCauseCategory.infrastructure
    assert outcome.note.startswith("triage: LLM failed: ")
    assert outcome.note.endswith("; diagnosed by rules")
    assert outcome.usage.calls == 1


def test_a_timeout_falls_back_to_the_rules(worlds: dict[str, World]) -> None:
    world = worlds["concept_drift"]
    outcome, _ = run(world, [{"sleep": 1.0}], timeout=0.2)
    assert outcome.diagnosis.category == RootCauseCategory.concept_drift
    assert "LLM failed" in outcome.note and "Timeout" in outcome.note


def test_a_response_that_is_not_json_falls_back_to_the_rules(worlds: dict[str, World]) -> None:
    world = worlds["adversarial"]
    outcome, _ = run(world, [{"raw": "<html>bad gateway</html>"}])
    assert outcome.diagnosis.category == RootCauseCategory.adversarial
    assert "LLM failed" in outcome.note


def test_malformed_tool_arguments_are_reported_back_and_the_loop_goes_on(
    worlds: dict[str, World],
) -> None:
    world = worlds["pipeline_failure"]
    script = [
        {"bad_tool_args": ("get_data_quality", "{feature: V1")},
        submit(
            "pipeline_failure",
            "transactions_etl partial run left V1-V5 null",
            ["run:etl-2026112008-partial", "dq:V1"],
        ),
    ]
    outcome, server = run(world, script)
    assert outcome.diagnosis.diagnosed_by == "openai:gpt-test"
    assert "not valid JSON" in server.requests[1]["messages"][-1]["content"]


def test_repeated_calls_and_an_exhausted_budget_force_a_final_answer(
    worlds: dict[str, World],
) -> None:
    world = worlds["benign"]
    same = {"tool_calls": [("get_feature_drift", {"limit": 3})]}
    script = [
        same,
        same,
        same,
        submit("benign", "V3 drift at PSI 0.24 is P3 only", ["drift:V3", "metric:f1"]),
    ]
    outcome, server = run(world, script, max_steps=8)
    assert outcome.diagnosis.category == RootCauseCategory.benign
    assert outcome.usage.tool_calls == 1  # the repeats were answered from memory
    last = server.requests[-1]
    assert [t["function"]["name"] for t in last["tools"]] == ["submit_diagnosis"]


def test_the_step_budget_bounds_the_tool_loop(worlds: dict[str, World]) -> None:
    world = worlds["benign"]
    script = [{"tool_calls": [("get_feature_drift", {"limit": n})]} for n in (1, 2)] + [
        submit("benign", "V3 drift at PSI 0.24 is P3 only", ["drift:V3", "metric:f1"])
    ]
    outcome, server = run(world, script, max_steps=2)
    assert server.served == 3  # two steps, then the final forced answer
    assert [t["function"]["name"] for t in server.requests[-1]["tools"]] == ["submit_diagnosis"]
    assert outcome.diagnosis.diagnosed_by == "openai:gpt-test"


def test_a_plain_json_answer_is_accepted_and_thin_citations_cap_confidence(
    worlds: dict[str, World],
) -> None:
    world = worlds["upstream_data_change"]
    answer = {
        "category": "upstream_data_change",
        "root_cause": "vendor API v3 changed V14's encoding",
        "confidence": 0.97,
        "evidence_ids": [RUN],
    }
    outcome, _ = run(world, [{"content": "```json\n" + json.dumps(answer) + "\n```"}])
    assert outcome.diagnosis.diagnosed_by == "openai:gpt-test"
    assert outcome.diagnosis.confidence == 0.5
    assert "capped" in outcome.note


def test_a_model_that_disagrees_with_confident_rules_is_capped(worlds: dict[str, World]) -> None:
    """An honest "I don't know" always fits the evidence; against confident rules its
    confidence is capped, and a person decides (unknown escalates to the ML team lead)."""
    world = worlds["upstream_data_change"]
    script = [
        submit(
            "unknown", "cannot tell V14's change from a drift", ["metric:f1", RUN], confidence=0.95
        )
    ]
    outcome, _ = run(world, script)
    assert outcome.diagnosis.category == RootCauseCategory.unknown
    assert outcome.diagnosis.confidence == 0.6
    assert "rules favour upstream_data_change" in outcome.note


def test_benign_on_a_p1_is_refused_repaired_once_then_the_rules_decide(
    worlds: dict[str, World],
) -> None:
    world = worlds["infrastructure"]
    benign = submit(
        "benign", "Routine fluctuation; nothing is broken", ["metric:f1"], confidence=0.99
    )
    outcome, server = run(world, [benign, benign])
    diagnosis = outcome.diagnosis
    assert (diagnosis.category, diagnosis.diagnosed_by) == (
        RootCauseCategory.infrastructure,
        "rules",
    )
    assert (
        diagnosis.refused
        == [
            "openai:gpt-test: benign does not fit the evidence: a P1 threshold is crossed: "
            "benign is for P3-only events"
        ]
        * 2
    )
    assert "a P1 threshold is crossed" in outcome.note
    assert outcome.note.endswith("diagnosed by rules")
    repair = server.requests[1]["messages"][-1]
    assert repair["role"] == "tool" and "benign is for P3-only events" in repair["content"]


def test_a_claim_the_evidence_does_not_fit_is_refused_and_a_fitting_repair_is_taken(
    worlds: dict[str, World],
) -> None:
    world = worlds["upstream_data_change"]
    script = [
        submit("bad_deployment", "ignore the notes: 2.3.0 is bad", ["metric:f1", RUN]),
        submit("upstream_data_change", "vendor API v3 re-encoded V14", ["drift:V14", RUN]),
    ]
    outcome, _ = run(world, script)
    diagnosis = outcome.diagnosis
    assert diagnosis.category == RootCauseCategory.upstream_data_change
    assert diagnosis.diagnosed_by == "openai:gpt-test"
    [refused] = diagnosis.refused
    assert refused.startswith("openai:gpt-test: bad_deployment does not fit the evidence")
    assert "valid after one repair" in outcome.note and "refused before the repair" in outcome.note


def test_a_claim_is_checked_against_everything_gathered_not_only_what_the_model_saw(
    worlds: dict[str, World],
) -> None:
    """Triage shows the model the first look (alerts, metrics, drift); the pipeline run
    behind an upstream_data_change claim is among the facts code gathered all the same."""
    world = worlds["upstream_data_change"]
    first_look = [e for e in world.evidence if e.kind in {"alert", "metric", "drift"}]
    claim = submit("upstream_data_change", "vendor API v3 re-encoded V14", ["drift:V14"])
    with scripted_openai([claim]) as server:
        seen_all = diagnose(
            world.incident,
            first_look,
            model=chat(server),
            tools=[],
            phase="triage",
            facts=world.evidence,
        )
    assert seen_all.diagnosis.diagnosed_by == "openai:gpt-test"
    with scripted_openai([claim, claim]) as server:
        seen_part = diagnose(
            world.incident, first_look, model=chat(server), tools=[], phase="triage"
        )
    assert seen_part.diagnosis.diagnosed_by == "rules"
    assert "no pipeline or source change before the onset" in seen_part.note


def test_each_call_gets_only_the_time_left_so_a_hung_call_cannot_overrun_the_budget(
    worlds: dict[str, World],
) -> None:
    """The first call answers at once (a tool call), the second hangs: it is given what is
    left of the 1.5 s budget, not a fresh 1.5 s, and the rules answer in time."""
    world = worlds["concept_drift"]
    script = [{"tool_calls": [("get_feature_drift", {"limit": 3})]}, {"sleep": 10}]
    started = time.monotonic()
    with scripted_openai(script) as server:
        outcome = diagnose(
            world.incident,
            world.evidence,
            model=chat(server, timeout=30),
            tools=build_tools(world.engine, world.incident, NOW),
            phase="triage",
            budget_s=1.5,
        )
    assert time.monotonic() - started < 2.5
    assert outcome.diagnosis.diagnosed_by == "rules"
    assert "no answer within the diagnosis budget (1.5 s)" in outcome.note
    assert outcome.usage.calls == 2 and outcome.usage.tool_calls == 1


def test_a_spent_budget_asks_the_model_nothing(worlds: dict[str, World]) -> None:
    world = worlds["benign"]
    with scripted_openai([]) as server:
        outcome = diagnose(
            world.incident,
            world.evidence,
            model=chat(server),
            tools=[],
            phase="triage",
            budget_s=0,
        )
    assert server.served == 0 and outcome.usage.calls == 0
    assert outcome.diagnosis.category == RootCauseCategory.benign
    assert "diagnosis budget" in outcome.note


def test_a_server_failing_every_call_still_gives_every_scenario_its_category(
    worlds: dict[str, World],
) -> None:
    from agentops.agents import plan

    with scripted_openai([]) as server:  # an empty script answers 500 to every request
        model = chat(server)
        for name, world in worlds.items():
            outcome = diagnose(
                world.incident, world.evidence, model=model, tools=[], phase="triage"
            )
            assert outcome.diagnosis.category == RootCauseCategory(name)
            assert "LLM failed" in outcome.note
            planned = plan(world.incident, outcome.diagnosis, model=model, evidence=world.evidence)
            assert planned.plan.planned_by == "rules" and "LLM failed" in planned.note
