"""Each action type's parameters, as one typed model the planner writes, the approval request
shows, the executor reads and docs/actions.md describes.

`Action.params` stays a plain dict on the wire (graph state, the ledger, JSON payloads), but
every Action validates it against its type's model when it is built: a planner that writes a
field the executor does not know (`train_days` for `lookback_days`) fails there, not later in
production. Code builds params with these classes (`RetrainParams(...).wire()`) and reads them
with the same class (`RetrainParams.of(action)`), so a renamed field is also a type error for
mypy.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentops.errors import DataError

if TYPE_CHECKING:
    from agentops.domain import Action


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The dict `Action.params` holds: every field that has a value (defaults included,
        so what was approved does not move when a default changes), JSON types."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def of(cls, action: Action) -> Self:
        """`action.params` read as this model; DataError when the action is of another type
        or its params do not fit."""
        expected = PARAMS[action.type.value]
        if expected is not cls:
            raise DataError(
                f"{action.type.value} params are {expected.__name__}, not {cls.__name__}"
            )
        parsed = parse_params(action.type.value, action.params)
        assert isinstance(parsed, cls)
        return parsed


class NoParams(Params):
    """notify_slack, log_metrics, open_github_issue: the target says it all."""


class EscalateParams(Params):
    reason_code: str | None = Field(
        None,
        description="why this escalation (e.g. approval_rejected, sla_triage_to_investigation):"
        " a person is told once per incident and reason",
    )


class RollbackParams(Params):
    """Back from `from_version` to `to_version`; both from the evidence (the release the
    diagnosis blames, DEPLOYMENTS' previous version). Empty: the registry's previous good
    version, else DEPLOYMENTS'."""

    from_version: str | None = None
    to_version: str | None = None
    deployment_id: str | None = Field(None, description="the DEPLOYMENTS row rolled back")


RetrainMode = Literal["exclude_bad_window", "recent_weighted", "after_upstream_fix"]


class RetrainParams(Params):
    """The training data of a retraining job.

    The window ends `label_delay_hours` before the job starts (only matured labels) and
    spans `lookback_days`; it leaves out the incident's bad window [`exclude_start`,
    `exclude_end`) and every window an adversarial incident of the model poisoned. `mode`
    says why: `exclude_bad_window` (damaged or adversarial data: never train on it),
    `recent_weighted` (concept drift: the recent matured data is the new normal, so nothing
    recent is left out and the last `recent_days` are weighted by `recent_weight`),
    `after_upstream_fix` (an upstream format change: the job starts only once the fix of
    `pipeline` is confirmed, then trains on the fixed pipeline's data, leaving out the
    malformed data from `exclude_start` until the fix).
    """

    mode: RetrainMode = "exclude_bad_window"
    lookback_days: float = Field(28.0, gt=0, le=730, description="days of data in the window")
    exclude_start: datetime | None = Field(None, description="start of the bad window left out")
    exclude_end: datetime | None = Field(
        None, description="end of the bad window (after_upstream_fix: the fix, when it comes)"
    )
    label_delay_hours: float = Field(
        0.0,
        ge=0,
        description="labels younger than this are not trusted (e.g. chargebacks); the policy "
        "file's per-model `label_delay`",
    )
    recent_days: float = Field(
        7.0, gt=0, le=365, description="recent_weighted: the newest matured days weighted in"
    )
    recent_weight: float = Field(
        1.0, ge=1.0, le=10.0, description="sample weight of the recent days (1: no weighting)"
    )
    pipeline: str | None = Field(
        None, description="after_upstream_fix: the pipeline whose next successful run is the fix"
    )

    @model_validator(mode="after")
    def _window(self) -> RetrainParams:
        if self.exclude_start and self.exclude_end and self.exclude_end < self.exclude_start:
            raise ValueError("exclude_end is before exclude_start")
        return self


class ScaleParams(Params):
    component: Literal["serving", "feature_store", "batch"] = "serving"
    direction: Literal["up", "down"] = "up"
    replicas: int | None = Field(None, ge=1, le=1000, description="target replicas, if known")


PARAMS: dict[str, type[Params]] = {
    "notify_slack": NoParams,
    "log_metrics": NoParams,
    "open_github_issue": NoParams,
    "escalate": EscalateParams,
    "rollback_model": RollbackParams,
    "retrain_model": RetrainParams,
    "scale_infrastructure": ScaleParams,
}


def parse_params(action_type: str, raw: dict[str, Any]) -> Params:
    """`raw` checked against the action type's model; DataError naming the field."""
    model = PARAMS[action_type]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"{action_type} params: {problems}") from None
