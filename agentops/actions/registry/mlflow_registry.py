"""The MLflow Model Registry as the registry: an alias (default `champion`) names the version
that serves; a rollback moves the alias and tags the version it replaces.

The `mlflow` client is an optional extra (`pip install 'agentops[mlflow]'`), imported only
when this adapter is built. Timeouts and retries of a remote tracking server are MLflow's
own (MLFLOW_HTTP_REQUEST_TIMEOUT, MLFLOW_HTTP_REQUEST_MAX_RETRIES).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from agentops.actions.registry.port import (
    RegistryChange,
    RegistryError,
    RegistryVersion,
    shown_uri,
)
from agentops.errors import ConfigError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

MLFLOW_MISSING = (
    "the mlflow registry needs the MLflow client, which is not installed: "
    "pip install 'agentops[mlflow]'"
)
# Tags agentops writes on model versions; `status` = bad keeps a version out of rollbacks.
STATUS_TAG = "agentops.status"
REPLACED_BY_TAG = "agentops.replaced_by"
REASON_TAG = "agentops.reason"
ACTOR_TAG = "agentops.actor"
_PAGE = 1000
# The metrics a retraining run logs for the promotion gate (`current_<name>` for the model
# that serves, on the same holdout).
SCORES = ("f1", "precision", "recall")


class MlflowRegistry:
    """A registered model's versions in MLflow; the alias says which one serves."""

    def __init__(
        self, tracking_uri: str, *, registry_uri: str | None = None, alias: str = "champion"
    ) -> None:
        try:
            from mlflow import MlflowClient
            from mlflow.exceptions import MlflowException
        except ImportError:
            raise ConfigError(MLFLOW_MISSING) from None
        if _is_database(tracking_uri) or _is_database(registry_uri or tracking_uri):
            try:
                import alembic  # noqa: F401  - MLflow's SQL stores migrate with it
            except ImportError:
                raise ConfigError(MLFLOW_MISSING) from None
        self._tracking_uri = tracking_uri
        self._registry_uri = registry_uri or tracking_uri
        self._alias = alias
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=self._registry_uri)
        # What the client raises for a refusal, an unknown name or version, or a transport
        # failure (it wraps HTTP errors); its SQL stores can let SQLAlchemy's through.
        self._outside_errors: tuple[type[Exception], ...] = (
            MlflowException,
            sa.exc.SQLAlchemyError,
        )
        self.name = f"MLflow registry {shown_uri(self._registry_uri)} (alias {alias!r})"

    def describe(self) -> dict[str, str]:
        return {
            "kind": "mlflow",
            "tracking_uri": shown_uri(self._tracking_uri),
            "registry_uri": shown_uri(self._registry_uri),
            "alias": self._alias,
        }

    def serving_version(self, model: str) -> str | None:
        with self._translated(f"reading the {self._alias!r} alias of {model}"):
            registered = self._client.get_registered_model(model)
        aliases = dict(registered.aliases or {})
        version = aliases.get(self._alias)
        return str(version) if version is not None else None

    def history(self, model: str) -> list[RegistryVersion]:
        if "'" in model:
            raise RegistryError(f"{self.name}: cannot search for a model name with a quote")
        found: list[ModelVersion] = []
        page_token: str | None = None
        with self._translated(f"listing the versions of {model}"):
            while True:
                page = self._client.search_model_versions(
                    f"name = '{model}'", max_results=_PAGE, page_token=page_token
                )
                found.extend(page)
                page_token = page.token
                if not page_token:
                    break
        found.sort(key=lambda v: int(v.version), reverse=True)
        return [
            RegistryVersion(
                version=str(v.version),
                promoted_at=_from_millis(v.creation_timestamp),
                status="bad" if (v.tags or {}).get(STATUS_TAG) == "bad" else "good",
                source=self.name,
            )
            for v in found
        ]

    def set_serving(
        self,
        model: str,
        version: str,
        *,
        reason: str,
        actor: str,
        mark_replaced_bad: bool = False,
    ) -> RegistryChange:
        """Point the alias at `version` (which must exist); tag the replaced version bad on
        a rollback; clear a `bad` tag on `version`, since it serves again by decision."""
        previous = self.serving_version(model)
        with self._translated(f"moving {self._alias!r} of {model} to version {version}"):
            target = self._client.get_model_version(model, version)
            self._client.set_registered_model_alias(model, self._alias, version)
            if (target.tags or {}).get(STATUS_TAG) == "bad":
                self._client.delete_model_version_tag(model, version, STATUS_TAG)
            if mark_replaced_bad and previous is not None and previous != version:
                for key, value in (
                    (STATUS_TAG, "bad"),
                    (REPLACED_BY_TAG, version),
                    (REASON_TAG, reason[:5000]),
                    (ACTOR_TAG, actor),
                ):
                    self._client.set_model_version_tag(model, previous, key, value)
        return RegistryChange(
            model=model,
            previous_version=previous,
            serving_version=version,
            detail=f"MLflow alias {self._alias!r} of {model} moved to version {version}"
            + (
                f"; version {previous} tagged {STATUS_TAG}=bad"
                if mark_replaced_bad and previous not in (None, version)
                else ""
            ),
        )

    def run_scores(self, model: str, run_id: str) -> dict[str, Any]:
        """What a retraining run logged, for the promotion gate: the candidate's metrics
        (`f1`, `precision`, `recall`) and the serving model's on the same holdout
        (`current_f1`, `current_precision`, `current_recall`), and the version of `model`
        registered from the run (None if none was)."""
        if "'" in run_id:
            raise RegistryError(f"{self.name}: cannot search for a run id with a quote")
        with self._translated(f"reading run {run_id}"):
            run = self._client.get_run(run_id)
            registered = self._client.search_model_versions(f"run_id = '{run_id}'")
        metrics = dict(run.data.metrics or {})
        versions = sorted((int(v.version) for v in registered if v.name == model), reverse=True)
        return {
            "candidate": {k: metrics.get(k) for k in SCORES},
            "current": {k: metrics.get(f"current_{k}") for k in SCORES},
            "candidate_version": str(versions[0]) if versions else None,
        }

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._outside_errors as exc:
            lines = str(getattr(exc, "message", None) or exc).strip().splitlines()
            first = lines[0] if lines else type(exc).__name__
            raise RegistryError(f"{self.name}: {doing} failed: {first}") from None


def _is_database(uri: str) -> bool:
    """A SQL URI (sqlite:///..., postgresql+psycopg2://...) rather than http(s) or a folder."""
    scheme = urlsplit(uri).scheme.split("+", 1)[0]
    return scheme in {"sqlite", "postgresql", "mysql", "mssql"}


def _from_millis(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None
