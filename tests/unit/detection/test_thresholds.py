"""Thresholds: the contract's defaults, per-model overrides from the policy file, validation."""

from __future__ import annotations

import pytest

from agentops.detection import Thresholds, load_threshold_set, load_thresholds
from agentops.errors import ConfigError
from agentops.settings import Settings


def _settings(tmp_path, text: str | None) -> Settings:
    if text is None:
        return Settings.load(home=tmp_path)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return Settings.load(home=tmp_path, config_file=path)


def test_defaults_are_the_contracts(tmp_path) -> None:
    t = load_thresholds(_settings(tmp_path, None), "classifier_v2")
    assert (t.f1_p1, t.error_rate_p1, t.psi_p2, t.psi_p3) == (0.70, 0.10, 0.3, 0.2)
    assert (t.latency_p99_p2_ms, t.null_rate_p2, t.latency_increase_p3) == (2000, 0.10, 1.5)


def test_model_override_sits_on_top_of_the_files_default(tmp_path) -> None:
    cfg = _settings(
        tmp_path,
        "thresholds:\n  default: {f1_p1: 0.75}\n  models:\n    classifier_v2: {psi_p2: 0.35}\n",
    )
    mine = load_thresholds(cfg, "classifier_v2")
    other = load_thresholds(cfg, "churn_v1")
    assert (mine.f1_p1, mine.psi_p2) == (0.75, 0.35)
    assert (other.f1_p1, other.psi_p2) == (0.75, 0.3)
    assert set(load_threshold_set(cfg).models) == {"classifier_v2"}


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "thresholds:\n  models:\n    classifier_v2: {psi_p2: 0.15}\n",
            r"thresholds\.models\.classifier_v2\.psi_p2: .*must be above psi_p3",
        ),
        ("thresholds:\n  default: {f1_p1: 1.5}\n", r"thresholds\.default\.f1_p1"),
        ("thresholds:\n  default: {psi_p4: 0.1}\n", r"thresholds\.default\.psi_p4"),
        ("thresholds:\n  defaults: {}\n", r"unknown key\(s\) \['defaults'\]"),
        ("thresholds: [1, 2]\n", r"expected a mapping"),
        (  # a storm spans models: a per-model size would be silently ignored
            "thresholds:\n  models:\n    classifier_v2: {storm_min_models: 3}\n",
            r"thresholds\.models\.classifier_v2\.storm_min_models: .*fleet-wide",
        ),
    ],
)
def test_bad_thresholds_name_the_key(tmp_path, yaml_text, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_threshold_set(_settings(tmp_path, yaml_text))


def test_p2_drift_must_stay_above_p3() -> None:
    with pytest.raises(ValueError, match="psi_p2"):
        Thresholds(psi_p2=0.2, psi_p3=0.2)
