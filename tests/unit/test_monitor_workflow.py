"""The monitoring workflow of the ``github`` backend (stage 5): ``diva monitor`` on a schedule.

Built from the demand-forecast example (stage 5, MLflow on PostgreSQL, a GCS DVC remote);
the workflow linters run on it in tests/lint/test_workflows.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from diva import __version__
from diva.compiler.backends.github import monitor_workflow
from diva.compiler.ir import Project
from tests.support.backends import (
    CHECKOUT_SHA,
    base_data,
    files,
    load_yaml,
    project_of,
    with_stage,
)
from tests.support.hostile import benign, hostile, outputs, planted, run_scripts

MONITOR = ".github/workflows/monitor.yml"
UPLOAD_SHA = "ea165f8d65b6e75b540449e92b4886f43607fa02"
RELEASE_TOKEN = "${{ secrets.DIVA_RELEASE_TOKEN || github.token }}"


def monitor_of(project: Project) -> dict[str, Any]:
    workflow: dict[str, Any] = load_yaml(files(project)[MONITOR])
    return workflow


def the_job(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    result: dict[str, Any] = job
    return result


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in the_job(workflow)["steps"] if s["name"] == name]
    return found


MONITOR_STEP = "Monitor the champion and the challengers"


# --- when it is generated ------------------------------------------------------------


@pytest.mark.parametrize("stage", range(5))
def test_no_monitoring_workflow_before_stage_5(stage: int) -> None:
    assert MONITOR not in files(with_stage(stage))


def test_stage_5_gets_the_monitoring_workflow() -> None:
    assert MONITOR in files(with_stage(5))


def test_no_monitoring_workflow_on_an_embedded_mlflow_store() -> None:
    """CI cannot read a store on the modeler's machine: every run would fail."""
    data = base_data()
    data["platform"]["mlflow"] = {"tracking_uri": "sqlite:///.diva/mlflow.db"}
    assert MONITOR not in files(project_of(data))


def test_no_monitoring_workflow_without_a_monitoring_section() -> None:
    project = dataclasses.replace(with_stage(5), monitoring=None)
    assert not monitor_workflow.wanted(project)


# --- triggers, permissions, hardening ------------------------------------------------


def test_it_runs_on_the_specs_schedule_and_by_hand() -> None:
    assert monitor_of(with_stage(5))["on"] == {
        "schedule": [{"cron": "0 6 * * MON"}],
        "workflow_dispatch": {},
    }


def test_the_cron_is_the_specs_own() -> None:
    data = base_data()
    data["monitoring"]["schedule"] = "*/30 1-5 1,15 * 1-5"
    (entry,) = monitor_of(project_of(data))["on"]["schedule"]
    assert entry == {"cron": "*/30 1-5 1,15 * 1-5"}


def test_only_the_monitor_job_may_write_and_only_what_a_pull_request_needs() -> None:
    workflow = monitor_of(with_stage(5))
    assert workflow["permissions"] == {"contents": "read"}
    assert list(workflow["jobs"]) == ["monitor"]
    assert the_job(workflow)["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_write_permissions_carry_their_reason() -> None:
    text = files(with_stage(5))[MONITOR]
    assert "      contents: write  # push the release branch\n" in text
    assert "      pull-requests: write  # open the release pull request\n" in text


def test_it_runs_on_main_in_the_release_environment_and_is_never_cancelled() -> None:
    workflow = monitor_of(with_stage(5))
    job = the_job(workflow)
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["environment"] == "release"
    assert job["timeout-minutes"] == 60
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_checkout_has_full_history_and_persists_no_credentials() -> None:
    checkout = the_job(monitor_of(with_stage(5)))["steps"][0]
    assert checkout["uses"] == f"actions/checkout@{CHECKOUT_SHA}"
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_it_installs_the_project_exact_diva_mlflow_with_its_driver_and_dvc() -> None:
    install = step(monitor_of(with_stage(5)), "Install the project, diva, MLflow and DVC")
    assert install["run"] == (
        "python -m pip install \\\n"
        "  -r requirements.txt \\\n"
        f'  "diva-lifecycle[monitor]=={__version__}" \\\n'
        '  "mlflow>=2.16,<4" \\\n'
        '  "psycopg2-binary>=2.9,<3" \\\n'
        '  "dvc[gs]>=3.50,<4"'
    )


# --- the data, the monitor, the report -----------------------------------------------


def pulls(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in the_job(workflow)["steps"] if s["name"].startswith("Pull dataset ")]


def test_it_pulls_the_reference_and_the_current_dataset() -> None:
    data = base_data()
    data["monitoring"]["current_dataset"] = "sales-recent"
    assert pulls(monitor_of(project_of(data))) == [
        {
            "name": "Pull dataset sales-all",
            "env": {"DATASET_PATH": "data/sales-all"},
            "run": 'dvc pull "$DATASET_PATH"',
        },
        {
            "name": "Pull dataset sales-recent",
            "env": {"DATASET_PATH": "data/sales-recent"},
            "run": 'dvc pull "$DATASET_PATH"',
        },
    ]


@pytest.mark.parametrize("current", [None, "sales-all"])
def test_it_pulls_the_reference_once_when_it_is_the_current_dataset(current: str | None) -> None:
    data = base_data()
    data["monitoring"].pop("current_dataset", None)
    if current:
        data["monitoring"]["current_dataset"] = current
    names = [step["name"] for step in pulls(monitor_of(project_of(data)))]
    assert names == ["Pull dataset sales-all"]


def test_monitor_runs_with_the_release_token_and_mlflow_credentials() -> None:
    monitor = step(monitor_of(with_stage(5)), MONITOR_STEP)
    assert monitor["env"] == {
        "GH_TOKEN": RELEASE_TOKEN,
        "MLFLOW_TRACKING_USERNAME": "${{ vars.MLFLOW_TRACKING_USERNAME }}",
        "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
        "MLFLOW_TRACKING_TOKEN": "${{ secrets.MLFLOW_TRACKING_TOKEN }}",
        "PGPASSWORD": "${{ secrets.MLFLOW_DATABASE_PASSWORD }}",
    }
    assert "if" not in monitor  # a failing monitor fails the job


def test_monitor_proposes_and_writes_the_report_folder() -> None:
    script = step(monitor_of(with_stage(5)), MONITOR_STEP)["run"]
    assert script.splitlines() == [
        "gh auth setup-git",
        'git config user.name "github-actions[bot]"',
        'git config user.email "41898282+github-actions[bot]@users.noreply.github.com"',
        "diva monitor --out monitoring-report --propose",
    ]


def test_the_report_is_uploaded_even_when_the_monitor_fails() -> None:
    workflow = monitor_of(with_stage(5))
    upload = the_job(workflow)["steps"][-1]
    assert upload == {
        "name": "Upload the monitoring report",
        "if": "always()",
        "uses": f"actions/upload-artifact@{UPLOAD_SHA}",
        "with": {"name": "monitoring-report", "path": "monitoring-report"},
    }
    text = files(with_stage(5))[MONITOR]
    assert f"uses: actions/upload-artifact@{UPLOAD_SHA}  # v4.6.2\n" in text


def test_the_mysql_driver_follows_the_tracking_uri() -> None:
    data = base_data()
    data["platform"]["mlflow"] = {"tracking_uri": "mysql+pymysql://db:3306/mlflow"}
    workflow = monitor_of(project_of(data))
    assert '"pymysql>=1.1,<2"' in step(workflow, "Install the project, diva, MLflow and DVC")["run"]
    assert "PGPASSWORD" not in step(workflow, MONITOR_STEP)["env"]


# --- spec values stay data -----------------------------------------------------------


def test_spec_values_reach_the_scripts_only_through_env() -> None:
    """Dataset names and paths, the cron: validated, and still never part of a script."""
    project = with_stage(5)
    spec_values = {d.name for d in project.datasets} | {d.path for d in project.datasets}
    spec_values.add("0 6 * * MON")
    for script in run_scripts(monitor_of(project)):
        assert [value for value in spec_values if value in script] == [], script


def test_hostile_text_leaves_the_monitoring_workflow_unchanged() -> None:
    hostile_files = outputs(planted(hostile), 5)
    assert hostile_files[MONITOR] == outputs(planted(benign), 5)[MONITOR]
    assert "«field-" not in hostile_files[MONITOR]
