"""Releases: the gate's release checks and MLflow aliases against a REAL MLflow (an
embedded SQLite store), `diva release pin --pr` on real git repositories, and the release
workflow and CODEOWNERS rule of the github backend. The in-place pin is tested in
tests/unit/test_release.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diva.compiler.backends import github
from diva.compiler.ir import build
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.errors import UsageError
from diva.lifecycle.gate import evaluate
from diva.lifecycle.proposals.pin import Pinned, pin, resolve
from tests.support.docker_harness import free_port
from tests.support.git_repo import commit_spec, git, git_only_on_path, init_repo, propose
from tests.support.process import RunDiva
from tests.support.release import DIGEST, OTHER, RELEASES_LINE, mlflow_store, release_spec

mlflow_tracking = pytest.importorskip("mlflow.tracking")

# --- a real MLflow store ------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlflow_store(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture
def client(store: Path) -> Any:
    return mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{store}")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def registry() -> str:
    """A loopback registry address nothing listens on: the registry is unreachable."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def repo(tmp_path: Path, store: Path, registry: str) -> Path:
    """main: the project at stage 4 without releases, compiled and committed."""
    root = init_repo(tmp_path / "project")
    commit_spec(root, release_spec(store, registry), "stage 4", compiled=True)
    return root


def pinned_rows(root: Path, pinned: Pinned) -> dict[str, tuple[str, str]]:
    """Pin, commit on a pull request's branch, gate against main: release rows by id."""
    pin(root, "diva.yaml", pinned)
    propose(root, f"pin {pinned.environment}")
    report = evaluate(root, "main")
    return {row.id: (row.status, row.detail) for row in report.rows if row.id.startswith("release")}


# --- defaults of diva release pin ------------------------------------------------------


def project_of(text: str) -> Any:
    raw = text.encode()
    return build(validate_document(load_bytes(raw)), raw)


def test_production_defaults_to_the_staging_release(tmp_path: Path, store: Path) -> None:
    releases = f'  releases:\n    staging: {{model_version: 1, image_digest: "{DIGEST}"}}\n'
    project = project_of(release_spec(store, "127.0.0.1:5000", releases))
    pinned = resolve(tmp_path, project, "production", None, None)
    assert (pinned.model_version, pinned.image_digest) == (1, DIGEST)
    assert pinned.notes == (
        "model version 1 from the staging release",
        "image digest from the staging release",
    )


def test_a_digest_recorded_for_the_version_is_the_default(tmp_path: Path, store: Path) -> None:
    serving = {"reference": "x", "digest": DIGEST, "model_version": "2"}
    (tmp_path / "diva.evidence.json").write_text(json.dumps({"images": {"serving": serving}}))
    project = project_of(release_spec(store, "127.0.0.1:5000"))
    assert resolve(tmp_path, project, "staging", 2, None).image_digest == DIGEST
    assert resolve(tmp_path, project, "staging", 3, None).image_digest is None


def test_the_first_environment_needs_a_version(tmp_path: Path, store: Path) -> None:
    project = project_of(release_spec(store, "127.0.0.1:5000"))
    with pytest.raises(UsageError, match="pass --model-version N for staging"):
        resolve(tmp_path, project, "staging", None, None)


def test_a_malformed_digest_is_refused(tmp_path: Path, store: Path) -> None:
    project = project_of(release_spec(store, "127.0.0.1:5000"))
    with pytest.raises(UsageError, match="not an image digest"):
        resolve(tmp_path, project, "staging", 1, "sha256:XYZ")


# --- the gate of a release pull request, against the real MLflow ---------------------------


def test_a_registered_version_meeting_the_targets_passes(repo: Path) -> None:
    rows = pinned_rows(repo, Pinned("staging", 1, None))
    assert {key: status for key, (status, _) in rows.items()} == {
        "release.staging.version": "pass",
        "release.staging.targets": "pass",
        "release.staging.image": "pass",
    }
    assert "meets all 1" in rows["release.staging.targets"][1]
    assert evaluate(repo, "main").passed


def test_a_version_that_does_not_exist_fails(repo: Path) -> None:
    rows = pinned_rows(repo, Pinned("staging", 99, None))
    assert rows["release.staging.version"] == (
        "fail",
        "model demo has no version 99 (live MLflow)",
    )
    assert rows["release.staging.targets"][0] == "fail"
    assert not evaluate(repo, "main").passed


def test_a_version_missing_a_target_fails(repo: Path) -> None:
    rows = pinned_rows(repo, Pinned("staging", 2, None))
    assert rows["release.staging.version"][0] == "pass"
    status, detail = rows["release.staging.targets"]
    assert status == "fail"
    assert "misses ['rmse=0.5 vs 0.1']" in detail


def test_the_movement_names_the_release(repo: Path) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 1, None))
    propose(repo, "pin staging")
    report = evaluate(repo, "main")
    assert report.movement == "no stage change (stage 4 (model deployment)); release of staging"


def test_a_pull_request_that_keeps_the_releases_gets_no_release_checks(repo: Path) -> None:
    report = evaluate(repo, "main")
    assert [row.id for row in report.rows if row.id.startswith("release")] == []


def test_only_the_changed_environment_is_checked(repo: Path) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 1, None))
    git(repo, "commit", "-q", "-am", "staging runs 1")  # on main
    rows = pinned_rows(repo, Pinned("production", 2, None))
    assert set(rows) == {f"release.production.{key}" for key in ("version", "targets", "image")}


def test_a_digest_the_registry_cannot_confirm_is_unreachable(repo: Path) -> None:
    rows = pinned_rows(repo, Pinned("staging", 1, DIGEST))
    status, detail = rows["release.staging.image"]
    # pin recorded the image in the evidence file, but that is no proof: unreachable
    assert status == "unreachable"
    assert "diva.evidence.json" not in detail


def self_attested(repo: Path) -> None:
    """The base (main) opts in to self-attested evidence."""
    spec = repo / "diva.yaml"
    text = spec.read_text().replace("platform:\n", "platform:\n  evidence: self-attested\n", 1)
    assert "evidence: self-attested" in text
    commit_spec(repo, text, "no shared registry: evidence is self-attested", compiled=True)


def test_a_self_attested_policy_takes_the_recorded_image(repo: Path) -> None:
    self_attested(repo)
    rows = pinned_rows(repo, Pinned("staging", 1, DIGEST))
    status, detail = rows["release.staging.image"]
    assert status == "pass"
    assert "self-attested in diva.evidence.json for version 1 (registry not re-verified" in detail
    document = json.loads((repo / "diva.evidence.json").read_text())
    document["images"]["serving"]["model_version"] = "2"
    (repo / "diva.evidence.json").write_text(json.dumps(document))
    propose(repo, "record another version")
    report = evaluate(repo, "main")
    row = next(row for row in report.rows if row.id == "release.staging.image")
    assert row.status == "unreachable"
    assert "registry unreachable" in row.detail


def test_a_pull_request_cannot_point_the_gate_at_another_mlflow(repo: Path, store: Path) -> None:
    spec = repo / "diva.yaml"
    spec.write_text(spec.read_text().replace(str(store), str(store.parent / "gone.db")))
    rows = {row.id: row for row in evaluate_pinned(repo, Pinned("staging", 99, None))}
    # the base's MLflow is asked (version 99 is not there), not the one the PR names
    assert rows["release.staging.version"].status == "fail"
    assert rows["policy"].status == "fail"
    assert "platform.mlflow" in rows["policy"].detail


def test_without_mlflow_the_release_checks_are_unreachable(repo: Path, store: Path) -> None:
    spec = repo / "diva.yaml"
    text = spec.read_text().replace(str(store), str(store.parent / "gone.db"))
    commit_spec(repo, text, "the base's MLflow is gone", compiled=True)
    rows = pinned_rows(repo, Pinned("staging", 1, None))
    assert rows["release.staging.version"][0] == "unreachable"
    assert "gone.db" in rows["release.staging.version"][1]


def evaluate_pinned(root: Path, pinned: Pinned) -> list[Any]:
    pin(root, "diva.yaml", pinned)
    propose(root, f"pin {pinned.environment}")
    return evaluate(root, "main").rows


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real registry holding ``diva-test/demo-serve:v1`` (labelled as model version 1,
    as the serving Dockerfile labels it): the registry's address and the digest."""
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
        image = f"{host}/diva-test/demo-serve:v1"
        try:
            push_tiny_image(image, folder, "LABEL io.diva.model.version=1")
            digest = manifest_digest(image)
            assert digest is not None
            yield host, digest
        finally:
            remove_images(image)


@pytest.fixture
def registry_repo(tmp_path: Path, store: Path, served: tuple[str, str]) -> Path:
    root = init_repo(tmp_path / "project")
    commit_spec(root, release_spec(store, served[0]), "stage 4", compiled=True)
    return root


def test_the_registry_serves_the_pinned_image_of_that_version(
    registry_repo: Path, served: tuple[str, str]
) -> None:
    host, digest = served
    rows = pinned_rows(registry_repo, Pinned("staging", 1, digest))
    reference = f"{host}/diva-test/demo-serve@{digest}"
    assert rows["release.staging.image"] == (
        "pass",
        f"the registry serves {reference} (model version 1)",
    )


def test_an_image_of_another_version_fails(registry_repo: Path, served: tuple[str, str]) -> None:
    rows = pinned_rows(registry_repo, Pinned("staging", 2, served[1]))
    status, detail = rows["release.staging.image"]
    assert status == "fail"
    assert detail.endswith("packages model version 1, not 2")


def test_a_digest_the_registry_does_not_hold_fails(registry_repo: Path) -> None:
    rows = pinned_rows(registry_repo, Pinned("staging", 1, OTHER))
    assert rows["release.staging.image"][0] == "fail"
    assert "the registry has no image" in rows["release.staging.image"][1]


# --- MLflow aliases ----------------------------------------------------------------------


def test_alias_points_each_environment_at_its_pinned_version(
    run_diva: RunDiva, repo: Path, client: Any
) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 2, None))
    pin(repo, "diva.yaml", Pinned("production", 1, None))
    result = run_diva("release", "alias", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert str(client.get_model_version_by_alias("demo", "staging").version) == "2"
    assert str(client.get_model_version_by_alias("demo", "champion").version) == "1"
    again = run_diva("release", "alias", "production", cwd=repo)
    assert again.stdout == "production: alias champion already on version 1\n"


def test_alias_of_a_version_that_does_not_exist_moves_nothing(
    run_diva: RunDiva, repo: Path, client: Any
) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 2, None))
    assert run_diva("release", "alias", cwd=repo).returncode == 0
    pin(repo, "diva.yaml", Pinned("staging", 99, None))
    pin(repo, "diva.yaml", Pinned("production", 1, None))
    result = run_diva("release", "alias", cwd=repo)
    assert result.returncode == 1
    assert "model demo has no version 99 in MLflow" in result.stderr
    assert str(client.get_model_version_by_alias("demo", "staging").version) == "2"


def test_alias_without_mlflow_exits_4(run_diva: RunDiva, repo: Path, store: Path) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 1, None))
    spec = repo / "diva.yaml"
    spec.write_text(spec.read_text().replace(str(store), str(store.parent / "gone.db")))
    result = run_diva("release", "alias", cwd=repo)
    assert result.returncode == 4
    assert "no MLflow store at" in result.stderr


def test_alias_of_an_environment_without_release_is_a_usage_error(
    run_diva: RunDiva, repo: Path
) -> None:
    result = run_diva("release", "alias", "production", cwd=repo)
    assert result.returncode == 2
    assert "production pins no release" in result.stderr


# --- the stage-5 checkpoint: serving manifests reference the digest and the version -------


@pytest.fixture
def production_pinned(repo: Path, client: Any) -> Path:
    """production pins version 1 at DIGEST, recorded as the serving image; champion -> 1."""
    pin(repo, "diva.yaml", Pinned("production", 1, DIGEST))
    client.set_registered_model_alias("demo", "champion", "1")
    return repo


def serving_release(root: Path) -> tuple[str, str]:
    from diva.compiler.validate import load_spec
    from diva.lifecycle.checkpoints import CHECKPOINTS, Context
    from diva.lifecycle.evidence.mlflow import Mlflow

    spec = load_spec(root / "diva.yaml")
    project = build(spec, (root / "diva.yaml").read_bytes())
    runs = Mlflow(root, spec.platform.mlflow.tracking_uri)
    (checkpoint,) = [c for c in CHECKPOINTS if c.id == "serving.release"]
    verdict = checkpoint.evaluate(Context(spec, project, root, {}, runs))
    return verdict.status, verdict.detail


def test_serving_release_passes_on_the_recorded_image_and_the_champion(
    production_pinned: Path,
) -> None:
    assert serving_release(production_pinned) == ("pass", f"production: version 1 @ {DIGEST}")


def test_serving_release_fails_on_another_image(production_pinned: Path) -> None:
    document = json.loads((production_pinned / "diva.evidence.json").read_text())
    document["images"]["serving"]["digest"] = OTHER
    (production_pinned / "diva.evidence.json").write_text(json.dumps(document))
    status, detail = serving_release(production_pinned)
    assert status == "fail"
    assert f"the recorded one is {OTHER}" in detail


def test_serving_release_fails_when_champion_is_another_version(
    production_pinned: Path, client: Any
) -> None:
    client.set_registered_model_alias("demo", "champion", "2")
    status, detail = serving_release(production_pinned)
    assert (status, detail) == ("fail", "production pins version 1, champion is 2")


def test_serving_release_fails_without_a_production_release(repo: Path) -> None:
    assert serving_release(repo) == (
        "fail",
        "no release pinned for production (`diva release pin`)",
    )


# --- diva release pin --pr and show, on real git repositories ------------------------------


@pytest.fixture
def origin_repo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``repo`` pushed to a bare origin; PATH holds git only (no gh)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    git_only_on_path(monkeypatch, tmp_path)
    return repo


def changed_lines(root: Path, branch: str) -> list[str]:
    diff = git(root, "diff", "--unified=0", "main", branch, "--", "diva.yaml")
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_pin_pr_commits_pushes_and_changes_only_the_release(
    run_diva: RunDiva, origin_repo: Path
) -> None:
    result = run_diva("release", "pin", "staging", "--model-version", "1", "--pr", cwd=origin_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    branch = "diva/release-staging-v1"
    assert f"committed on branch {branch}: Release staging: model version 1" in result.stdout
    assert changed_lines(origin_repo, branch) == [
        f"-{RELEASES_LINE.rstrip()}",
        "+  releases: {staging: {model_version: 1}}",
    ]
    assert git(origin_repo, "rev-parse", f"origin/{branch}") == git(
        origin_repo, "rev-parse", "HEAD"
    )
    assert "## diva gate passed" in result.stdout
    assert "`release.staging.targets`" in result.stdout


def test_pin_pr_of_a_missing_version_is_refused_and_commits_nothing(
    run_diva: RunDiva, origin_repo: Path
) -> None:
    head = git(origin_repo, "rev-parse", "HEAD")
    result = run_diva("release", "pin", "staging", "--model-version", "99", "--pr", cwd=origin_repo)
    assert result.returncode == 1
    assert "model demo has no version 99" in result.stdout
    assert "release refused: the gate fails" in result.stderr
    assert git(origin_repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(origin_repo, "rev-parse", "HEAD") == head
    assert git(origin_repo, "status", "--porcelain") == ""


def test_pin_of_an_unknown_environment_says_what_is_known(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("release", "pin", "stagign", "--model-version", "1", cwd=repo)
    assert result.returncode == 2
    assert (
        "'stagign' is not in platform.environments (staging, production); "
        "did you mean 'staging'?" in result.stderr
    )


def test_show_prints_the_facts_the_release_workflow_reads(run_diva: RunDiva, repo: Path) -> None:
    pin(repo, "diva.yaml", Pinned("staging", 2, None))
    result = run_diva("release", "show", "staging", cwd=repo)
    assert result.returncode == 0, result.stderr
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert facts["model_version"] == "2"
    assert facts["needs_image"] == "true"
    assert facts["alias"] == "staging"
    assert facts["image"].endswith("/diva-test/demo-serve:v2")
    production = run_diva("release", "show", "production", cwd=repo).stdout
    assert "alias=champion\n" in production
    assert "needs_image=false\n" in production


# --- the github backend: release workflow and CODEOWNERS -----------------------------------


def files_at(store: Path, stage: int, **platform: str) -> dict[str, str]:
    text = release_spec(store, "127.0.0.1:5000").replace("\nstage: 4\n", f"\nstage: {stage}\n")
    for key, value in platform.items():
        text = text.replace(f'  mlflow: {{tracking_uri: "sqlite:///{store}"}}', f"  {key}: {value}")
    return {artifact.path: artifact.text for artifact in github.emit(project_of(text))}


def test_the_release_workflow_comes_with_stage_4_and_a_reachable_mlflow(store: Path) -> None:
    server = {"mlflow": "{tracking_uri: 'https://mlflow.example.com'}"}
    assert ".github/workflows/release.yml" in files_at(store, 4, **server)
    assert ".github/workflows/release.yml" not in files_at(store, 3, **server)
    # an embedded store lives on a laptop: CI could neither build nor move aliases
    assert ".github/workflows/release.yml" not in files_at(store, 4)


def codeowner_rules(team: str) -> list[str]:
    text = f"diva: 1\nproject: {{name: demo, title: t}}\nstage: 0\nteam: {team}\n"
    owners = {a.path: a.text for a in github.emit(project_of(text))}[".github/CODEOWNERS"]
    return [line for line in owners.splitlines() if line and not line.startswith("#")]


def test_production_overlay_is_owned_by_the_model_engineers(store: Path) -> None:
    owners = files_at(store, 4)[".github/CODEOWNERS"]
    assert "/deploy/overlays/production/" not in owners  # no model engineer in this team
    team = '{modelers: ["@m"], quality_managers: ["@qa"], model_engineers: ["@me"]}'
    text = release_spec(store, "127.0.0.1:5000").replace(
        "\nstage: 4\n", f"\nstage: 4\nteam: {team}\n"
    )
    rules = github.codeowners(project_of(text)).splitlines()
    assert "/deploy/overlays/production/ @me" in rules
    assert rules.index("/deploy/overlays/production/ @me") > rules.index("/deploy/ @me")


def test_production_falls_to_the_quality_managers_without_model_engineers(store: Path) -> None:
    team = '{modelers: ["@m"], quality_managers: ["@qa"]}'
    text = release_spec(store, "127.0.0.1:5000").replace(
        "\nstage: 4\n", f"\nstage: 4\nteam: {team}\n"
    )
    assert "/deploy/overlays/production/ @qa" in github.codeowners(project_of(text)).splitlines()


def test_no_production_rule_before_stage_4() -> None:
    rules = codeowner_rules('{modelers: ["@m"], model_engineers: ["@me"]}')
    assert not [rule for rule in rules if "overlays" in rule]
