"""The gate tests' project and ways to judge its checkpoints.

``SPEC`` is a complete spec, valid at stages 0..3; ``context`` and ``judge`` evaluate one
real checkpoint on it; ``FakeRuns`` is a small stand-in for the MLflow evidence source;
``rows_of`` reads the text report of ``diva gate`` and ``diva status``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from diva.compiler.ir import build
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.lifecycle.checkpoints import CHECKPOINTS, Context, Verdict
from diva.lifecycle.evidence.mlflow import Run

REFERENCES = (
    "  references:\n"
    '    - {title: "Virtual metrology: a review", url: "https://doi.org/10.1109/TSM.2015.2476385"}\n'
)

#: A complete spec, valid at stages 0..3 (model, small and large datasets, base image).
SPEC = f"""\
# A complete project for the gate tests.
diva: 1
project: {{name: demo, title: Layer thickness from sensors}}
stage: 1

idea:
  problem: Thickness is measured late; a drifting reactor ruins whole lots.
  expected_effect: Every wafer gets an estimate within a minute.
  value:
    researchers: A model of what drives growth rate.
    users: Fewer scrapped lots.
  inputs:
    - {{name: temp_c, type: float}}
  outputs:
    - {{name: thickness_um, type: float}}

plan:
  summary: Gradient-boosted trees on one month of runs, then on a year.
{REFERENCES}  cycles: {{small: 3, large: 2}}

datasets:
  month:
    scale: small
    path: data/month
    existing: {{source: fab-registry, version: "2024.05.1"}}
  year: {{scale: large, path: data/year}}

model:
  framework: sklearn
  task: regression
  entrypoints: {{train: src/train.py, evaluate: src/evaluate.py}}

targets:
  - {{metric: rmse, goal: minimize, threshold: 0.08, dataset: month}}
  - {{metric: r2, goal: maximize, threshold: 0.9, dataset: month}}

slos: {{latency_p95_ms: 200, error_rate: 0.01}}

platform:
  base_images:
    sklearn: registry.example.com/base/sklearn:1.5@sha256:{"4f" * 32}
"""

BY_ID = {checkpoint.id: checkpoint for checkpoint in CHECKPOINTS}
SMALL_HASH = "6f1ed002ab5595859014ebf0951522d9.dir"
LARGE_HASH = "0cc175b9c0f1b6a831c399e269772661.dir"


def at_stage(stage: int | str, text: str = SPEC) -> str:
    assert "\nstage: 1\n" in text
    return text.replace("\nstage: 1\n", f"\nstage: {stage}\n")


def spec_document() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load(at_stage(2))
    return document


def context(
    document: dict[str, Any],
    root: Path,
    *,
    cycles: dict[int, int] | None = None,
    runs: object = None,
    problem: str = "",
) -> Context:
    """A Context from a validated spec, as the gate builds it."""
    raw = json.dumps(document).encode("utf-8")  # JSON is YAML
    spec = validate_document(load_bytes(raw))
    return Context(spec, build(spec, raw), root, cycles or {}, runs, problem)  # type: ignore[arg-type]


def judge(checkpoint: str, ctx: Context) -> Verdict:
    return BY_ID[checkpoint].evaluate(ctx)


class FakeRuns:
    """A stand-in for the evidence source (live MLflow or the evidence file)."""

    kind = "test runs"

    def __init__(
        self,
        runs: list[Run],
        versions: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._runs = runs
        self._versions = versions or {}
        self._aliases = aliases or {}

    def runs(self, project: str) -> list[Run]:
        return [run for run in self._runs if run.tags.get("diva.project") == project]

    def version_of_run(self, model: str, run_id: str) -> str | None:
        return self._versions.get(run_id)

    def alias(self, model: str, alias: str) -> str | None:
        return self._aliases.get(alias)


#: The training image's digest on runs made in it (``diva.image.digest``).
IMAGE_DIGEST = "sha256:" + "e" * 64


def run(
    run_id: str,
    scale: str = "small",
    data_hash: str | None = SMALL_HASH,
    *,
    in_image: bool = False,
    **metrics: float,
) -> Run:
    tags = {"diva.project": "demo", "diva.dataset.scale": scale}
    if data_hash is not None:
        tags["diva.dataset.hash"] = data_hash
    if in_image:
        tags["diva.image.digest"] = IMAGE_DIGEST
    return Run(run_id, tags, metrics)


STATUSES = frozenset({"pass", "fail", "unreachable", "unverified"})


def rows_of(output: str) -> dict[str, str]:
    """checkpoint id -> status, from the text report."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) > 2 and parts[0] in STATUSES:
            rows[parts[1]] = parts[0]
    return rows
