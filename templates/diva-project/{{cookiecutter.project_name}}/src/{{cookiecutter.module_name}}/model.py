"""The modeling code, as plain functions: what the pipeline steps call and the tests test."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
{%- if cookiecutter.task == "regression" %}
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
{%- else %}
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
{%- endif %}
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from {{ cookiecutter.module_name }}.data import FEATURES, TARGET


def split(rows: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle ``rows`` and cut them into train and test rows."""
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = int(len(rows) * (1 - test_fraction))
    return rows.iloc[order[:cut]], rows.iloc[order[cut:]]


def fit(train: pd.DataFrame, params: dict[str, float]) -> BaseEstimator:
    """The model fitted on ``train`` (scaled features, then a linear model)."""
{%- if cookiecutter.task == "regression" %}
    estimator = Ridge(alpha=params["alpha"])
{%- else %}
    estimator = LogisticRegression(C=params["c"])
{%- endif %}
    model = make_pipeline(StandardScaler(), estimator)
    return model.fit(train[FEATURES], train[TARGET])


def score(model: BaseEstimator, test: pd.DataFrame) -> dict[str, float]:
    """The metrics the spec's targets name, on ``test``."""
    predicted = model.predict(test[FEATURES])  # type: ignore[attr-defined]
    actual = test[TARGET]
{%- if cookiecutter.task == "regression" %}
    return {
        "rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
        "r2": float(r2_score(actual, predicted)),
    }
{%- else %}
    return {
        "accuracy": float(accuracy_score(actual, predicted)),
        "f1": float(f1_score(actual, predicted)),
    }
{%- endif %}
