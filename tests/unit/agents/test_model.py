"""The model factory: offline means no model; otherwise a configured, bounded chat model."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from agentops.agents import make_chat_model, model_id
from agentops.errors import ConfigError
from agentops.settings import Settings


def test_offline_is_no_model(tmp_path: Path) -> None:
    assert make_chat_model(Settings.load(home=tmp_path, model="offline")) is None


def test_an_openai_compatible_server_gets_its_url_timeout_and_retries(tmp_path: Path) -> None:
    settings = Settings.load(
        home=tmp_path,
        model="openai:llama3",
        openai_base_url="http://127.0.0.1:9/v1",
        llm_timeout_s=7,
        llm_max_retries=1,
    )
    model = make_chat_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert model.request_timeout == 7 and model.max_retries == 1
    assert model_id(model) == "openai:llama3"


def test_openai_without_key_or_url_names_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = Settings.load(home=tmp_path, model="openai:gpt-4o-mini")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_chat_model(settings)


def test_an_unknown_provider_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AGENTOPS_MODEL"):
        make_chat_model(Settings.load(home=tmp_path, model="nosuchprovider:x"))
