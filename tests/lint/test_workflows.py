"""Generated GitHub workflows pass zizmor, the workflow JSON Schema, yamllint — and ours.

Every example and every golden case is compiled the way a project is (the spec at the
root of the output folder, which is the repository root a workflow runs in). The
external linters must report nothing; the project's own checks below cover what they
do not: pinned actions, allowed triggers, timeouts, permissions, scripts free of
expressions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compile import Job, plan_job
from diva.writer import apply
from tests.conftest import EXAMPLES, ROOT

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*/diva.yaml"))
CASES = {f"example-{spec.parent.name}": spec for spec in EXAMPLES} | {
    f"golden-{spec.parent.name}": spec for spec in GOLDEN
}
WORKFLOWS_DIR = Path(".github/workflows")
YAMLLINT_CONFIG = (
    "{extends: default, rules: {truthy: {check-keys: false}, line-length: {max: 120}, "
    "document-start: disable}}"
)
PINNED = re.compile(r"^[^@]+@[0-9a-f]{40}$")
FORBIDDEN_TRIGGERS = {"pull_request_target", "workflow_run"}
ALLOWED_TRIGGERS = {"pull_request", "push", "schedule", "workflow_dispatch"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case compiled into its own folder; the case name -> its workflows folder."""
    root = tmp_path_factory.mktemp("workflows")
    folders = {}
    for name, spec in CASES.items():
        out = root / name
        out.mkdir()
        shutil.copyfile(spec, out / "diva.yaml")
        apply(plan_job(Job(out / "diva.yaml", out)))
        folders[name] = out / WORKFLOWS_DIR
    return folders


def tool(name: str) -> str:
    """The tool installed next to this Python (the `test` extra), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def workflow_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.yml"))
    assert files, f"no workflow in {folder}"
    return files


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(path)
    return data


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    return run(
        tool("zizmor"),
        "--offline",
        "--persona",
        "pedantic",
        "--no-config",
        "--no-ignores",
        "--strict-collection",
        "--no-progress",
        "--color",
        "never",
        str(target),
    )


# --- external linters ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_zizmor_pedantic_finds_nothing(case: str, compiled: dict[str, Path]) -> None:
    workflow_files(compiled[case])
    result = zizmor(compiled[case])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_zizmor_does_catch_an_expression_in_a_script(
    compiled: dict[str, Path], tmp_path: Path
) -> None:
    """The zero-findings test means something: a planted injection is found."""
    gate = compiled["example-demand-forecast"] / "diva-gate.yml"
    planted = gate.read_text().replace('"origin/${BASE_REF}"', '"origin/${{ github.head_ref }}"')
    assert planted != gate.read_text()
    folder = tmp_path / WORKFLOWS_DIR
    folder.mkdir(parents=True)
    (folder / "diva-gate.yml").write_text(planted)
    result = zizmor(folder)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_workflow_schema_accepts_them(case: str, compiled: dict[str, Path]) -> None:
    files = [str(path) for path in workflow_files(compiled[case])]
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_yamllint_finds_nothing(case: str, compiled: dict[str, Path]) -> None:
    files = [str(path) for path in workflow_files(compiled[case])]
    result = run(tool("yamllint"), "--strict", "-f", "parsable", "-d", YAMLLINT_CONFIG, *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# --- our own checks ------------------------------------------------------------------


def all_workflows(compiled: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{case}/{path.name}", load(path))
        for case, folder in sorted(compiled.items())
        for path in workflow_files(folder)
    ]


def values_of(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in ``node``."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                found.append(value)
            found += values_of(value, key)
    elif isinstance(node, list):
        for item in node:
            found += values_of(item, key)
    return found


def test_every_action_is_pinned_to_a_commit(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        uses = values_of(workflow, "uses")
        assert uses, name
        assert [ref for ref in uses if not PINNED.fullmatch(ref)] == [], name


def test_only_safe_triggers(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        triggers = set(workflow["on"])
        assert triggers <= ALLOWED_TRIGGERS, name
        assert not triggers & FORBIDDEN_TRIGGERS, name


def test_every_job_has_a_timeout(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        for job_id, job in workflow["jobs"].items():
            timeout = job.get("timeout-minutes")
            assert isinstance(timeout, int), f"{name}: job {job_id}"
            assert timeout > 0, f"{name}: job {job_id}"


def test_permissions_are_read_only_and_top_level(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        assert workflow["permissions"] == {"contents": "read"}, name
        assert all("permissions" not in job for job in workflow["jobs"].values()), name


def test_concurrency_is_per_workflow_and_ref(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        concurrency = workflow["concurrency"]
        assert concurrency["cancel-in-progress"] is True, name
        assert "github.workflow" in concurrency["group"], name
        assert "github.ref" in concurrency["group"], name


def test_checkout_never_persists_credentials(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name


def test_no_expression_inside_a_run_script(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        scripts = values_of(workflow, "run")
        assert scripts, name
        assert [script for script in scripts if "${{" in str(script)] == [], name
