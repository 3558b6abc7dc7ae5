"""Which failures fall back to the rules: the model's and its transport's, never our own.

A bug in our code around the model (here a checker that raises) must surface as that bug,
not be reported as "the LLM failed" with a rules answer that hides it.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI

from agentops.agents import diagnose, plan
from agentops.agents import diagnostic as diagnostic_module
from agentops.agents import planner as planner_module
from agentops.agents.llm import Meter, UnusableReply, call, model_failures
from agentops.domain import RootCauseCategory
from tests.fakes.openai_server import propose, scripted_openai, submit
from tests.unit.agents.conftest import World


def chat(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model="gpt-test", base_url=base_url, api_key="test", timeout=5, max_retries=0)


def test_a_bug_in_checking_the_answer_surfaces_instead_of_falling_back(
    worlds: dict[str, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("our own bug")

    monkeypatch.setattr(diagnostic_module, "check_answer", broken)
    world = worlds["bad_deployment"]
    script = [submit("bad_deployment", "2.4.0 broke it", ["deploy:dep-240", "metric:f1"])]
    with scripted_openai(script) as server, pytest.raises(KeyError, match="our own bug"):
        diagnose(
            world.incident, world.evidence, model=chat(server.base_url), tools=[], phase="triage"
        )


def test_a_bug_in_reading_the_proposal_surfaces_instead_of_the_rules_plan(
    worlds: dict[str, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(reply: Any) -> Any:
        raise AttributeError("our own bug")

    monkeypatch.setattr(planner_module, "_read_proposal", broken)
    world = worlds["pipeline_failure"]
    diagnosis = diagnostic_module.diagnose_by_rules(world.incident, world.evidence, "")
    script = [propose([{"type": "notify_slack", "target": "#ml-alerts"}])]
    with scripted_openai(script) as server, pytest.raises(AttributeError, match="our own bug"):
        plan(world.incident, diagnosis, model=chat(server.base_url), evidence=world.evidence)


def test_a_server_error_still_falls_back_to_the_rules(worlds: dict[str, World]) -> None:
    world = worlds["infrastructure"]
    with scripted_openai([{"status": 503}]) as server:
        outcome = diagnose(
            world.incident, world.evidence, model=chat(server.base_url), tools=[], phase="triage"
        )
    assert outcome.diagnosis.category == RootCauseCategory.infrastructure
    assert outcome.note.startswith("triage: LLM failed: ")


def test_a_reply_that_is_not_a_chat_message_is_a_model_failure() -> None:
    class Odd:
        def invoke(self, messages: Any) -> str:
            return "not a message"

    meter = Meter()
    with pytest.raises(UnusableReply) as raised:
        call(Odd(), [], meter)  # type: ignore[arg-type]
    assert isinstance(raised.value, model_failures())
    assert meter.calls == 0
    assert isinstance(call(_Echo(), [], meter), AIMessage) and meter.calls == 1


def test_our_own_error_types_are_not_model_failures() -> None:
    failures = model_failures()
    assert not issubclass(KeyError, failures)
    assert not issubclass(AttributeError, failures)
    assert not issubclass(TypeError, failures)
    assert issubclass(TimeoutError, failures)


class _Echo:
    def invoke(self, messages: Any) -> AIMessage:
        return AIMessage("ok")
