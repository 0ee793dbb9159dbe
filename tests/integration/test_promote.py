"""``diva promote`` end to end on real git repos (the in-place stage edit:
tests/unit/test_promote.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.gate import SPEC
from tests.support.git_repo import git, git_only_on_path
from tests.support.process import RunDiva
from tests.support.promote_repo import (
    current_branch,
    local_branches,
    make_project,
    remote_branches,
    snapshot,
)

# --- diva promote end to end ---------------------------------------------------------------

BRANCH = "diva/stage-2-small"
STAGE_LINE = "stage: 1   # asked for by @quality/ml-review"
SPEC_COMMENTED = SPEC.replace("\nstage: 1\n", f"\n{STAGE_LINE}\n")
SUMMARY_LINE = "  summary: Gradient-boosted trees on one month of runs, then on a year.\n"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No outer git repository, no CI summary, and no `gh` on PATH (only git)."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    git_only_on_path(monkeypatch, tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, SPEC_COMMENTED)


@pytest.fixture
def incomplete(tmp_path: Path) -> Path:
    """A project whose plan has no summary: the gate to stage 2 fails."""
    assert SUMMARY_LINE in SPEC_COMMENTED
    return make_project(tmp_path, SPEC_COMMENTED.replace(SUMMARY_LINE, ""))


def test_promote_commits_on_a_stage_branch(run_diva: RunDiva, project: Path) -> None:
    result = run_diva("promote", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert current_branch(project) == BRANCH
    assert git(project, "log", "-1", "--format=%s") == "Promote to stage 2 (small-scale modeling)"
    assert result.stdout.startswith(f"committed on branch {BRANCH}: Promote to stage 2")


def test_promote_changes_only_the_stage_line_of_the_spec(run_diva: RunDiva, project: Path) -> None:
    assert run_diva("promote", cwd=project).returncode == 0
    diff = git(project, "diff", "--unified=0", "main", BRANCH, "--", "diva.yaml")
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [f"-{STAGE_LINE}", f"+{STAGE_LINE.replace('1', '2', 1)}"]


def test_promote_commits_the_recompiled_files(run_diva: RunDiva, project: Path) -> None:
    assert run_diva("promote", cwd=project).returncode == 0
    assert git(project, "status", "--porcelain") == ""
    committed = git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert {"diva.yaml", "diva.lock", "dvc.yaml"} <= set(committed)


def test_promote_pushes_the_branch_to_origin(run_diva: RunDiva, project: Path) -> None:
    assert run_diva("promote", cwd=project).returncode == 0
    assert f"refs/heads/{BRANCH}" in remote_branches(project)
    assert git(project, "rev-parse", f"origin/{BRANCH}") == git(project, "rev-parse", "HEAD")


def test_promote_without_gh_prints_the_command_and_the_body(
    run_diva: RunDiva, project: Path
) -> None:
    assert shutil.which("gh") is None  # PATH holds git only
    result = run_diva("promote", cwd=project)
    assert result.returncode == 0
    body_file = project / ".git" / "diva" / "diva-stage-2-small.md"
    assert (
        f"  gh pr create --base main --head {BRANCH} "
        f"--title 'Promote to stage 2 (small-scale modeling)' --body-file {body_file}\n"
        in result.stdout
    )
    body = result.stdout.split(f"with this body (written to {body_file}):\n\n", 1)[1]
    assert body.startswith("## diva gate passed: promotion 1 -> 2\n")
    assert "| ✅ | `plan.summary` |" in body


def test_the_printed_body_file_holds_the_printed_body(run_diva: RunDiva, project: Path) -> None:
    result = run_diva("promote", cwd=project)
    body_file = project / ".git" / "diva" / "diva-stage-2-small.md"
    assert body_file.read_text(encoding="utf-8") in result.stdout
    assert body_file.read_text(encoding="utf-8").startswith("## diva gate passed")
    assert git(project, "status", "--porcelain") == ""  # written outside the working tree


def test_promote_without_the_remote_changes_nothing(run_diva: RunDiva, project: Path) -> None:
    before = snapshot(project)
    result = run_diva("promote", "--remote", "upstream", cwd=project)
    assert result.returncode == 2
    assert "no remote 'upstream' to push the proposal to" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(project) == before
    assert remote_branches(project) == ["refs/heads/main"]


def test_a_refused_promotion_names_the_failing_checkpoint(
    run_diva: RunDiva, incomplete: Path
) -> None:
    result = run_diva("promote", cwd=incomplete)
    assert result.returncode == 1
    assert "plan.summary is empty" in result.stdout
    assert "promotion refused: the gate fails" in result.stderr


def test_a_refused_promotion_leaves_no_branch_and_no_commit(
    run_diva: RunDiva, incomplete: Path
) -> None:
    head = git(incomplete, "rev-parse", "HEAD")
    assert run_diva("promote", cwd=incomplete).returncode == 1
    assert current_branch(incomplete) == "main"
    assert git(incomplete, "rev-parse", "HEAD") == head
    assert local_branches(incomplete) == ["main"]
    assert remote_branches(incomplete) == ["refs/heads/main"]
    assert git(incomplete, "status", "--porcelain", "--untracked-files=no") == ""


def test_a_refused_promotion_leaves_a_clean_tree(run_diva: RunDiva, incomplete: Path) -> None:
    assert run_diva("promote", cwd=incomplete).returncode == 1
    assert git(incomplete, "status", "--porcelain") == ""


def test_draft_commits_a_failing_promotion(run_diva: RunDiva, incomplete: Path) -> None:
    result = run_diva("promote", "--draft", cwd=incomplete)
    assert result.returncode == 0, result.stdout + result.stderr
    assert current_branch(incomplete) == BRANCH
    assert "gate FAILED" in git(incomplete, "log", "-1", "--format=%b")
    assert f"refs/heads/{BRANCH}" in remote_branches(incomplete)
    assert "## diva gate failed: promotion 1 -> 2" in result.stdout


def test_draft_fallback_command_opens_a_draft(run_diva: RunDiva, incomplete: Path) -> None:
    result = run_diva("promote", "--draft", cwd=incomplete)
    command = next(line for line in result.stdout.splitlines() if "gh pr create" in line)
    assert command.startswith("  gh pr create --draft --base main --head diva/stage-2-small ")
    body_file = Path(command.rsplit(" --body-file ", 1)[1])
    assert body_file.read_text(encoding="utf-8").startswith("## diva gate failed: promotion 1 -> 2")


def test_a_dirty_working_tree_is_refused(run_diva: RunDiva, project: Path) -> None:
    spec = project / "diva.yaml"
    spec.write_text(spec.read_text() + "# unsaved thought\n")
    result = run_diva("promote", cwd=project)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr
    assert "Traceback" not in result.stderr
    assert current_branch(project) == "main"
    assert local_branches(project) == ["main"]


def test_an_unknown_target_is_a_usage_error(run_diva: RunDiva, project: Path) -> None:
    result = run_diva("promote", "huge", cwd=project)
    assert result.returncode == 2
    assert "'huge'" in result.stderr
    assert local_branches(project) == ["main"]


def test_skipping_a_stage_is_refused(run_diva: RunDiva, project: Path) -> None:
    result = run_diva("promote", "3", cwd=project)
    assert result.returncode == 1
    assert "1 -> 3: promote one stage at a time" in result.stdout
    assert local_branches(project) == ["main"]


def test_promote_keeps_crlf_line_endings(run_diva: RunDiva, tmp_path: Path) -> None:
    root = make_project(tmp_path, SPEC_COMMENTED.replace("\n", "\r\n"))
    assert run_diva("promote", cwd=root).returncode == 0
    stat = git(root, "diff", "--numstat", "main", BRANCH, "--", "diva.yaml")
    assert stat.split()[:2] == ["1", "1"]
