"""A gate test project on a real git + DVC repository with a real (SQLite) MLflow store,
judged by the real ``diva gate --base main``.

``track`` puts datasets under DVC, pushes them to the spec's remote and writes the
``dvc.lock`` of a pipeline that ran on them; ``log_run`` logs a run as diva's runtime
does (its lineage tags); ``gate`` runs the gate and returns its JSON report by row.
The store and the remote are the spec's defaults, under the gitignored ``.diva/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from diva.lifecycle.report import PASSING
from tests.support.dvc_cli import DVC, sh
from tests.support.process import RunDiva

#: ``platform.mlflow.tracking_uri`` and ``platform.dvc.remote`` by default.
STORE = ".diva/mlflow.db"
REMOTE = ".diva/dvc-remote"


def client_of(database: Path) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{database}")


def log_run(
    database: Path,
    data_hash: str,
    *,
    scale: str = "small",
    dataset: str = "month",
    tags: dict[str, str] | None = None,
    **metrics: float,
) -> str:
    """A run of project ``demo`` on ``dataset`` (with ``data_hash``), as `dvc repro`
    logs it through diva's runtime; ``tags`` adds more (``diva.image.digest``, which
    `diva train` sets)."""
    client = client_of(database)
    found = client.get_experiment_by_name("demo")
    experiment = found.experiment_id if found else client.create_experiment("demo")
    lineage = {
        "diva.project": "demo",
        "diva.dataset": dataset,
        "diva.dataset.scale": scale,
        "diva.dataset.hash": data_hash,
    }
    run = client.create_run(experiment, tags={**lineage, **(tags or {})})
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def dataset_hash(root: Path, path: str) -> str:
    """The md5 DVC recorded for the dataset at ``path`` (its ``.dvc`` file)."""
    return str(YAML(typ="safe").load(root / f"{path}.dvc")["outs"][0]["md5"])


def month_hash(root: Path) -> str:
    return dataset_hash(root, "data/month")


def track(root: Path, datasets: dict[str, str]) -> dict[str, str]:
    """DVC in ``root``: each of ``datasets`` (stage name -> path) written, added, pushed
    to the spec's remote; ``dvc.lock`` as `dvc repro` writes it after those stages ran
    on them; ``.diva/`` ignored by git. The hash of each path."""
    (root / ".gitignore").write_text(".diva/\n")
    sh(root, *DVC, "init", "-q")
    for path in datasets.values():
        (root / path).mkdir(parents=True)
        (root / path / "rows.csv").write_text(f"temp_c,thickness_um\n1,2\n3,4\n# {path}\n")
        sh(root, *DVC, "add", "-q", path)
    sh(root, *DVC, "remote", "add", "-d", "local", REMOTE)
    sh(root, *DVC, "push", "-q")
    hashes = {path: dataset_hash(root, path) for path in datasets.values()}
    lock = ["schema: '2.0'", "stages:"]
    for stage, path in datasets.items():
        lock += [f"  {stage}:", "    cmd: python src/train.py", "    deps:"]
        lock += [f"    - path: {path}", f"      md5: {hashes[path]}"]
    (root / "dvc.lock").write_text("\n".join(lock) + "\n")
    return hashes


def gate(run_diva: RunDiva, repo: Path) -> tuple[int, dict[str, Any], dict[str, tuple[str, str]]]:
    """``diva gate --base main --format json`` in ``repo``: exit code, report, rows by id."""
    result = run_diva("gate", "--base", "main", "--format", "json", cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    rows = {row["id"]: (row["status"], row["detail"]) for row in report["checkpoints"]}
    return result.returncode, report, rows


def failing(rows: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {key: status for key, (status, _) in rows.items() if status not in PASSING}
