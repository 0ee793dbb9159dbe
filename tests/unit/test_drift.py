"""Feature drift: PSI and KS checked against independent references on known data.

The references are the normal distribution's closed forms (scipy.stats.norm) for large
samples, and a textbook PSI written out here for small fixed data. Every sample comes
from a seeded generator, so each run draws the same numbers; the tolerances say how far
a sample of that size may be from the closed form, so another seed would pass too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy import stats

from diva.errors import DivaError
from diva.monitor.drift import (
    EPSILON,
    DriftDataError,
    FeatureDrift,
    Method,
    drift_table,
    feature_drift,
)

LARGE = 100_000
BINS = 10
SHIFTS = [0.1, 0.25, 0.5, 1.0]


def normal(seed: int, mean: float, size: int = LARGE) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(mean, 1.0, size), name="x")


def textbook_psi(expected: list[float], actual: list[float]) -> float:
    """sum (a - e) * ln(a / e), proportions floored at EPSILON."""
    e = np.maximum(np.asarray(expected), EPSILON)
    a = np.maximum(np.asarray(actual), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.mark.parametrize("shift", SHIFTS)
def test_ks_matches_the_sup_distance_of_two_normals(shift: float) -> None:
    # sup |Phi(x) - Phi(x - d)| is reached at x = d/2
    analytic = 2 * stats.norm.cdf(shift / 2) - 1
    # DKW: each empirical CDF is within eps of its CDF except with probability
    # 2 exp(-2 n eps^2); eps for 1e-6 over both samples, and the statistic moves by 2 eps
    eps = math.sqrt(math.log(4 / 1e-6) / (2 * LARGE))

    drift = feature_drift(normal(1, 0.0), normal(2, shift), "ks", threshold=0.1)

    assert drift.value == pytest.approx(analytic, abs=2 * eps)
    assert drift.method == "ks"
    assert drift.p_value is not None


def analytic_psi(edges: NDArray[np.float64], shift: float) -> tuple[float, float]:
    """PSI of N(shift, 1) against bins holding 1/BINS of the reference each, and its error.

    The error is five delta-method standard errors of the current side's multinomial
    proportions plus five times the null bias (BINS - 1) / n of a chi-square statistic.
    """
    bounds = np.concatenate(([-np.inf], edges, [np.inf]))
    a = np.diff(stats.norm.cdf(bounds - shift))
    e = np.full(BINS, 1 / BINS)
    gradient = np.log(a / e) + 1 - e / a
    variance = (np.sum(gradient**2 * a) - np.sum(gradient * a) ** 2) / LARGE
    tolerance = 5 * math.sqrt(variance) + 5 * (BINS - 1) / LARGE
    return float(np.sum((a - e) * np.log(a / e))), tolerance


@pytest.mark.parametrize("shift", SHIFTS)
def test_psi_matches_the_closed_form_over_the_same_bins(shift: float) -> None:
    reference, current = normal(3, 0.0), normal(4, shift)
    edges = np.quantile(reference, np.linspace(0, 1, BINS + 1)[1:-1])
    expected, tolerance = analytic_psi(edges, shift)

    drift = feature_drift(reference, current, "psi", threshold=0.2, bins=BINS)

    assert drift.value == pytest.approx(expected, abs=tolerance)
    assert drift.drifted is (drift.value > 0.2)


# reference 1..10 in 5 bins: inner edges 2.8, 4.6, 6.4, 8.2, two reference values per bin
@pytest.mark.parametrize(
    ("current", "proportions"),
    [
        pytest.param(
            [0, 0, 3, 3, 3, 5, 7, 9, 11, 12], [0.2, 0.3, 0.1, 0.1, 0.3], id="outside-range"
        ),
        pytest.param(
            [0, 1, 2, 3, 4, 9, 10, 11, 12, 13], [0.3, 0.2, 0.0, 0.0, 0.5], id="empty-bins"
        ),
    ],
)
def test_psi_equals_the_textbook_formula(current: list[float], proportions: list[float]) -> None:
    reference = pd.Series(np.arange(1.0, 11.0), name="x")

    drift = feature_drift(reference, pd.Series(current, name="x"), "psi", 0.2, bins=5)

    assert drift.value == pytest.approx(textbook_psi([0.2] * 5, proportions), rel=1e-12)


@pytest.mark.parametrize(
    ("reference", "current", "expected", "actual"),
    [
        # bins: below 0, 0, above 0
        pytest.param([0] * 95 + [1] * 5, [0] * 50 + [1] * 50, [0, 0.95, 0.05], [0, 0.5, 0.5]),
        # bins: below 5, 5, above 5
        pytest.param([5.0] * 50, [4.0] * 10 + [5.0] * 30 + [6.0] * 10, [0, 1, 0], [0.2, 0.6, 0.2]),
    ],
)
def test_a_point_mass_of_the_reference_gets_a_bin_of_its_own(
    reference: list[float], current: list[float], expected: list[float], actual: list[float]
) -> None:
    drift = feature_drift(pd.Series(reference), pd.Series(current), "psi", 0.2)

    assert drift.value == pytest.approx(textbook_psi(expected, actual), rel=1e-12)


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_identical_samples_do_not_drift(method: Method) -> None:
    sample = normal(5, 0.0, size=1_000)

    drift = feature_drift(sample, sample.copy(), method, threshold=0.1)

    assert drift.value == pytest.approx(0.0, abs=1e-12)
    assert not drift.drifted


def test_categorical_psi_over_the_union_of_categories() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20, name="shift")
    current = pd.Series(["a"] * 40 + ["b"] * 40 + ["d"] * 20, name="shift")
    # a: .5 -> .4, b: .3 -> .4, c: .2 -> 0 (floored), d: 0 (floored) -> .2
    expected = (
        (0.4 - 0.5) * math.log(0.4 / 0.5)
        + (0.4 - 0.3) * math.log(0.4 / 0.3)
        + 2 * (0.2 - EPSILON) * math.log(0.2 / EPSILON)
    )

    drift = feature_drift(reference, current, "psi", threshold=0.2)

    assert drift == FeatureDrift("shift", "psi", "categorical", drift.value, 0.2, None, True)
    assert drift.value == pytest.approx(expected, rel=1e-12)


def test_categorical_features_use_psi_even_when_ks_is_asked() -> None:
    reference = pd.Series([True] * 50 + [False] * 50, name="flag")
    current = pd.Series([True] * 60 + [False] * 40, name="flag")
    expected = (0.6 - 0.5) * math.log(0.6 / 0.5) + (0.4 - 0.5) * math.log(0.4 / 0.5)

    drift = feature_drift(reference, current, "ks", threshold=0.1)

    assert (drift.method, drift.kind, drift.p_value) == ("psi", "categorical", None)
    assert drift.value == pytest.approx(expected, rel=1e-12)


def test_missing_values_are_left_out() -> None:
    reference = pd.Series(np.arange(1.0, 11.0), name="x")
    current = pd.Series([0, 0, 3, 3, 3, 5, 7, 9, 11, 12], name="x", dtype=float)
    with_gaps = pd.concat([current, pd.Series([np.nan] * 5, name="x")])

    assert feature_drift(reference, with_gaps, "psi", 0.2, bins=5) == feature_drift(
        reference, current, "psi", 0.2, bins=5
    )


def test_drift_table_keeps_the_order_of_the_features() -> None:
    reference = pd.DataFrame({"b": np.arange(100.0), "a": np.arange(100.0)})
    current = pd.DataFrame({"a": np.arange(100.0) + 50, "b": np.arange(100.0)})

    table = drift_table(reference, current, ["b", "a"], "ks", threshold=0.1)

    assert [(row.feature, row.value, row.drifted) for row in table] == [
        ("b", 0.0, False),
        ("a", 0.5, True),
    ]


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        pytest.param(
            pd.DataFrame({"y": [1.0]}),
            pd.DataFrame({"x": [1.0]}),
            "feature 'x': the reference data has no such column",
            id="reference-lacks",
        ),
        pytest.param(
            pd.DataFrame({"x": [1.0]}),
            pd.DataFrame({"y": [1.0]}),
            "feature 'x': the current data has no such column",
            id="current-lacks",
        ),
        pytest.param(
            pd.DataFrame({"x": pd.Series([], dtype=float)}),
            pd.DataFrame({"x": [1.0]}),
            "feature 'x': the reference data has no values (empty or all missing)",
            id="reference-empty",
        ),
        pytest.param(
            pd.DataFrame({"x": [1.0]}),
            pd.DataFrame({"x": [np.nan, np.nan]}),
            "feature 'x': the current data has no values (empty or all missing)",
            id="current-all-missing",
        ),
    ],
)
def test_unmeasurable_features_are_the_users_to_fix(
    reference: pd.DataFrame, current: pd.DataFrame, message: str
) -> None:
    with pytest.raises(DriftDataError) as raised:
        drift_table(reference, current, ["x"], "psi", threshold=0.2)

    assert isinstance(raised.value, DivaError)
    assert str(raised.value) == message
