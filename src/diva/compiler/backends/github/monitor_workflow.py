"""The monitoring workflow of the ``github`` backend (stage 5): ``diva monitor`` on a schedule.

On ``monitoring.schedule`` (and on a manual dispatch) one job, on the default branch:

* pulls from the DVC remote the datasets ``diva monitor`` reads:
  ``monitoring.reference_dataset`` and ``monitoring.current_dataset``;
* runs ``diva monitor --out monitoring-report --propose``, which evaluates the champion
  and the challengers, measures drift, checks the SLOs, logs a monitoring run to MLflow
  and writes its report to the job summary. It exits 1 on drift or a breached SLO and 4
  when MLflow or the data cannot be reached: the job fails visibly. When a challenger
  wins, ``--propose`` opens the release pull request that pins it in production, which
  the gate then checks and people approve;
* uploads the report folder as an artifact, whether the monitor passed or not.

Opening that pull request needs what the release's ``pin`` job needs, and gets it the
same way: ``contents`` and ``pull-requests`` write for the job's token, the token
``DIVA_RELEASE_TOKEN`` (which, unlike the job's own, starts the gate on the pull request)
and the MLflow credentials from the GitHub environment ``release``. Evaluation and
proposal are one ``diva monitor`` process, so they cannot sit in jobs of different
permissions without evaluating twice. Projects on an embedded MLflow store get no
monitoring workflow: CI cannot read the store, so every run would fail.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.github.release_workflow import (
    ENVIRONMENT,
    GIT_SETUP,
    ON_MAIN,
    RELEASE_TOKEN,
    mlflow_env,
    mlflow_reachable,
    mlflow_requirements,
)
from diva.compiler.backends.github.workflows import (
    UPLOAD_ARTIFACT,
    WRITE_PERMISSIONS,
    diva_requirement,
    dvc_requirement,
    job,
    pip_install,
    setup_steps,
    workflow,
)
from diva.compiler.ir import Dataset, Project

#: Pulling the data and scoring every version on it takes a while; 60 minutes bound it.
MONITOR_TIMEOUT_MINUTES = 60
REPORT_DIR = "monitoring-report"
#: diva's extra with what ``diva monitor`` imports (pandas, scikit-learn, scipy, ...).
MONITOR_EXTRA = "monitor"

_PULL = 'dvc pull "$DATASET_PATH"'
_MONITOR = f"""\
{GIT_SETUP}
diva monitor --out {REPORT_DIR} --propose"""


def wanted(project: Project) -> bool:
    """Stage 5 with a monitoring section, a model, and an MLflow CI can reach."""
    ready = project.monitoring is not None and project.model is not None
    return project.stage >= 5 and ready and mlflow_reachable(project)


def monitor_workflow(project: Project) -> dict[str, Any]:
    assert project.monitoring is not None
    on = {"schedule": [{"cron": project.monitoring.schedule}], "workflow_dispatch": {}}
    # a run that is pushing its proposal is not cut off halfway: the next one waits
    return workflow("diva monitor", on, {"monitor": _monitor(project)}, cancel=False)


def _monitor(project: Project) -> dict[str, Any]:
    steps = [
        # full history: the proposal runs the gate, which counts stage cycles in it
        *setup_steps(project, full_history=True),
        _install(project),
        *(_pull(dataset) for dataset in monitored(project)),
        {
            "name": "Monitor the champion and the challengers",
            "env": {"GH_TOKEN": RELEASE_TOKEN, **mlflow_env(project)},
            "run": _MONITOR,
        },
        {
            # the report of a failing run is the one people need
            "name": "Upload the monitoring report",
            "if": "always()",
            "uses": UPLOAD_ARTIFACT.uses,
            "with": {"name": REPORT_DIR, "path": REPORT_DIR},
        },
    ]
    settings = {
        "if": ON_MAIN,
        "environment": ENVIRONMENT,
        "permissions": dict.fromkeys(WRITE_PERMISSIONS, "write"),
    }
    return job("diva monitor", project, MONITOR_TIMEOUT_MINUTES, steps, settings)


def monitored(project: Project) -> list[Dataset]:
    """The reference dataset, then the current one when it is another."""
    assert project.monitoring is not None
    by_name = {dataset.name: dataset for dataset in project.datasets}
    names = (project.monitoring.reference_dataset, project.monitoring.current_dataset)
    return [by_name[name] for name in dict.fromkeys(names)]


def _install(project: Project) -> dict[str, Any]:
    # requirements.txt: the model's framework, which loading a version for scoring needs
    requirements = [
        diva_requirement(project, MONITOR_EXTRA),
        *mlflow_requirements(project),
        dvc_requirement(project),
    ]
    return {
        "name": "Install the project, diva, MLflow and DVC",
        "run": pip_install(requirements, files=["requirements.txt"], wrap=True),
    }


def _pull(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": f"Pull dataset {dataset.name}",
        "env": {"DATASET_PATH": dataset.path},
        "run": _PULL,
    }
