"""PSI from raw samples against values worked out by hand, and its bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agentops.detection.psi import (
    EPSILON,
    categorical_psi,
    compute_psi,
    ntile_positions,
    numeric_psi,
    profile_reference,
    psi_against,
    psi_from_counts,
    quantile_edges,
    write_feature_drift,
)
from agentops.errors import DataError
from agentops.store.tables import feature_drift
from tests.conftest import NOW


def _term(c: float, r: float) -> float:
    return (c - r) * math.log(c / r)


def test_numeric_psi_by_hand_with_out_of_range_values_in_the_edge_bins() -> None:
    reference = np.arange(1.0, 11.0)  # 1..10; 5 tiles of 2 -> edges 3, 5, 7, 9
    current = [0.0, 1.0, 2.0, 3.0, 50.0, 60.0, 70.0, 80.0]  # 0 and 50+ are out of range
    result = numeric_psi("x", reference, current, bins=5)
    assert result.bins == [3.0, 5.0, 7.0, 9.0]
    assert result.current_counts == [3, 1, 0, 0, 4]
    expected = _term(3 / 8, 0.2) + _term(1 / 8, 0.2) + 2 * _term(EPSILON, 0.2) + _term(4 / 8, 0.2)
    assert result.psi == pytest.approx(expected, rel=1e-12)


def test_identical_samples_have_zero_psi_and_nans_are_left_out() -> None:
    values = np.linspace(-3, 3, 1000)
    with_gaps = np.concatenate([values, [np.nan] * 50])
    result = numeric_psi("x", values, with_gaps)
    assert result.psi == pytest.approx(0.0, abs=1e-12)
    assert (result.reference_missing, result.current_missing) == (0, 50)


def test_ntile_positions_follow_sqls_ntile() -> None:
    # NTILE(4) over 11 rows: tiles of 3, 3, 3, 2 rows start at 0, 3, 6, 9
    assert ntile_positions(11, 4).tolist() == [3, 6, 9]
    assert ntile_positions(3, 10).tolist() == [1, 2]


def test_repeated_values_collapse_into_one_edge() -> None:
    reference = np.array([0.0] * 90 + [1.0] * 10)
    assert quantile_edges(reference, bins=10).tolist() == [0.0, 1.0]


def test_categorical_psi_by_hand_with_a_new_category() -> None:
    result = categorical_psi("merchant", ["a", "a", "b", "b", None], ["a", "b", "b", "c"])
    assert result.bins == ["a", "b", "c"] and result.reference_missing == 1
    expected = _term(0.25, 0.5) + _term(0.5, 0.5) + _term(0.25, EPSILON)
    assert result.psi == pytest.approx(expected, rel=1e-12)


def test_compute_psi_routes_categorical_features_and_sorts_by_name() -> None:
    ref = {"b": [1.0, 2.0, 3.0, 4.0], "a": ["x", "y", "x", "y"]}
    cur = {"b": [1.0, 2.0, 3.0, 4.0], "a": ["x", "x", "x", "x"]}
    results = compute_psi(ref, cur, categorical=["a"], bins=2)
    assert [(r.feature, r.categorical) for r in results] == [("a", True), ("b", False)]
    assert results[0].psi > 1.0 and results[1].psi == pytest.approx(0.0)


def test_large_samples_on_the_pool_give_the_same_answer_and_the_same_errors() -> None:
    """Past POOL_MIN_ROWS the features run on threads: the results are what one feature at a
    time gives, in name order, and a bad feature still raises its own error."""
    from agentops.detection import psi as module

    rng = np.random.default_rng(5)
    names = [f"V{i}" for i in range(6)]
    size = module.POOL_MIN_ROWS // 4  # 6 features x 50,000 rows: over the line
    ref = {n: rng.normal(0, 1, size) for n in names}
    cur = {n: rng.normal(i * 0.1, 1, size) for i, n in enumerate(names)}
    pooled = compute_psi(ref, cur)
    one_by_one = [numeric_psi(n, ref[n], cur[n]) for n in sorted(names)]
    assert [(r.feature, r.psi) for r in pooled] == [(r.feature, r.psi) for r in one_by_one]
    cur["V3"] = np.full(size, np.nan)
    with pytest.raises(DataError, match="current window of 'V3' is empty"):
        compute_psi(ref, cur)


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([np.nan, np.nan], [1.0], "reference sample of 'x' is empty"),
        ([1.0, 2.0], [], "current window of 'x' is empty"),
        ([1.0, 2.0], [np.nan], "current window of 'x' is empty"),
        (["a", "b"], [1.0], "not numbers"),
    ],
)
def test_bad_samples_raise_clear_errors(reference, current, message) -> None:
    with pytest.raises(DataError, match=message):
        numeric_psi("x", reference, current)


def test_a_feature_missing_from_one_sample_is_named() -> None:
    with pytest.raises(DataError, match="feature 'V2' missing from the current sample"):
        compute_psi({"V2": [1.0]}, {"V1": [1.0]})


def test_counts_must_line_up() -> None:
    with pytest.raises(DataError, match="3 reference bins but 2 current bins"):
        psi_from_counts([1, 2, 3], [1, 2])


def test_write_feature_drift_replaces_the_window(engine) -> None:
    first = compute_psi({"V1": [1.0, 2.0, 3.0]}, {"V1": [9.0, 9.0, 9.0]}, bins=2)
    again = compute_psi({"V1": [1.0, 2.0, 3.0]}, {"V1": [1.0, 2.0, 3.0]}, bins=2)
    with engine.begin() as conn:
        write_feature_drift(conn, "m1", NOW.replace(hour=11), NOW, first)
        assert write_feature_drift(conn, "m1", NOW.replace(hour=11), NOW, again) == 1
        rows = conn.execute(feature_drift.select()).mappings().all()
    assert len(rows) == 1 and rows[0]["psi"] == pytest.approx(0.0)
    with engine.begin() as conn, pytest.raises(DataError, match="must be after"):
        write_feature_drift(conn, "m1", NOW, NOW, again)


def test_a_prepared_reference_scores_many_windows_alike() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(0, 1, 2000)
    profile = profile_reference("x", reference)
    for shift in (0.0, 0.5, 2.0):
        window = rng.normal(shift, 1, 500)
        assert psi_against(profile, window).psi == numeric_psi("x", reference, window).psi
