"""The metrics ``diva monitor`` can compute from predictions, by the names targets use.

scikit-learn computes them; only WAPE and bias, the forecasting metrics of the examples,
are written out here (sklearn has no function of that name). A target naming any other
metric is reported as not computable rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Metric = Callable[[Any, Any], float]


def _sklearn(name: str, **options: Any) -> Metric:
    def compute(actual: Any, predicted: Any) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(actual, predicted, **options))

    return compute


def _rmse(actual: Any, predicted: Any) -> float:
    return float(np.sqrt(_sklearn("mean_squared_error")(actual, predicted)))


def _wape(actual: Any, predicted: Any) -> float:
    """Weighted absolute percentage error: sum |error| / sum |actual|."""
    truth = np.asarray(actual, dtype=float)
    return float(np.abs(np.asarray(predicted, dtype=float) - truth).sum() / np.abs(truth).sum())


def _bias(actual: Any, predicted: Any) -> float:
    """Relative bias, as an absolute value: |sum error| / sum |actual|."""
    truth = np.asarray(actual, dtype=float)
    return float(abs((np.asarray(predicted, dtype=float) - truth).sum()) / np.abs(truth).sum())


METRICS: dict[str, Metric] = {
    "rmse": _rmse,
    "mse": _sklearn("mean_squared_error"),
    "mae": _sklearn("mean_absolute_error"),
    "mape": _sklearn("mean_absolute_percentage_error"),
    "r2": _sklearn("r2_score"),
    "wape": _wape,
    "bias": _bias,
    "accuracy": _sklearn("accuracy_score"),
    "balanced_accuracy": _sklearn("balanced_accuracy_score"),
    "f1": _sklearn("f1_score"),
    "macro_f1": _sklearn("f1_score", average="macro"),
    "precision": _sklearn("precision_score"),
    "recall": _sklearn("recall_score"),
}
