"""The project template, rendered for every framework/task/pattern it offers: the
scaffolded project's own tests pass, and its pipeline runs with the real DVC and MLflow.

Rendering goes through cookiecutter's own API with the template folder, exactly as
``cookiecutter templates/diva-project`` does, hooks included (git init, dvc init, compile).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from diva.compiler.validate import load_spec
from diva.lifecycle.proposals.promote import set_stage
from diva.scaffold import template_dir
from diva.stages import parse_stage
from tests.support.process import run, sh

OPTIONS = json.loads((template_dir() / "cookiecutter.json").read_text("utf-8"))
COMBINATIONS = list(
    itertools.product(OPTIONS["framework"], OPTIONS["task"], OPTIONS["serving_pattern"])
)


def render(where: Path, **answers: str) -> Path:
    return Path(
        cookiecutter(
            str(template_dir()), no_input=True, extra_context=answers, output_dir=str(where)
        )
    )


@pytest.fixture(scope="module", params=COMBINATIONS, ids="-".join)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    framework, task, pattern = request.param
    return render(
        tmp_path_factory.mktemp("render"),
        project_name=f"{task[:5]}-{pattern}",
        framework=framework,
        task=task,
        serving_pattern=pattern,
    )


def test_scaffold_is_a_valid_stage_0_project_with_its_answers(
    project: Path, request: pytest.FixtureRequest
) -> None:
    framework, task, pattern = request.node.callspec.params["project"]
    spec = load_spec(project / "diva.yaml")
    assert (spec.stage, spec.project.name) == (0, project.name)
    assert spec.model is not None
    assert (spec.model.framework, spec.model.task) == (framework, task)
    assert spec.serving is not None
    assert spec.serving.pattern == pattern


def test_hooks_made_git_and_dvc_repositories_and_compiled(project: Path) -> None:
    assert (project / ".git").is_dir()
    assert (project / ".dvc" / "config").is_file()
    assert "remote = local" in (project / ".dvc" / "config").read_text("utf-8")
    assert (project / ".github" / "CODEOWNERS").is_file()
    sh(sys.executable, "-m", "diva", "compile", "--check", cwd=project)


def test_the_projects_own_tests_pass(project: Path) -> None:
    result = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "failed" not in result.stdout


def test_the_pipeline_runs_at_stage_2(project: Path) -> None:
    """Stage 2 compiles dvc.yaml; `dvc repro` prepares, trains (MLflow run, registered
    version) and evaluates on the synthetic sample; the spec's target holds."""
    spec_path = project / "diva.yaml"
    spec_path.write_text(set_stage(spec_path.read_text("utf-8"), parse_stage("small")))
    module = project.name.replace("-", "_")
    sh(sys.executable, f"src/{module}/data.py", "data/sample", cwd=project)
    sh(sys.executable, "-m", "dvc", "add", "-q", "data/sample", cwd=project)
    sh(sys.executable, "-m", "diva", "compile", cwd=project)
    sh(sys.executable, "-m", "dvc", "repro", cwd=project)
    metrics = json.loads((project / "metrics" / "sample.json").read_text("utf-8"))
    (target,) = [t for t in load_spec(spec_path).targets if t.dataset == "sample"]
    value = metrics[target.metric]
    assert value <= target.threshold if target.goal == "minimize" else value >= target.threshold
    assert (project / "build" / "sample" / "model" / "MLmodel").is_file()
    assert "up to date" in sh(sys.executable, "-m", "dvc", "status", cwd=project)


def test_the_project_passes_its_own_linter(project: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    for args in (("check", "."), ("format", "--check", ".")):
        result = run(str(ruff), *args, cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_monitors_reports_stay_out_of_git(project: Path) -> None:
    """`diva monitor` writes its reports to monitoring-report/ by default: not committed."""
    folder = project / "monitoring-report"
    folder.mkdir()
    try:
        (folder / "report.json").write_text("{}\n", "utf-8")
        status = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=project)
        ignored = sh("git", "check-ignore", "-v", "monitoring-report/report.json", cwd=project)
    finally:
        (folder / "report.json").unlink()
        folder.rmdir()
    assert "monitoring-report" not in status
    assert ignored.startswith(".gitignore:")
