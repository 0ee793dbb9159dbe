"""Feature drift between the reference and the current data: PSI or KS per feature.

scipy computes the statistics: ``scipy.stats.ks_2samp`` for Kolmogorov-Smirnov and
``scipy.special.rel_entr`` for the population stability index, which is the symmetric
(Jeffreys) divergence of two binned distributions::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i) = sum_i rel_entr(a_i, e_i) + rel_entr(e_i, a_i)

with ``e`` the reference's and ``a`` the current data's proportion per bin. Numeric
features are binned at the reference's quantiles; categorical features (a non-numeric or
boolean dtype on either side) have one bin per category, and KS, which needs an order,
does not apply to them: they are always measured with PSI, and their row says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from diva.errors import DivaError

Method = Literal["psi", "ks"]
Kind = Literal["numeric", "categorical"]

#: Floor of a bin's proportion in PSI. An empty bin would make ln(a/e) infinite; with the
#: floor, one empty bin of the current data facing 10 % of the reference contributes
#: 0.1 * ln(0.1 / 1e-4) ~ 0.69, a clear drift at any usual threshold (0.1 to 0.25)
#: without swamping the other bins. Proportions above it are left as they are.
EPSILON = 1e-4


class DriftDataError(DivaError):
    """A feature's drift cannot be measured: a side lacks the column or has no values."""

    def __init__(self, feature: str, side: str, problem: str) -> None:
        self.feature, self.side, self.problem = feature, side, problem
        super().__init__(f"feature {feature!r}: the {side} data {problem}")


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one feature; ``drifted`` when ``value`` exceeds ``threshold``."""

    feature: str
    method: Method
    kind: Kind
    value: float
    threshold: float
    #: the KS test's p-value; PSI has none
    p_value: float | None
    drifted: bool


def drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    method: Method,
    threshold: float,
) -> list[FeatureDrift]:
    """The drift of each feature, in the order given."""
    for feature in features:
        for side, frame in (("reference", reference), ("current", current)):
            if feature not in frame.columns:
                raise DriftDataError(feature, side, "has no such column")
    return [
        feature_drift(reference[feature], current[feature], method, threshold)
        for feature in features
    ]


def feature_drift(
    reference: pd.Series,
    current: pd.Series,
    method: Method,
    threshold: float,
    bins: int = 10,
) -> FeatureDrift:
    """The drift of one feature from ``reference`` to ``current``; NaNs are left out.

    ``bins`` is the number of quantile bins of a numeric feature's PSI.
    """
    if method not in ("psi", "ks"):
        raise ValueError(f"unknown drift method {method!r}")
    if bins < 2:
        raise ValueError(f"PSI needs at least 2 bins, not {bins}")
    feature = str(reference.name if reference.name is not None else current.name)
    expected = _values(reference, feature, "reference")
    actual = _values(current, feature, "current")
    if _is_categorical(expected) or _is_categorical(actual):
        value = psi(*_category_proportions(expected, actual))
        return FeatureDrift(
            feature, "psi", "categorical", value, threshold, None, value > threshold
        )
    if method == "ks":
        result = stats.ks_2samp(expected.to_numpy(float), actual.to_numpy(float))
        value, p_value = float(result.statistic), float(result.pvalue)
        return FeatureDrift(feature, "ks", "numeric", value, threshold, p_value, value > threshold)
    value = psi(*_quantile_proportions(expected.to_numpy(float), actual.to_numpy(float), bins))
    return FeatureDrift(feature, "psi", "numeric", value, threshold, None, value > threshold)


def psi(expected: NDArray[np.float64], actual: NDArray[np.float64]) -> float:
    """The PSI of two distributions over the same bins, each floored at :data:`EPSILON`."""
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum(special.rel_entr(a, e) + special.rel_entr(e, a)))


def _values(column: pd.Series, feature: str, side: str) -> pd.Series:
    values = column.dropna()
    if values.empty:
        raise DriftDataError(feature, side, "has no values (empty or all missing)")
    return values


def _is_categorical(values: pd.Series) -> bool:
    dtype = values.dtype
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _quantile_proportions(
    expected: NDArray[np.float64], actual: NDArray[np.float64], bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Proportions per bin, the bins ``[edge, next edge)`` cut at the reference's quantiles.

    The outer bins are open-ended so that current values outside the reference's range
    are counted. A value that several quantiles share holds a point mass (a constant or
    zero-inflated feature, a 0/1 flag): it makes one edge, and a bin of its own, lest
    current values just above it fall into its bin unseen.
    """
    quantiles = np.quantile(expected, np.linspace(0, 1, bins + 1))
    distinct, repeats = np.unique(quantiles, return_counts=True)
    point_masses = np.nextafter(distinct[repeats > 1], np.inf)
    inner = np.union1d(quantiles[1:-1], point_masses)
    edges = np.concatenate(([-np.inf], inner, [np.inf]))
    reference_counts, _ = np.histogram(expected, edges)
    current_counts, _ = np.histogram(actual, edges)
    return _proportions(reference_counts), _proportions(current_counts)


def _category_proportions(
    expected: pd.Series, actual: pd.Series
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Proportions per category, over the categories of either side."""
    counts = pd.concat([expected.value_counts(), actual.value_counts()], axis=1).fillna(0)
    return _proportions(counts.iloc[:, 0]), _proportions(counts.iloc[:, 1])


def _proportions(counts: ArrayLike) -> NDArray[np.float64]:
    shares = np.asarray(counts, dtype=np.float64)
    return shares / float(shares.sum())
