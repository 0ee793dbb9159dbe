"""Pipeline step 2: fit the model, log it to MLflow and register it.

``ctx.run`` opens an MLflow run carrying diva's lineage tags (project, stage, dataset
version, git commit, training image) that the stage gates read.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script by the DVC stage: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from diva import runtime  # noqa: E402

from {{ cookiecutter.module_name }}.data import FEATURES  # noqa: E402
from {{ cookiecutter.module_name }}.model import fit  # noqa: E402

ctx = runtime.context()
train = pd.read_csv(ctx.prepared / "train.csv")
with ctx.run("train"):
    model = fit(train, ctx.params)
    version = ctx.log_model(model, input_example=train[FEATURES].head(3))
print(f"registered model version {version}")
