"""The training workflow of the ``github`` backend (stage 3 on): in-image runs from CI.

Stage 4 counts MLflow runs of the large dataset made *inside the standardized image*:
runs tagged ``diva.image.digest``, which ``diva train`` sets. This workflow makes them
on a runner rather than on a laptop, one job on ``platform.ci.gpu_runner`` (the
default runner ``platform.ci.runner`` when the spec names no GPU runner):

1. check out (no persisted credentials), set up Python, install diva and DVC on the
   runner (outside the checkout, like every other workflow);
2. ``dvc pull`` each large dataset into the checkout, from the project's DVC remote;
3. ``diva build train`` from the checkout: the image is built from this commit's
   Dockerfile and requirements on the standardized base, so its digest stands for this
   commit (pulling a pinned image instead would prove nothing about the commit). With
   ``platform.image_registry`` it is pushed (``--push``) *before* training, so that the
   runs carry the registry's manifest digest, which anyone (the gate, a reviewer, a
   Kubernetes Job) can resolve; without a registry they carry the local image ID;
4. ``diva train``: ``dvc repro`` of the large datasets inside that image, logging to the
   team's MLflow with the tracking credentials, which diva passes into the container by
   name (their values never reach a command line).

Triggers: ``workflow_dispatch`` and a push to the default branch that changes what the
large-scale pipeline's result depends on (spec, pipeline files, requirements, the
training Dockerfile, code, the large datasets' pointers). Never ``pull_request``: the job
holds write credentials (MLflow, the DVC remote, the registry) and runs the project's
pipeline, so only code already merged into the default branch may run in it. The job's
``if`` keeps a dispatch from another branch out too, and its GitHub environment
(``training``) lets the team restrict the secrets to the default branch as well.

A project whose MLflow is an embedded file store gets no training workflow (the runs
would stay on the runner), nor one without a large dataset, a model or a base image.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.github.release_workflow import (
    ON_MAIN,
    mlflow_env,
    mlflow_reachable,
    registry_login,
)
from diva.compiler.backends.github.workflows import (
    DEFAULT_BRANCH,
    REQUIREMENTS,
    TRAIN_WORKFLOW,
    install_steps,
    job,
    setup_steps,
    workflow,
)
from diva.compiler.backends.install import diva_requirement, dvc_requirement
from diva.compiler.ir import Project
from diva.contract import SPEC_FILE

TRAIN_TIMEOUT_MINUTES = 360
#: The GitHub environment of the training secrets: restrict it to the default branch.
ENVIRONMENT = "training"
#: The DVC remote's user and password, for remotes that need them (variable and secret).
DVC_CREDENTIALS = {
    "DIVA_DVC_USER": "${{ vars.DIVA_DVC_USER }}",
    "DIVA_DVC_PASSWORD": "${{ secrets.DIVA_DVC_PASSWORD }}",
}
TRAIN_DOCKERFILE = "docker/train.Dockerfile"
_PULL = 'dvc pull "$DATASET_PATH"'
#: DVC reads a remote's credentials from .dvc/config.local only (DVC's documented way:
#: `dvc remote modify --local`); the remote is the one diva wrote into .dvc/config from
#: the spec on main. Nothing is written when the variables are not set.
_CREDENTIALS = """\
remote="$(dvc config core.remote)"
if [[ -n "${DIVA_DVC_USER:-}" ]]; then
  dvc remote modify --local "$remote" user "$DIVA_DVC_USER"
fi
if [[ -n "${DIVA_DVC_PASSWORD:-}" ]]; then
  dvc remote modify --local "$remote" password "$DIVA_DVC_PASSWORD"
fi
"""
#: HTTP remotes send credentials only with an auth method set
_HTTP_AUTH = (
    'if [[ -n "${DIVA_DVC_USER:-}" ]]; then dvc remote modify --local "$remote" auth basic; fi\n'
)
#: Docker's and the pipeline's progress go to stderr, into the job's log; stdout is
#: the result (the image, the digest the runs are tagged with).
_BUILD = "diva build train"
_BUILD_AND_PUSH = "diva build train --push"
_TRAIN = """\
digest="$(diva train)"
echo "MLflow runs tagged with image $digest" | tee -a "$GITHUB_STEP_SUMMARY\""""


def wanted(project: Project) -> bool:
    """A training workflow needs the training image (a model on a base image), a large
    dataset to train on and an MLflow that CI can reach (a server or a database)."""
    ready = project.model is not None and project.base_image is not None
    return (
        project.stage >= 3 and ready and bool(project.large_datasets) and mlflow_reachable(project)
    )


def runner(project: Project) -> str:
    """The GPU runner label, else the default runner."""
    return project.gpu_runner or project.ci_runner


def runner_comment(project: Project) -> dict[str, str]:
    """The ``runs-on`` line's comment: where the label comes from."""
    why = (
        "platform.ci.gpu_runner"
        if project.gpu_runner
        else "platform.ci.runner: the spec names no platform.ci.gpu_runner"
    )
    return {f"runs-on: {runner(project)}": why}


def train_workflow(project: Project) -> dict[str, Any]:
    on: dict[str, Any] = {
        "push": {"branches": [DEFAULT_BRANCH], "paths": _paths(project)},
        "workflow_dispatch": {},
    }
    # a training run under way is not cut off halfway: the next one waits for it
    return workflow("diva train", on, {"train": _job(project)}, cancel=False)


def _paths(project: Project) -> list[str]:
    """What the large-scale result depends on. Not dvc.lock: it records results, and a
    commit of results is no reason to train again."""
    assert project.model is not None
    fixed = [SPEC_FILE, "dvc.yaml", "params.yaml", REQUIREMENTS, TRAIN_DOCKERFILE]
    code = [dep if dep.endswith(".py") else f"{dep}/**" for dep in project.model.code_deps]
    data = [f"{dataset.path}.dvc" for dataset in project.large_datasets]
    return [*fixed, TRAIN_WORKFLOW, *code, *data]


def _job(project: Project) -> dict[str, Any]:
    registry = bool(project.image_registry)
    steps = [
        *setup_steps(project, full_history=False),
        *install_steps(
            project, "Install diva and DVC", [diva_requirement(project), dvc_requirement(project)]
        ),
        _credentials(project),
        *(_pull(dataset.name, dataset.path) for dataset in project.large_datasets),
        *([registry_login(project)] if registry else []),
        {
            # in the checkout, the build context; the project's requirements install in
            # the build container, which gets none of this job's secrets
            "name": "Build the training image" + (" and push it" if registry else ""),
            "run": _BUILD_AND_PUSH if registry else _BUILD,
        },
        {
            # in the checkout: the training container mounts it; the credentials reach
            # the container by name (docker run --env NAME), never as text
            "name": "Train in the image",
            "env": {**mlflow_env(project), **DVC_CREDENTIALS},
            "run": _TRAIN,
        },
    ]
    name = "diva train: the large datasets, in the training image"
    settings = {"if": ON_MAIN, "environment": ENVIRONMENT}
    trained = job(name, project, TRAIN_TIMEOUT_MINUTES, steps, settings)
    return {**trained, "runs-on": runner(project)}  # the key keeps its place


def _credentials(project: Project) -> dict[str, Any]:
    http = project.dvc_remote[1].startswith(("http://", "https://"))
    return {
        "name": "Give DVC the remote's credentials (.dvc/config.local)",
        "env": DVC_CREDENTIALS,
        "run": _CREDENTIALS + (_HTTP_AUTH if http else ""),
    }


def _pull(name: str, path: str) -> dict[str, Any]:
    # dvc pull writes into the checkout; dvc reads no code of it
    return {
        "name": f"Pull dataset {name}",
        "env": {"DATASET_PATH": path, **DVC_CREDENTIALS},
        "run": _PULL,
    }
