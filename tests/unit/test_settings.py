"""Settings: the one reader of the environment; bad values name their variable."""

from __future__ import annotations

import pytest

from agentops.errors import ConfigError
from agentops.settings import Settings


def test_defaults_make_embedded_stores_in_the_xdg_data_home(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path / "..")
    names = ("AGENTOPS_HOME", "AGENTOPS_DATABASE_URL", "AGENTOPS_STATE_URL", "AGENTOPS_MODEL")
    for name in (*names, "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.load()
    home = tmp_path / "data" / "agentops"
    assert settings.resolved_database_url == f"sqlite:///{home / 'agentops.db'}"
    assert settings.resolved_state_url == f"sqlite:///{home / 'state.db'}"
    assert settings.resolved_model == "offline"


def test_the_default_home_does_not_depend_on_the_working_directory(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AGENTOPS_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    here = Settings.load().home
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Settings.load().home == here


def test_environment_is_read(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path))
    monkeypatch.setenv("AGENTOPS_APPROVERS", "alice, bob ,")
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", "snowflake://u:p@acct/db/schema")
    settings = Settings.load()
    assert settings.home == tmp_path
    assert settings.approvers == ("alice", "bob")
    assert settings.resolved_database_url.startswith("snowflake://")


def test_an_openai_key_alone_selects_an_openai_model(monkeypatch) -> None:
    monkeypatch.delenv("AGENTOPS_MODEL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert Settings.load().resolved_model.startswith("openai:")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AGENTOPS_SMTP_PORT", "eighty", "AGENTOPS_SMTP_PORT: Input should be a valid integer"),
        (
            "AGENTOPS_MODEL",
            "gpt4",
            "AGENTOPS_MODEL: Value error, expected 'offline' or provider:model",
        ),
        ("AGENTOPS_DATABASE_URL", "agentops.db", "AGENTOPS_DATABASE_URL: Value error"),
        ("AGENTOPS_EMBEDDINGS", "word2vec", "AGENTOPS_EMBEDDINGS: Input should be"),
        (
            "AGENTOPS_GITHUB_REPO",
            "just-a-name",
            "AGENTOPS_GITHUB_REPO: Value error, expected owner/name",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(monkeypatch, variable, value, message) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_variable_left_empty_is_unset(monkeypatch, tmp_path) -> None:
    """`.env.example` and docs/deploy.md promise it: `AGENTOPS_SLACK_TOKEN=` never switches
    Slack on, and an empty URL falls back to the default store."""
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path))
    monkeypatch.setenv("AGENTOPS_SLACK_TOKEN", "")
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", "")
    settings = Settings.load()
    assert settings.slack_token is None
    assert settings.resolved_database_url.startswith("sqlite:///")
