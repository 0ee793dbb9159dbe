"""Legitimate promotions 3 -> 4 and 4 -> 5 pass the gate, each on a real git + DVC
repository, judged by the real ``diva gate --base main`` against a real (embedded
SQLite) MLflow store at the spec's default ``sqlite:///.diva/mlflow.db`` — and, for
stage 5, a real registry on loopback holding the serving image.

``main`` holds every policy field the promotion needs (the large-scale target, the
image registry); the pull request changes the stage and adds what the new stage
requires and policy does not decide (``serving`` at 4; ``monitoring`` with its default
aliases and the production release at 5). Each promotion is also shown failing when
one piece of its evidence is missing, so that a pass means something.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from diva.lifecycle.evidence import record
from tests.support.gate import at_stage
from tests.support.gate_repo import (
    STORE,
    client_of,
    dataset_hash,
    failing,
    gate,
    log_run,
    track,
)
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.process import RunDiva
from tests.support.release import LARGE_TARGET

pytest.importorskip("mlflow.tracking")
pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")

#: What the gate says when it read the spec's own (default) MLflow store.
VERIFIED = "verified against MLflow at sqlite:///.diva/mlflow.db"
SERVING = "\nserving:\n  pattern: model-as-service\n  releases: {}\n"
#: Monitoring as stage 5 needs it: the champion and challenger aliases are the defaults,
#: so declaring it changes no policy.
MONITORING = "\nmonitoring: {schedule: '0 6 * * 1', reference_dataset: year}\n"
DATASETS = {"train-month": "data/month", "train-year": "data/year"}
#: The training image `diva train` ran the large-scale runs in.
TRAINING_IMAGE = "sha256:" + "7e" * 32


def spec(stage: int, registry: str, *, serving: bool, monitoring: bool = False) -> str:
    """The gate tests' project at ``stage``: a large-scale target and an image registry
    (policy, so on main before any promotion), serving and monitoring when asked."""
    text = at_stage(stage).replace("\ntargets:\n", f"\ntargets:\n{LARGE_TARGET}")
    text += f"  image_registry: {registry}\n"
    return text + (SERVING if serving else "") + (MONITORING if monitoring else "")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def stage_4_evidence(root: Path, models: Path) -> str:
    """What a project earns in stage 3, in its MLflow store: a run on the month, two
    runs on the year made in the training image (both meet the large target), the best
    one registered as version 1 of ``demo`` and aliased ``candidate``. The run id."""
    database = root / STORE
    log_run(database, dataset_hash(root, "data/month"), rmse=0.05, r2=0.95)
    in_image = {"diva.image.digest": TRAINING_IMAGE}
    year = dataset_hash(root, "data/year")
    best = log_run(database, year, scale="large", dataset="year", tags=in_image, rmse=0.06)
    log_run(database, year, scale="large", dataset="year", tags=in_image, rmse=0.09)
    client = client_of(database)
    client.create_registered_model("demo")
    model = models / "model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    version = client.create_model_version("demo", source=str(model), run_id=best)
    assert str(version.version) == "1"
    client.set_registered_model_alias("demo", "candidate", "1")
    return best


def copy_of(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "project"


def assert_passes(report: dict[str, object], rows: dict[str, tuple[str, str]], code: int) -> None:
    assert failing(rows) == {}, rows
    assert code == 0, rows
    assert report["evidence"] == VERIFIED


# --- 3 -> 4: large-scale modeling to model deployment -------------------------------------

REGISTRY_4 = "registry.example.com/promotions"


@pytest.fixture(scope="module")
def at_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main at stage 3: both datasets tracked, locked and pushed; the stage-3 runs, the
    candidate version."""
    root = init_repo(tmp_path_factory.mktemp("at-3") / "project")
    track(root, DATASETS)
    commit_spec(root, spec(3, REGISTRY_4, serving=False), "stage 3: the year is in", compiled=True)
    stage_4_evidence(root, tmp_path_factory.mktemp("models-3"))
    return root


@pytest.fixture
def repo_3(at_3: Path, tmp_path: Path) -> Path:
    repo = copy_of(at_3, tmp_path)
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(spec(4, REGISTRY_4, serving=True))
    compile_here(repo)
    propose(repo, "Promote to stage 4 (model deployment)", "promote")
    return repo


def test_a_legitimate_promotion_to_stage_4_passes(run_diva: RunDiva, repo_3: Path) -> None:
    code, report, rows = gate(run_diva, repo_3)
    assert_passes(report, rows, code)
    assert report["movement"] == "promotion 3 -> 4"
    assert rows["policy"] == ("pass", "unchanged")
    assert {"data.large", "runs.large", "targets.large", "model.candidate", "cycles.large"} <= set(
        rows
    )
    assert rows["data.large"][1] == "year tracked, locked and pushed"
    assert rows["runs.large"][1] == (
        "2 run(s) on the large dataset in the standardized image (live MLflow)"
    )
    assert rows["model.candidate"][1] == "best run's version 1, alias candidate -> 1"


def test_a_promotion_to_stage_4_without_a_candidate_fails(run_diva: RunDiva, repo_3: Path) -> None:
    client_of(repo_3 / STORE).delete_registered_model_alias("demo", "candidate")
    code, report, rows = gate(run_diva, repo_3)
    assert code == 1
    assert failing(rows) == {"model.candidate": "fail"}
    assert rows["model.candidate"][1] == (
        "best run's version 1, alias candidate -> None; set it with `diva release candidate`"
    )
    assert report["evidence"] == VERIFIED


def test_diva_release_candidate_sets_the_alias_the_gate_wants(
    run_diva: RunDiva, repo_3: Path
) -> None:
    client_of(repo_3 / STORE).delete_registered_model_alias("demo", "candidate")
    result = run_diva("release", "candidate", cwd=repo_3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "alias candidate set to version 1"
    code, report, rows = gate(run_diva, repo_3)
    assert_passes(report, rows, code)
    assert rows["model.candidate"][1] == "best run's version 1, alias candidate -> 1"


# --- 4 -> 5: model deployment to monitoring ------------------------------------------------


@dataclass(frozen=True)
class Served:
    """The serving image in a real registry: the spec's image registry, the pushed
    reference and the digest the registry serves for it."""

    registry: str
    reference: str
    digest: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A registry on loopback holding ``<registry>/demo-serve:v1``, labelled as model
    version 1 as the serving Dockerfile labels it."""
    from diva.lifecycle.evidence.registry import manifest_digest
    from tests.support.docker_harness import (
        local_registry,
        push_tiny_image,
        registry_problem,
        remove_images,
    )

    if (problem := registry_problem()) is not None:
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("registry")
    with local_registry(folder) as host:
        registry = f"{host}/promotions-{uuid.uuid4().hex[:8]}"
        reference = f"{registry}/demo-serve:v1"
        try:
            push_tiny_image(reference, folder, "LABEL io.diva.model.version=1")
            digest = manifest_digest(reference)
            assert digest is not None
            yield Served(registry, reference, digest)
        finally:
            remove_images(reference)


def smoke_test(root: Path, served: Served) -> None:
    """`diva smoke` of the serving image: its run in MLflow, its record in the file."""
    from diva.images.smoke import Report, log_run

    report = Report(
        served.reference,
        served.digest,
        requests=20,
        latencies_ms=[12.0, 15.0, 18.0],
        slo_latency_p95_ms=200,
        slo_error_rate=0.01,
    )
    assert report.passed
    log_run(report, "sqlite:///.diva/mlflow.db", root, "demo")
    record.merge(root, {"smoke": report.as_evidence()})


@pytest.fixture(scope="module")
def at_4(tmp_path_factory: pytest.TempPathFactory, served: Served) -> Path:
    """main at stage 4: the stage-4 evidence; the serving image of version 1 pushed and
    recorded (`diva build serve --push`) and smoke-tested (`diva smoke`); version 1 is
    the champion."""
    root = init_repo(tmp_path_factory.mktemp("at-4") / "project")
    track(root, DATASETS)
    commit_spec(root, spec(4, served.registry, serving=True), "stage 4", compiled=True)
    stage_4_evidence(root, tmp_path_factory.mktemp("models-4"))
    serving = {"reference": served.reference, "digest": served.digest, "model_version": "1"}
    record.merge(root, {"images": {"serving": serving}})  # as `diva build serve --push`
    smoke_test(root, served)
    client_of(root / STORE).set_registered_model_alias("demo", "champion", "1")
    git(root, "add", "diva.evidence.json")
    git(root, "commit", "-q", "-m", "the serving image of version 1, smoke-tested")
    return root


#: Where production's release is pinned: in the promotion itself (which then gets the
#: release checks too), or on main before it, by a release pull request of its own.
PINNED = ("in the promotion", "before it")


@pytest.fixture
def repo_4(
    at_4: Path, tmp_path: Path, run_diva: RunDiva, served: Served, request: pytest.FixtureRequest
) -> Path:
    """The promotion: stage 5 with monitoring, production pinned to version 1 by
    `diva release pin` (the digest is the one recorded for that version)."""
    repo = copy_of(at_4, tmp_path)
    before = getattr(request, "param", PINNED[0]) == "before it"
    if before:
        pin_production(run_diva, repo, served)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "Release production: model version 1")
    git(repo, "checkout", "-q", "-b", "promote")
    if before:
        text = (repo / "diva.yaml").read_text().replace("\nstage: 4\n", "\nstage: 5\n")
        (repo / "diva.yaml").write_text(text + MONITORING)
        compile_here(repo)
    else:
        (repo / "diva.yaml").write_text(spec(5, served.registry, serving=True, monitoring=True))
        pin_production(run_diva, repo, served)
    propose(repo, "Promote to stage 5 (monitoring)", "promote")
    return repo


def pin_production(run_diva: RunDiva, repo: Path, served: Served) -> None:
    pinned = run_diva("release", "pin", "production", "--model-version", "1", cwd=repo)
    assert pinned.returncode == 0, pinned.stderr
    assert f"pinned production: model version 1, image {served.digest}" in pinned.stdout


@pytest.mark.parametrize("repo_4", PINNED, indirect=True)
def test_a_legitimate_promotion_to_stage_5_passes(
    run_diva: RunDiva, repo_4: Path, served: Served, request: pytest.FixtureRequest
) -> None:
    code, report, rows = gate(run_diva, repo_4)
    assert_passes(report, rows, code)
    assert rows["policy"] == ("pass", "unchanged")
    assert rows["image.serving"][1] == f"{served.reference} @ {served.digest}"
    assert rows["image.smoke"][1].startswith("1 of 1 smoke run(s) of ")
    assert rows["model.champion"][1] == "version 1"
    assert rows["serving.release"][1] == f"production: version 1 @ {served.digest}"
    assert rows["slos.declared"][1] == "declared"
    released = [key for key in rows if key.startswith("release.")]
    if request.node.callspec.params["repo_4"] == "before it":
        assert report["movement"] == "promotion 4 -> 5"
        assert released == []
        return
    assert report["movement"] == "promotion 4 -> 5; release of production"
    assert released == [f"release.production.{key}" for key in ("version", "targets", "image")]
    image = f"{served.registry}/demo-serve@{served.digest}"
    assert rows["release.production.image"][1] == f"the registry serves {image} (model version 1)"


def test_a_promotion_to_stage_5_without_a_smoke_run_fails(
    run_diva: RunDiva, repo_4: Path, served: Served
) -> None:
    """The evidence file still says the smoke test passed; MLflow has no run of it."""
    client = client_of(repo_4 / STORE)
    smokes = client.search_runs(
        [client.get_experiment_by_name("demo").experiment_id], "tags.`diva.kind` = 'smoke'"
    )
    assert len(smokes) == 1
    client.delete_run(smokes[0].info.run_id)
    assert json.loads((repo_4 / "diva.evidence.json").read_text())["smoke"]["passed"] is True
    code, report, rows = gate(run_diva, repo_4)
    assert code == 1
    assert failing(rows) == {"image.smoke": "fail"}
    assert rows["image.smoke"][1] == (
        f"no smoke test of {served.digest[:19]} logged to MLflow (`diva smoke`)"
    )
    assert report["evidence"] == VERIFIED
