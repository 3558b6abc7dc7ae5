"""Planner and executor share one parameters type per action (`agentops.params`): what the
planner writes is exactly what the executor reads, per cause, and a field nobody reads fails
where it is written (the first wave's planner wrote `train_days`, its executor read
`lookback_days`, and nothing noticed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agentops.agents import diagnose_by_rules, plan_by_rules
from agentops.detection.thresholds import parse_threshold_section
from agentops.domain import Action, ActionPlan, ActionType, RootCauseCategory
from agentops.errors import ConfigError
from agentops.params import PARAMS, RetrainParams, RollbackParams
from agentops.settings import Settings

from .conftest import World

A = ActionType


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (A.retrain_model, {"train_days": 30}),  # the first wave's planner's name
        (A.retrain_model, {"include_recent": True}),
        (A.retrain_model, {"lookback_days": "a month"}),
        (A.retrain_model, {"mode": "retrain_everything"}),
        (A.rollback_model, {"version": "2.2.0"}),
        (A.scale_infrastructure, {"replicas": 0}),
        (A.escalate, {"reason": "approval_rejected"}),
        (A.notify_slack, {"channel": "#ml-alerts"}),
    ],
)
def test_an_action_with_a_parameter_its_executor_does_not_read_is_refused(
    kind: ActionType, params: dict[str, object]
) -> None:
    with pytest.raises(ValidationError, match=f"{kind.value} params"):
        Action(type=kind, target="classifier_v2", params=params)


def test_the_plan_for_every_category_is_what_the_executor_reads(
    worlds: dict[str, World],
) -> None:
    categories, modes = set(), {}
    for world in worlds.values():
        diagnosis = diagnose_by_rules(world.incident, world.evidence, "")
        categories.add(diagnosis.category)
        for action in plan_by_rules(world.incident, diagnosis, evidence=world.evidence).actions:
            read = PARAMS[action.type.value].of(action)  # the executor's reader
            assert read.wire() == action.params, (diagnosis.category, action.type)
            if action.type is A.retrain_model:
                modes[diagnosis.category] = RetrainParams.of(action).mode
    assert len(categories) >= 6, categories  # the scenarios cover the categories
    assert modes == {
        RootCauseCategory.upstream_data_change: "after_upstream_fix",
        RootCauseCategory.concept_drift: "recent_weighted",
    }


def test_retrain_params_per_cause(worlds: dict[str, World]) -> None:
    upstream = _retrain(worlds["upstream_data_change"])
    assert upstream.pipeline == "transactions_etl"  # the run the diagnosis cites
    assert upstream.exclude_start is not None
    assert upstream.exclude_start.isoformat() == "2026-11-20T06:30:00+00:00"  # its start
    assert upstream.exclude_end is None  # until the fix, which has not come yet
    drift = _retrain(worlds["concept_drift"])
    # the drifted data is the new concept: nothing recent is left out, the last week weighs more
    assert (drift.exclude_start, drift.exclude_end) == (None, None)
    assert drift.recent_weight > 1 and drift.recent_days == 7
    rollback = next(
        RollbackParams.of(a)
        for a in _plan(worlds["bad_deployment"]).actions
        if a.type is A.rollback_model
    )
    assert (rollback.from_version, rollback.to_version) == ("2.4.0", "2.3.0")


def test_the_models_label_delay_from_the_policy_file_reaches_the_plan_and_its_facts(
    worlds: dict[str, World], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("thresholds:\n  models:\n    classifier_v2: {label_delay: 21d}\n")
    world = worlds["concept_drift"]
    settings = Settings.load(
        home=tmp_path / "home", config_file=config, database_url=str(world.engine.url)
    )
    retrain = next(a for a in _plan(world, settings).actions if a.type is A.retrain_model)
    assert RetrainParams.of(retrain).label_delay_hours == 21 * 24
    assert retrain.facts is not None
    assert retrain.facts.data["train_end"] == "2026-10-30T12:00:00Z"  # 21 days before now
    assert any("take 21 d" in line for line in retrain.facts.lines)
    # without the setting the same model's labels count at once
    plain = Settings.load(home=tmp_path / "home2", database_url=str(world.engine.url))
    again = next(a for a in _plan(world, plain).actions if a.type is A.retrain_model)
    assert RetrainParams.of(again).label_delay_hours == 0


def _plan(world: World, settings: Settings | None = None) -> ActionPlan:
    diagnosis = diagnose_by_rules(world.incident, world.evidence, "")
    return plan_by_rules(world.incident, diagnosis, evidence=world.evidence, settings=settings)


def _retrain(world: World) -> RetrainParams:
    return next(RetrainParams.of(a) for a in _plan(world).actions if a.type is A.retrain_model)


def test_label_delay_is_a_duration_per_model_like_stale_after() -> None:
    section = {"default": {"label_delay": "36h"}, "models": {"fraud": {"label_delay": "21d"}}}
    limits = parse_threshold_section(section)
    assert limits.for_model("fraud").label_delay_hours == 21 * 24
    assert limits.for_model("other").label_delay_hours == 36
    assert parse_threshold_section(None).default.label_delay_hours == 0
    with pytest.raises(ConfigError, match=r"thresholds\.models\.fraud\.label_delay: expected"):
        parse_threshold_section({"models": {"fraud": {"label_delay": "3 weeks"}}})
