"""Where the generated gate installs diva from (``platform.install``), run with act.

A wheelhouse of this checkout and the gate's tools (DVC, MLflow's client and their
dependencies) is served as a PEP 503 index on a loopback port (tests/support/
simple_index.py); act's job containers share the host network, and no other index or
wheelhouse is given to them. A project at stage 1 names the index in
``platform.install.index_url``; a pull request that moves nothing runs the generated
gate workflow exactly as compiled:

1. without a lock, pip installs diva from that index (its log says so, the index saw
   the requests) and the gate passes;
2. with the hash lock written by ``diva lock`` against the index, and a pull request
   that replaces the lock by an unhashed one naming diva alone: the gate installs the
   base branch's lock (DVC and MLflow's client come with it; the head's would have
   failed ``--require-hashes``) and passes;
3. with the diva wheel in the index tampered with after the lock was written: the
   install fails with pip's hash mismatch, so the gate fails.

Three act runs, each installing from the local index (tens of seconds each).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.act_harness import act_problem, build_wheelhouse, run_act
from tests.support.github_api import RecordedGitHub
from tests.support.simple_index import SimpleIndex

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

SPEC = """\
diva: 1
project: {{name: {name}, title: Install source under act}}
stage: plan
team: {{modelers: ["@kim"], quality_managers: ["@quinn"]}}
idea:
  problem: Predict y from two sensors.
  expected_effect: Fewer manual measurements.
  value: {{researchers: A baseline., users: Faster answers.}}
  inputs: [{{name: x0, type: float}}]
  outputs: [{{name: y, type: float}}]
platform:
  install:
{install}
"""
LOCK = "diva-lock.txt"
#: pip's words when a file differs from the hash the requirements file pins.
HASH_MISMATCH = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout


def diva(repo: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "diva", *args], cwd=repo, text=True, capture_output=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    requirements = ["dvc>=3.50,<4", "mlflow-skinny>=2.16,<4"]
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), requirements=requirements)


@pytest.fixture(scope="module")
def index(wheels: Path) -> Iterator[SimpleIndex]:
    with SimpleIndex(wheels) as served:
        yield served


@pytest.fixture
def github() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        yield server


def make_repo(root: Path, name: str, install: str, *, lock: bool) -> Path:
    """main (pushed to a bare origin) with the spec compiled, and the lock when asked;
    HEAD on a branch ``change`` that moves nothing (a README)."""
    repo = root / name
    repo.mkdir()
    (repo / "diva.yaml").write_text(SPEC.format(name=name, install=install))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    if lock:
        diva(repo, "lock")
    diva(repo, "compile")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "stage 1")
    git(root, "init", "-q", "--bare", f"{name}-origin.git")
    git(repo, "remote", "add", "origin", str(root / f"{name}-origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "README.md").write_text("A change that moves no stage.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a readme")
    return repo


def run_gate(repo: Path, github: RecordedGitHub) -> subprocess.CompletedProcess[str]:
    github.add_pull(1, "kim", git(repo, "rev-parse", "HEAD").strip())
    pull = {"number": 1, "base": {"ref": "main"}, "head": {"ref": "change"}}
    return run_act(
        repo,
        "pull_request",
        {"number": 1, "pull_request": pull},
        workflow=repo / ".github" / "workflows" / "diva-gate.yml",
        # no wheelhouse, no find-links: the spec's index is the only source
        env={"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": github.repository},
        secrets={"GITHUB_TOKEN": github.token},
        timeout=900,
    )


def test_the_gate_installs_diva_from_the_spec_index(
    tmp_path: Path, index: SimpleIndex, github: RecordedGitHub
) -> None:
    repo = make_repo(tmp_path, "install-index", f"    index_url: {index.url}", lock=False)
    index.requests.clear()
    result = run_gate(repo, github)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Looking in indexes: {index.url}" in result.stdout
    assert "/simple/diva-lifecycle/" in index.requests
    assert "Job succeeded" in result.stdout


def test_the_gate_installs_the_base_branch_lock_not_the_heads(
    tmp_path: Path, index: SimpleIndex, github: RecordedGitHub
) -> None:
    install = f"    index_url: {index.url}\n    lock: {LOCK}"
    repo = make_repo(tmp_path, "install-lock", install, lock=True)
    assert "--hash=sha256:" in (repo / LOCK).read_text()
    # the attack: the head's lock names diva alone, unhashed
    (repo / LOCK).write_text("diva-lifecycle==0.1.0\n")
    git(repo, "commit", "-q", "-am", "a lock of my own")
    result = run_gate(repo, github)
    assert result.returncode == 0, result.stdout[-3000:]
    installed = [line for line in result.stdout.splitlines() if "Successfully installed" in line]
    assert installed, result.stdout[-3000:]
    assert "dvc-" in installed[0], "the base branch's lock holds DVC"
    assert "Job succeeded" in result.stdout


def test_a_tampered_wheel_in_the_index_fails_the_install(
    tmp_path: Path, wheels: Path, index: SimpleIndex, github: RecordedGitHub
) -> None:
    install = f"    index_url: {index.url}\n    lock: {LOCK}"
    repo = make_repo(tmp_path, "install-tampered", install, lock=True)
    (wheel,) = wheels.glob("diva_lifecycle-*.whl")
    original = tmp_path / wheel.name
    shutil.copy2(wheel, original)
    with zipfile.ZipFile(wheel, "a") as archive:  # same name and version, other bytes
        archive.writestr("diva/_planted.py", "print('not the released diva')\n")
    try:
        result = run_gate(repo, github)
    finally:
        shutil.copy2(original, wheel)
    assert result.returncode != 0, result.stdout[-3000:]
    assert HASH_MISMATCH in result.stdout
    assert "diva gate passed" not in result.stdout
