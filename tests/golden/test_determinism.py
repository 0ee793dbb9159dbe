"""Determinism: the same specs give the same bytes whatever the hash seed.

Set iteration order follows ``PYTHONHASHSEED``; a backend that iterates a set or a
dict built from one without sorting would show up here as a difference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import EXAMPLES, SRC
from tests.support.trees import tree

SEEDS = ("0", "1", "12345", "random")


def _compile(out: Path, seed: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-m", "diva", "compile", "--out", str(out), *map(str, EXAMPLES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hash_seed_gives_the_same_tree(tmp_path: Path) -> None:
    # sibling folders, so that the spec paths named in the headers are the same
    trees = {}
    for seed in SEEDS:
        _compile(tmp_path / f"seed-{seed}", seed)
        trees[seed] = tree(tmp_path / f"seed-{seed}")
    assert len(EXAMPLES) > 1
    assert len(trees["0"]) >= len(EXAMPLES) * 2, "each example writes a lock and a card"
    for seed in SEEDS[1:]:
        assert trees[seed] == trees["0"], f"PYTHONHASHSEED={seed} changed the output"
