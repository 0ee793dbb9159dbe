"""GitHub Actions workflows of the ``github`` backend: the gate, the pipeline, the release
and the monitor.

Every workflow is built as data with the same hardening (docs/compile.md#workflow-security):
``permissions: {contents: read}`` at the top (only the release's pin job and the monitor
job add the two write permissions a pull request needs, each with its reason), actions
pinned to a commit SHA (their version as a comment), checkout without persisted
credentials, a concurrency group per workflow and ref, a timeout on every job, and only
``pull_request`` / ``push`` / ``schedule`` (and for the release and the monitor
``workflow_dispatch``) triggers. No value from the spec or from the event is written into
a ``run:`` script: scripts are constants of this module and read such values from
``env:``, quoted; credentials come from secrets and variables, never from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diva.compiler.ir import Dataset, Project
from diva.compiler.render import yaml_text
from diva.contract import SPEC_FILE


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
ACTIONS = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT)

DEFAULT_BRANCH = "main"
GATE_WORKFLOW = ".github/workflows/diva-gate.yml"
PIPELINE_WORKFLOW = ".github/workflows/diva-pipeline.yml"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
MONITOR_WORKFLOW = ".github/workflows/monitor.yml"
#: The gate job's name: the status check the ruleset requires.
GATE_CHECK = "diva gate"
DIVA_DISTRIBUTION = "diva-lifecycle"
DVC_VERSIONS = ">=3.50,<4"
#: DVC's optional dependencies per remote URL scheme; local folders and HTTP need none.
DVC_EXTRAS = {
    "s3": "s3",
    "gs": "gs",
    "azure": "azure",
    "ssh": "ssh",
    "hdfs": "hdfs",
    "oss": "oss",
    "webdav": "webdav",
    "webdavs": "webdav",
}
GATE_TIMEOUT_MINUTES = 15
PIPELINE_TIMEOUT_MINUTES = 60
#: Why a job holds a write permission: written next to it, for reviewers (and zizmor).
WRITE_PERMISSIONS = {
    "contents": "push the release branch",
    "pull-requests": "open the release pull request",
}


def workflow_text(workflow: dict[str, Any], source: str) -> str:
    comments = {f"uses: {action.uses}": action.version for action in ACTIONS}
    comments |= {f"{scope}: write": reason for scope, reason in WRITE_PERMISSIONS.items()}
    return yaml_text(workflow, source, line_comments=comments)


def gate_workflow(project: Project) -> dict[str, Any]:
    """Runs ``diva gate`` on every pull request into the default branch."""
    install = [
        diva_requirement(project),
        *([dvc_requirement(project)] if project.stage >= 2 else []),
    ]
    steps = [
        *setup_steps(project, full_history=True),
        {"name": "Install diva", "run": pip_install(install)},
        {
            "name": "Gate the pull request",
            "env": {"BASE_REF": "${{ github.base_ref }}"},
            "run": 'diva gate --base "origin/${BASE_REF}" --format markdown',
        },
    ]
    on = {
        "pull_request": {
            "branches": [DEFAULT_BRANCH],
            "types": ["opened", "synchronize", "reopened", "ready_for_review"],
        }
    }
    return workflow(
        "diva gate", on, {"gate": job(GATE_CHECK, project, GATE_TIMEOUT_MINUTES, steps)}
    )


def pipeline_workflow(project: Project) -> dict[str, Any] | None:
    """Reproduces the small datasets' pipelines when the spec, code or data change."""
    small = _small_datasets(project)
    if project.model is None or not small:
        return None
    steps = [
        *setup_steps(project, full_history=False),
        {
            "name": "Install the project, diva and DVC",
            "run": pip_install(
                [diva_requirement(project), dvc_requirement(project)], files=["requirements.txt"]
            ),
        },
    ]
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
    fixed = [SPEC_FILE, "dvc.yaml", "dvc.lock", "params.yaml", "requirements.txt"]
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


def diva_requirement(project: Project, extra: str | None = None) -> str:
    """Exactly the diva that compiled the files, with one of its extras if asked."""
    name = f"{DIVA_DISTRIBUTION}[{extra}]" if extra else DIVA_DISTRIBUTION
    return f"{name}=={project.diva_version}"


def dvc_requirement(project: Project) -> str:
    """DVC with the extra its remote's URL scheme needs."""
    scheme, separator, _ = project.dvc_remote[1].partition("://")
    extra = DVC_EXTRAS.get(scheme) if separator else None
    return f"dvc[{extra}]{DVC_VERSIONS}" if extra else f"dvc{DVC_VERSIONS}"


def pip_install(
    requirements: list[str], *, files: list[str] | None = None, wrap: bool = False
) -> str:
    """The install command; requirements are diva's own constants, quoted for the shell.
    ``wrap`` puts each requirement on a line of its own, for lists too long for one."""
    parts = [f"-r {file}" for file in files or []] + [f'"{item}"' for item in requirements]
    return (" \\\n  " if wrap else " ").join(["python -m pip install", *parts])
