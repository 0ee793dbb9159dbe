"""The committed evidence file: what `diva promote` saw where CI cannot look.

An embedded MLflow store lives on a laptop; CI cannot read it. `diva promote` copies
the runs, model versions and aliases the gate needs into ``diva.evidence.json``; the
gate re-verifies them against the live store when it can reach one, and otherwise
checks them against dvc.lock and the spec — and says which of the two it did.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from diva.compiler.writer import write_text_atomic
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.mlflow import Mlflow, Run

EVIDENCE_FILE = "diva.evidence.json"
ALIASES = ("candidate", "champion", "challenger")
#: The tags diva's runtime sets on a run (diva.project, diva.dataset.hash, ...).
LINEAGE_PREFIX = "diva."
COMMENT = (
    "Written by `diva promote`, `diva build --push` and `diva smoke`: "
    "evidence CI cannot reach. Do not edit."
)


class Recorded:
    """Runs, versions and aliases as recorded in the evidence file."""

    kind = "evidence file (recorded by diva promote, not re-verified against MLflow)"

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        mlflow = document.get("mlflow") or {}
        self._runs = [Run(**run) for run in mlflow.get("runs") or []]
        self._versions: dict[str, str] = mlflow.get("versions") or {}
        self._aliases: dict[str, str] = mlflow.get("aliases") or {}

    def runs(self, project: str) -> list[Run]:
        return [run for run in self._runs if run.tags.get("diva.project") == project]

    def version_of_run(self, model: str, run_id: str) -> str | None:
        return self._versions.get(run_id)

    def alias(self, model: str, alias: str) -> str | None:
        return self._aliases.get(alias)

    def run_of_version(self, model: str, version: str) -> str | None:
        return next((run for run, known in self._versions.items() if known == version), None)

    def run(self, run_id: str) -> Run | None:
        return next((run for run in self._runs if run.run_id == run_id), None)


def read(root: Path) -> Recorded | None:
    path = root / EVIDENCE_FILE
    if not path.is_file():
        return None
    try:
        return Recorded(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as err:
        raise UnreachableError(f"{path}: not a valid evidence file: {err}") from err


def merge(root: Path, updates: dict[str, Any], replace: tuple[str, ...] = ()) -> None:
    """Write ``updates`` into the evidence file, keeping what other commands recorded:
    mappings are merged key by key (the top-level keys in ``replace`` are replaced
    whole), anything else is replaced. Written atomically."""

    path = root / EVIDENCE_FILE
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:  # refuse to overwrite what cannot be read
            raise UnreachableError(f"{path}: not a valid evidence file: {err}") from err
    old = {k: v for k, v in current.items() if k not in replace}
    document = {"$comment": COMMENT, **_merged(old, updates)}
    write_text_atomic(path, json.dumps(document, indent=2) + "\n")


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def capture(
    live: Mlflow,
    project: str,
    model: str,
    stage: int,
    metrics: Collection[str],
    aliases: Sequence[str] = ALIASES,
) -> dict[str, Any]:
    """The evidence document for ``project`` from a live MLflow; ``metrics`` are the
    metrics the spec's targets name, ``aliases`` the aliases worth recording (the spec
    may rename champion and challengers).

    The file is committed, so a run is recorded with what the gate reads and nothing
    else: diva's lineage tags (``diva.*``) and those metrics. MLflow's own tags (user
    names, local paths), a team's tags, other metrics and the parameters stay in MLflow.
    """
    runs = [_gated(run, metrics) for run in live.runs(project)]
    versions = {
        run.run_id: version
        for run in runs
        if (version := live.version_of_run(model, run.run_id)) is not None
    }
    found = {
        alias: version for alias in dict.fromkeys(aliases) if (version := live.alias(model, alias))
    }
    return {
        "$comment": COMMENT,
        "project": project,
        "stage": stage,
        "mlflow": {
            "runs": [_recorded(run) for run in sorted(runs, key=lambda run: run.run_id)],
            "versions": dict(sorted(versions.items())),
            "aliases": found,
        },
    }


def _gated(run: Run, metrics: Collection[str]) -> Run:
    """``run`` with only what the gate reads: ``diva.*`` tags and ``metrics``."""
    tags = {key: value for key, value in run.tags.items() if key.startswith(LINEAGE_PREFIX)}
    kept = {key: value for key, value in run.metrics.items() if key in metrics}
    return Run(run.run_id, dict(sorted(tags.items())), dict(sorted(kept.items())))


def _recorded(run: Run) -> dict[str, Any]:
    return {"run_id": run.run_id, "tags": run.tags, "metrics": run.metrics}


def recorded_serving(root: Path) -> dict[str, Any]:
    """``images.serving`` of the evidence file (reference, digest, model_version), or {}."""
    recorded = read(root)
    images = (recorded.document if recorded else {}).get("images") or {}
    serving = images.get("serving") if isinstance(images, dict) else None
    return serving if isinstance(serving, dict) else {}
