"""The evidence file against a REAL MLflow (an embedded SQLite store): it records what the
gate reads (diva's lineage tags, the metrics the targets name, versions, aliases) and
nothing else a run carries: the file is committed, and anybody who reads the repository
reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diva.lifecycle.evidence import record
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.proposals.pull_request import capture_evidence
from tests.support.gate import at_stage

mlflow_tracking = pytest.importorskip("mlflow.tracking")

DIVA_TAGS = {"diva.project": "demo", "diva.dataset": "month", "diva.dataset.hash": "ab.dir"}
#: What a run may carry besides: MLflow's own tags, a team's tags, hyper-parameters and
#: metrics no target names (a credential someone logged by mistake among them).
OTHER_TAGS = {"mlflow.user": "kim", "mlflow.source.name": "/home/kim/train.py", "team": "s3cret"}
METRICS = {"rmse": 0.05, "r2": 0.95, "train_loss": 0.01, "s3cret_metric": 1.0}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with model ``demo``: version 1 from a run with every kind of data,
    alias ``champion`` on it."""
    database = tmp_path / "mlflow.db"
    client = mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiment = client.create_experiment("demo", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(experiment, tags={**DIVA_TAGS, **OTHER_TAGS})
    for name, value in METRICS.items():
        client.log_metric(run.info.run_id, name, value)
    client.log_param(run.info.run_id, "api_key", "s3cret")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("demo")
    model = tmp_path / "model"
    model.mkdir()
    client.create_model_version("demo", source=str(model), run_id=run.info.run_id)
    client.set_registered_model_alias("demo", "champion", "1")
    return database


def _only_run(document: dict[str, Any]) -> dict[str, Any]:
    [run] = document["mlflow"]["runs"]
    return dict(run)


def test_capture_records_diva_tags_and_target_metrics_only(tmp_path: Path, store: Path) -> None:
    live = Mlflow(tmp_path, f"sqlite:///{store}")
    document = record.capture(live, "demo", "demo", 2, metrics=["rmse", "r2"])
    run = _only_run(document)
    assert run["tags"] == DIVA_TAGS
    assert run["metrics"] == {"rmse": 0.05, "r2": 0.95}
    assert "params" not in run
    assert document["mlflow"]["versions"] == {run["run_id"]: "1"}
    assert document["mlflow"]["aliases"] == {"champion": "1"}
    assert "s3cret" not in json.dumps(document)


def test_capture_evidence_records_the_metrics_of_the_specs_targets(
    tmp_path: Path, store: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    spec = at_stage(2) + f'  mlflow: {{tracking_uri: "sqlite:///{store}"}}\n'
    spec = spec.replace("  - {metric: r2, goal: maximize, threshold: 0.9, dataset: month}\n", "")
    (root / "diva.yaml").write_text(spec, encoding="utf-8")
    capture_evidence(root, "diva.yaml")
    text = (root / record.EVIDENCE_FILE).read_text(encoding="utf-8")
    run = _only_run(json.loads(text))
    assert run["tags"] == DIVA_TAGS
    assert run["metrics"] == {"rmse": 0.05}
    assert "s3cret" not in text
    assert "kim" not in text


def test_a_recorded_run_without_params_reads_back(tmp_path: Path, store: Path) -> None:
    live = Mlflow(tmp_path, f"sqlite:///{store}")
    document = record.capture(live, "demo", "demo", 2, metrics=["rmse"])
    (tmp_path / record.EVIDENCE_FILE).write_text(json.dumps(document), encoding="utf-8")
    recorded = record.read(tmp_path)
    assert recorded is not None
    [run] = recorded.runs("demo")
    assert run.metrics == {"rmse": 0.05}
    assert run.params == {}
