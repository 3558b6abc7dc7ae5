"""Model registries: where rollback and promotion change which version serves a model.

The `ModelRegistry` port has four adapters:
    table     agentops's MODEL_REGISTRY table with DEPLOYMENTS (the default; the demo's)
    command   a team's command, run without a shell, JSON on stdin and stdout
    webhook   a URL taking JSON POSTs and answering JSON
    mlflow    the MLflow Model Registry: an alias (default `champion`) names the serving
              version (optional extra: pip install 'agentops[mlflow]')

Seams:
    build_registry(kind, *, engine=, command=, webhook=, mlflow_uri=, alias=, timeout_s=)
    registry_for(settings, *, engine=, clock=)  (the adapter AGENTOPS_REGISTRY chooses)
    plan_rollback(conn, registry, model, *, to_version=None) -> RollbackPlan | RollbackRefusal
    execute_rollback(registry, plan, *, reason, actor) -> ServingOutcome
    promote(registry, model, version, *, reason, actor) -> ServingOutcome
Failures from the outside come back as `ok=False` outcomes or refusals with a one-line
reason; `ConfigError` is raised only while building.
"""

from __future__ import annotations

from agentops.actions.registry.build import (
    SETTING_NAMES,
    RegistryKind,
    build_registry,
    registry_for,
)
from agentops.actions.registry.mlflow_registry import MlflowRegistry
from agentops.actions.registry.port import (
    ModelRegistry,
    RegistryChange,
    RegistryError,
    RegistryVersion,
)
from agentops.actions.registry.remote import CommandRegistry, WebhookRegistry
from agentops.actions.registry.rollback import (
    RollbackPlan,
    RollbackRefusal,
    ServingOutcome,
    execute_rollback,
    plan_rollback,
    promote,
)
from agentops.actions.registry.table import TableRegistry

__all__ = [
    "SETTING_NAMES",
    "CommandRegistry",
    "MlflowRegistry",
    "ModelRegistry",
    "RegistryChange",
    "RegistryError",
    "RegistryKind",
    "RegistryVersion",
    "RollbackPlan",
    "RollbackRefusal",
    "ServingOutcome",
    "TableRegistry",
    "WebhookRegistry",
    "build_registry",
    "execute_rollback",
    "plan_rollback",
    "promote",
    "registry_for",
]
