"""No code of a pull request where secrets or verdicts live (issue 14).

Every example and golden case is compiled the way a project is; every generated
workflow is read back and checked against three rules:

1. every job runs with ``PYTHONSAFEPATH=1``, so no Python it starts puts the working
   directory (the checkout) on ``sys.path``, where a committed ``pip/`` folder would be
   imported in place of pip;
2. a ``run:`` step that starts python, pip, diva or dvc runs outside the checkout
   (``working-directory: ${{ runner.temp }}``), unless it is listed below with the reason
   it must work in the repository. Such a step starts diva or dvc, never python or pip;
3. a job that can write (a write permission), reads the release environment or uses a
   secret installs neither ``requirements.txt`` nor the project, and runs none of its
   pipeline. (The release's ``image`` job builds the serving image, whose own
   ``RUN pip install`` happens inside the build container, which gets none of the job's
   secrets: the build passes only ``BASE_IMAGE`` and ``MODEL_VERSION``.)

One job is trusted with the project's code by design, listed in ``TRUSTED`` with its
reason: the training job runs the pipeline with MLflow's write credentials, since its
runs are the evidence of stage 4. It must then never run code of a pull request: no
``pull_request*`` trigger, and the job runs on the default branch only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply
from tests.support.paths import EXAMPLES, ROOT

SPECS = {
    **{f"example-{spec.parent.name}": spec for spec in EXAMPLES},
    **{
        f"golden-{spec.parent.name}": spec
        for spec in sorted((ROOT / "tests" / "golden").glob("*/diva.yaml"))
    },
}
OUTSIDE = "${{ runner.temp }}"
#: (workflow file, job id, step name or its start) -> why the step runs in the checkout
IN_CHECKOUT = {
    ("diva-gate.yml", "gate", "Gate the pull request"): "the gate judges the checkout with "
    "git and DVC",
    ("diva-pipeline.yml", "pipeline", "Reproduce the pipeline of "): "dvc repro runs the "
    "project's pipeline in its repository (a job without secrets)",
    ("diva-pipeline.yml", "pipeline", "Show the metrics"): "dvc reads the repository's metrics",
    ("release.yml", "image", "Build and push the serving image"): "the checkout is the image's "
    "build context",
    ("release.yml", "pin", "Pin the image of "): "it edits the spec and pushes the branch",
    ("monitor.yml", "evaluate", "Pull dataset "): "dvc pull writes into the repository",
    ("monitor.yml", "propose", "Judge, log and propose"): "it edits the spec and pushes the branch",
    ("monitor.yml", "releases", "Compare the aliases with the pinned releases"): "a moved "
    "alias is proposed as a pin: it edits the spec and pushes the branch",
    ("diva-train.yml", "train", "Give DVC the remote's credentials"): "dvc remote modify "
    "--local writes the repository's .dvc/config.local",
    ("diva-train.yml", "train", "Pull dataset "): "dvc pull writes into the repository",
    ("diva-train.yml", "train", "Build the training image"): "the checkout is the image's "
    "build context",
    ("diva-train.yml", "train", "Train in the image"): "the training container mounts the "
    "checkout and runs its pipeline",
    ("diva-record.yml", "record", "Record the verdict"): "the gate judges the merge commit "
    "with git and DVC, and the note goes into the repository",
}
#: A command word at the start of a line, after a pipe, `;`, `&&` or inside `$( )`.
COMMAND = re.compile(r"(?:^|[;&|]\s*|\$\(\s*)(python3?|pip3?|diva|dvc)(?=\s|$)", re.MULTILINE)
#: What installs or runs the project: its requirements, the project itself, its pipeline.
PROJECT_CODE = re.compile(
    r"requirements\.txt|pip install[^\n]* (?:-e )?\.(?:\s|$)|dvc repro|diva train"
)
#: (workflow file, job id) -> why the job runs the project's code next to a secret
TRUSTED = {
    ("diva-train.yml", "train"): "its MLflow runs in the training image are the evidence "
    "of stage 4; it runs merged code of the default branch only",
}


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, dict[str, Any]]]:
    """(case, workflow file name, workflow) for every workflow of every case."""
    root = tmp_path_factory.mktemp("python-in-workflows")
    found = []
    for case, spec in SPECS.items():
        out = root / case
        out.mkdir()
        (out / "diva.yaml").write_bytes(spec.read_bytes())
        if (lock := spec.parent / "diva-lock.txt").is_file():  # its platform.install.lock
            (out / lock.name).write_bytes(lock.read_bytes())
        apply(plan_job(Job(out / "diva.yaml", out)))
        for path in sorted((out / ".github" / "workflows").glob("*.yml")):
            found.append((case, path.name, _load(path)))
    assert {case for case, _, _ in found} == set(SPECS)
    return found


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(path)
    return data


def _jobs(workflows: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, Any]]:
    return [
        (f"{case}/{file}", job_id, job)
        for case, file, workflow in workflows
        for job_id, job in workflow["jobs"].items()
    ]


def _commands(step: dict[str, Any]) -> set[str]:
    return set(COMMAND.findall(str(step.get("run", ""))))


def _allowed(file: str, job_id: str, step: dict[str, Any]) -> tuple[str, str, str] | None:
    name = str(step.get("name", ""))
    for key in IN_CHECKOUT:
        if key[:2] == (file, job_id) and name.startswith(key[2]):
            return key
    return None


def test_every_job_runs_python_with_a_safe_path(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    for case, file, workflow in workflows:
        for job_id, job in workflow["jobs"].items():
            env = {**workflow.get("env", {}), **job.get("env", {})}
            assert env.get("PYTHONSAFEPATH") == "1", f"{case}/{file}: job {job_id}"
            for step in job["steps"]:
                assert "PYTHONSAFEPATH" not in step.get("env", {}), f"{case}/{file}: {step}"


def test_python_runs_outside_the_checkout_unless_it_must_not(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    used = set()
    for name, job_id, job in _jobs(workflows):
        for step in job["steps"]:
            commands = _commands(step)
            if not commands or step.get("working-directory", "").startswith(OUTSIDE):
                continue
            allowed = _allowed(name.rpartition("/")[2], job_id, step)
            assert allowed is not None, f"{name}: job {job_id}: {step['name']} runs in the checkout"
            # in the checkout only console scripts, whose own folder (not the working
            # directory) leads sys.path; never `python -m` or pip
            assert commands <= {"diva", "dvc"}, f"{name}: job {job_id}: {step['name']}"
            used.add(allowed)
    assert used == set(IN_CHECKOUT), "an allow-list entry no step needs any more"


def test_installs_read_requirement_files_by_absolute_path(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    for name, job_id, job in _jobs(workflows):
        for step in job["steps"]:
            script = str(step.get("run", ""))
            if "pip" in _commands(step) or "pip install" in script:
                assert step["working-directory"] == OUTSIDE, f"{name}: job {job_id}"
                # the checkout's files, or the base branch's lock copied to the runner's temp
                requirement_file = r"-r (?!\"\$(?:GITHUB_WORKSPACE|RUNNER_TEMP)/)"
                assert re.search(requirement_file, script) is None, script


def _privileged(job: dict[str, Any]) -> list[str]:
    """Why ``job`` is trusted with more than the read-only token, if it is."""
    reasons = []
    if "write" in (job.get("permissions") or {}).values():
        reasons.append("a write permission")
    if job.get("environment") == "release":
        reasons.append("the release environment")
    if "secrets." in str(job) or "github.token" in str(job):
        reasons.append("a secret")
    return reasons


def test_no_privileged_job_installs_or_runs_the_project(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    privileged = 0
    for name, job_id, job in _jobs(workflows):
        reasons = _privileged(job)
        if not reasons or (name.rpartition("/")[2], job_id) in TRUSTED:
            continue
        privileged += 1
        for step in job["steps"]:
            found = PROJECT_CODE.findall(str(step.get("run", "")))
            assert found == [], f"{name}: job {job_id} ({', '.join(reasons)}): {step['name']}"
    assert privileged, "no case has a privileged job: the rule checks nothing"


def test_a_trusted_job_runs_code_of_the_default_branch_only(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    seen = set()
    for case, file, workflow in workflows:
        for job_id, job in workflow["jobs"].items():
            if (file, job_id) not in TRUSTED:
                continue
            seen.add((file, job_id))
            triggers = set(workflow["on"])
            assert not {t for t in triggers if t.startswith("pull_request")}, f"{case}/{file}"
            assert triggers <= {"push", "workflow_dispatch"}, f"{case}/{file}"
            assert workflow["on"]["push"]["branches"] == ["main"], f"{case}/{file}"
            assert job["if"] == "github.ref == 'refs/heads/main'", f"{case}/{file}"
    assert seen == set(TRUSTED), "a trusted job no case has any more"


def test_the_project_is_still_installed_where_it_is_needed(
    workflows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    """The rule above is not met by installing nothing: the pipeline and the monitor's
    evaluation install the requirements, in jobs without secrets."""
    installing = {
        (name.rpartition("/")[2], job_id)
        for name, job_id, job in _jobs(workflows)
        for step in job["steps"]
        if "requirements.txt" in str(step.get("run", ""))
    }
    assert installing == {("diva-pipeline.yml", "pipeline"), ("monitor.yml", "evaluate")}
