"""The release workflow of the ``github`` backend (stage 4 on): GitOps by pull request.

On a push to the default branch that touches the spec (and on a manual dispatch there):

* ``image`` reads the first environment's release (``diva release show``); when it pins
  a model version without an image digest, it builds and pushes the serving image of
  that version (``diva build serve --push``). Read-only.
* ``pin`` writes the digest into the spec by pull request
  (``diva release pin --pr``): the one job with write permissions, ``contents`` to push
  the branch and ``pull-requests`` to open it, and no Docker build in it.
* ``aliases`` points each environment's MLflow alias at the version its release pins
  (``diva release alias``): ``champion`` for the last environment. Read-only.

No job installs the project on the runner: each installs diva and MLflow only. ``image``
builds the serving image from the checkout, and the project's requirements install
inside that build, a container that gets none of the job's secrets; ``pin``, the job
with the write token, runs diva alone.

Merging the pin pull request changes the spec again; its first environment then has a
digest, so that run builds nothing: the workflow never feeds itself. Credentials come
from repository secrets and variables (docs/release.md), the tracking URI and registry
from the spec as diva reads them; no value reaches a ``run:`` script but through
``env:``. Projects on an embedded MLflow store (a file CI cannot read) get no release
workflow: they release from the machine that holds the store.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.github.workflows import (
    DEFAULT_BRANCH,
    OUTSIDE,
    RELEASE_WORKFLOW,
    SPEC_IN_WORKSPACE,
    WRITE_PERMISSIONS,
    install_steps,
    job,
    setup_steps,
    workflow,
)
from diva.compiler.backends.install import diva_requirement
from diva.compiler.ir import Project
from diva.contract import SPEC_FILE

MLFLOW_REQUIREMENT = "mlflow>=2.16,<4"
#: Database drivers of MLflow stores that are databases, by URI scheme.
MLFLOW_DRIVERS = {"postgresql": "psycopg2-binary>=2.9,<3", "mysql": "pymysql>=1.1,<2"}
IMAGE_TIMEOUT_MINUTES = 60
PIN_TIMEOUT_MINUTES = 20
ALIASES_TIMEOUT_MINUTES = 10
ON_MAIN = f"github.ref == 'refs/heads/{DEFAULT_BRANCH}'"
#: The GitHub environment that holds the release's secrets: restrict it to the default
#: branch, and no other branch's workflow can read them.
ENVIRONMENT = "release"
#: The token that pushes the release branch and opens its pull request. Pull requests
#: opened with the workflow's own token start no workflow (GitHub's rule), so the gate
#: would not run on them: a GitHub App or fine-grained token in this secret avoids that.
RELEASE_TOKEN = "${{ secrets.DIVA_RELEASE_TOKEN || github.token }}"  # noqa: S105 - a reference
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"

_SHOW = f'diva release show "$ENVIRONMENT" --spec {SPEC_IN_WORKSPACE} | tee -a "$GITHUB_OUTPUT"'
_LOGIN = """\
if [ -n "$REGISTRY_PASSWORD" ]; then
  printf '%s' "$REGISTRY_PASSWORD" |
    docker login "$REGISTRY" --username "$REGISTRY_USERNAME" --password-stdin
fi"""
_BUILD = """\
built="$(diva build serve --push --quiet --model-version "$MODEL_VERSION")"
echo "digest=${built##*@}" >> "$GITHUB_OUTPUT\""""
#: Lets ``git push`` use ``GH_TOKEN`` (the checkout persists no credentials) and commit
#: as the Actions bot: the start of every script that proposes a change by pull request.
GIT_SETUP = f"""\
gh auth setup-git
git config user.name "{BOT_NAME}"
git config user.email "{BOT_EMAIL}\""""
_PIN = f"""\
{GIT_SETUP}
diva release pin "$ENVIRONMENT" --model-version "$MODEL_VERSION" --digest "$IMAGE_DIGEST" \\
  --pr --base "$GITHUB_REF_NAME\""""
_ALIAS = f"diva release alias --spec {SPEC_IN_WORKSPACE}"


def wanted(project: Project) -> bool:
    """A release workflow needs the serving image (stage 4, a model on a base image, a
    registry) and an MLflow that CI can reach (a server or database, not a local file)."""
    ready = project.model is not None and project.base_image is not None
    return (
        project.stage >= 4 and ready and bool(project.image_registry) and mlflow_reachable(project)
    )


def release_workflow(project: Project) -> dict[str, Any]:
    paths = [SPEC_FILE, RELEASE_WORKFLOW]
    on: dict[str, Any] = {
        "push": {"branches": [DEFAULT_BRANCH], "paths": paths},
        "workflow_dispatch": {},
    }
    jobs = {"image": _image(project), "pin": _pin(project), "aliases": _aliases(project)}
    # a release under way is not cut off halfway: the next run waits for it
    return workflow("diva release", on, jobs, cancel=False)


def _install(project: Project) -> list[dict[str, Any]]:
    # diva and MLflow only: no job of this workflow installs the project on the runner
    requirements = [diva_requirement(project), *mlflow_requirements(project)]
    return install_steps(project, "Install diva and MLflow", requirements)


def mlflow_requirements(project: Project) -> list[str]:
    """MLflow, and the database driver of a store that is a database."""
    scheme = project.mlflow.tracking_uri.partition(":")[0].partition("+")[0]
    return [MLFLOW_REQUIREMENT, *([MLFLOW_DRIVERS[scheme]] if scheme in MLFLOW_DRIVERS else [])]


def mlflow_reachable(project: Project) -> bool:
    """A server or database CI can reach, not a local file of the modeler's machine."""
    return not project.mlflow.tracking_uri.startswith(("sqlite:", "file:"))


def mlflow_env(project: Project) -> dict[str, str]:
    """MLflow's own credential variables (the URI is the spec's, read by diva)."""
    env = {
        "MLFLOW_TRACKING_USERNAME": "${{ vars.MLFLOW_TRACKING_USERNAME }}",
        "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
        "MLFLOW_TRACKING_TOKEN": "${{ secrets.MLFLOW_TRACKING_TOKEN }}",
    }
    if project.mlflow.tracking_uri.startswith("postgresql"):
        env["PGPASSWORD"] = "${{ secrets.MLFLOW_DATABASE_PASSWORD }}"
    return env


def registry_login(project: Project, condition: str | None = None) -> dict[str, Any]:
    """Log in to the spec's image registry when a password is set (a variable and a
    secret), under ``condition`` if given."""
    step: dict[str, Any] = {"name": "Log in to the image registry"}
    if condition:
        step["if"] = condition
    step["env"] = {
        "REGISTRY": str(project.image_registry).split("/")[0],
        "REGISTRY_USERNAME": "${{ vars.DIVA_REGISTRY_USERNAME }}",
        "REGISTRY_PASSWORD": "${{ secrets.DIVA_REGISTRY_PASSWORD }}",
    }
    return {**step, "run": _LOGIN}


def _image(project: Project) -> dict[str, Any]:
    environment = project.environments[0]
    needed = "steps.release.outputs.needs_image == 'true'"
    steps = [
        *setup_steps(project, full_history=False),
        *_install(project),
        {
            "name": f"Read the release of {environment}",
            "id": "release",
            "env": {"ENVIRONMENT": environment},
            "working-directory": OUTSIDE,
            "run": _SHOW,
        },
        registry_login(project, needed),
        {
            # in the checkout, the build context. The project's requirements install in
            # the image build, a container that gets neither this job's secrets nor the
            # registry login; PYTHONSAFEPATH covers diva itself
            "name": "Build and push the serving image",
            "id": "build",
            "if": needed,
            "env": {
                "MODEL_VERSION": "${{ steps.release.outputs.model_version }}",
                **mlflow_env(project),
            },
            "run": _BUILD,
        },
    ]
    outputs = {
        "model_version": "${{ steps.release.outputs.model_version }}",
        "digest": "${{ steps.build.outputs.digest }}",
    }
    name = f"diva release: serving image for {environment}"
    return job(
        name,
        project,
        IMAGE_TIMEOUT_MINUTES,
        steps,
        {"if": ON_MAIN, "environment": ENVIRONMENT, "outputs": outputs},
    )


def _pin(project: Project) -> dict[str, Any]:
    environment = project.environments[0]
    steps = [
        *setup_steps(project, full_history=True),
        *_install(project),
        {
            # in the checkout: it edits the spec and pushes the branch; diva alone runs
            # here (PYTHONSAFEPATH keeps the checkout off sys.path)
            "name": f"Pin the image of {environment} by pull request",
            "env": {
                "ENVIRONMENT": environment,
                "MODEL_VERSION": "${{ needs.image.outputs.model_version }}",
                "IMAGE_DIGEST": "${{ needs.image.outputs.digest }}",
                "GH_TOKEN": RELEASE_TOKEN,
                **mlflow_env(project),
            },
            "run": _PIN,
        },
    ]
    settings = {
        "needs": "image",
        "if": "needs.image.outputs.digest != ''",
        "environment": ENVIRONMENT,
        "permissions": dict.fromkeys(WRITE_PERMISSIONS, "write"),
    }
    name = f"diva release: pin {environment} by pull request"
    return job(name, project, PIN_TIMEOUT_MINUTES, steps, settings)


def _aliases(project: Project) -> dict[str, Any]:
    steps = [
        *setup_steps(project, full_history=False),
        *_install(project),
        {
            "name": "Point the MLflow aliases at the pinned versions",
            "env": mlflow_env(project),
            "working-directory": OUTSIDE,
            "run": _ALIAS,
        },
    ]
    name = "diva release: MLflow aliases"
    return job(
        name, project, ALIASES_TIMEOUT_MINUTES, steps, {"if": ON_MAIN, "environment": ENVIRONMENT}
    )
