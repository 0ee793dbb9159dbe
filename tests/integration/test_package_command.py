"""The refusals of `diva build package` before MLflow or pip are asked, in a compiled copy
of the e2e fixture (the backend itself: tests/unit/test_package_backend.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.commands import FIXTURE, assert_clean_error, diva

DIR = "deploy/package"


# --- diva build package: refusals before MLflow or pip are asked ------------------------


def compiled(tmp_path: Path, pattern: str = "model-as-dependency") -> Path:
    root = tmp_path / "tiny"
    shutil.copytree(FIXTURE, root)
    spec = (root / "diva.yaml").read_text().replace("stage: small", "stage: deploy")
    spec = spec.replace("platform:\n", "platform:\n  image_registry: registry.example.com/t\n")
    spec += f"slos: {{latency_p95_ms: 250, error_rate: 0.01}}\nserving: {{pattern: {pattern}}}\n"
    (root / "diva.yaml").write_text(spec)
    result = diva(root, "compile")
    assert result.returncode == 0, result.stderr
    return root


def test_build_package_needs_the_dependency_pattern(tmp_path: Path) -> None:
    root = compiled(tmp_path, "model-as-service")
    assert_clean_error(
        diva(root, "build", "package"),
        2,
        "no Python package of the model: it comes with serving.pattern model-as-dependency "
        "from stage 4 (diva.yaml has stage 4, pattern model-as-service)",
    )


def test_build_package_refuses_an_edited_package(tmp_path: Path) -> None:
    root = compiled(tmp_path)
    pyproject_file = root / DIR / "pyproject.toml"
    pyproject_file.write_text(pyproject_file.read_text().replace('"0"', '"5"'))
    assert_clean_error(
        diva(root, "build", "package"),
        2,
        f"{DIR}/pyproject.toml is not what diva.yaml compiles to: run `diva compile`",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-version", "1", "--alias", "champion"], "exclude each other"),
        (["--model-version", "v1"], "--model-version must be a version number, not 'v1'"),
    ],
)
def test_build_package_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    root = tmp_path  # refused before the spec is read: there is none
    assert_clean_error(diva(root, "build", "package", *args), 2, message)


def test_build_package_without_an_mlflow_store_is_exit_4(tmp_path: Path) -> None:
    root = compiled(tmp_path)
    assert_clean_error(
        diva(root, "build", "package", "--model-version", "1"),
        4,
        "cannot read the model registry: no MLflow store at",
    )
