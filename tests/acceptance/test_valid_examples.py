"""The example specs validate through the CLI, and ``--format json`` mirrors the text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.paths import EXAMPLES
from tests.support.process import RunDiva

EXAMPLE_DIRS = [path.parent for path in EXAMPLES]
INVALID = Path(__file__).parent / "invalid"
#: Invalid cases for the JSON output: several nested problems, and one without a path.
JSON_CASES = ["many-problems", "yaml-anchor"]
ISSUE_KEYS = {"file", "line", "column", "path", "message", "severity"}


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=[path.name for path in EXAMPLE_DIRS])
def test_example_is_valid(example: Path, run_diva: RunDiva) -> None:
    result = run_diva("validate", "diva.yaml", cwd=example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("diva.yaml: valid (")
    assert result.stderr == ""


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=[path.name for path in EXAMPLE_DIRS])
def test_example_as_json_is_an_empty_list(example: Path, run_diva: RunDiva) -> None:
    result = run_diva("validate", "--format", "json", "diva.yaml", cwd=example)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def _render(issue: dict[str, object]) -> str:
    assert isinstance(issue["path"], list)
    where = f"{issue['file']}:{issue['line']}:{issue['column']}"
    if issue["severity"] == "warning":
        where += ": warning"
    path = " -> ".join(str(part) for part in issue["path"])
    return f"{where}: {path}: {issue['message']}" if path else f"{where}: {issue['message']}"


@pytest.mark.parametrize("case", JSON_CASES)
def test_json_issues_match_the_text_output(case: str, tmp_path: Path, run_diva: RunDiva) -> None:
    work = shutil.copytree(INVALID / case, tmp_path / case)
    text = run_diva("validate", "diva.yaml", cwd=work)
    result = run_diva("validate", "--format", "json", "diva.yaml", cwd=work)
    assert result.returncode == 1, result.stderr
    issues = json.loads(result.stdout)
    assert isinstance(issues, list)
    assert issues
    assert all(isinstance(issue, dict) and set(issue) == ISSUE_KEYS for issue in issues)
    assert [_render(issue) for issue in issues] == text.stdout.splitlines()
