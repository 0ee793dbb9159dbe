"""The training workflow of the ``github`` backend (stage 3 on): in-image runs from CI.

Built from the demand-forecast example (MLflow on PostgreSQL, a registry, a GCS DVC
remote) moved to stages 3-5; the workflow linters run on it in tests/lint/.
"""

from __future__ import annotations

from typing import Any

import pytest

from diva import __version__
from diva.compiler.backends.github import train_workflow
from diva.images.train import passed_credentials
from tests.support.backends import CHECKOUT_SHA, base_data, files, load_yaml, project_of, with_stage
from tests.support.hostile import run_scripts

TRAIN = ".github/workflows/diva-train.yml"
TEMP = "${{ runner.temp }}"


def train_of(stage: int = 3, **platform: Any) -> dict[str, Any]:
    data = base_data()
    data["stage"] = stage
    data["platform"].update(platform)
    workflow: dict[str, Any] = load_yaml(files(project_of(data))[TRAIN])
    return workflow


def the_job(workflow: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = workflow["jobs"]["train"]
    return job


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in the_job(workflow)["steps"] if s["name"].startswith(name)]
    return found


@pytest.mark.parametrize("stage", range(3))
def test_no_training_workflow_before_stage_3(stage: int) -> None:
    assert TRAIN not in files(with_stage(stage))


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_stages_3_to_5_get_the_training_workflow(stage: int) -> None:
    """Stage 4 counts in-image runs; later stages retrain the challengers the same way."""
    assert TRAIN in files(with_stage(stage))


def test_no_training_workflow_on_an_embedded_mlflow_store() -> None:
    """The runs would stay on the runner: nobody, the gate included, could read them."""
    data = base_data()
    data["stage"] = 3
    data["platform"]["mlflow"] = {"tracking_uri": "sqlite:///.diva/mlflow.db"}
    assert TRAIN not in files(project_of(data))


def test_it_never_runs_on_a_pull_request() -> None:
    """The job holds MLflow's and the registry's write credentials: merged code only."""
    workflow = train_of()
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    job = the_job(workflow)
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["environment"] == "training"
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in job


def test_it_triggers_on_the_large_pipelines_inputs_not_on_its_results() -> None:
    paths = train_of()["on"]["push"]["paths"]
    for path in ("diva.yaml", "dvc.yaml", "params.yaml", "requirements.txt"):
        assert path in paths
    assert "docker/train.Dockerfile" in paths
    assert TRAIN in paths
    assert "dvc.lock" not in paths
    assert any(path.endswith(".dvc") for path in paths)


def test_it_runs_on_the_gpu_runner_else_the_default_one() -> None:
    assert the_job(train_of(ci={"runner": "cpu-big", "gpu_runner": "gpu-a10"}))["runs-on"] == (
        "gpu-a10"
    )
    assert the_job(train_of(ci={"runner": "cpu-big"}))["runs-on"] == "cpu-big"
    text = files(with_stage(3))[TRAIN]
    assert "runs-on: ubuntu-latest  # platform.ci.runner: the spec names no" in text


def test_a_run_is_never_cancelled_and_has_a_timeout() -> None:
    workflow = train_of()
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert the_job(workflow)["timeout-minutes"] == train_workflow.TRAIN_TIMEOUT_MINUTES
    assert workflow["env"] == {"PYTHONSAFEPATH": "1"}


def test_it_checks_out_without_credentials_and_installs_diva_outside() -> None:
    workflow = train_of()
    checkout = the_job(workflow)["steps"][0]
    assert checkout["uses"] == f"actions/checkout@{CHECKOUT_SHA}"
    assert checkout["with"] == {"persist-credentials": False}
    install = step(workflow, "Install diva and DVC")
    assert install["working-directory"] == TEMP
    assert f'"diva-lifecycle=={__version__}"' in install["run"]
    assert '"dvc[gs]>=3.50,<4"' in install["run"]


def test_it_pushes_the_image_before_training_so_runs_carry_the_registry_digest() -> None:
    names = [s["name"] for s in the_job(train_of())["steps"]]
    assert names.index("Log in to the image registry") < names.index(
        "Build the training image and push it"
    )
    assert names.index("Build the training image and push it") < names.index("Train in the image")
    assert step(train_of(), "Build the training image")["run"] == "diva build train --push"


def test_without_a_registry_it_builds_only() -> None:
    workflow = train_of(image_registry=None)
    assert step(workflow, "Build the training image")["run"] == "diva build train"
    names = [s["name"] for s in the_job(workflow)["steps"]]
    assert "Log in to the image registry" not in names


def test_each_large_dataset_is_pulled_by_name_from_env() -> None:
    workflow = train_of()
    pulls = [s for s in the_job(workflow)["steps"] if s["name"].startswith("Pull dataset")]
    assert [s["env"]["DATASET_PATH"] for s in pulls] == [
        "data/sales-all"
    ]  # not the monitoring data
    assert {s["run"] for s in pulls} == {'dvc pull "$DATASET_PATH"'}


def test_credentials_come_from_secrets_and_variables_through_env_only() -> None:
    workflow = train_of()
    env = step(workflow, "Train in the image")["env"]
    assert env == {
        "MLFLOW_TRACKING_USERNAME": "${{ vars.MLFLOW_TRACKING_USERNAME }}",
        "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
        "MLFLOW_TRACKING_TOKEN": "${{ secrets.MLFLOW_TRACKING_TOKEN }}",
        "PGPASSWORD": "${{ secrets.MLFLOW_DATABASE_PASSWORD }}",
        "DIVA_DVC_USER": "${{ vars.DIVA_DVC_USER }}",
        "DIVA_DVC_PASSWORD": "${{ secrets.DIVA_DVC_PASSWORD }}",
    }
    login = step(workflow, "Log in to the image registry")["env"]
    assert login["REGISTRY_PASSWORD"] == "${{ secrets.DIVA_REGISTRY_PASSWORD }}"
    for script in run_scripts(workflow):
        assert "${{" not in script


def test_the_container_gets_set_credentials_by_name_only() -> None:
    environ = {
        "MLFLOW_TRACKING_PASSWORD": "s3cret",
        "MLFLOW_TRACKING_TOKEN": "",  # a secret GitHub does not have: empty, not passed
        "DIVA_DVC_USER": "curator",
        "HOME": "/root",
    }
    flags = passed_credentials(environ)
    assert flags == ["--env", "MLFLOW_TRACKING_PASSWORD", "--env", "DIVA_DVC_USER"]
    assert "s3cret" not in " ".join(flags)
