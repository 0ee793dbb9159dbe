"""The generated gate workflow, run for real with act on a promotion pull request.

A temporary project repository has `main` at stage 1 and a branch promoting it to
stage 2. act runs `.github/workflows/diva-gate.yml` exactly as diva generated it: the
pinned checkout, setup-python (a local stand-in), `pip install diva-lifecycle==<this
version>` (served from a wheelhouse of this checkout: diva is not on PyPI) and
`diva gate --base origin/main`. The job passes when the stage 2 checkpoints hold and
fails when one is broken.

The approvals come from the pull request's reviews, which the job reads from GitHub's
REST API with the job's token (`github.token`). The real API cannot be reached from
these machines: a local server answering from GitHub's documented responses
(tests/support/github_api.py) stands in, named by `GITHUB_API_URL` as GitHub names its
own (act takes both it and `GITHUB_REPOSITORY` from `--env`); the job container shares
the host network. A review re-runs the gate (`pull_request_review`): the same job, the
same read-only token.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.act_harness import WHEELHOUSE, act_problem, build_wheelhouse, run_act
from tests.support.github_api import RecordedGitHub

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

SPEC = """\
# A promotion under test; comments must survive `diva promote`.
diva: 1
project: {name: act-demo, title: Gate under act}
stage: plan
team: {modelers: ["@kim"], quality_managers: ["@qa/review"]}
idea:
  problem: Predict y from two sensors.
  expected_effect: Fewer manual measurements.
  value: {researchers: A baseline., users: Faster answers.}
  inputs: [{name: x0, type: float}]
  outputs: [{name: y, type: float}]
plan:
  summary: Ridge regression first.
  references: [{title: Ridge regression}]
datasets:
  sample: {scale: small, path: data/sample}
model:
  framework: sklearn
  task: regression
  entrypoints: {train: src/train.py, evaluate: src/evaluate.py}
"""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout


def diva(repo: Path, *args: str) -> None:
    import sys

    subprocess.run([sys.executable, "-m", "diva", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def github() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        server.team("qa", "review", ["quinn", "kim"])
        yield server
    assert server.methods <= {"GET"}, "the gate only reads GitHub"


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(root: Path, promoted_spec: str) -> Path:
    """main at stage 1 (pushed to a bare origin), HEAD on a branch with ``promoted_spec``."""
    repo = root / "project"
    repo.mkdir()
    (repo / "diva.yaml").write_text(SPEC)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    diva(repo, "compile")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "stage 1")
    git(root, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(root / "origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(promoted_spec)
    diva(repo, "compile")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "promote to stage 2")
    return repo


def run_gate(
    repo: Path, wheels: Path, github: RecordedGitHub, event: str = "pull_request"
) -> subprocess.CompletedProcess[str]:
    pull = {"number": 1, "base": {"ref": "main"}, "head": {"ref": "promote"}}
    payload: dict[str, object] = {"number": 1, "pull_request": pull}
    if event == "pull_request_review":
        payload = {"action": "submitted", "review": {"state": "approved"}, "pull_request": pull}
    return run_act(
        repo,
        event,
        payload,
        workflow=repo / ".github" / "workflows" / "diva-gate.yml",
        env={
            "PIP_FIND_LINKS": WHEELHOUSE,  # diva from the wheelhouse, the rest from PyPI
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": github.repository,
        },
        secrets={"GITHUB_TOKEN": github.token},  # act's github.token
        mounts={wheels: WHEELHOUSE},
        timeout=900,
    )


def test_the_gate_job_passes_when_the_checkpoints_hold(
    tmp_path: Path, wheels: Path, github: RecordedGitHub
) -> None:
    repo = make_repo(tmp_path, SPEC.replace("stage: plan", "stage: small"))
    github.add_pull(1, "kim", head(repo))
    github.review(1, "quinn", "APPROVED", head(repo))
    result = run_gate(repo, wheels, github)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "diva gate passed: promotion 1 -> 2" in result.stdout
    assert "approved by @quinn" in result.stdout
    assert "Job succeeded" in result.stdout
    assert any(path.endswith("/pulls/1/reviews") for path in github.paths())


def test_a_review_runs_the_gate_again(tmp_path: Path, wheels: Path, github: RecordedGitHub) -> None:
    """Without an approval the job fails and names who can approve (the author @kim,
    although in the team, does not count); the approval's review event passes it."""
    repo = make_repo(tmp_path, SPEC.replace("stage: plan", "stage: small"))
    github.add_pull(1, "kim", head(repo))
    result = run_gate(repo, wheels, github)
    assert result.returncode != 0
    assert "Job failed" in result.stdout
    assert "can approve: @quinn" in result.stdout
    assert "@kim is the author and does not count" in result.stdout
    github.review(1, "quinn", "APPROVED", head(repo))
    result = run_gate(repo, wheels, github, "pull_request_review")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "diva gate passed: promotion 1 -> 2" in result.stdout


def test_the_gate_job_fails_when_the_references_are_removed(
    tmp_path: Path, wheels: Path, github: RecordedGitHub
) -> None:
    broken = SPEC.replace("stage: plan", "stage: small").replace(
        "  references: [{title: Ridge regression}]\n", ""
    )
    repo = make_repo(tmp_path, broken)
    github.add_pull(1, "kim", head(repo))
    github.review(1, "quinn", "APPROVED", head(repo))
    result = run_gate(repo, wheels, github)
    assert result.returncode != 0
    assert "diva gate failed: promotion 1 -> 2" in result.stdout
    assert "plan.references" in result.stdout
    assert "Job failed" in result.stdout
