"""The generated release workflow, run for real with act on a push to main.

A real MLflow tracking server (on the host network, which the job containers share)
holds model ``demo`` version 1. The project's spec pins staging to version 1 with a
digest, as after a merged release pull request. act runs
`.github/workflows/release.yml` as diva generated it: `image` reads the release with
`diva release show` and, the digest being pinned, builds nothing; `pin` is skipped (no
new digest); `aliases` installs diva (from a wheelhouse of this checkout) and MLflow,
and moves the alias `staging` on the server to version 1.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.act_harness import WHEELHOUSE, act_problem, build_wheelhouse, run_act
from tests.support.mlflow_server import running
from tests.support.release import DIGEST, release_spec

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

mlflow_tracking = pytest.importorskip("mlflow.tracking")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of an MLflow server whose model ``demo`` has version 1."""
    with running(tmp_path_factory.mktemp("mlflow-server")) as mlflow:
        _register_version(mlflow.client())
        yield mlflow.url


def _register_version(client: Any) -> None:
    experiment = client.create_experiment("demo")
    run = client.create_run(experiment, tags={"diva.project": "demo"})
    client.log_metric(run.info.run_id, "rmse", 0.05)
    client.create_registered_model("demo")
    source = f"runs:/{run.info.run_id}/model"
    client.create_model_version("demo", source=source, run_id=run.info.run_id)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"))


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(root: Path, tracking_uri: str) -> Path:
    """main: the project at stage 4, staging pinned to version 1 and a digest."""
    repo = root / "project"
    repo.mkdir()
    releases = f'  releases:\n    staging: {{model_version: 1, image_digest: "{DIGEST}"}}\n'
    text = release_spec(root / "unused.db", "127.0.0.1:5999", releases)
    text = text.replace(f'"sqlite:///{root / "unused.db"}"', f'"{tracking_uri}"')
    (repo / "diva.yaml").write_text(text)
    subprocess.run(
        [sys.executable, "-m", "diva", "compile"], cwd=repo, check=True, capture_output=True
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "staging runs version 1")
    git(repo, "remote", "add", "origin", "https://github.com/acme/demo.git")
    return repo


@pytest.fixture(scope="module")
def released(
    tmp_path_factory: pytest.TempPathFactory, server: str, wheels: Path
) -> subprocess.CompletedProcess[str]:
    repo = make_repo(tmp_path_factory.mktemp("release"), server)
    return run_act(
        repo,
        "push",
        {"ref": "refs/heads/main"},
        workflow=repo / ".github" / "workflows" / "release.yml",
        env={"PIP_FIND_LINKS": WHEELHOUSE},  # diva from the wheelhouse, MLflow from PyPI
        mounts={wheels: WHEELHOUSE},
        timeout=1200,
    )


def test_the_release_workflow_succeeds(released: subprocess.CompletedProcess[str]) -> None:
    assert released.returncode == 0, released.stdout[-4000:] + released.stderr[-2000:]
    assert released.stdout.count("Job succeeded") == 2


def test_the_image_job_reads_the_release_and_builds_nothing(
    released: subprocess.CompletedProcess[str],
) -> None:
    assert "::set-output:: needs_image=false" in released.stdout
    assert "::set-output:: model_version=1" in released.stdout
    assert "Run Main Build and push the serving image" not in released.stdout


def test_the_pin_job_is_skipped_without_a_new_digest(
    released: subprocess.CompletedProcess[str],
) -> None:
    assert "pin staging by pull request" not in released.stdout


def test_the_aliases_job_moves_the_alias_on_the_server(
    released: subprocess.CompletedProcess[str], server: str
) -> None:
    assert "staging: alias staging set to version 1" in released.stdout
    client = mlflow_tracking.MlflowClient(tracking_uri=server)
    assert str(client.get_model_version_by_alias("demo", "staging").version) == "1"
