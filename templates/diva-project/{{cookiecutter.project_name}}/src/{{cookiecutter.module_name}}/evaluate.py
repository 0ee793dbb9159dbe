"""Pipeline step 3: score the trained model on the test rows.

The metrics go to MLflow (the gates compare them with the spec's targets) and to
metrics/<dataset>.json for `dvc metrics show`; the predictions to plots/<dataset>/.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script by the DVC stage: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
from diva import runtime  # noqa: E402

from {{ cookiecutter.module_name }}.data import FEATURES, TARGET  # noqa: E402
from {{ cookiecutter.module_name }}.model import score  # noqa: E402

ctx = runtime.context()
test = pd.read_csv(ctx.prepared / "test.csv")
model = ctx.load_model()
with ctx.run("evaluate"):
    metrics = score(model, test)
    ctx.log_metrics(metrics)
    predicted = model.predict(test[FEATURES])
    ctx.log_predictions(test[TARGET].tolist(), predicted.tolist())
print(", ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
