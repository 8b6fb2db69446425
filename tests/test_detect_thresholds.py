"""Learned normal/extreme thresholds: robust to a little attack traffic, one risk direction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from apibehave.detect.thresholds import EXTREME, NORMAL, ThresholdDetector, threshold_severity


@parametrize_with_checks([ThresholdDetector()])
def test_follows_scikit_learn_estimator_rules(estimator, check) -> None:
    """ThresholdDetector passes scikit-learn's estimator conformance checks."""
    check(estimator)


def test_one_loud_identifier_does_not_move_thresholds() -> None:
    """Thresholds over identifiers ignore one client holding 5% of the training rows."""
    rng = np.random.default_rng(1)
    benign = rng.poisson(4, 9500).astype(float)
    benign_ids = rng.integers(0, 1000, 9500)
    loud = np.full(500, 400.0)
    values = np.r_[benign, loud][:, None]
    groups = np.r_[benign_ids, np.full(500, 5000)][:, None]
    by_identifier = ThresholdDetector().fit(values, groups=groups)
    by_row = ThresholdDetector().fit(values)
    assert by_identifier.normal_[0] < 20
    assert by_row.normal_[0] == pytest.approx(400.0)


def test_severity_marks_normal_and_extreme_crossings() -> None:
    """Severity is 0 up to Tn (equal is not a crossing), 2 at Tx, and NaN counts as nothing."""
    normal, extreme, low = np.array([10.0]), np.array([20.0]), np.array([False])
    values = np.array([[5.0], [10.0], [10.5], [15.0], [20.0], [40.0], [np.nan]])
    severity = threshold_severity(values, normal, extreme, low)[:, 0]
    assert severity.tolist() == [0.0, 0.0, 1.05, 1.5, EXTREME, 4.0, 0.0]
    assert not severity[4] > EXTREME and severity[3] > NORMAL


def test_equal_thresholds_make_any_excess_extreme() -> None:
    """With Tx == Tn, a value above them is an extreme crossing, one equal to them is not."""
    normal = extreme = np.array([3.0])
    severity = threshold_severity(np.array([[3.0], [3.5]]), normal, extreme, np.array([False]))
    assert severity[0, 0] == 0.0 and severity[1, 0] > EXTREME


def test_low_direction_flags_small_values() -> None:
    """For direction low (inter-arrival), small values are the risky ones."""
    rng = np.random.default_rng(2)
    values = rng.uniform(500, 5000, (2000, 1))
    detector = ThresholdDetector(directions=["low"], min_steps=[50.0]).fit(values)
    assert detector.extreme_[0] < detector.normal_[0]
    assert detector.predict(np.array([[1.0], [3000.0]])).tolist() == [-1, 1]
    assert detector.severity(np.array([[1.0]]))[0, 0] >= EXTREME


def test_min_step_keeps_silent_features_quiet() -> None:
    """A feature that was always 0 in training does not fire on a value of 1."""
    detector = ThresholdDetector(min_steps=[5.0]).fit(np.zeros((100, 1)))
    assert detector.normal_[0] == 5.0 and detector.extreme_[0] == 10.0
    assert detector.predict(np.array([[1.0], [6.0]])).tolist() == [1, -1]
    assert detector.severity(np.array([[11.0]]))[0, 0] > EXTREME


def test_bad_settings_are_refused() -> None:
    """Quantiles out of order or a margin below 1 are refused in fit."""
    with pytest.raises(ValueError, match="quantile"):
        ThresholdDetector(normal_quantile=0.9, extreme_quantile=0.5).fit(np.ones((10, 1)))
    with pytest.raises(ValueError, match="margin"):
        ThresholdDetector(extreme_margin=0.5).fit(np.ones((10, 1)))


def test_shared_code_arrays_learn_what_a_groups_matrix_learns() -> None:
    """Passing one code array per feature (shared per identifier) gives the same thresholds."""
    rng = np.random.default_rng(5)
    x = rng.lognormal(1.0, 1.0, (3000, 3))
    x[rng.random((3000, 3)) < 0.1] = np.nan
    ips, tokens = rng.integers(-1, 300, 3000), rng.integers(-1, 50, 3000)
    matrix = np.column_stack([ips, ips, tokens])
    as_matrix = ThresholdDetector(contamination=0.01).fit(x, groups=matrix)
    as_list = ThresholdDetector(contamination=0.01).fit(x, groups=[ips, ips, tokens])
    np.testing.assert_array_equal(as_matrix.normal_, as_list.normal_)
    np.testing.assert_array_equal(as_matrix.extreme_, as_list.extreme_)
    np.testing.assert_array_equal(as_matrix.n_identifiers_, as_list.n_identifiers_)
