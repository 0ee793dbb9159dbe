"""DVC accepts what diva generates: the vendored dvc.yaml schema, and real DVC.

The schema is the one of iterative/dvcyaml-schema, vendored in ``../shared/schemas``
next to the repository (see its README); the tests skip when that folder is absent.
Real DVC runs as a subprocess in a scratch git repository with the entry points and
dataset folders created empty: ``dvc dag`` builds the whole graph, so it refuses
overlapping outputs, cycles and outputs that are also dependencies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply
from tests.support.paths import EXAMPLES, ROOT

SCHEMAS = ROOT.parent / "shared" / "schemas"
DVC_SCHEMA = SCHEMAS / "dvc-yaml.schema.json"
GOLDEN = Path(__file__).parent
GOLDEN_DVC = sorted(GOLDEN.glob("*/expected/dvc.yaml"))
PIPELINE_CASES = sorted(path.parent.parent for path in GOLDEN_DVC)
SCRIPT = re.compile(r"^python (\S+\.py) ")

ROOT_SCRIPTS_SPEC = """\
diva: 1
project: {name: flat, title: Scripts at the project root}
stage: small
datasets:
  sample: {scale: small, path: data/sample}
model:
  framework: sklearn
  task: regression
  entrypoints: {train: train.py, evaluate: evaluate.py}
"""


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path)


@pytest.fixture(scope="module")
def dvc_validator() -> Any:
    if not DVC_SCHEMA.is_file():
        pytest.skip(f"vendored DVC schema not found at {DVC_SCHEMA} (../shared/schemas absent)")
    from jsonschema import Draft7Validator

    schema = json.loads(DVC_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _errors(validator: Any, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.mark.parametrize("dvc_yaml", GOLDEN_DVC, ids=[p.parent.parent.name for p in GOLDEN_DVC])
def test_golden_dvc_yaml_matches_the_dvc_schema(dvc_yaml: Path, dvc_validator: Any) -> None:
    assert _errors(dvc_validator, _load_yaml(dvc_yaml)) == []


@pytest.mark.parametrize("spec", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_example_dvc_yaml_matches_the_dvc_schema(
    spec: Path, dvc_validator: Any, tmp_path: Path
) -> None:
    apply(plan_job(Job(spec, tmp_path)))
    document = _load_yaml(tmp_path / "dvc.yaml")
    assert document["stages"], "every example is at stage 2 or later"
    assert _errors(dvc_validator, document) == []


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "dvc", *args, cwd=cwd)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with DVC initialized."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()
    for args in (
        ("git", "init", "-q"),
        ("git", "config", "user.name", "diva tests"),
        ("git", "config", "user.email", "diva-tests@example.com"),
    ):
        assert _run(*args, cwd=root).returncode == 0
    result = _dvc("init", "-q", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def _compile_into(repo: Path, spec_text: str) -> dict[str, Any]:
    """Compile the spec in ``repo``; create its scripts and datasets empty."""
    (repo / "diva.yaml").write_text(spec_text, encoding="utf-8")
    apply(plan_job(Job(repo / "diva.yaml", repo)))
    stages: dict[str, Any] = _load_yaml(repo / "dvc.yaml")["stages"]
    for stage in stages.values():
        match = SCRIPT.match(stage["cmd"])
        assert match, stage["cmd"]
        script = repo / match.group(1)
        script.parent.mkdir(parents=True, exist_ok=True)
        script.touch()
    config = json.loads((repo / "generated" / "project.json").read_text(encoding="utf-8"))
    for dataset in config["datasets"].values():
        (repo / dataset["path"]).mkdir(parents=True, exist_ok=True)
    return stages


@pytest.mark.parametrize("case", PIPELINE_CASES, ids=[case.name for case in PIPELINE_CASES])
def test_dvc_builds_the_graph_of_the_generated_pipeline(case: Path, repo: Path) -> None:
    stages = _compile_into(repo, (case / "diva.yaml").read_text(encoding="utf-8"))
    dag = _dvc("dag", "--dot", cwd=repo)
    assert dag.returncode == 0, dag.stderr
    listed = _dvc("stage", "list", "--name-only", "--fail", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(stages)
    for name in stages:
        assert name in dag.stdout


def test_dvc_accepts_a_pipeline_whose_scripts_sit_at_the_project_root(repo: Path) -> None:
    """The code folder of root-level scripts is ``.``, which holds every output too."""
    stages = _compile_into(repo, ROOT_SCRIPTS_SPEC)
    dag = _dvc("dag", "--dot", cwd=repo)
    assert dag.returncode == 0, dag.stderr
    assert all(name in dag.stdout for name in stages)
