"""`diva release candidate [VERSION]`: the stage-4 alias ``candidate`` set by the real CLI
on a real git + DVC repository with a real (embedded SQLite) MLflow store at the spec's
default ``sqlite:///.diva/mlflow.db``. The gate's side (``model.candidate`` passing once
the command ran, its refusal naming the command) is in test_gate_promotions.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.gate import at_stage
from tests.support.gate_repo import STORE, client_of, dataset_hash, log_run, track
from tests.support.git_repo import commit_spec, init_repo
from tests.support.process import RunDiva

pytest.importorskip("mlflow.tracking")
pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")

#: Two large-scale targets: a run without ``r2`` misses the second.
LARGE_TARGETS = (
    "  - {metric: rmse, goal: minimize, threshold: 0.1, dataset: year}\n"
    "  - {metric: r2, goal: maximize, threshold: 0.8, dataset: year}\n"
)
IN_IMAGE = {"diva.image.digest": "sha256:" + "7e" * 32}
DATASETS = {"train-month": "data/month", "train-year": "data/year"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project at stage 3 with both datasets tracked by DVC, no MLflow store yet."""
    root = init_repo(tmp_path_factory.mktemp("candidate") / "project")
    track(root, DATASETS)
    text = at_stage(3).replace("\ntargets:\n", f"\ntargets:\n{LARGE_TARGETS}")
    commit_spec(root, text, "stage 3", compiled=True)
    return root


@pytest.fixture
def repo(tracked: Path, tmp_path: Path) -> Path:
    shutil.copytree(tracked.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "project"


def register(root: Path, run_id: str) -> str:
    """Register a model version of ``demo`` from ``run_id``; its version."""
    client = client_of(root / STORE)
    if not client.search_registered_models("name='demo'"):
        client.create_registered_model("demo")
    model = root.parent / "models" / run_id
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    return str(client.create_model_version("demo", source=str(model), run_id=run_id).version)


def large_run(root: Path, *, in_image: bool = True, **metrics: float) -> str:
    year = dataset_hash(root, "data/year")
    tags = IN_IMAGE if in_image else {}
    return log_run(root / STORE, year, scale="large", dataset="year", tags=tags, **metrics)


def candidate_alias(root: Path) -> str | None:
    client: Any = client_of(root / STORE)
    version = client.get_registered_model("demo").aliases.get("candidate")
    return None if version is None else str(version)


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    """Four registered runs; only ``good`` qualifies. ``host`` (not in the image),
    ``small`` (on the month) and ``no-r2`` (misses r2) each beat it on rmse.
    Name -> model version."""
    month = dataset_hash(repo, "data/month")
    ids = {
        "good": large_run(repo, rmse=0.06, r2=0.85),
        "host": large_run(repo, in_image=False, rmse=0.01, r2=0.99),
        "small": log_run(repo / STORE, month, tags=IN_IMAGE, rmse=0.001, r2=0.99),
        "no-r2": large_run(repo, rmse=0.02),
    }
    return {name: register(repo, run_id) for name, run_id in ids.items()} | {
        "good-run": ids["good"]
    }


def test_without_a_version_the_best_qualifying_run_gets_the_alias(
    run_diva: RunDiva, repo: Path, runs: dict[str, str]
) -> None:
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"best run in the standardized image on the large dataset: {runs['good-run']}",
        "  rmse = 0.06 (target <= 0.1): met",
        "  r2 = 0.85 (target >= 0.8): met",
        f"it registered version {runs['good']} of model demo",
        f"alias candidate set to version {runs['good']}",
    ]
    assert candidate_alias(repo) == runs["good"]


def test_a_second_run_says_the_alias_is_already_there(
    run_diva: RunDiva, repo: Path, runs: dict[str, str]
) -> None:
    client_of(repo / STORE).set_registered_model_alias("demo", "candidate", runs["host"])
    first = run_diva("release", "candidate", cwd=repo)
    assert first.stdout.splitlines()[-1] == (
        f"alias candidate moved from version {runs['host']} to version {runs['good']}"
    )
    again = run_diva("release", "candidate", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == f"alias candidate already on version {runs['good']}"


def test_dry_run_shows_the_choice_and_moves_nothing(
    run_diva: RunDiva, repo: Path, runs: dict[str, str]
) -> None:
    result = run_diva("release", "candidate", "--dry-run", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert runs["good-run"] in result.stdout
    assert result.stdout.splitlines()[-1] == (
        f"alias candidate would be set to version {runs['good']} (dry run: nothing changed)"
    )
    assert candidate_alias(repo) is None


def test_a_version_named_gets_the_alias_with_a_note_when_the_gate_expects_another(
    run_diva: RunDiva, repo: Path, runs: dict[str, str]
) -> None:
    result = run_diva("release", "candidate", runs["no-r2"], cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"alias candidate set to version {runs['no-r2']}\n"
    assert f"note: model.candidate expects version {runs['good']}" in result.stderr
    assert candidate_alias(repo) == runs["no-r2"]


def test_a_version_that_does_not_exist_is_refused(
    run_diva: RunDiva, repo: Path, runs: dict[str, str]
) -> None:
    result = run_diva("release", "candidate", "99", cwd=repo)
    assert result.returncode == 1
    assert "model demo has no version 99 in MLflow" in result.stderr
    assert "Traceback" not in result.stderr
    assert candidate_alias(repo) is None


def test_a_version_that_is_not_a_number_is_a_usage_error(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("release", "candidate", "v3", cwd=repo)
    assert result.returncode == 2
    assert "'v3' is not a valid integer" in result.stderr


def test_nothing_qualifies_when_every_run_in_the_image_misses_a_target(
    run_diva: RunDiva, repo: Path
) -> None:
    register(repo, large_run(repo, rmse=0.02))  # no r2
    miss = large_run(repo, rmse=0.5, r2=0.9)
    register(repo, miss)
    client_of(repo / STORE).set_registered_model_alias("demo", "candidate", "2")
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 1
    assert "no run in the standardized image meets every large-scale target (2 judged)" in (
        result.stderr
    )
    assert "misses r2=None vs 0.8" in result.stderr  # fewest misses, then the best rmse
    assert candidate_alias(repo) == "2"  # unchanged


def test_nothing_qualifies_when_no_run_was_made_in_the_image(run_diva: RunDiva, repo: Path) -> None:
    register(repo, large_run(repo, in_image=False, rmse=0.01, r2=0.99))
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 1
    assert "no run in the standardized image on the large dataset (year)" in result.stderr
    assert "1 run(s) on it lack the tag diva.image.digest" in result.stderr
    assert candidate_alias(repo) is None


def test_nothing_qualifies_without_a_run_on_the_large_dataset(
    run_diva: RunDiva, repo: Path
) -> None:
    log_run(repo / STORE, dataset_hash(repo, "data/month"), rmse=0.01, r2=0.99)
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 1
    assert "no run of project demo on the large dataset (year)" in result.stderr


def test_the_best_run_must_have_registered_a_version(run_diva: RunDiva, repo: Path) -> None:
    best = large_run(repo, rmse=0.05, r2=0.9)
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 1
    assert f"the best run {best} registered no version of model demo" in result.stderr


def test_without_an_mlflow_store_mlflow_is_unavailable(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("release", "candidate", cwd=repo)
    assert result.returncode == 4
    assert "no MLflow store at" in result.stderr
    assert "Traceback" not in result.stderr
