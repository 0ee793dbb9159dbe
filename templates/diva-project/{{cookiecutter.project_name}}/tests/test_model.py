"""The modeling code on synthetic data: deterministic, and good enough for the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from diva.compiler.spec.model import Target
from diva.compiler.validate import load_spec

from {{ cookiecutter.module_name }}.data import FEATURES, TARGET, synthesize
from {{ cookiecutter.module_name }}.model import fit, score, split

SPEC = load_spec(Path(__file__).parents[1] / "diva.yaml")


def test_synthetic_data_is_reproducible() -> None:
    assert synthesize(50, seed=3).equals(synthesize(50, seed=3))
    assert not synthesize(50, seed=3).equals(synthesize(50, seed=4))


def test_columns_are_the_declared_inputs_and_outputs() -> None:
    declared = [field.name for field in (*SPEC.idea.inputs, *SPEC.idea.outputs)]
    assert list(synthesize(5).columns) == declared == [*FEATURES, TARGET]


def test_split_keeps_every_row_once() -> None:
    rows = synthesize(100)
    train, test = split(rows, test_fraction=0.25, seed=7)
    assert (len(train), len(test)) == (75, 25)
    assert sorted([*train.index, *test.index]) == list(range(100))


@pytest.mark.parametrize("target", SPEC.targets, ids=lambda target: target.dataset)
def test_the_model_meets_the_spec_target_on_synthetic_data(target: Target) -> None:
    assert SPEC.model is not None
    params = SPEC.model.params
    train, test = split(synthesize(2000, seed=1), params["test_fraction"], params["seed"])
    value = score(fit(train, params), test)[target.metric]
    if target.goal == "minimize":
        assert value <= target.threshold
    else:
        assert value >= target.threshold
