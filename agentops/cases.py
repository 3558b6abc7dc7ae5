"""The eval-case file of CONTRACT.md: parsed, validated, and loaded into a store.

`agentops db load-case` and the eval runner both go through `read_case` and `load_case`.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agentops.clock import parse_instant
from agentops.domain import (
    ActionType,
    AlertType,
    EscalationTarget,
    IncidentStatus,
    RootCauseCategory,
    Severity,
)
from agentops.errors import DataError
from agentops.store.load import load_tables


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedRootCause(_Strict):
    category: RootCauseCategory | None = None
    mentions: list[str] = Field(default_factory=list)


class ExpectedActions(_Strict):
    include: list[ActionType] = Field(default_factory=list)
    exclude: list[ActionType] = Field(default_factory=list)


class Expect(_Strict):
    """Every key a case gives is scored; omitted keys (None) are not."""

    incident: bool | None = None
    severity: Severity | None = None
    alert_types: list[AlertType] | None = None
    root_cause: ExpectedRootCause | None = None
    actions: ExpectedActions | None = None
    executed: list[ActionType] | None = None
    escalate_to: list[EscalationTarget] | None = None
    # second wave: the incident's status after the last pass (one word or acceptable words)
    status: list[IncidentStatus] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class LaterPass(_Strict):
    """A further scheduler pass: its clock and the rows that arrived by then."""

    at: datetime
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    @field_validator("at", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> datetime:
        return parse_instant(value, what="later.at")

    @field_validator("tables", mode="before")
    @classmethod
    def _no_null_tables(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if v is not None else []) for k, v in value.items()}
        return value


class Case(_Strict):
    id: str
    tags: list[str] = Field(default_factory=list)
    now: datetime
    model: str | None = None
    description: str = ""
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    approvals: dict[ActionType, Literal["approve", "reject", "wait"]] = Field(default_factory=dict)
    later: list[LaterPass] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)

    @field_validator("now", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> datetime:
        return parse_instant(value, what="now")

    @field_validator("tables", mode="before")
    @classmethod
    def _no_null_tables(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if v is not None else []) for k, v in value.items()}
        return value

    def decision_for(self, action: ActionType) -> Literal["approve", "reject", "wait"]:
        """How this case answers an approval request (default: approve; wait: nobody
        answers)."""
        return self.approvals.get(action, "approve")

    @model_validator(mode="after")
    def _later_in_order(self) -> Case:
        clocks = [self.now, *(p.at for p in self.later)]
        if any(b <= a for a, b in itertools.pairwise(clocks)):
            raise ValueError("later[].at must come after `now` and after each other, in order")
        return self


def read_case(path: Path) -> Case:
    """Parse `case.yaml` (or a folder holding one); DataError naming the file and the key."""
    file = path / "case.yaml" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{file}: no such case file")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{file}: expected a mapping at the top level")
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{file}: {where}: {first['msg']}") from None


def load_case(engine: sa.Engine, case: Case) -> dict[str, int]:
    """Load the case's `tables:` block into the store in one transaction."""
    return load_tables(engine, case.tables)
