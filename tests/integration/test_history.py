"""``diva history``: stage moves and release pins from real git, verdicts from git notes.

The repository is built here with real git: merges into ``main`` at synthetic dates
(``GIT_COMMITTER_DATE``), the verdict of each kept as a note under ``refs/notes/diva``
the way the record workflow keeps it, and one move pushed straight to ``main`` without a
verdict. The ``--at`` questions have exact answers. The last tests run the record step
itself (``diva gate --record`` on the merge commit) against the recorded GitHub API
(tests/support/github_api.py: the real API cannot be reached from these machines).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from diva.lifecycle.evidence import notes
from tests.support.commands import diva
from tests.support.gate import at_stage
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.github_api import RecordedGitHub

DIGEST_3 = "sha256:" + "3" * 64
DIGEST_4 = "sha256:" + "4" * 64
DIGEST_5 = "sha256:" + "5" * 64


def spec(stage: int, releases: Mapping[str, tuple[int, str | None]] | None = None) -> str:
    """A spec text as history reads it: the stage and ``serving.releases`` (history
    reads every commit leniently; validity is the gate's business)."""
    text = f"diva: 1\nproject: {{name: history-demo}}\nstage: {stage}\n"
    if releases:
        text += "serving:\n  releases:\n"
        for env, (version, digest) in releases.items():
            text += f"    {env}:\n      model_version: {version}\n"
            if digest:
                text += f"      image_digest: '{digest}'\n"
    return text


def dated(root: Path, when: str, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return git(root, "rev-parse", "HEAD")


def merge(root: Path, text: str, when: str, number: int, approvers: list[str]) -> str:
    """A pull request merged into main at ``when``, and its verdict note."""
    git(root, "checkout", "-q", "-b", f"pr-{number}")
    (root / "diva.yaml").write_text(text)
    git(root, "add", "-A")
    dated(root, when, "commit", "-q", "-m", f"pull request {number}")
    git(root, "checkout", "-q", "main")
    commit = dated(root, when, "merge", "-q", "--no-ff", "-m", f"Merge #{number}", f"pr-{number}")
    record = {
        "diva": 1,
        "commit": commit,
        "pull_request": number,
        "passed": True,
        "approvals": [{"login": who, "roles": ["quality_managers"]} for who in approvers],
        "evidence": {"datasets": {"sales": f"md5-{number}"}, "releases": {}},
    }
    notes.write(root, commit, record)
    return commit


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = init_repo(tmp_path_factory.mktemp("history") / "project")
    (root / "diva.yaml").write_text(spec(0))
    git(root, "add", "-A")
    commits = {"start": dated(root, "2026-01-05T09:00:00Z", "commit", "-q", "-m", "start")}
    commits["plan"] = merge(root, spec(1), "2026-02-01T10:00:00Z", 1, ["quinn"])
    # a commit that changes the spec but moves nothing: not in the history
    (root / "diva.yaml").write_text(spec(1) + "# a comment\n")
    git(root, "add", "-A")
    dated(root, "2026-02-10T10:00:00Z", "commit", "-q", "-m", "comment")
    commits["small"] = merge(root, spec(2), "2026-03-01T10:00:00Z", 2, ["quinn"])
    # pushed straight to main, no verdict kept
    (root / "diva.yaml").write_text(spec(3))
    git(root, "add", "-A")
    commits["large"] = dated(root, "2026-03-15T10:00:00Z", "commit", "-q", "-m", "large")
    staging = {"staging": (3, DIGEST_3)}
    commits["staging-3"] = merge(root, spec(4, staging), "2026-04-01T10:00:00Z", 4, ["mona"])
    both = {"staging": (3, DIGEST_3), "production": (3, DIGEST_3)}
    commits["production-3"] = merge(root, spec(5, both), "2026-04-20T10:00:00Z", 5, ["mona"])
    newer = {"staging": (4, DIGEST_4), "production": (4, DIGEST_4)}
    commits["production-4"] = merge(root, spec(5, newer), "2026-05-02T08:00:00Z", 6, ["quinn"])
    newest = {"staging": (5, DIGEST_5), "production": (4, DIGEST_4)}
    commits["staging-5"] = merge(root, spec(5, newest), "2026-06-01T08:00:00Z", 7, ["mona"])
    return root, commits


def history(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return diva(root, "history", *args)


def as_json(root: Path, *args: str) -> dict[str, Any]:
    result = history(root, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_every_move_and_pin_in_order(repo: tuple[Path, dict[str, str]]) -> None:
    root, commits = repo
    entries = as_json(root)["entries"]
    assert [entry["commit"] for entry in entries] == list(commits.values())  # in order
    assert [(entry["from"], entry["to"]) for entry in entries[:5]] == [
        (None, 0),
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
    ]
    assert entries[-1]["releases"] == {"staging": {"model_version": 5, "image_digest": DIGEST_5}}
    assert entries[2]["date"] == "2026-03-01T10:00:00Z"


def test_verdicts_come_from_the_notes_and_a_move_without_one_says_so(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    entries = {entry["to"]: entry for entry in as_json(root)["entries"][:5]}
    assert entries[2]["pull_request"] == 2
    assert entries[2]["approvals"] == [{"login": "quinn", "roles": ["quality_managers"]}]
    assert entries[2]["verdict"] == "passed"
    assert entries[3]["verdict"] == "no record"
    assert entries[3]["pull_request"] is None


def test_what_ran_in_production_at_a_time(repo: tuple[Path, dict[str, str]]) -> None:
    root, commits = repo
    answer = as_json(root, "--at", "2026-05-01T12:00Z", "--env", "production")["at"]
    production = answer["releases"]["production"]
    assert (production["model_version"], production["image_digest"]) == (3, DIGEST_3)
    assert production["pinned_by"]["commit"] == commits["production-3"]
    assert production["pinned_by"]["pull_request"] == 5
    assert production["pinned_by"]["approvals"] == [
        {"login": "mona", "roles": ["quality_managers"]}
    ]
    assert answer["stage"] == 5


def test_the_answer_moves_with_the_merge_time(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    just_before = as_json(root, "--at", "2026-05-02T07:59:59Z")["at"]["releases"]
    at_the_merge = as_json(root, "--at", "2026-05-02T08:00:00Z")["at"]["releases"]
    assert just_before["production"]["model_version"] == 3
    assert at_the_merge["production"]["model_version"] == 4
    later = as_json(root, "--at", "2026-07-01")["at"]["releases"]
    assert (later["staging"]["model_version"], later["production"]["model_version"]) == (5, 4)


def test_a_time_zone_is_honoured(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    # 09:30 in Berlin (UTC+2 in May) is 07:30Z: before the 08:00Z merge
    answer = as_json(root, "--at", "2026-05-02T09:30:00+02:00")["at"]
    assert answer["releases"]["production"]["model_version"] == 3


def test_before_anything_was_pinned(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    answer = as_json(root, "--at", "2026-03-20")["at"]
    assert answer["stage"] == 3
    assert answer["releases"] == {}
    result = history(root, "--at", "2026-03-20", "--env", "production")
    assert "production: nothing pinned yet" in result.stdout
    assert "stage" not in result.stdout.split("\n", 1)[1]


def test_the_table_names_the_pull_request_the_approvers_and_the_verdict(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, commits = repo
    result = history(root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8
    (small,) = [line for line in lines if commits["small"][:10] in line]
    assert small.startswith("2026-03-01T10:00:00Z")
    assert "#2" in small
    assert "stage 1 -> 2" in small
    assert "approved by @quinn (quality_managers)" in small
    assert small.endswith("[passed]")
    (large,) = [line for line in lines if commits["large"][:10] in line]
    assert large.endswith("[no record]")


def test_one_environment_only(repo: tuple[Path, dict[str, str]]) -> None:
    root, commits = repo
    entries = as_json(root, "--env", "production")["entries"]
    assert [entry["commit"] for entry in entries] == [
        commits["production-3"],
        commits["production-4"],
    ]
    assert {env for entry in entries for env in entry["releases"]} == {"production"}


def test_the_at_answer_for_people(repo: tuple[Path, dict[str, str]]) -> None:
    root, commits = repo
    result = history(root, "--at", "2026-05-01T12:00Z", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert f"production: model version 3, image {DIGEST_3}" in result.stdout
    assert f"commit {commits['production-3'][:10]} (pull request #5)" in result.stdout
    assert "approved by @mona (quality_managers); gate passed" in result.stdout
    assert "evidence the gate saw: sales md5-5" in result.stdout


def test_a_note_that_is_no_record_is_skipped(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "project")
    commit = commit_spec(root, spec(1), "start")
    git(root, "notes", "--ref=refs/notes/diva", "add", "-m", "a person's remark", commit)
    (entry,) = as_json(root)["entries"]
    assert entry["verdict"] == "no record"


@pytest.mark.parametrize("moment", ["yesterday", "2026-13-01", "05/01/2026"])
def test_a_bad_time_is_a_usage_error(repo: tuple[Path, dict[str, str]], moment: str) -> None:
    root, _ = repo
    result = history(root, "--at", moment)
    assert result.returncode == 2
    assert f"--at {moment!r}: not a time" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_branch_is_a_usage_error(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    result = history(root, "--branch", "no-such-branch")
    assert result.returncode == 2
    assert "no-such-branch" in result.stderr
    assert "Traceback" not in result.stderr


# --- the record step: diva gate --record on the merge commit --------------------------


def test_the_record_step_keeps_who_approved_the_merged_pull_request(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "project")
    commit_spec(
        root,
        at_stage(0).replace("\nidea:\n", '\nteam: {quality_managers: ["@quinn"]}\nidea:\n', 1),
        "start",
        compiled=True,
    )
    git(root, "checkout", "-q", "-b", "promote")
    base = (root / "diva.yaml").read_text()
    (root / "diva.yaml").write_text(base.replace("stage: 0", "stage: 1", 1))
    compile_here(root)
    head = propose(root, "ask for stage 1", "promote")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge #9", "promote")
    merged = git(root, "rev-parse", "HEAD")
    with RecordedGitHub() as api:
        api.add_pull(9, "alice", head, merged=True, merge_commit_sha=merged)
        api.associate(merged, 9)
        api.review(9, "quinn", "APPROVED", head)
        environ = {
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": api.repository,
            "GITHUB_TOKEN": api.token,
            "GITHUB_EVENT_NAME": "push",
        }
        args = ("gate", "--base", "HEAD^1", "--head", "HEAD", "--record")
        result = diva(root, *args, env=environ)
    assert result.returncode == 0, result.stdout + result.stderr
    record = notes.read_all(root)[merged]
    assert record["pull_request"] == 9
    assert record["approvals"] == [{"login": "quinn", "roles": ["quality_managers"]}]
    assert record["passed"] is True
    rows = {row["id"]: (row["status"], row["detail"]) for row in record["rows"]}
    assert rows["approvals.plan.quality_managers"] == ("pass", "approved by @quinn")
    (entry,) = [e for e in as_json(root)["entries"] if e["commit"] == merged]
    assert (entry["from"], entry["to"], entry["verdict"]) == (0, 1, "passed")
