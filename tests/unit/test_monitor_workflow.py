"""The monitoring workflow of the ``github`` backend (stage 5): ``diva monitor`` on a schedule.

Three jobs (download, evaluate, propose), so that the project's code never runs next to
the release token. Built from the demand-forecast example (stage 5, MLflow on
PostgreSQL, a GCS DVC remote);
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


DOWNLOAD_SHA = "d3f86a106a0bac45b974a628896c90dbdf5c8093"
MLFLOW_ENV = {
    "MLFLOW_TRACKING_USERNAME": "${{ vars.MLFLOW_TRACKING_USERNAME }}",
    "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
    "MLFLOW_TRACKING_TOKEN": "${{ secrets.MLFLOW_TRACKING_TOKEN }}",
    "PGPASSWORD": "${{ secrets.MLFLOW_DATABASE_PASSWORD }}",
}
TEMP = "${{ runner.temp }}"
JOBS = ["download", "evaluate", "propose"]


def monitor_of(project: Project) -> dict[str, Any]:
    workflow: dict[str, Any] = load_yaml(files(project)[MONITOR])
    return workflow


def the_job(workflow: dict[str, Any], job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = workflow["jobs"][job_id]
    return job


def step(workflow: dict[str, Any], job_id: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in the_job(workflow, job_id)["steps"] if s["name"] == name]
    return found


DOWNLOAD_STEP = "Download the champion and the challengers"
SCORE_STEP = "Score the champion and the challengers"
PROPOSE_STEP = "Judge, log and propose"


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


def test_only_the_proposing_jobs_may_write_and_only_what_a_pull_request_needs() -> None:
    workflow = monitor_of(with_stage(5))
    assert workflow["permissions"] == {"contents": "read"}
    assert list(workflow["jobs"]) == [*JOBS, "releases"]
    for job_id in ("propose", "releases"):
        assert the_job(workflow, job_id)["permissions"] == {
            "contents": "write",
            "pull-requests": "write",
        }
    for job_id in ("download", "evaluate"):
        assert "permissions" not in the_job(workflow, job_id)


def test_write_permissions_carry_their_reason() -> None:
    text = files(with_stage(5))[MONITOR]
    assert "      contents: write  # push the release branch\n" in text
    assert "      pull-requests: write  # open the release pull request\n" in text


def test_the_jobs_run_in_order_on_main_and_are_never_cancelled() -> None:
    workflow = monitor_of(with_stage(5))
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = [the_job(workflow, job_id) for job_id in JOBS]
    assert [job.get("needs") for job in jobs] == [None, "download", "evaluate"]
    assert {job["if"] for job in jobs} == {"github.ref == 'refs/heads/main'"}
    assert [job["timeout-minutes"] for job in jobs] == [30, 60, 20]


def test_only_the_jobs_that_run_diva_alone_are_in_the_release_environment() -> None:
    """The project's code (requirements, the registry's pickles) runs in `evaluate`:
    no environment, so no secret of `release`, and no secret at all."""
    workflow = monitor_of(with_stage(5))
    assert the_job(workflow, "download")["environment"] == "release"
    assert the_job(workflow, "propose")["environment"] == "release"
    evaluate = the_job(workflow, "evaluate")
    assert "environment" not in evaluate
    assert "secrets." not in str(evaluate)
    assert "github.token" not in str(evaluate)


def test_checkouts_persist_no_credentials_and_the_proposal_has_full_history() -> None:
    workflow = monitor_of(with_stage(5))
    for job_id in JOBS:
        checkout = the_job(workflow, job_id)["steps"][0]
        assert checkout["uses"] == f"actions/checkout@{CHECKOUT_SHA}"
        history = {"fetch-depth": 0} if job_id == "propose" else {}
        assert checkout["with"] == {**history, "persist-credentials": False}


def install_of(workflow: dict[str, Any], job_id: str) -> dict[str, Any]:
    (found,) = [s for s in the_job(workflow, job_id)["steps"] if s["name"].startswith("Install")]
    return found


def test_only_the_evaluation_installs_the_project() -> None:
    workflow = monitor_of(with_stage(5))
    assert install_of(workflow, "evaluate") == {
        "name": "Install the project, diva, MLflow and DVC",
        "working-directory": TEMP,
        "run": (
            "python -m pip install \\\n"
            '  -r "$GITHUB_WORKSPACE/requirements.txt" \\\n'
            f'  "diva-lifecycle[monitor]=={__version__}" \\\n'
            '  "mlflow>=2.16,<4" \\\n'
            '  "dvc[gs]>=3.50,<4"'
        ),
    }
    assert install_of(workflow, "download")["run"] == (
        "python -m pip install \\\n"
        f'  "diva-lifecycle[monitor]=={__version__}" \\\n'
        '  "mlflow>=2.16,<4" \\\n'
        '  "psycopg2-binary>=2.9,<3"'
    )
    assert install_of(workflow, "propose")["run"] == (
        "python -m pip install \\\n"
        f'  "diva-lifecycle[monitor]=={__version__}" \\\n'
        '  "mlflow>=2.16,<4" \\\n'
        '  "psycopg2-binary>=2.9,<3" \\\n'
        '  "dvc[gs]>=3.50,<4"'
    )
    for job_id in JOBS:
        assert install_of(workflow, job_id)["working-directory"] == TEMP


# --- the data, the hand-overs, the monitor, the report -------------------------------


def pulls(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    steps = the_job(workflow, "evaluate")["steps"]
    return [s for s in steps if s["name"].startswith("Pull dataset ")]


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


def test_the_download_runs_diva_alone_outside_the_checkout_with_mlflow_credentials() -> None:
    download = step(monitor_of(with_stage(5)), "download", DOWNLOAD_STEP)
    assert download == {
        "name": DOWNLOAD_STEP,
        "env": MLFLOW_ENV,
        "working-directory": TEMP,
        "run": 'diva monitor --spec "$GITHUB_WORKSPACE/diva.yaml" --download monitor-versions',
    }


def test_the_evaluation_scores_the_downloaded_versions_without_secrets() -> None:
    score = step(monitor_of(with_stage(5)), "evaluate", SCORE_STEP)
    assert score == {
        "name": SCORE_STEP,
        "working-directory": TEMP,
        "run": 'diva monitor --spec "$GITHUB_WORKSPACE/diva.yaml" --models monitor-versions '
        "--out monitor-measured",
    }


def test_each_job_hands_over_to_the_next_through_the_runners_temp() -> None:
    workflow = monitor_of(with_stage(5))
    handed = {
        job_id: [s for s in the_job(workflow, job_id)["steps"] if "uses" in s][2:]
        for job_id in JOBS
    }
    assert handed["download"] == [upload("monitor-versions", f"{TEMP}/monitor-versions")]
    assert handed["evaluate"] == [
        take("monitor-versions"),
        upload("monitor-measured", f"{TEMP}/monitor-measured/report.json"),
    ]
    assert handed["propose"][0] == take("monitor-measured")
    text = files(with_stage(5))[MONITOR]
    assert f"uses: actions/download-artifact@{DOWNLOAD_SHA}  # v4.3.0\n" in text


def upload(name: str, path: str) -> dict[str, Any]:
    return {
        "name": f"Hand over {name}",
        "uses": f"actions/upload-artifact@{UPLOAD_SHA}",
        "with": {"name": name, "path": path, "if-no-files-found": "error", "retention-days": 1},
    }


def take(name: str) -> dict[str, Any]:
    return {
        "name": f"Take over {name}",
        "uses": f"actions/download-artifact@{DOWNLOAD_SHA}",
        "with": {"name": name, "path": f"{TEMP}/{name}"},
    }


def test_the_proposal_runs_with_the_release_token_and_mlflow_credentials() -> None:
    propose = step(monitor_of(with_stage(5)), "propose", PROPOSE_STEP)
    assert propose["env"] == {"GH_TOKEN": RELEASE_TOKEN, **MLFLOW_ENV}
    assert "if" not in propose  # a failing monitor fails the job


def test_the_proposal_judges_the_handed_over_report_and_writes_the_report_folder() -> None:
    script = step(monitor_of(with_stage(5)), "propose", PROPOSE_STEP)["run"]
    assert script.splitlines() == [
        "gh auth setup-git",
        'git config user.name "github-actions[bot]"',
        'git config user.email "41898282+github-actions[bot]@users.noreply.github.com"',
        'diva monitor --from-report "$RUNNER_TEMP/monitor-measured/report.json" '
        "--out monitoring-report --propose",
    ]


def test_the_report_is_uploaded_even_when_the_monitor_fails() -> None:
    workflow = monitor_of(with_stage(5))
    upload = the_job(workflow, "propose")["steps"][-1]
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
    for job_id in ("download", "propose"):
        assert '"pymysql>=1.1,<2"' in install_of(workflow, job_id)["run"]
    assert "pymysql" not in install_of(workflow, "evaluate")["run"]  # it reaches no store
    assert "PGPASSWORD" not in step(workflow, "propose", PROPOSE_STEP)["env"]


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


# --- the releases job: aliases moved outside a pull request ---------------------------


def test_the_releases_job_compares_the_aliases_and_proposes_the_moved_ones() -> None:
    """Only diva runs there (no requirements of the project), in the release
    environment, on main, on the schedule, and independent of the monitoring run."""
    workflow = monitor_of(with_stage(5))
    releases = the_job(workflow, "releases")
    assert releases["environment"] == "release"
    assert releases["if"] == "github.ref == 'refs/heads/main'"
    assert "needs" not in releases
    run = releases["steps"][-1]["run"]
    assert run.endswith('diva release verify --ratify --base "$GITHUB_REF_NAME"')
    assert "${{" not in run
    installs = " ".join(step.get("run", "") for step in releases["steps"])
    assert "requirements.txt" not in installs
    assert releases["steps"][0]["with"]["fetch-depth"] == 0
