"""``diva doctor`` and the gate's ``protection`` row, against the recorded GitHub API.

The real api.github.com cannot be reached from these machines (no internet but the
package registries), so :class:`~tests.support.github_api.RecordedGitHub` answers from
GitHub's documented responses: the rulesets a test applies (diva's own generated files),
the effective rules of the branch that follow from them (active ones only, as GitHub
computes them), environments and CODEOWNERS' errors. Each test is a way the protection
can be missing while everything looks set up; the server is only ever read.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import diva
from tests.support.gate import at_stage
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.github_api import RecordedGitHub

GITHUB_VARIABLES = (
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "DIVA_GATE_GITHUB_TOKEN",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `gh` to take a token from


@pytest.fixture
def api() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        yield server
    assert server.methods <= {"GET"}, "doctor and the gate only read GitHub"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_repo(tmp_path_factory.mktemp("doctor") / "project")
    commit_spec(root, at_stage(0), "stage 0", compiled=True)
    return root


def ruleset(root: Path, name: str = "ruleset.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "generated" / name).read_text())
    return data


def github_env(api: RecordedGitHub, token: str | None = None) -> dict[str, str]:
    return {
        "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": api.repository,
        "GITHUB_TOKEN": api.token if token is None else token,
    }


def doctor(
    root: Path, api: RecordedGitHub | None, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = diva(root, "doctor", *args, env=github_env(api, token) if api else None)
    assert "Traceback" not in result.stderr
    return result


def line(result: subprocess.CompletedProcess[str], finding: str) -> str:
    (found,) = [text for text in result.stdout.splitlines() if f" {finding} " in text]
    return found


def test_nothing_applied_says_so_and_prints_the_command(project: Path, api: RecordedGitHub) -> None:
    result = doctor(project, api)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "❌" in line(result, "ruleset")
    assert "diva's ruleset was never applied" in result.stdout
    assert "main does not require the check 'diva gate': a failing gate blocks no merge" in (
        result.stdout
    )
    assert (
        f"fix: gh api --method POST repos/{api.repository}/rulesets "
        "--input generated/ruleset.json" in result.stdout
    )
    assert "the gate's verdict is not enforced" in result.stderr


def test_the_generated_ruleset_applied_and_active_is_enough(
    project: Path, api: RecordedGitHub
) -> None:
    api.add_ruleset(ruleset(project))
    result = doctor(project, api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "main requires the check 'diva gate'" in result.stdout
    assert "main requires a code owner's review" in result.stdout
    assert "ruleset 'diva' is active" in result.stdout
    assert "CODEOWNERS has no errors" in result.stdout
    assert "everything diva generated is enforced" in result.stdout
    assert "environment" not in result.stdout  # not before stage 4


def test_a_ruleset_in_evaluate_mode_enforces_nothing(project: Path, api: RecordedGitHub) -> None:
    ruleset_id = api.add_ruleset(ruleset(project), enforcement="evaluate")
    result = doctor(project, api)
    assert result.returncode == 1
    assert "ruleset 'diva' is evaluate, not active: nothing is enforced" in result.stdout
    assert (
        f"fix: gh api --method PUT repos/{api.repository}/rulesets/{ruleset_id} "
        "--input generated/ruleset.json" in result.stdout
    )
    assert "❌" in line(result, "gate_required")


def test_the_required_workflow_ruleset_requires_the_gate(
    project: Path, api: RecordedGitHub
) -> None:
    api.add_ruleset(ruleset(project, "ruleset-required-workflow.json"))
    result = doctor(project, api)
    assert result.returncode == 0, result.stdout
    assert "ruleset 'diva (gate from main)' is active" in result.stdout


def test_a_ruleset_without_the_gate_check(project: Path, api: RecordedGitHub) -> None:
    """Someone applied the ruleset but dropped its required check."""
    data = ruleset(project)
    data["rules"] = [rule for rule in data["rules"] if rule["type"] != "required_status_checks"]
    api.add_ruleset(data)
    result = doctor(project, api)
    assert result.returncode == 1
    assert "❌" in line(result, "gate_required")
    assert "✅" in line(result, "code_owner_review")
    assert "fix:" not in line(result, "gate_required")


def test_codeowners_errors_are_shown_with_line_and_column(
    project: Path, api: RecordedGitHub
) -> None:
    api.add_ruleset(ruleset(project))
    api.codeowners_errors(
        [{"line": 4, "column": 22, "kind": "Unknown owner", "source": "/diva.yaml @qa/nobody"}]
    )
    result = doctor(project, api)
    assert result.returncode == 1
    assert ".github/CODEOWNERS:4:22: Unknown owner: /diva.yaml @qa/nobody" in result.stdout


def test_no_codeowners_file(project: Path, api: RecordedGitHub) -> None:
    api.add_ruleset(ruleset(project))
    api.codeowners_errors(None)
    result = doctor(project, api)
    assert result.returncode == 1
    assert "no CODEOWNERS on the default branch" in result.stdout


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project at stage 4: its release job's secrets live in the release environment."""
    root = init_repo(tmp_path_factory.mktemp("deployed") / "project")
    commit_spec(root, "diva: 1\nproject: {name: served}\nstage: deploy\n", "stage 4")
    return root


def test_from_stage_4_the_release_environment_must_exist(
    deployed: Path, api: RecordedGitHub, project: Path
) -> None:
    api.add_ruleset(ruleset(project))
    result = doctor(deployed, api)
    assert result.returncode == 1
    assert "no environment 'release': the release and monitor jobs have no secrets" in (
        result.stdout
    )
    assert (
        f"fix: gh api --method PUT repos/{api.repository}/environments/release "
        '--field "deployment_branch_policy[protected_branches]=true"' in result.stdout
    )


def test_an_environment_without_a_branch_policy(
    deployed: Path, api: RecordedGitHub, project: Path
) -> None:
    """Reviewers do not make up for it: a pull request's workflow gets the secrets."""
    api.add_ruleset(ruleset(project))
    api.environment("release", reviewers=["mona"])
    result = doctor(deployed, api)
    assert result.returncode == 1
    assert (
        "environment 'release' has no branch policy: a workflow of any branch, a pull "
        "request's too, gets the release's secrets (required reviewers)" in result.stdout
    )


@pytest.mark.parametrize(
    ("reviewers", "said"), [(["mona"], "required reviewers"), ([], "no required reviewers")]
)
def test_an_environment_with_a_branch_policy(
    deployed: Path, api: RecordedGitHub, project: Path, reviewers: list[str], said: str
) -> None:
    """Reviewers are the team's choice: they would hold every scheduled monitoring run."""
    api.add_ruleset(ruleset(project))
    api.environment("release", reviewers=reviewers, branch_policy="protected")
    result = doctor(deployed, api)
    assert result.returncode == 0, result.stdout
    assert f"environment 'release' has a branch policy ({said})" in result.stdout


def test_a_bad_token_is_unreachable_not_missing(project: Path, api: RecordedGitHub) -> None:
    result = doctor(project, api, token="not-the-token")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "⚠️" in line(result, "branch_rules")
    assert "401 Bad credentials" in result.stdout
    assert "not-the-token" not in result.stdout + result.stderr


def test_a_token_without_the_permission(project: Path, api: RecordedGitHub) -> None:
    api.add_ruleset(ruleset(project))
    api.refuse("codeowners_errors")
    result = doctor(project, api)
    assert result.returncode == 4
    assert "cannot read CODEOWNERS' errors" in result.stdout
    assert "403 Resource not accessible by integration" in result.stdout


def test_the_repository_comes_from_the_origin_remote(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "project")
    commit_spec(root, at_stage(0), "stage 0")
    git(root, "remote", "add", "origin", "git@gitlab.example.com:team/project.git")
    result = doctor(root, None)
    assert result.returncode == 2
    assert "which repository? pass --repo OWNER/NAME" in result.stderr
    assert "git@gitlab.example.com:team/project.git is not on github.com" in result.stderr


# --- the gate's row -------------------------------------------------------------------


def gate_rows(root: Path, api: RecordedGitHub, head: str) -> dict[str, tuple[str, str]]:
    api.add_pull(5, "alice", head)
    args = ("gate", "--base", "main", "--format", "json", "--pull-request", "5")
    result = diva(root, *args, env=github_env(api))
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return {row["id"]: (row["status"], row["detail"]) for row in report["checkpoints"]}


@pytest.fixture(scope="module")
def proposal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """main at stage 0; a branch that changes a comment only (no approval needed)."""
    root = init_repo(tmp_path_factory.mktemp("proposal") / "project")
    commit_spec(root, at_stage(0), "stage 0", compiled=True)
    git(root, "checkout", "-q", "-b", "change")
    (root / "diva.yaml").write_text(at_stage(0) + "# a remark\n")
    compile_here(root)
    return root, propose(root, "a remark", "change")


def test_the_gate_warns_when_nothing_requires_it(
    proposal: tuple[Path, str], api: RecordedGitHub
) -> None:
    root, head = proposal
    status, detail = gate_rows(root, api, head)["protection"]
    assert status == "warn"
    assert "main does not require the check 'diva gate': this verdict blocks no merge" in detail
    assert "diva doctor" in detail


def test_the_gate_says_when_it_is_required(
    proposal: tuple[Path, str], api: RecordedGitHub, project: Path
) -> None:
    root, head = proposal
    api.add_ruleset(ruleset(project))
    assert gate_rows(root, api, head)["protection"] == (
        "pass",
        "main requires the check 'diva gate'",
    )


def test_outside_a_pull_request_the_gate_has_no_protection_row(proposal: tuple[Path, str]) -> None:
    root, _ = proposal
    result = diva(root, "gate", "--base", "main", "--format", "json")
    ids = [row["id"] for row in json.loads(result.stdout)["checkpoints"]]
    assert "protection" not in ids
