"""Build the registry adapter a deployment chose."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import datetime
from typing import Literal, get_args

import sqlalchemy as sa

from agentops.actions.registry.mlflow_registry import MlflowRegistry
from agentops.actions.registry.port import ModelRegistry
from agentops.actions.registry.remote import DEFAULT_TIMEOUT_S, CommandRegistry, WebhookRegistry
from agentops.actions.registry.table import TableRegistry
from agentops.clock import utcnow
from agentops.errors import ConfigError
from agentops.settings import Settings

RegistryKind = Literal["table", "command", "webhook", "mlflow"]

# The settings each kind needs, by the names a user sets; messages point at them.
SETTING_NAMES = {
    "kind": "AGENTOPS_REGISTRY",
    "command": "AGENTOPS_REGISTRY_COMMAND",
    "webhook": "AGENTOPS_REGISTRY_WEBHOOK",
    "mlflow": "AGENTOPS_REGISTRY_MLFLOW_URI",
}


def build_registry(
    kind: RegistryKind,
    *,
    engine: sa.Engine | None = None,
    command: str | None = None,
    webhook: str | None = None,
    mlflow_uri: str | None = None,
    alias: str = "champion",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    clock: Callable[[], datetime] = utcnow,
) -> ModelRegistry:
    """The adapter for `kind`; ConfigError naming the missing setting. `table` (the default
    for the demo) uses the monitoring `engine` and stamps its rows with `clock` (pass the
    run's `now`); `mlflow` needs the optional MLflow client."""
    kinds = get_args(RegistryKind)
    if kind not in kinds:
        raise ConfigError(
            f"{SETTING_NAMES['kind']}: unknown registry {kind!r} (known: {', '.join(kinds)})"
        )
    if timeout_s <= 0:
        raise ConfigError(f"registry timeout must be positive, got {timeout_s!r}")
    if kind == "table":
        if engine is None:
            raise ConfigError("the table registry needs the store's engine")
        return TableRegistry(engine, clock=clock)
    if kind == "command":
        argv = _split_command(command)
        return CommandRegistry(argv, timeout_s=timeout_s)
    if kind == "webhook":
        if not webhook:
            raise ConfigError(
                f"{SETTING_NAMES['kind']}=webhook needs {SETTING_NAMES['webhook']} "
                "(the URL that takes the registry's JSON requests)"
            )
        if not webhook.startswith(("http://", "https://")):
            raise ConfigError(f"{SETTING_NAMES['webhook']}: {webhook!r} is not an http(s) URL")
        return WebhookRegistry(webhook, timeout_s=timeout_s)
    if not mlflow_uri:
        raise ConfigError(
            f"{SETTING_NAMES['kind']}=mlflow needs {SETTING_NAMES['mlflow']} "
            "(the MLflow tracking/registry URI, e.g. http://mlflow:5000 or sqlite:///mlflow.db)"
        )
    if not alias:
        raise ConfigError("the mlflow registry needs an alias name (default 'champion')")
    return MlflowRegistry(mlflow_uri, alias=alias)


def registry_for(
    settings: Settings, *, engine: sa.Engine, clock: Callable[[], datetime] = utcnow
) -> ModelRegistry:
    """The adapter the settings choose (AGENTOPS_REGISTRY and its settings)."""
    return build_registry(
        settings.registry,
        engine=engine,
        command=settings.registry_command,
        webhook=settings.registry_webhook,
        mlflow_uri=settings.registry_mlflow_uri,
        alias=settings.registry_alias,
        timeout_s=settings.registry_timeout_s,
        clock=clock,
    )


def _split_command(command: str | None) -> list[str]:
    if not command or not command.strip():
        raise ConfigError(
            f"{SETTING_NAMES['kind']}=command needs {SETTING_NAMES['command']} "
            "(a command, run without a shell, that answers the registry's JSON requests)"
        )
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"{SETTING_NAMES['command']}: cannot split {command!r}: {exc}") from None
