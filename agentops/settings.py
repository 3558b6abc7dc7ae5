"""Every environment variable agentops reads, in one place, read once.

Nothing else in the package touches `os.environ`. Entry points call `Settings.load()`;
everything below them receives the settings (or values taken from them) as arguments.
A bad value raises `ConfigError` naming the variable, in one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agentops.errors import ConfigError

EmbeddingsName = Literal["minilm", "openai", "lexical"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def default_home() -> Path:
    """Where agentops keeps its files when AGENTOPS_HOME is unset: the XDG data directory
    ($XDG_DATA_HOME/agentops, else ~/.local/share/agentops), so every command finds the same
    store wherever it is run from."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "agentops"


class Settings(BaseSettings):
    """agentops configuration. Each field's alias is the environment variable it comes from."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    # --- where data lives ---------------------------------------------------------------
    home: Path = Field(default_factory=default_home, validation_alias=_env("AGENTOPS_HOME"))
    database_url: str | None = Field(None, validation_alias=_env("AGENTOPS_DATABASE_URL"))
    state_url: str | None = Field(None, validation_alias=_env("AGENTOPS_STATE_URL"))
    config_file: Path | None = Field(None, validation_alias=_env("AGENTOPS_CONFIG"))
    runbooks_dir: Path | None = Field(None, validation_alias=_env("AGENTOPS_RUNBOOKS_DIR"))

    # --- the model ----------------------------------------------------------------------
    model: str | None = Field(None, validation_alias=_env("AGENTOPS_MODEL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("AGENTOPS_LLM_TIMEOUT"))
    llm_max_retries: int = Field(2, ge=0, le=10, validation_alias=_env("AGENTOPS_LLM_MAX_RETRIES"))
    embeddings: EmbeddingsName = Field("minilm", validation_alias=_env("AGENTOPS_EMBEDDINGS"))
    # the whole diagnosis of one incident (every model call and retry): past it, the rules
    # answer. Well under the P1 Detection->Triage SLA (5 min).
    diagnosis_budget_s: float = Field(
        90.0, gt=0, le=3600, validation_alias=_env("AGENTOPS_DIAGNOSIS_BUDGET")
    )

    # --- workers ------------------------------------------------------------------------
    # a claim on an incident lasts this long unless its holder renews it: a dead process's
    # incidents are taken over by the next pass within this many seconds
    lease_s: float = Field(60.0, ge=1, le=3600, validation_alias=_env("AGENTOPS_LEASE_SECONDS"))

    # --- approvals ----------------------------------------------------------------------
    approvers: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("AGENTOPS_APPROVERS")
    )

    # --- Slack --------------------------------------------------------------------------
    slack_token: SecretStr | None = Field(None, validation_alias=_env("AGENTOPS_SLACK_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("AGENTOPS_SLACK_SIGNING_SECRET")
    )
    slack_base_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("AGENTOPS_SLACK_BASE_URL")
    )
    slack_alerts_channel: str = Field(
        "#ml-alerts", validation_alias=_env("AGENTOPS_SLACK_ALERTS_CHANNEL")
    )
    slack_data_channel: str = Field(
        "#data-alerts", validation_alias=_env("AGENTOPS_SLACK_DATA_CHANNEL")
    )

    # --- GitHub -------------------------------------------------------------------------
    github_token: SecretStr | None = Field(None, validation_alias=_env("AGENTOPS_GITHUB_TOKEN"))
    github_repo: str | None = Field(None, validation_alias=_env("AGENTOPS_GITHUB_REPO"))
    github_base_url: str = Field(
        "https://api.github.com", validation_alias=_env("AGENTOPS_GITHUB_BASE_URL")
    )

    # --- email --------------------------------------------------------------------------
    smtp_host: str | None = Field(None, validation_alias=_env("AGENTOPS_SMTP_HOST"))
    smtp_port: int = Field(587, gt=0, lt=65536, validation_alias=_env("AGENTOPS_SMTP_PORT"))
    smtp_user: str | None = Field(None, validation_alias=_env("AGENTOPS_SMTP_USER"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_env("AGENTOPS_SMTP_PASSWORD"))
    smtp_starttls: bool = Field(True, validation_alias=_env("AGENTOPS_SMTP_STARTTLS"))
    email_from: str = Field("agentops@localhost", validation_alias=_env("AGENTOPS_EMAIL_FROM"))

    # --- the model registry (rollback and promotion) --------------------------------------
    registry: Literal["table", "command", "webhook", "mlflow"] = Field(
        "table", validation_alias=_env("AGENTOPS_REGISTRY")
    )
    registry_command: str | None = Field(None, validation_alias=_env("AGENTOPS_REGISTRY_COMMAND"))
    registry_webhook: str | None = Field(None, validation_alias=_env("AGENTOPS_REGISTRY_WEBHOOK"))
    registry_mlflow_uri: str | None = Field(
        None, validation_alias=_env("AGENTOPS_REGISTRY_MLFLOW_URI")
    )
    registry_alias: str = Field("champion", validation_alias=_env("AGENTOPS_REGISTRY_ALIAS"))
    registry_timeout_s: float = Field(
        60.0, gt=0, le=3600, validation_alias=_env("AGENTOPS_REGISTRY_TIMEOUT")
    )

    # --- executors ----------------------------------------------------------------------
    retrain_command: str | None = Field(None, validation_alias=_env("AGENTOPS_RETRAIN_COMMAND"))
    retrain_webhook: str | None = Field(None, validation_alias=_env("AGENTOPS_RETRAIN_WEBHOOK"))
    scale_command: str | None = Field(None, validation_alias=_env("AGENTOPS_SCALE_COMMAND"))
    scale_webhook: str | None = Field(None, validation_alias=_env("AGENTOPS_SCALE_WEBHOOK"))

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("database_url", "state_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if not scheme:
            raise ValueError("expected a SQLAlchemy URL such as sqlite:///path or snowflake://...")
        return value.strip()

    @field_validator("github_repo")
    @classmethod
    def _check_repo(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError("expected owner/name")
        return value

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value != "offline" and ":" not in value:
            raise ValueError("expected 'offline' or provider:model, e.g. openai:gpt-4o-mini")
        return value

    # --- derived ------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        """The store's URL: AGENTOPS_DATABASE_URL, else a SQLite file in AGENTOPS_HOME."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'agentops.db').resolve()}"

    @property
    def resolved_state_url(self) -> str:
        """The state store's URL (ledger, outbox, claims, checkpoints): AGENTOPS_STATE_URL,
        else a SQLite file `state.db` in AGENTOPS_HOME."""
        if self.state_url:
            return self.state_url
        return f"sqlite:///{(self.home / 'state.db').resolve()}"

    @property
    def resolved_model(self) -> str:
        """`offline` unless a model is configured; with only an OpenAI key, a small OpenAI model."""
        if self.model:
            return self.model
        return "openai:gpt-4o-mini" if self.openai_api_key else "offline"

    @property
    def resolved_config_file(self) -> Path | None:
        """AGENTOPS_CONFIG, else `config.yaml` in AGENTOPS_HOME when it exists."""
        if self.config_file is not None:
            if not self.config_file.is_file():
                raise ConfigError(f"AGENTOPS_CONFIG: no such file: {self.config_file}")
            return self.config_file
        default = self.home / "config.yaml"
        return default if default.is_file() else None

    @property
    def resolved_runbooks_dir(self) -> Path:
        """AGENTOPS_RUNBOOKS_DIR, else the project's `runbooks/` beside the package."""
        if self.runbooks_dir is not None:
            return self.runbooks_dir
        return Path(__file__).resolve().parent.parent / "runbooks"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def postmortem_dir(self) -> Path:
        return self.home / "postmortems"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Read the environment (plus explicit overrides by field name); ConfigError if bad."""
        by_alias = {_variable_for(name): value for name, value in overrides.items()}
        try:
            return cls(**by_alias)  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            raise ConfigError(f"{_variable_for(field)}: {first['msg']}") from None


def _variable_for(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices) and alias.choices:
        return str(alias.choices[0])
    return field
