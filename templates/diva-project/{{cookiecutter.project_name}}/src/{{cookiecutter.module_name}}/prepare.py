"""Pipeline step 1: split the dataset into train and test rows.

Run by DVC as ``python src/{{ cookiecutter.module_name }}/prepare.py --dataset NAME``
(see dvc.yaml, compiled from diva.yaml).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script by the DVC stage: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from diva import runtime  # noqa: E402

from {{ cookiecutter.module_name }}.data import ROWS_FILE  # noqa: E402
from {{ cookiecutter.module_name }}.model import split  # noqa: E402

ctx = runtime.context()
rows = pd.read_csv(ctx.data / ROWS_FILE)
train, test = split(rows, ctx.params["test_fraction"], ctx.params["seed"])
ctx.prepared.mkdir(parents=True, exist_ok=True)
train.to_csv(ctx.prepared / "train.csv", index=False)
test.to_csv(ctx.prepared / "test.csv", index=False)
print(f"{len(train)} train rows, {len(test)} test rows in {ctx.prepared}")
