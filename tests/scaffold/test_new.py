"""`diva new` and plain cookiecutter with the template: answers are checked before
anything is rendered, a failure leaves nothing behind, hostile text stays text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from diva.compiler.validate import load_spec
from diva.scaffold import check_answers, template_dir
from tests.support.process import run

DEFAULTS = {
    key: value[0] if isinstance(value, list) else value
    for key, value in json.loads((template_dir() / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
} | {"module_name": "my_model"}


def diva_new(where: Path, *args: str) -> tuple[int, str]:
    result = run(sys.executable, "-m", "diva", "new", *args, cwd=where)
    return result.returncode, result.stdout + result.stderr


def leftovers(where: Path) -> list[str]:
    return sorted(path.name for path in where.iterdir())


def test_the_template_defaults_are_valid_answers() -> None:
    assert check_answers(DEFAULTS) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("project_name", "My Model", "must be lowercase letters, digits and '-'"),
        ("project_name", "model-", "not end with '-'"),
        ("module_name", "1model", "must be a Python package name"),
        ("project_title", "two\nlines", "must be one line of text"),
        ("description", "", "must be one line of text"),
        ("modelers", "bob", "'bob' must be a GitHub handle"),
        ("quality_managers", " , ", "give at least one GitHub handle"),
        ("task", "forecasting", "'forecasting' is not one of regression, classification"),
        ("python_version", "3", "must be a Python version like '3.11'"),
        ("project_title", "A {{ cookiecutter.task }}", "must not contain '{{', '{%' or '{#'"),
    ],
)
def test_each_bad_answer_is_named(key: str, value: str, message: str) -> None:
    (problem,) = check_answers({**DEFAULTS, key: value})
    assert problem.startswith(f"{key}: ")
    assert message in problem


def test_diva_new_refuses_bad_answers_and_creates_nothing(tmp_path: Path) -> None:
    code, output = diva_new(tmp_path, "demo", "--no-input", "-s", "project_name=Bad_Name")
    assert code == 1
    assert "project_name: 'Bad_Name' must be lowercase" in output
    assert "Traceback" not in output
    assert leftovers(tmp_path) == []


def test_diva_new_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    code, output = diva_new(tmp_path, "demo", "--no-input")
    assert code == 2
    assert "already exists and is not empty" in output
    assert leftovers(tmp_path) == ["demo"]
    assert leftovers(tmp_path / "demo") == ["notes.txt"]


def test_diva_new_rejects_a_malformed_set(tmp_path: Path) -> None:
    code, output = diva_new(tmp_path, "demo", "--no-input", "-s", "project_name")
    assert code == 2
    assert "expected KEY=VALUE" in output
    assert leftovers(tmp_path) == []


def test_diva_new_names_the_project_after_its_folder(tmp_path: Path) -> None:
    code, output = diva_new(tmp_path, "fraud-score", "--no-input", "-s", "task=classification")
    assert code == 0, output
    project = tmp_path / "fraud-score"
    spec = load_spec(project / "diva.yaml")
    assert spec.project.name == "fraud-score"
    assert spec.stage == 0
    assert spec.model is not None
    assert spec.model.task == "classification"
    assert (project / "src" / "fraud_score" / "train.py").is_file()
    assert (project / ".git").is_dir()
    assert (project / "diva.lock").is_file()
    assert leftovers(tmp_path) == ["fraud-score"]  # no staging folder left


def test_hostile_text_answers_stay_text(tmp_path: Path) -> None:
    title = """Say "hi": {x} # no comment ''' \\ }} %}"""
    description = "'); import os; os.remove('x') #"
    code, output = diva_new(
        tmp_path,
        "odd",
        "--no-input",
        "-s",
        f"project_title={title}",
        "-s",
        f"description={description}",
    )
    assert code == 0, output
    spec = load_spec(tmp_path / "odd" / "diva.yaml")
    assert spec.project.title == title
    assert spec.project.description == description


def plain_cookiecutter(where: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """`cookiecutter TEMPLATE --no-input -o WHERE KEY=VALUE...`, the command line tool."""
    cookiecutter = shutil.which("cookiecutter", path=str(Path(sys.executable).parent))
    assert cookiecutter is not None
    template = str(template_dir())
    return run(cookiecutter, template, "--no-input", "-o", str(where), *answers, cwd=where)


def test_plain_cookiecutter_refuses_bad_answers_through_the_hook(tmp_path: Path) -> None:
    result = plain_cookiecutter(tmp_path, "project_name=ok-name", "modelers=not-a-handle")
    assert result.returncode != 0
    assert "modelers: 'not-a-handle' must be a GitHub handle" in result.stderr
    assert leftovers(tmp_path) == []


def test_plain_cookiecutter_renders_a_working_project(tmp_path: Path) -> None:
    result = plain_cookiecutter(tmp_path, "project_name=plain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_spec(tmp_path / "plain" / "diva.yaml").project.name == "plain"
    assert (tmp_path / "plain" / ".github" / "CODEOWNERS").is_file()


def test_the_wheel_ships_the_template(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), ".", cwd=root
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("diva_lifecycle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        path.relative_to(template_dir()).as_posix()
        for path in template_dir().rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped
    assert {f"diva/templates/diva-project/{name}" for name in shipped} <= names
