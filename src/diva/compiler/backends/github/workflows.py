"""GitHub Actions workflows of the ``github`` backend: the gate, the pipeline, the training,
the release and the monitor.

Every workflow is built as data with the same hardening (docs/compile.md#workflow-security):
``permissions: {contents: read}`` at the top (only the release's pin job and the monitor
job add the two write permissions a pull request needs, each with its reason), actions
pinned to a commit SHA (their version as a comment), checkout without persisted
credentials, a concurrency group per workflow and ref, a timeout on every job, and only
``pull_request`` / ``push`` / ``schedule`` (and for the training, the release and the
monitor ``workflow_dispatch``) triggers. No value from the spec or from the event is
written into a ``run:`` script: scripts are constants of this module and read such values from
``env:``, quoted; credentials come from secrets and variables, never from the spec.

No code of the checkout runs where it should not: every workflow sets
``PYTHONSAFEPATH=1``, so no Python puts the working directory on ``sys.path`` (a ``pip/``
folder in a pull request is never imported as pip); every ``pip install`` and every
step that does not need the repository runs in ``${{ runner.temp }}``, naming files of
the checkout by ``$GITHUB_WORKSPACE`` (every install is built by :func:`install_steps`,
from where ``platform.install`` says); and no job that holds a secret or a write
permission installs the project (tests/lint/test_workflow_python.py) -- but the training
job, whose point is to run the project's pipeline with MLflow's write credentials: it
runs code of the default branch only, inside the training image
(:mod:`.train_workflow`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from diva.compiler.backends.install import (
    CHECKOUT_LOCK_SCRIPT,
    MLFLOW_READER,
    base_lock_script,
    diva_requirement,
    dvc_requirement,
    gate_requirements,
    install_env,
    requirement_words,
)
from diva.compiler.ir import Dataset, Project
from diva.compiler.render import yaml_text
from diva.contract import DVC_PASSWORD_ENV, DVC_USER_ENV, SPEC_FILE


@dataclass(frozen=True)
class Action:
    """An action pinned to a full commit SHA; ``version`` is the tag it was taken from."""

    repo: str
    sha: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.repo}@{self.sha}"


CHECKOUT = Action("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2")
SETUP_PYTHON = Action("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0")
UPLOAD_ARTIFACT = Action(
    "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
)
DOWNLOAD_ARTIFACT = Action(
    "actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"
)
ACTIONS = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT, DOWNLOAD_ARTIFACT)

DEFAULT_BRANCH = "main"
GATE_WORKFLOW = ".github/workflows/diva-gate.yml"
PIPELINE_WORKFLOW = ".github/workflows/diva-pipeline.yml"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
MONITOR_WORKFLOW = ".github/workflows/monitor.yml"
TRAIN_WORKFLOW = ".github/workflows/diva-train.yml"
#: The gate job's name: the status check the ruleset requires.
GATE_CHECK = "diva gate"
#: The gate's read-only MLflow credentials (MLflow's own variables), for the tracking
#: server of the base branch's spec; never the release's, which can write.
GATE_CREDENTIALS = {
    "MLFLOW_TRACKING_USERNAME": "${{ vars.DIVA_GATE_MLFLOW_USERNAME }}",
    "MLFLOW_TRACKING_PASSWORD": "${{ secrets.DIVA_GATE_MLFLOW_PASSWORD }}",
    "MLFLOW_TRACKING_TOKEN": "${{ secrets.DIVA_GATE_MLFLOW_TOKEN }}",
    # the DVC remote's read-only user, for the remote of the base branch's spec only
    DVC_USER_ENV: "${{ vars.DIVA_GATE_DVC_USER }}",
    DVC_PASSWORD_ENV: "${{ secrets.DIVA_GATE_DVC_PASSWORD }}",
}
#: What the gate reads a pull request's reviews with: the job's token (pull-requests:
#: read), or a token of the team's own that can also read team members.
GITHUB_READER = {
    "GITHUB_TOKEN": "${{ github.token }}",
    "DIVA_GATE_GITHUB_TOKEN": "${{ secrets.DIVA_GATE_GITHUB_TOKEN }}",
}
RECORD_WORKFLOW = ".github/workflows/diva-record.yml"
RECORD_CHECK = "diva record"
#: The record job pushes the verdict note; its script (a constant: no spec or event value).
RECORD_SCRIPT = """\
git fetch --no-tags origin "+refs/notes/diva:refs/notes/diva" || true
verdict=0
diva gate --base HEAD^1 --head HEAD --record --format markdown || verdict=$?
auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 -w0)"
for attempt in 1 2 3 4 5; do
  if git -c "http.extraheader=$auth" push origin refs/notes/diva; then exit "$verdict"; fi
  echo "notes moved on (attempt $attempt): merging theirs"
  git -c "http.extraheader=$auth" fetch --no-tags origin "+refs/notes/diva:refs/notes/diva-theirs"
  git notes --ref=diva merge -s ours refs/notes/diva-theirs
done
exit 1
"""
GATE_TIMEOUT_MINUTES = 15
PIPELINE_TIMEOUT_MINUTES = 60
#: Why a job holds a write permission: written next to it, for reviewers (and zizmor).
WRITE_PERMISSIONS = {
    "contents": "push the release branch",
    "pull-requests": "open the release pull request",
}
#: Every workflow's environment: Python never puts the working directory (or a script's
#: folder) first on ``sys.path``, so a ``pip/`` or ``dvc/`` folder in the checkout cannot
#: stand in for a module in any Python a job starts. diva needs Python 3.11, which honours it.
SAFE_PATH = {"PYTHONSAFEPATH": "1"}
#: Where a step runs that does not need the repository as its working directory: the
#: runner's scratch folder, outside the checkout.
OUTSIDE = "${{ runner.temp }}"
#: The spec, named from outside the checkout (``--spec``).
SPEC_IN_WORKSPACE = f'"$GITHUB_WORKSPACE/{SPEC_FILE}"'
REQUIREMENTS = "requirements.txt"


#: Why the record job may write: the verdict note, never a branch.
RECORD_PERMISSIONS = {"contents": "push the verdict note (refs/notes/diva), never a branch"}


def workflow_text(
    workflow: dict[str, Any],
    source: str,
    reasons: dict[str, str] = WRITE_PERMISSIONS,
    comments: dict[str, str] | None = None,
) -> str:
    """The workflow as YAML, each write permission commented with its ``reasons``, and
    any other ``KEY: VALUE`` line with its entry in ``comments``."""
    comments = {**(comments or {})}
    comments |= {f"uses: {action.uses}": action.version for action in ACTIONS}
    comments |= {f"{scope}: write": reason for scope, reason in reasons.items()}
    comments["pull-requests: read"] = "the pull request's reviews: who approved"
    comments["PYTHONSAFEPATH: '1'"] = "the working directory is never on sys.path"
    return yaml_text(workflow, source, line_comments=comments)


def gate_workflow(project: Project) -> dict[str, Any]:
    """Runs ``diva gate`` on every pull request into the default branch."""
    readers = [dvc_requirement(project), MLFLOW_READER] if project.stage >= 2 else []
    steps = [
        *setup_steps(project, full_history=True),
        *install_steps(
            project,
            "Install diva" + (", DVC and MLflow's client" if readers else ""),
            gate_requirements(project),
            lock="base",
        ),
        {
            # in the checkout: the gate reads its git objects (never imports or runs
            # them); PYTHONSAFEPATH keeps the checkout off sys.path
            "name": "Gate the pull request",
            "env": {
                # the event's (base.ref is the pull request's in every pull_request* event)
                "BASE_REF": "${{ github.event.pull_request.base.ref }}",
                **GITHUB_READER,
                **(GATE_CREDENTIALS if readers else {}),
            },
            "run": 'diva gate --base "origin/${BASE_REF}" --format markdown',
        },
    ]
    on = {
        "pull_request": {
            "branches": [DEFAULT_BRANCH],
            "types": ["opened", "synchronize", "reopened", "ready_for_review"],
        },
        # approvals change the verdict: judged again, as the pull request's own event is
        # (the same merge commit, the same read-only token, no secret for a fork)
        "pull_request_review": {"types": ["submitted", "dismissed"]},
    }
    permissions = {"permissions": {"contents": "read", "pull-requests": "read"}}
    return workflow(
        "diva gate",
        on,
        {"gate": job(GATE_CHECK, project, GATE_TIMEOUT_MINUTES, steps, permissions)},
    )


def record_workflow(project: Project) -> dict[str, Any]:
    """After a merge into the default branch: the gate judges the merge commit again and
    keeps its verdict (approvals, evidence) as a git note under ``refs/notes/diva``,
    which ``diva history`` reads. Not a commit: the protected branch stays the team's.
    Runs diva only, from the index (never the project's code)."""
    readers = [dvc_requirement(project), MLFLOW_READER] if project.stage >= 2 else []
    steps = [
        *setup_steps(project, full_history=True),
        *install_steps(project, "Install diva", gate_requirements(project), lock="checkout"),
        {
            "name": "Record the verdict",
            "env": {
                **GITHUB_READER,
                **(GATE_CREDENTIALS if readers else {}),
                "GIT_AUTHOR_NAME": "diva record",
                "GIT_AUTHOR_EMAIL": "diva-record@users.noreply.github.com",
                "GIT_COMMITTER_NAME": "diva record",
                "GIT_COMMITTER_EMAIL": "diva-record@users.noreply.github.com",
            },
            "run": RECORD_SCRIPT,
        },
    ]
    on = {"push": {"branches": [DEFAULT_BRANCH]}}
    settings = {"permissions": {"contents": "write", "pull-requests": "read"}}
    return workflow(
        "diva record",
        on,
        {"record": job(RECORD_CHECK, project, GATE_TIMEOUT_MINUTES, steps, settings)},
        cancel=False,
    )


def pipeline_workflow(project: Project) -> dict[str, Any] | None:
    """Reproduces the small datasets' pipelines when the spec, code or data change."""
    small = _small_datasets(project)
    if project.model is None or not small:
        return None
    steps = [
        *setup_steps(project, full_history=False),
        *install_steps(
            project,
            "Install the project, diva and DVC",
            [diva_requirement(project), dvc_requirement(project)],
            files=[REQUIREMENTS],
        ),
    ]
    # dvc runs the project's pipeline in the checkout (this job holds no secret)
    steps += [
        {
            # evaluate-<dataset> depends on train- and prepare-<dataset>: dvc runs them first
            "name": f"Reproduce the pipeline of {dataset.name}",
            "env": {"DVC_TARGET": f"evaluate-{dataset.name}"},
            "run": 'dvc repro --pull "$DVC_TARGET"',
        }
        for dataset in small
    ]
    steps.append(
        {"name": "Show the metrics", "run": 'dvc metrics show --md | tee -a "$GITHUB_STEP_SUMMARY"'}
    )
    paths = _pipeline_paths(project)
    on = {
        "pull_request": {"paths": paths},
        "push": {"branches": [DEFAULT_BRANCH], "paths": paths},
    }
    pipeline = job("diva pipeline (small datasets)", project, PIPELINE_TIMEOUT_MINUTES, steps)
    return workflow("diva pipeline", on, {"pipeline": pipeline})


def _pipeline_paths(project: Project) -> list[str]:
    """What the pipeline's result depends on: spec, pipeline files, code, small datasets."""
    assert project.model is not None
    fixed = [SPEC_FILE, "dvc.yaml", "dvc.lock", "params.yaml", REQUIREMENTS]
    code = [dep if dep.endswith(".py") else f"{dep}/**" for dep in project.model.code_deps]
    data = [
        pattern
        for dataset in _small_datasets(project)
        for pattern in (dataset.path, f"{dataset.path}/**", f"{dataset.path}.dvc")
    ]
    return [*fixed, PIPELINE_WORKFLOW, *code, *data]


def _small_datasets(project: Project) -> list[Dataset]:
    return [dataset for dataset in project.pipeline_datasets if dataset.scale == "small"]


def workflow(
    name: str, on: dict[str, Any], jobs: dict[str, Any], *, cancel: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "on": on,
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "${{ github.workflow }}-${{ github.ref }}",
            "cancel-in-progress": cancel,
        },
        "env": SAFE_PATH,
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }


def job(
    name: str,
    project: Project,
    timeout: int,
    steps: list[Any],
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A job; ``settings`` (``if``, ``needs``, ``permissions``, ``outputs``) come before
    its steps, where readers look for them."""
    head = {"name": name, **(settings or {})}
    return {**head, "runs-on": project.ci_runner, "timeout-minutes": timeout, "steps": steps}


def setup_steps(project: Project, *, full_history: bool) -> list[dict[str, Any]]:
    checkout: dict[str, Any] = {"persist-credentials": False}
    if full_history:  # the gate counts stage cycles in the history of the base branch
        checkout = {"fetch-depth": 0, **checkout}
    return [
        {"name": "Check out", "uses": CHECKOUT.uses, "with": checkout},
        {
            "name": "Set up Python",
            "uses": SETUP_PYTHON.uses,
            "with": {"python-version": project.python},
        },
    ]


#: The longest install command kept on one line: yamllint's 120 columns, less the indent.
ONE_LINE = 107


def install_steps(
    project: Project,
    name: str,
    requirements: list[str],
    *,
    files: list[str] | None = None,
    wrap: bool = False,
    lock: Literal["base", "checkout"] | None = None,
) -> list[dict[str, Any]]:
    """The step(s) that install diva and its tools for a job, from where
    ``platform.install`` says (docs/install-source.md); the one way a workflow installs.

    Runs outside the checkout, so that nothing in it can be imported as pip; requirement
    files are named in the checkout. ``lock`` is for the gate's requirements only: with
    a hash lock in the spec, ``"base"`` installs the base branch's copy of it (the gate:
    the head is data), ``"checkout"`` the checkout's (a job on the default branch)."""
    locked = lock is not None and project.install.lock is not None
    step: dict[str, Any] = {"name": name, "working-directory": OUTSIDE}
    if env := install_env(project, locked=locked):
        step["env"] = env
    if locked and lock == "base":
        step["env"] = {"BASE_REF": "${{ github.event.pull_request.base.ref }}", **env}
        step["run"] = base_lock_script(pip_install(project, requirements))
    elif locked:
        step["run"] = CHECKOUT_LOCK_SCRIPT
    else:
        step["run"] = pip_install(project, requirements, files=files, wrap=wrap)
    return [step]


def pip_install(
    project: Project,
    requirements: list[str],
    *,
    files: list[str] | None = None,
    wrap: bool = False,
) -> str:
    """The install command; requirements are diva's own constants, quoted for the shell,
    and requirement files are read from the checkout (``$GITHUB_WORKSPACE``). ``wrap``
    puts each requirement on a line of its own, for lists too long for one."""
    parts = [f'-r "$GITHUB_WORKSPACE/{file}"' for file in files or []]
    parts += requirement_words(project, requirements)
    words = ["python -m pip install", *parts]
    too_long = len(" ".join(words)) > ONE_LINE  # a step's `run: ` is indented 13 columns
    wrap = wrap or too_long or project.install.wheel is not None
    return (" \\\n  " if wrap else " ").join(words)
