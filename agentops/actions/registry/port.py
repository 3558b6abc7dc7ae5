"""The `ModelRegistry` port: what rollback and promotion need from the system that decides
which version of a model serves, and the records it answers with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from agentops.errors import IntegrationError

VersionStatus = Literal["good", "bad"]


class RegistryError(IntegrationError):
    """The registry could not do or report something: a command exited non-zero, a webhook
    answered non-2xx or timed out, MLflow refused, the version is unknown. The message is one
    line a person can act on."""


@dataclass(frozen=True)
class RegistryVersion:
    """One version in a registry's history."""

    version: str
    promoted_at: datetime | None
    status: VersionStatus
    source: str  # where this entry was read (the registry's name), for messages


@dataclass(frozen=True)
class RegistryChange:
    """What a registry answered after being told to serve a version."""

    model: str
    previous_version: str | None
    serving_version: str
    detail: str


class ModelRegistry(Protocol):
    """The serving side of a model: who serves now, what served before, and how to switch.

    Adapters raise `RegistryError` for every failure that comes from the outside; anything
    else is a bug."""

    @property
    def name(self) -> str:
        """How messages name this registry, e.g. "webhook https://deploy.example.com/hook"."""
        ...

    def serving_version(self, model: str) -> str | None:
        """The version serving `model` now, read from the serving side; None if none is."""
        ...

    def history(self, model: str) -> list[RegistryVersion]:
        """The versions of `model` the registry knows, newest first; [] when it keeps none."""
        ...

    def set_serving(
        self,
        model: str,
        version: str,
        *,
        reason: str,
        actor: str,
        mark_replaced_bad: bool = False,
    ) -> RegistryChange:
        """Make `version` serve `model`. A rollback marks the version it replaces bad (so no
        later rollback picks it); a promotion leaves it as it was."""
        ...

    def describe(self) -> dict[str, str]:
        """Its kind and settings (no secrets), for `agentops doctor`. Reaches nothing."""
        ...


def shown_uri(uri: str) -> str:
    """A URI fit for messages: no user:password, no query or fragment (tokens ride there)."""
    netloc = urlsplit(uri).netloc
    if "@" in netloc:
        uri = uri.replace(netloc, netloc.rsplit("@", 1)[-1], 1)
    return uri.split("?", 1)[0].split("#", 1)[0]
