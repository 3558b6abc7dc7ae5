"""Rollback and promotion through a `ModelRegistry`: choose the target, switch, and verify
by reading the serving side back through the same adapter.

The rollback target, in order: the version asked for; else the newest good version older
than the serving one in the registry's history; else the `previous_version` of the newest
DEPLOYMENTS row that deployed the serving version. A refusal names what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from agentops.actions.registry.port import ModelRegistry, RegistryError, RegistryVersion
from agentops.actions.registry.table import deployments_newest_first
from agentops.store import queries


@dataclass(frozen=True)
class RollbackPlan:
    model: str
    from_version: str | None  # the serving version (the newest deployment's if none reported)
    to_version: str
    target_source: str  # why this target, for the approval message and the ledger

    def describe(self) -> str:
        return (
            f"roll {self.model} back {self.from_version or '(serving version unknown)'} -> "
            f"{self.to_version} ({self.target_source})"
        )


@dataclass(frozen=True)
class RollbackRefusal:
    model: str
    reason: str


@dataclass(frozen=True)
class ServingOutcome:
    """The result of a rollback or a promotion; `ok` only once the read-back agreed."""

    ok: bool
    detail: str
    model: str
    from_version: str | None
    to_version: str
    registry: str

    @property
    def data(self) -> dict[str, str | None]:
        """What the ledger keeps next to the detail."""
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "registry": self.registry,
        }


def plan_rollback(
    conn: sa.Connection, registry: ModelRegistry, model: str, *, to_version: str | None = None
) -> RollbackPlan | RollbackRefusal:
    """Choose the version to roll `model` back to. `conn` reads DEPLOYMENTS in the
    monitoring store; the registry is read through its adapter."""
    try:
        serving = registry.serving_version(model)
        history = registry.history(model)
    except RegistryError as exc:
        return RollbackRefusal(model, f"cannot plan a rollback of {model}: {exc}")
    deployed = deployments_newest_first(conn, model)
    current = serving or (str(deployed[0]["model_version"]) if deployed else None)

    if to_version is not None:
        if to_version == current:
            return RollbackRefusal(
                model, f"{model} {to_version} is already serving ({registry.name})"
            )
        return RollbackPlan(model, current, to_version, "the version asked for")

    from_history, registry_note = _older_good_version(registry.name, history, current)
    if from_history is not None:
        return RollbackPlan(model, current, from_history, f"{registry.name} history")
    bad = {v.version for v in history if v.status == "bad"}
    from_deployments, deployments_note = _previous_deployed(
        deployed, model, current, bad, registry.name
    )
    if from_deployments is not None:
        return RollbackPlan(model, current, *from_deployments)
    return RollbackRefusal(
        model,
        f"no earlier version of {model} is known: {registry_note} and {deployments_note}",
    )


def execute_rollback(
    registry: ModelRegistry, plan: RollbackPlan, *, reason: str, actor: str
) -> ServingOutcome:
    """Switch to the plan's version, marking the replaced one bad, then read it back."""
    return _switch(
        registry,
        plan.model,
        plan.to_version,
        plan.from_version,
        reason=reason,
        actor=actor,
        rollback=True,
    )


def promote(
    registry: ModelRegistry, model: str, version: str, *, reason: str, actor: str
) -> ServingOutcome:
    """Make `version` serve `model` (the retrain gate's last step), then read it back. The
    replaced version keeps its status."""
    try:
        current = registry.serving_version(model)
    except RegistryError as exc:
        return ServingOutcome(
            False,
            f"promotion of {model} {version} failed: {exc}",
            model,
            None,
            version,
            registry.name,
        )
    if current == version:
        return ServingOutcome(
            True,
            f"{model} {version} already serves ({registry.name}); nothing changed",
            model,
            current,
            version,
            registry.name,
        )
    return _switch(registry, model, version, current, reason=reason, actor=actor, rollback=False)


def _switch(
    registry: ModelRegistry,
    model: str,
    version: str,
    from_version: str | None,
    *,
    reason: str,
    actor: str,
    rollback: bool,
) -> ServingOutcome:
    what = "rollback" if rollback else "promotion"

    def failed(detail: str) -> ServingOutcome:
        return ServingOutcome(False, detail, model, from_version, version, registry.name)

    try:
        change = registry.set_serving(
            model, version, reason=reason, actor=actor, mark_replaced_bad=rollback
        )
    except RegistryError as exc:
        return failed(f"{what} of {model} to {version} failed: {exc}")
    if change.serving_version != version:
        return failed(
            f"{what} of {model} not verified: asked {registry.name} to serve {version}, "
            f"it answered that {change.serving_version} serves"
        )
    try:
        observed = registry.serving_version(model)
    except RegistryError as exc:
        return failed(f"{what} of {model} to {version} not verified: reading it back failed: {exc}")
    if observed != version:
        return failed(
            f"{what} of {model} not verified: asked {registry.name} to serve {version}, "
            f"reading it back reports {observed or 'no version'} serving"
        )
    replaced = from_version or change.previous_version or "(unknown)"
    verb = "rolled back" if rollback else "promoted"
    return ServingOutcome(
        True,
        f"{model} {verb} {replaced} -> {version} through {registry.name} ({change.detail}); "
        f"verified: reading it back reports {version} serving",
        model,
        from_version or change.previous_version,
        version,
        registry.name,
    )


def _older_good_version(
    name: str, history: list[RegistryVersion], current: str | None
) -> tuple[str | None, str]:
    """The newest good version listed after the serving one, or why there is none."""
    if not history:
        return None, f"{name} has no history"
    versions = [v.version for v in history]
    if current is None:
        return None, f"{name} reports no serving version"
    if current not in versions:
        return None, f"{name} does not list the serving version {current}"
    for entry in history[versions.index(current) + 1 :]:
        if entry.status == "good" and entry.version != current:
            return entry.version, ""
    return None, f"{name} has no good version older than {current}"


def _previous_deployed(
    deployed: list[queries.Row],
    model: str,
    current: str | None,
    bad: set[str],
    registry_name: str,
) -> tuple[tuple[str, str] | None, str]:
    """(target, source) from DEPLOYMENTS, or why there is none."""
    if not deployed:
        return None, f"DEPLOYMENTS has no row for {model}"
    rows = [r for r in deployed if current is None or str(r["model_version"]) == current]
    if not rows:
        return None, f"DEPLOYMENTS has no row deploying {model} {current}"
    named = [r for r in rows if r.get("previous_version")]
    if not named:
        return None, "DEPLOYMENTS names no previous_version"
    for row in named:
        previous = str(row["previous_version"])
        if previous != current and previous not in bad:
            return (previous, f"previous_version of DEPLOYMENTS row {row['deployment_id']}"), ""
    previous = str(named[0]["previous_version"])
    why = (
        "the serving version itself" if previous == current else f"which {registry_name} marks bad"
    )
    return None, f"DEPLOYMENTS names previous_version {previous}, {why}"
