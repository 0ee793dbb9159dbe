"""A dataset with `role: monitoring`: tracked and pulled by the monitoring job, no pipeline,
no part in the training image (issue 17, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.compiler.writer import apply
from diva.contract import REQUIREMENTS_FILE
from diva.errors import SpecError
from diva.images.build import default_tag
from tests.support.paths import ROOT

EXAMPLE = ROOT / "specs" / "examples" / "demand-forecast" / "diva.yaml"
MONITORING = """\
  sales-recent:
    role: monitoring              # diva monitor's current data: no pipeline, not in the image
    path: data/sales-recent
    description: The last 8 weeks of sales, refreshed before every monitoring run.
"""
#: the same data declared as before the role existed: a large training dataset
AS_LARGE = MONITORING.replace("    role: monitoring ", "    scale: large     ")
#: the project without the monitoring data at all
WITHOUT = ""
CURRENT = "  current_dataset: sales-recent\n"


def example(datasets: str) -> str:
    text = EXAMPLE.read_text()
    assert MONITORING in text, "the example declares sales-recent as monitoring data"
    text = text.replace(MONITORING, datasets)
    return text if datasets else text.replace(CURRENT, "")


def compiled(tmp_path: Path, name: str, text: str) -> Path:
    out = tmp_path / name
    out.mkdir()
    (out / "diva.yaml").write_text(text)
    apply(plan_job(Job(out / "diva.yaml", out)))
    (out / REQUIREMENTS_FILE).write_text("lightgbm==4.5.0\n")
    return out


def messages(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_document(load_bytes(text.encode()))
    return [issue.render() for issue in caught.value.issues]


def test_monitoring_data_leaves_the_pipeline_and_the_training_image_alone(tmp_path: Path) -> None:
    monitored = compiled(tmp_path, "monitored", example(MONITORING))
    without = compiled(tmp_path, "without", example(WITHOUT))
    for name in ("dvc.yaml", "docker/train.Dockerfile", "deploy/training/job.yaml"):
        assert (monitored / name).read_text() == (without / name).read_text(), name
    assert "sales-recent" not in (monitored / "dvc.yaml").read_text()
    assert default_tag(monitored, "train", None) == default_tag(without, "train", None)
    config = json.loads((monitored / "generated" / "project.json").read_text())
    assert sorted(config["datasets"]) == ["sales-all", "sales-pilot"]  # the pipelines' datasets


def test_the_monitoring_job_pulls_it_and_the_card_names_its_role(tmp_path: Path) -> None:
    monitored = compiled(tmp_path, "monitored", example(MONITORING))
    workflow = (monitored / ".github" / "workflows" / "monitor.yml").read_text()
    assert "name: Pull dataset sales-recent" in workflow
    assert "DATASET_PATH: data/sales-recent" in workflow
    card = (monitored / "generated" / "stage.md").read_text()
    assert "| sales-recent | monitoring | `data/sales-recent` | — |" in card
    assert "/data/sales-recent" in (monitored / ".github" / "CODEOWNERS").read_text()


def test_the_same_data_as_a_large_dataset_changes_the_image(tmp_path: Path) -> None:
    """What the role fixes: declared with a scale, the monitoring data gets a pipeline."""
    monitored = compiled(tmp_path, "monitored", example(MONITORING))
    large = compiled(tmp_path, "large", example(AS_LARGE))
    assert "evaluate-sales-recent" in (large / "docker" / "train.Dockerfile").read_text()
    assert default_tag(large, "train", None) != default_tag(monitored, "train", None)


BASE = """\
diva: 1
project: {name: p, title: T}
stage: small
datasets:
  raw: {scale: small, path: data/raw}
  recent: {role: monitoring, path: data/recent}
model:
  framework: sklearn
  task: regression
  entrypoints: {train: src/train.py, evaluate: src/evaluate.py}
targets:
  - {metric: rmse, goal: minimize, threshold: 1.0, dataset: raw}
"""


def test_a_monitoring_dataset_is_valid_without_a_scale() -> None:
    spec = validate_document(load_bytes(BASE.encode()))
    assert spec.datasets["recent"].role == "monitoring"
    assert spec.datasets["recent"].scale is None
    assert spec.datasets["raw"].role == "training"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "recent: {role: monitoring, path: data/recent}",
            "recent: {path: data/recent}",
            "diva.yaml:6:3: datasets -> recent: a training dataset needs 'scale: small' or"
            " 'scale: large'; data that only `diva monitor` reads is 'role: monitoring'",
        ),
        (
            "recent: {role: monitoring, path: data/recent}",
            "recent: {role: monitoring, scale: large, path: data/recent}",
            "diva.yaml:6:30: datasets -> recent -> scale: a monitoring dataset has no scale:"
            " no pipeline runs on it",
        ),
        (
            "threshold: 1.0, dataset: raw}",
            "threshold: 1.0, dataset: recent}",
            "diva.yaml:12:61: targets -> 0 -> dataset: 'recent' is a monitoring dataset:"
            " targets are met on the datasets the pipeline trains and evaluates on"
            " (role: training)",
        ),
        (
            "recent: {role: monitoring,",
            "recent: {role: watching,",
            "diva.yaml:6:18: datasets -> recent -> role: must be one of: training, monitoring",
        ),
    ],
    ids=["training-without-scale", "monitoring-with-scale", "target-on-monitoring", "bad-role"],
)
def test_a_misdeclared_role_is_named_where_it_is(old: str, new: str, expected: str) -> None:
    assert old in BASE
    assert messages(BASE.replace(old, new)) == [expected]
