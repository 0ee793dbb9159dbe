"""Out-of-band alias moves: ``diva release verify`` against a REAL MLflow (an embedded
SQLite store), with the alias moved by MLflow's own client, outside any pull request, and
``--ratify`` proposing the moved version on a real git repository pushed to an origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diva.lifecycle.proposals.pin import Pinned, pin
from tests.support.docker_harness import free_port
from tests.support.git_repo import commit_spec, git, git_only_on_path, init_repo
from tests.support.process import RunDiva
from tests.support.release import mlflow_store, release_spec

mlflow_tracking = pytest.importorskip("mlflow.tracking")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    (tmp_path / "mlflow").mkdir()
    return mlflow_store(tmp_path / "mlflow")


@pytest.fixture
def client(store: Path) -> Any:
    return mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{store}")


@pytest.fixture
def repo(tmp_path: Path, store: Path, client: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """main pins version 1 in production (as approved), champion on version 1, pushed
    to a bare origin; PATH holds git only (no gh)."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    root = init_repo(tmp_path / "project")
    commit_spec(root, release_spec(store, f"127.0.0.1:{free_port()}"), "stage 4", compiled=True)
    pin(root, "diva.yaml", Pinned("production", 1, None))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "release production: version 1")
    client.set_registered_model_alias("demo", "champion", "1")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "-u", "origin", "main")
    git_only_on_path(monkeypatch, tmp_path)
    return root


def test_aliases_as_pinned_pass(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("release", "verify", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "  ok    production: alias champion on version 1, as pinned\n"


def test_a_champion_moved_in_mlflow_is_caught(run_diva: RunDiva, repo: Path, client: Any) -> None:
    client.set_registered_model_alias("demo", "champion", "2")  # outside any pull request
    result = run_diva("release", "verify", cwd=repo)
    assert result.returncode == 1
    assert (
        "production: alias champion is on version 2, but serving.releases.production pins "
        "version 1: moved outside a pull request" in result.stdout
    )
    assert "ratify by pull request (--ratify) or restore with `diva release alias`" in (
        result.stderr
    )


def test_a_deleted_champion_is_caught(run_diva: RunDiva, repo: Path, client: Any) -> None:
    client.delete_registered_model_alias("demo", "champion")
    result = run_diva("release", "verify", "production", cwd=repo)
    assert result.returncode == 1
    assert "alias champion points at no version" in result.stdout


def test_ratify_proposes_the_moved_version_as_the_pin(
    run_diva: RunDiva, repo: Path, client: Any
) -> None:
    """The draft pull request's branch is pushed; the gate judged it (version 2 misses
    the target: the reviewers see that it should not have been moved)."""
    client.set_registered_model_alias("demo", "champion", "2")
    result = run_diva("release", "verify", "--ratify", cwd=repo)
    assert result.returncode == 1, result.stderr
    branch = "diva/release-production-v2"
    assert f"committed on branch {branch}: Release production: model version 2" in result.stdout
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    pushed = git(repo, "show", f"origin/{branch}:diva.yaml")
    assert "production: {model_version: 2}" in pushed
    assert "## diva gate failed" in result.stdout
    assert "`release.production.targets`" in result.stdout


def test_restore_points_the_alias_back_at_the_pin(
    run_diva: RunDiva, repo: Path, client: Any
) -> None:
    client.set_registered_model_alias("demo", "champion", "2")
    assert run_diva("release", "alias", "production", cwd=repo).returncode == 0
    assert str(client.get_model_version_by_alias("demo", "champion").version) == "1"
    assert run_diva("release", "verify", cwd=repo).returncode == 0


def test_without_mlflow_verify_exits_4(run_diva: RunDiva, repo: Path, store: Path) -> None:
    store.unlink()
    result = run_diva("release", "verify", cwd=repo)
    assert result.returncode == 4
    assert "no MLflow store at" in result.stderr
