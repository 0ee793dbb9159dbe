"""``diva promote`` run again, in a new cycle, and with a push that fails, on real git
repositories with a bare local origin (the first promotion: tests/integration/test_promote.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gate import SPEC
from tests.support.git_repo import git, git_only_on_path
from tests.support.process import RunDiva
from tests.support.promote_repo import (
    current_branch,
    local_branches,
    make_project,
    merge,
    refuse_pushes,
    remote_branches,
    remote_tip,
    snapshot,
)

BRANCH = "diva/stage-2-small"
SUMMARY_LINE = "  summary: Gradient-boosted trees on one month of runs, then on a year.\n"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No outer git repository, no CI summary, and no `gh` on PATH (only git)."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    git_only_on_path(monkeypatch, tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, SPEC)


@pytest.fixture
def promoted(run_diva: RunDiva, project: Path) -> Path:
    """The project promoted once, then back on main with a new commit there."""
    result = run_diva("promote", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    git(project, "checkout", "-q", "main")
    (project / "NOTES.md").write_text("what the first review asked for\n", encoding="utf-8")
    git(project, "add", "NOTES.md")
    git(project, "commit", "-q", "-m", "answer the review")
    return project


def promote_ok(run_diva: RunDiva, root: Path, *args: str) -> str:
    result = run_diva("promote", *args, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# --- run again: the same branch, rebuilt and pushed with a lease ---------------------------


def test_a_rerun_rebuilds_the_branch_on_the_current_base(run_diva: RunDiva, promoted: Path) -> None:
    promote_ok(run_diva, promoted)
    assert current_branch(promoted) == BRANCH
    assert git(promoted, "rev-parse", "HEAD^") == git(promoted, "rev-parse", "main")
    assert git(promoted, "rev-list", "--count", "main..HEAD") == "1"


def test_a_rerun_moves_the_remote_branch_to_the_new_commit(
    run_diva: RunDiva, promoted: Path
) -> None:
    first = remote_tip(promoted, BRANCH)
    output = promote_ok(run_diva, promoted)
    head = git(promoted, "rev-parse", "HEAD")
    assert remote_tip(promoted, BRANCH) == head != first
    assert git(promoted, "rev-parse", f"origin/{BRANCH}") == head
    assert f"pushed it to origin with a lease (it was at {first[:12]})" in output


def test_a_rerun_keeps_one_branch_here_and_on_the_remote(run_diva: RunDiva, promoted: Path) -> None:
    promote_ok(run_diva, promoted)
    assert local_branches(promoted) == ["diva/stage-2-small", "main"]
    assert remote_branches(promoted) == [f"refs/heads/{BRANCH}", "refs/heads/main"]
    assert git(promoted, "rev-parse", "--abbrev-ref", "@{upstream}") == f"origin/{BRANCH}"


def test_a_rerun_says_how_to_refresh_the_open_pull_request(
    run_diva: RunDiva, promoted: Path
) -> None:
    output = promote_ok(run_diva, promoted)
    body_file = promoted / ".git" / "diva" / "diva-stage-2-small.md"
    assert (
        f"  gh pr edit {BRANCH} --title 'Promote to stage 2 (small-scale modeling)' "
        f"--body-file {body_file}\n" in output
    )
    assert body_file.read_text(encoding="utf-8") in output


def test_a_rerun_after_a_draft_updates_the_draft_branch(run_diva: RunDiva, tmp_path: Path) -> None:
    root = make_project(tmp_path, SPEC.replace(SUMMARY_LINE, ""))
    promote_ok(run_diva, root, "--draft")
    git(root, "checkout", "-q", "main")
    (root / "diva.yaml").write_text(SPEC, encoding="utf-8")  # the plan's summary, written
    git(root, "commit", "-q", "-am", "plan: the summary")
    output = promote_ok(run_diva, root)
    assert "## diva gate passed: promotion 1 -> 2" in output
    assert remote_tip(root, BRANCH) == git(root, "rev-parse", "HEAD")
    assert "gate passed" in git(root, "log", "-1", "--format=%b")


def test_a_rerun_with_nothing_new_pushes_a_fresh_commit(run_diva: RunDiva, project: Path) -> None:
    promote_ok(run_diva, project)
    git(project, "checkout", "-q", "main")
    promote_ok(run_diva, project)
    assert remote_tip(project, BRANCH) == git(project, "rev-parse", "HEAD")


def test_a_remote_branch_moved_by_someone_else_is_not_overwritten(
    run_diva: RunDiva, promoted: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", BRANCH, str(tmp_path / "origin.git"), str(other))
    git(other, "-c", "user.name=Other", "-c", "user.email=o@example.com",
        "commit", "-q", "--allow-empty", "-m", "a reviewer's fixup")  # fmt: skip
    git(other, "push", "-q", "origin", BRANCH)
    theirs = remote_tip(promoted, BRANCH)
    before = snapshot(promoted)
    result = run_diva("promote", cwd=promoted)
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"origin/{BRANCH} has moved since this repository last saw it" in result.stderr
    assert remote_tip(promoted, BRANCH) == theirs
    assert snapshot(promoted) == before


def test_local_commits_on_the_branch_are_not_dropped(run_diva: RunDiva, promoted: Path) -> None:
    git(promoted, "checkout", "-q", BRANCH)
    git(promoted, "commit", "-q", "--allow-empty", "-m", "not pushed yet")
    git(promoted, "checkout", "-q", "main")
    before = snapshot(promoted)
    result = run_diva("promote", cwd=promoted)
    assert result.returncode == 2
    assert f"branch {BRANCH} has commits that are not on origin/{BRANCH}" in result.stderr
    assert snapshot(promoted) == before


# --- a new cycle: a branch of its own ------------------------------------------------------


def test_a_new_cycle_gets_a_branch_of_its_own(run_diva: RunDiva, project: Path) -> None:
    promote_ok(run_diva, project)
    merge(project, BRANCH)
    merged = remote_tip(project, BRANCH)
    assert "committed on branch diva/stage-1-plan-2:" in promote_ok(run_diva, project, "1")
    merge(project, "diva/stage-1-plan-2")
    output = promote_ok(run_diva, project)
    assert output.startswith("committed on branch diva/stage-2-small-2: Promote to stage 2")
    assert remote_tip(project, BRANCH) == merged  # the merged branch is left alone
    assert remote_tip(project, "diva/stage-2-small-2") == git(project, "rev-parse", "HEAD")


def test_a_rerun_in_the_new_cycle_reuses_its_branch(run_diva: RunDiva, project: Path) -> None:
    promote_ok(run_diva, project)
    merge(project, BRANCH)
    promote_ok(run_diva, project, "1")
    merge(project, "diva/stage-1-plan-2")
    promote_ok(run_diva, project)
    git(project, "checkout", "-q", "main")
    output = promote_ok(run_diva, project)
    assert output.startswith("committed on branch diva/stage-2-small-2:")
    assert "rebuilt diva/stage-2-small-2 on main" in output


# --- a failed push: the repository as it was -----------------------------------------------


def test_a_push_the_remote_declines_changes_nothing(
    run_diva: RunDiva, project: Path, tmp_path: Path
) -> None:
    refuse_pushes(tmp_path / "origin.git")
    before = snapshot(project)
    result = run_diva("promote", cwd=project)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "git push to origin failed, so nothing was proposed" in result.stderr
    assert "pushes are closed today" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(project) == before
    assert remote_branches(project) == ["refs/heads/main"]


def test_an_unreachable_remote_changes_nothing(
    run_diva: RunDiva, project: Path, tmp_path: Path
) -> None:
    git(project, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    before = snapshot(project)
    result = run_diva("promote", cwd=project)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "git push to origin failed" in result.stderr
    assert snapshot(project) == before


def test_a_declined_rerun_leaves_the_branch_where_it_was(
    run_diva: RunDiva, promoted: Path, tmp_path: Path
) -> None:
    refuse_pushes(tmp_path / "origin.git")
    before = snapshot(promoted)
    assert run_diva("promote", cwd=promoted).returncode == 4
    assert snapshot(promoted) == before
    assert current_branch(promoted) == "main"
