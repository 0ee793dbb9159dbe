"""The generated record workflow, run for real with act on a push to main (a merge).

A project's ``main`` has just merged pull request #4, which moved it to stage 1 and was
approved by its quality manager. act runs `.github/workflows/diva-record.yml` exactly as
diva generated it: the gate judges the merge commit again (``--base HEAD^1 --head
HEAD --record``), reads the approvals of the pull request that merged it from GitHub's
REST API, keeps its verdict as a git note and pushes ``refs/notes/diva`` to the origin
(a bare repository, mounted writable into the job container at its own path), where
``diva history`` reads it. The real API cannot be reached from these machines: a local
server answering from GitHub's documented responses stands in
(tests/support/github_api.py), named by `GITHUB_API_URL` as GitHub names its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.act_harness import WHEELHOUSE, act_problem, build_wheelhouse, run_act
from tests.support.gate import at_stage
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.github_api import RecordedGitHub
from tests.support.paths import SRC

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

TEAM = '\nteam: {modelers: ["@alice"], quality_managers: ["@quinn"]}\nidea:\n'


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"))


def merged(root: Path) -> tuple[Path, Path, str, str]:
    """main at stage 0 pushed to a bare origin, pull request #4 (stage 1) merged into it
    and pushed: the repository, the origin, the pull request's head, the merge."""
    repo = init_repo(root / "project")
    commit_spec(repo, at_stage(0).replace("\nidea:\n", TEAM, 1), "stage 0", compiled=True)
    origin = root / "origin.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(
        (repo / "diva.yaml").read_text().replace("stage: 0", "stage: 1", 1)
    )
    compile_here(repo)
    head = propose(repo, "ask for stage 1", "promote")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #4", "promote")
    git(repo, "push", "-q", "origin", "main")
    return repo, origin, head, git(repo, "rev-parse", "HEAD")


def test_the_verdict_on_the_merge_is_pushed_as_a_note(tmp_path: Path, wheels: Path) -> None:
    repo, origin, head, merge = merged(tmp_path)
    with RecordedGitHub() as api:
        api.add_pull(4, "alice", head, merged=True, merge_commit_sha=merge)
        api.associate(merge, 4)
        api.review(4, "quinn", "APPROVED", head)
        result = run_act(
            repo,
            "push",
            {"ref": "refs/heads/main", "after": merge},
            workflow=repo / ".github" / "workflows" / "diva-record.yml",
            env={
                "PIP_FIND_LINKS": WHEELHOUSE,  # diva from the wheelhouse, the rest from PyPI
                "GITHUB_API_URL": api.url,
                "GITHUB_REPOSITORY": api.repository,
            },
            secrets={"GITHUB_TOKEN": api.token},
            mounts={wheels: WHEELHOUSE},
            writable={origin: str(origin)},
            timeout=900,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Job succeeded" in result.stdout
    assert api.methods <= {"GET"}, "the gate only reads GitHub"
    note = git(origin, "notes", "--ref=refs/notes/diva", "show", merge)
    record = json.loads(note)
    assert record["commit"] == merge
    assert record["pull_request"] == 4
    assert record["approvals"] == [{"login": "quinn", "roles": ["quality_managers"]}]
    assert record["passed"] is True
    # and diva history reads it, once the notes are fetched
    git(repo, "fetch", "-q", "origin", "refs/notes/diva:refs/notes/diva")
    history = subprocess.run(
        [sys.executable, "-m", "diva", "history", "--format", "json"],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (entry,) = [e for e in json.loads(history.stdout)["entries"] if e["commit"] == merge]
    assert (entry["from"], entry["to"], entry["pull_request"], entry["verdict"]) == (
        0,
        1,
        4,
        "passed",
    )
