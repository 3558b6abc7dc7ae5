"""The runbook's severity thresholds (CONTRACT.md), with per-model overrides.

Defaults come from the runbook's severity table. The policy file (AGENTOPS_CONFIG, else
$AGENTOPS_HOME/config.yaml) may override them in its `thresholds:` section:

    thresholds:
      default: {psi_p2: 0.35}              # every model
      models:
        classifier_v2: {f1_p1: 0.75}       # one model, on top of `default`
        fraud_scorer_v3: {label_delay: 21d}  # labels (chargebacks) arrive three weeks late

Every value is validated when the file is read; a P2 drift threshold at or below the P3 one
is an error naming the key, since it would make P3 drift unreachable.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agentops.config import load_config
from agentops.errors import ConfigError
from agentops.settings import Settings


class Thresholds(BaseModel):
    """One model's thresholds. Comparisons follow the runbook's wording exactly:
    `f1 < f1_p1`, `error_rate > error_rate_p1`, `psi > psi_p2`, `psi_p3 <= psi <= psi_p2`,
    `latency_p99_ms > latency_p99_p2_ms`, `null_rate > null_rate_p2`."""

    # strict: `f1_p1: true` or `psi_p2: "0.3"` is an error naming the key, not 1.0 / 0.3
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    f1_p1: float = Field(0.70, ge=0, le=1, description="P1 when f1 is below this")
    error_rate_p1: float = Field(0.10, ge=0, le=1, description="P1 when error_rate is above")
    psi_p2: float = Field(0.3, gt=0, description="P2 drift when psi is above this")
    psi_p3: float = Field(0.2, gt=0, description="P3 drift when psi is at least this")
    latency_p99_p2_ms: float = Field(2000.0, gt=0, description="P2 when p99 is above this")
    null_rate_p2: float = Field(0.10, ge=0, le=1, description="P2 when null_rate is above")
    latency_increase_p3: float = Field(
        1.5, gt=1, description="P3 when p99 >= this x its trailing median (and <= the P2 line)"
    )
    latency_history_windows: int = Field(
        24, ge=1, le=1000, description="windows in the trailing median"
    )
    latency_min_history: int = Field(
        1, ge=1, le=1000, description="fewer earlier windows with a p99: no P3 latency alert"
    )
    lookback_hours: float = Field(
        168.0,
        gt=0,
        description="a table's latest window must have ended within this many hours of now; "
        "older data is stale and raises nothing",
    )
    flap_cooldown_hours: float = Field(
        6.0, ge=0, description="a breach this soon after its incident was resolved reopens it"
    )
    stale_after_hours: float = Field(
        3.0,
        gt=0,
        validation_alias=AliasChoices("stale_after", "stale_after_hours"),
        description="no_data (P2) when the newest complete MODEL_METRICS window ended longer "
        "ago than this; in the policy file `stale_after: 3h` (h, m or d; a number is hours)",
    )
    label_delay_hours: float = Field(
        0.0,
        ge=0,
        validation_alias=AliasChoices("label_delay", "label_delay_hours"),
        description="how long the model's labels take to arrive (fraud: chargebacks, weeks); "
        "retraining uses only windows whose labels have matured, i.e. ended this long before "
        "the job starts; in the policy file `label_delay: 21d` (h, m or d; a number is hours)",
    )
    storm_min_models: int = Field(
        5,
        ge=2,
        le=10_000,
        description="this many new incidents with one upstream cause in a pass are one storm: "
        "a parent incident pages once for all of them",
    )
    recovery_windows: int = Field(
        2,
        ge=1,
        le=100,
        description="resolved only after this many consecutive healthy complete windows "
        "ending after the remediation",
    )

    @field_validator("stale_after_hours", "label_delay_hours", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hmd])\s*", value)
            if not found:
                raise ValueError(f"expected a duration such as 3h, 90m or 1d, got {value!r}")
            amount, unit = float(found.group(1)), found.group(2)
            return amount * {"h": 1.0, "m": 1 / 60, "d": 24.0}[unit]
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.psi_p2 <= self.psi_p3:
            raise ValueError(
                f"psi_p2 ({self.psi_p2}) must be above psi_p3 ({self.psi_p3}): "
                "P2 drift is the stronger condition"
            )
        if self.latency_min_history > self.latency_history_windows:
            raise ValueError("latency_min_history must not exceed latency_history_windows")
        return self


class ThresholdSet(BaseModel):
    """Thresholds for every model: `default`, and per-model overrides on top of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Thresholds = Field(default_factory=Thresholds)
    models: dict[str, Thresholds] = Field(default_factory=dict)

    def for_model(self, model_name: str) -> Thresholds:
        return self.models.get(model_name, self.default)

    def all(self) -> list[Thresholds]:
        """Every distinct threshold set in use (the SQL prefilter takes the loosest)."""
        return [self.default, *self.models.values()]


# keys that only mean something for the fleet as a whole: refused under one model
FLEET_WIDE = frozenset({"storm_min_models"})


def parse_threshold_section(section: Any, *, source: str = "thresholds") -> ThresholdSet:
    """A `ThresholdSet` from the policy file's `thresholds:` mapping; ConfigError naming the
    key (e.g. `thresholds.models.classifier_v2.psi_p2`) when a value is wrong."""
    if section is None:
        return ThresholdSet()
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: expected a mapping with `default` and/or `models`")
    unknown = sorted(set(section) - {"default", "models"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; expected `default` and `models`")
    base_raw = section.get("default") or {}
    default = _thresholds(base_raw, {}, f"{source}.default")
    models_raw = section.get("models") or {}
    if not isinstance(models_raw, dict):
        raise ConfigError(f"{source}.models: expected a mapping of model name to thresholds")
    for name, raw in models_raw.items():
        if isinstance(raw, dict) and FLEET_WIDE & set(raw):
            [key] = sorted(FLEET_WIDE & set(raw))[:1]
            raise ConfigError(
                f"{source}.models.{name}.{key}: a storm spans models, so this is fleet-wide: "
                f"set it under `{source}.default`"
            )
    models = {
        str(name): _thresholds(base_raw, raw or {}, f"{source}.models.{name}")
        for name, raw in models_raw.items()
    }
    return ThresholdSet(default=default, models=models)


def _thresholds(base: Any, override: Any, where: str) -> Thresholds:
    if not isinstance(base, dict) or not isinstance(override, dict):
        raise ConfigError(f"{where}: expected a mapping of threshold name to value")
    try:
        return Thresholds.model_validate({**base, **override})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if not key and "psi_p2" in message:
            key = "psi_p2"
        elif not key:
            key = "latency_min_history"
        raise ConfigError(f"{where}.{key}: {message}") from None


def load_threshold_set(settings: Settings) -> ThresholdSet:
    """Every model's thresholds from the policy file (defaults when it has none)."""
    return parse_threshold_section(load_config(settings).get("thresholds"))


def load_thresholds(settings: Settings, model_name: str) -> Thresholds:
    """One model's thresholds: its override, else the file's default, else CONTRACT.md's."""
    return load_threshold_set(settings).for_model(model_name)
