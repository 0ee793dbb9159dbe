"""A synthetic dataset, so that the pipeline runs offline before the real data exists.

    python src/{{ cookiecutter.module_name }}/data.py data/sample              # 400 rows
    python src/{{ cookiecutter.module_name }}/data.py data/full --rows 20000   # stage 3

Writes ``rows.csv`` with the columns the spec's ``idea.inputs`` and ``idea.outputs``
declare. Replace this module with the real data's loader when you have it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["x0", "x1", "x2", "x3"]
TARGET = "y"
ROWS_FILE = "rows.csv"
NOISE = 0.3


def synthesize(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """``rows`` rows of four features and the target, the same for the same seed.

    ``shift`` moves the mean of x0: data that drifted away from what the model saw.
    """
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, len(FEATURES)))
    features[:, 0] += shift
    signal = 2 * features[:, 0] - features[:, 1] + 0.5 * features[:, 2]
    noisy = signal + rng.normal(scale=NOISE, size=rows)
    frame = pd.DataFrame(features, columns=FEATURES)
{%- if cookiecutter.task == "regression" %}
    frame[TARGET] = noisy
{%- else %}
    frame[TARGET] = (noisy > 0).astype(int)
{%- endif %}
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="dataset folder, e.g. data/sample")
    parser.add_argument("--rows", type=int, default=400, help="number of rows (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--shift", type=float, default=0.0, help="shift of x0's mean (drift)")
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    synthesize(args.rows, args.seed, args.shift).to_csv(args.folder / ROWS_FILE, index=False)
    print(f"wrote {args.rows} rows to {args.folder / ROWS_FILE}")


if __name__ == "__main__":
    main()
