"""The monitoring workflow of the ``github`` backend (stage 5): ``diva monitor`` on a schedule.

On ``monitoring.schedule`` (and on a manual dispatch), on the default branch, one
monitoring run is split over three jobs, so that the project's code never runs where
the release token is (docs/contributing/security.md):

* ``download`` (MLflow credentials from the environment ``release``, read-only token)
  runs only diva: ``diva monitor --download`` fetches the versions that the champion and
  challenger aliases point at, as files, loading nothing, and hands them over as an
  artifact;
* ``evaluate`` (no environment, no secret, read-only token) installs the project's
  ``requirements.txt`` (the model's framework, which loading a version needs), pulls
  ``monitoring.reference_dataset`` and ``monitoring.current_dataset`` from the DVC
  remote and runs ``diva monitor --models``: it scores the downloaded versions (MLflow's
  pyfunc loader unpickles them here, and only here), measures drift and writes
  ``report.json``, handed over as an artifact;
* ``releases`` (the environment ``release``, ``contents`` and ``pull-requests`` write,
  ``DIVA_RELEASE_TOKEN``), independent of the three others, runs only diva:
  ``diva release verify --ratify`` compares each environment's MLflow alias with the
  version ``serving.releases`` pins and, where someone moved one outside a pull request,
  fails and opens a draft pull request that pins the moved version (it goes through the
  gate and the release's approvals, or is closed and the pin restored);
* ``propose`` (the environment ``release``, ``contents`` and ``pull-requests`` write,
  ``DIVA_RELEASE_TOKEN``) runs only diva on that file: ``diva monitor --from-report
  --propose`` checks it against the spec and the aliases, judges it again, logs the
  monitoring run to MLflow, opens the release pull request when a challenger wins,
  writes the report to the job summary and uploads it, also when the run failed. It
  exits 1 on drift or a breached SLO and 4 when MLflow cannot be reached.

Projects on an embedded MLflow store get no monitoring workflow: CI cannot read the
store, so every run would fail.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.github.release_workflow import (
    ENVIRONMENT,
    GIT_SETUP,
    MLFLOW_REQUIREMENT,
    ON_MAIN,
    RELEASE_TOKEN,
    mlflow_env,
    mlflow_reachable,
    mlflow_requirements,
)
from diva.compiler.backends.github.workflows import (
    DOWNLOAD_ARTIFACT,
    OUTSIDE,
    REQUIREMENTS,
    SPEC_IN_WORKSPACE,
    UPLOAD_ARTIFACT,
    WRITE_PERMISSIONS,
    install_steps,
    job,
    setup_steps,
    workflow,
)
from diva.compiler.backends.install import diva_requirement, dvc_requirement
from diva.compiler.ir import Dataset, Project

DOWNLOAD_TIMEOUT_MINUTES = 30
#: Pulling the data and scoring every version on it takes a while; 60 minutes bound it.
EVALUATE_TIMEOUT_MINUTES = 60
PROPOSE_TIMEOUT_MINUTES = 20
REPORT_DIR = "monitoring-report"
#: The artifacts one job hands to the next, and their folders under the runner's temp.
VERSIONS = "monitor-versions"
MEASURED = "monitor-measured"
#: diva's extra with what ``diva monitor`` imports (pandas, scikit-learn, scipy, ...).
MONITOR_EXTRA = "monitor"

_PULL = 'dvc pull "$DATASET_PATH"'
_DOWNLOAD = f"diva monitor --spec {SPEC_IN_WORKSPACE} --download {VERSIONS}"
_EVALUATE = f"diva monitor --spec {SPEC_IN_WORKSPACE} --models {VERSIONS} --out {MEASURED}"
_PROPOSE = f"""\
{GIT_SETUP}
diva monitor --from-report "$RUNNER_TEMP/{MEASURED}/report.json" --out {REPORT_DIR} --propose"""


def wanted(project: Project) -> bool:
    """Stage 5 with a monitoring section, a model, and an MLflow CI can reach."""
    ready = project.monitoring is not None and project.model is not None
    return project.stage >= 5 and ready and mlflow_reachable(project)


def monitor_workflow(project: Project) -> dict[str, Any]:
    assert project.monitoring is not None
    on = {"schedule": [{"cron": project.monitoring.schedule}], "workflow_dispatch": {}}
    jobs = {
        "download": _download(project),
        "evaluate": _evaluate(project),
        "propose": _propose(project),
        "releases": _releases(project),
    }
    # a run that is pushing its proposal is not cut off halfway: the next one waits
    return workflow("diva monitor", on, jobs, cancel=False)


def _download(project: Project) -> dict[str, Any]:
    steps = [
        *setup_steps(project, full_history=False),
        *_install(project, "Install diva and MLflow", mlflow_requirements(project)),
        {
            "name": "Download the champion and the challengers",
            "env": mlflow_env(project),
            "working-directory": OUTSIDE,
            "run": _DOWNLOAD,
        },
        _upload(VERSIONS),
    ]
    settings = {"if": ON_MAIN, "environment": ENVIRONMENT}
    name = "diva monitor: download the versions"
    return job(name, project, DOWNLOAD_TIMEOUT_MINUTES, steps, settings)


def _evaluate(project: Project) -> dict[str, Any]:
    # the project's code runs here: no environment, no secret, the read-only token
    install = [MLFLOW_REQUIREMENT, dvc_requirement(project)]
    steps = [
        *setup_steps(project, full_history=False),
        *_install(project, "Install the project, diva, MLflow and DVC", install, project_too=True),
        # dvc works on the repository, so in the checkout (PYTHONSAFEPATH covers it)
        *(_pull(dataset) for dataset in monitored(project)),
        _download_artifact(VERSIONS),
        {
            "name": "Score the champion and the challengers",
            "working-directory": OUTSIDE,
            "run": _EVALUATE,
        },
        _upload(MEASURED, "report.json"),
    ]
    settings = {"needs": "download", "if": ON_MAIN}
    name = "diva monitor: evaluate (no secrets)"
    return job(name, project, EVALUATE_TIMEOUT_MINUTES, steps, settings)


def _propose(project: Project) -> dict[str, Any]:
    install = [*mlflow_requirements(project), dvc_requirement(project)]
    steps = [
        # full history: the proposal runs the gate, which counts stage cycles in it
        *setup_steps(project, full_history=True),
        *_install(project, "Install diva, MLflow and DVC", install),
        _download_artifact(MEASURED),
        {
            # in the checkout: it proposes a change of it; only diva runs here, on the
            # handed-over report (PYTHONSAFEPATH keeps the checkout off sys.path)
            "name": "Judge, log and propose",
            "env": {"GH_TOKEN": RELEASE_TOKEN, **mlflow_env(project)},
            "run": _PROPOSE,
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
        "needs": "evaluate",
        "if": ON_MAIN,
        "environment": ENVIRONMENT,
        "permissions": dict.fromkeys(WRITE_PERMISSIONS, "write"),
    }
    name = "diva monitor: judge and propose"
    return job(name, project, PROPOSE_TIMEOUT_MINUTES, steps, settings)


_VERIFY = f"""\
{GIT_SETUP}
diva release verify --ratify --base "$GITHUB_REF_NAME\""""


def _releases(project: Project) -> dict[str, Any]:
    """Out-of-band alias moves: caught on the monitoring schedule, proposed for approval."""
    install = [diva_requirement(project), *mlflow_requirements(project), dvc_requirement(project)]
    steps = [
        # full history: the ratifying pull request runs the gate, which counts cycles in it
        *setup_steps(project, full_history=True),
        *install_steps(project, "Install diva, MLflow and DVC", install, wrap=True),
        {
            # in the checkout: it proposes a change of it; only diva runs here
            "name": "Compare the aliases with the pinned releases",
            "env": {"GH_TOKEN": RELEASE_TOKEN, **mlflow_env(project)},
            "run": _VERIFY,
        },
    ]
    settings = {
        "if": ON_MAIN,
        "environment": ENVIRONMENT,
        "permissions": dict.fromkeys(WRITE_PERMISSIONS, "write"),
    }
    name = "diva monitor: releases as pinned"
    return job(name, project, PROPOSE_TIMEOUT_MINUTES, steps, settings)


def monitored(project: Project) -> list[Dataset]:
    """The reference dataset, then the current one when it is another."""
    assert project.monitoring is not None
    by_name = {dataset.name: dataset for dataset in project.datasets}
    names = (project.monitoring.reference_dataset, project.monitoring.current_dataset)
    return [by_name[name] for name in dict.fromkeys(names)]


def _install(
    project: Project, name: str, others: list[str], *, project_too: bool = False
) -> list[dict[str, Any]]:
    requirements = [diva_requirement(project, MONITOR_EXTRA), *others]
    files = [REQUIREMENTS] if project_too else None
    return install_steps(project, name, requirements, files=files, wrap=True)


def _upload(artifact: str, file: str | None = None) -> dict[str, Any]:
    """Hands a folder under the runner's temp (or one file of it) to the next job."""
    path = f"{OUTSIDE}/{artifact}" + (f"/{file}" if file else "")
    settings = {"name": artifact, "path": path, "if-no-files-found": "error", "retention-days": 1}
    return {"name": f"Hand over {artifact}", "uses": UPLOAD_ARTIFACT.uses, "with": settings}


def _download_artifact(artifact: str) -> dict[str, Any]:
    """What the previous job handed over, into the runner's temp: outside the checkout."""
    return {
        "name": f"Take over {artifact}",
        "uses": DOWNLOAD_ARTIFACT.uses,
        "with": {"name": artifact, "path": f"{OUTSIDE}/{artifact}"},
    }


def _pull(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": f"Pull dataset {dataset.name}",
        "env": {"DATASET_PATH": dataset.path},
        "run": _PULL,
    }
