"""Stage gates on real temporary git repositories: cycles from git history, the cycle
budget counted from it, and the gate, status and log commands.

The checkpoints judged in memory are in tests/unit/test_gate.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diva.lifecycle.evidence.git import cycles, stage_history
from diva.lifecycle.gate import evaluate
from tests.support.gate import REFERENCES, SPEC, at_stage, rows_of
from tests.support.git_repo import commit_spec, git, init_repo
from tests.support.process import RunDiva

# --- git helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No outer git repository or CI step summary leaks into the tests."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def stage_counts(root: Path) -> dict[int, int]:
    return cycles(stage_history(root))


# --- cycles from git history -------------------------------------------------------


def test_cycles_count_each_entry_of_a_stage(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    for stage in (0, 1, 2, 1, 2):
        commit_spec(root, f"diva: 1\nstage: {stage}\n", f"stage {stage}")
    assert stage_counts(root) == {0: 1, 1: 2, 2: 2}


def test_history_names_each_change_with_its_commit(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    first = commit_spec(root, "stage: idea\n", "idea")
    second = commit_spec(root, "stage: plan\n", "plan")
    history = stage_history(root)
    assert [(c.commit, c.before, c.after, c.author) for c in history] == [
        (first, None, 0, "Diva Test"),
        (second, 0, 1, "Diva Test"),
    ]


def test_commits_that_keep_the_stage_do_not_count(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    commit_spec(root, "# a comment\nstage: 0\n", "comment")
    commit_spec(root, "stage: idea\n", "same stage by name")
    (root / "README.md").write_text("hello\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "not the spec")
    commit_spec(root, "stage: 1\n", "promote")
    assert stage_counts(root) == {0: 1, 1: 1}


def test_a_merged_side_branch_counts_once_on_the_first_parent_line(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    git(root, "checkout", "-q", "-b", "side")
    for stage in (1, 2, 1):  # wandering on the side branch is not on the main line
        commit_spec(root, f"stage: {stage}\n", f"side {stage}")
    git(root, "checkout", "-q", "main")
    (root / "other.txt").write_text("main moved on\n")
    git(root, "add", "other.txt")
    git(root, "commit", "-q", "-m", "main work")
    git(root, "merge", "-q", "--no-ff", "side", "-m", "merge side")
    merge = git(root, "rev-parse", "HEAD")
    history = stage_history(root)
    assert [(c.before, c.after) for c in history] == [(None, 0), (0, 1)]
    assert history[-1].commit == merge
    assert cycles(history) == {0: 1, 1: 1}


def test_a_side_branch_merged_without_divergence_counts_once(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    git(root, "checkout", "-q", "-b", "side")
    commit_spec(root, "stage: 1\n", "side 1")
    commit_spec(root, "stage: 1\nx: 1\n", "side, same stage")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "side", "-m", "merge side")
    assert stage_counts(root) == {0: 1, 1: 1}


def test_an_unreadable_spec_in_an_old_commit_is_skipped(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    commit_spec(root, "stage: [0\n", "broken yaml")
    commit_spec(root, "stage: 9\n", "no such stage")
    commit_spec(root, "stage: 0\n", "fixed: still stage 0, not a new cycle")
    commit_spec(root, "stage: 1\n", "promote")
    assert stage_counts(root) == {0: 1, 1: 1}


# --- cycle budget ----------------------------------------------------------------------


def test_gate_counts_the_budget_from_git_history(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    budget_one = SPEC.replace("cycles: {small: 3, large: 2}", "cycles: {small: 1}")
    for stage in (1, 2, 1, 2):  # stage 2 entered a second time
        commit_spec(root, at_stage(stage, budget_one), f"stage {stage}")
    git(root, "checkout", "-q", "-b", "promote")
    commit_spec(root, at_stage(3, budget_one), "ask for stage 3")
    rows = {row.id: row for row in evaluate(root, "main").rows}
    assert rows["cycles.small"].status == "fail"
    assert "decide: proceed or stop" in rows["cycles.small"].detail


def test_going_back_beyond_the_budget_fails_the_pull_request(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    budget_one = SPEC.replace("cycles: {small: 3, large: 2}", "cycles: {small: 1}")
    for stage in (1, 2, 3):
        commit_spec(root, at_stage(stage, budget_one), f"stage {stage}")
    git(root, "checkout", "-q", "-b", "back")
    commit_spec(root, at_stage(2, budget_one), "back to stage 2")
    rows = {row.id: row for row in evaluate(root, "main").rows}
    assert rows["movement"].detail.startswith("back to stage 2")
    assert rows["cycles.small"].status == "fail"
    assert rows["cycles.small"].detail == "2 of 1 cycle(s) of stage 2 — decide: proceed or stop"


def test_gate_without_base_compares_with_the_last_commit(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, at_stage(1), "stage 1", compiled=True)
    assert evaluate(root, "HEAD").movement == "no stage change (stage 1 (model planning))"


# --- diva gate through the CLI -----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main at stage 1 (compiled, committed); a branch asking for stage 2 (compiled)."""
    root = init_repo(tmp_path / "project")
    commit_spec(root, SPEC, "plan", compiled=True)
    git(root, "checkout", "-q", "-b", "promote")
    commit_spec(root, at_stage(2), "ask for stage 2", compiled=True)
    return root


def test_gate_passes_a_complete_promotion(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("diva gate: promotion 1 -> 2\n")
    assert rows_of(result.stdout) == {
        "spec.valid": "pass",
        "head.files": "pass",
        "movement": "pass",
        "policy": "pass",
        "generated": "pass",
        "workflows": "pass",
        "plan.summary": "pass",
        "plan.references": "pass",
        "plan.pinned": "pass",
    }
    assert "evidence:" not in result.stdout  # stage 2 needs no store: none was asked
    assert result.stdout.rstrip().endswith("gate passed")


def test_gate_fails_without_references(run_diva: RunDiva, repo: Path) -> None:
    assert REFERENCES in SPEC
    commit_spec(repo, at_stage(2, SPEC.replace(REFERENCES, "")), "no refs", compiled=True)
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout)["plan.references"] == "fail"
    assert "no plan.references or plan.techniques" in result.stdout
    assert result.stdout.rstrip().endswith("gate FAILED")


def test_gate_fails_on_a_hand_edited_generated_file(run_diva: RunDiva, repo: Path) -> None:
    with (repo / "dvc.yaml").open("a", encoding="utf-8") as stream:
        stream.write("# tweaked by hand\n")
    git(repo, "commit", "-q", "-am", "tweak dvc.yaml by hand")
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout)["generated"] == "fail"
    assert "dvc.yaml" in result.stdout


def test_gate_fails_on_an_invalid_spec_and_shows_the_issue(run_diva: RunDiva, repo: Path) -> None:
    spec = repo / "diva.yaml"
    spec.write_text(spec.read_text().replace("\nplan:\n", "\nplna:\n"))
    git(repo, "commit", "-q", "-am", "a typo")
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout) == {"spec.valid": "fail"}
    assert "diva.yaml:" in result.stdout
    assert "plna" in result.stdout
    assert "Traceback" not in result.stderr


def test_gate_json_report(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "main", "--format", "json", cwd=repo)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert (report["base_stage"], report["head_stage"]) == (1, 2)
    assert [row["id"] for row in report["checkpoints"]][-3:] == [
        "plan.summary",
        "plan.references",
        "plan.pinned",
    ]


def test_gate_markdown_is_appended_to_the_step_summary(
    run_diva: RunDiva, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run_diva("gate", "--base", "main", "--format", "markdown", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("## diva gate passed: promotion 1 -> 2\n")
    assert "| ✅ | `plan.references` |" in result.stdout
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + result.stdout


def test_gate_with_an_unknown_base_is_a_usage_error(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "no-such-branch", cwd=repo)
    assert result.returncode == 2
    assert result.stdout == ""
    said, error = result.stderr.split("diva: error: ", 1)
    assert said == "diva: reading the head commit and the base no-such-branch from git ...\n"
    assert "no-such-branch" in error
    assert "Traceback" not in result.stderr


# --- diva status and diva log ------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repo whose main line went new -> 1 -> 2, and the two commits."""
    root = init_repo(tmp_path)
    first = commit_spec(root, SPEC, "plan", compiled=True)
    second = commit_spec(root, at_stage(2), "small", compiled=True)
    return root, [first, second]


def test_status_shows_stage_cycles_and_next_checkpoints(
    run_diva: RunDiva, history: tuple[Path, list[str]]
) -> None:
    root, _ = history
    result = run_diva("status", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "stage: stage 2 (small-scale modeling)",
        "cycles entered: plan 1, small 1",
        "next: stage 3 (large-scale modeling) — its checkpoints:",
    ]
    assert set(rows_of(result.stdout)) == {
        "data.small",
        "runs.small",
        "targets.small",
        "cycles.small",
    }
    assert "1 of 3 cycle(s) of stage 2" in result.stdout


def test_status_at_stage_0_shows_the_idea_checkpoints(run_diva: RunDiva, tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, at_stage(0), "idea", compiled=True)
    result = run_diva("status", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "next: stage 1 (model planning) — its checkpoints:" in result.stdout
    assert {row.split(".")[0] for row in rows_of(result.stdout)} == {"idea"}


def test_log_lists_each_stage_change_with_its_commit(
    run_diva: RunDiva, history: tuple[Path, list[str]]
) -> None:
    root, (first, second) = history
    result = run_diva("log", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert f"  {first[:10]}  new -> 1  Diva Test" in lines[0]
    assert f"  {second[:10]}  1 -> 2  Diva Test" in lines[1]
