"""Approvals by role: the real ``diva gate`` on a real git repository, reading the pull
request's reviews from a local server that answers as GitHub's REST API does.

The real api.github.com cannot be reached from these machines (no internet but the
package registries), so :class:`~tests.support.github_api.RecordedGitHub` answers from
GitHub's documented responses, holding the pull request and reviews each test sets up.

``main`` is a project at stage 0 with its idea registered; the pull request asks for
stage 1, which the base's ``approvals`` (the default: a quality manager) must approve.
Each test is a way a team member might try to get the stage moved without the approvals
really holding, or one that must count; each asserts the rows that name the people.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gate import at_stage
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.github_api import RecordedGitHub
from tests.support.paths import SRC

TEAM = """\
team:
  modelers: ["@alice"]
  quality_managers: ["@quinn", "@quincy"]
  model_engineers: ["@mona", "@quinn"]
  data_curators: ["@octo-org/curators"]
"""
PULL = 7


def spec(stage: int, extra: str = "", team: str = TEAM) -> str:
    return at_stage(stage).replace("\nidea:\n", f"\n{team}{extra}\nidea:\n", 1)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "DIVA_GATE_GITHUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        server.team("octo-org", "curators", ["carla", "cody"])
        yield server
    assert server.methods <= {"GET"}, "the gate only reads GitHub"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_repo(tmp_path_factory.mktemp("approvals") / "project")
    commit_spec(root, spec(0), "stage 0: the idea", compiled=True)
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "project"


def ask(repo: Path, text: str | None = None, base_text: str | None = None) -> str:
    """The pull request's head (asking for stage 1 unless ``text`` says otherwise); its sha."""
    if base_text is not None:
        commit_spec(repo, base_text, "the base's policy", compiled=True)
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(text if text is not None else spec(1))
    compile_here(repo)
    return propose(repo, "ask for stage 1", "promote")


def gate(
    repo: Path, api: RecordedGitHub | None, *args: str, token: str | None = None, **env: str
) -> tuple[int, dict[str, Any], dict[str, tuple[str, str]], str]:
    environ = {**os.environ, "PYTHONPATH": str(SRC), **env}
    if api is not None:
        environ |= {
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": api.repository,
            "GITHUB_TOKEN": api.token if token is None else token,
        }
    result = subprocess.run(
        [sys.executable, "-m", "diva", "gate", "--base", "main", "--format", "json", *args],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    rows = {row["id"]: (row["status"], row["detail"]) for row in report["checkpoints"]}
    return result.returncode, report, rows, result.stdout + result.stderr


def approvals(rows: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {key: value for key, value in rows.items() if key.startswith("approvals")}


def pr(api: RecordedGitHub, head: str, author: str = "alice") -> None:
    api.add_pull(PULL, author, head)


ROW = "approvals.plan.quality_managers"


# --- what counts ------------------------------------------------------------------------


def test_a_quality_managers_approval_on_the_head_passes(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    code, report, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quinn")
    assert code == 0
    assert report["pull_request"] == PULL
    assert report["approvals"] == [{"login": "quinn", "roles": ["quality_managers"]}]


def test_the_gate_says_on_stderr_when_it_asks_github(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    _, _, _, output = gate(repo, api, "--pull-request", str(PULL))
    assert f"diva: asking GitHub for the reviews of pull request #{PULL} ...\n" in output
    assert "diva: asking GitHub for the rules of branch main ...\n" in output


def test_no_review_names_who_can_approve(repo: Path, api: RecordedGitHub) -> None:
    pr(api, ask(repo))
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    status, detail = rows[ROW]
    assert status == "fail"
    assert "1 more of quality_managers needed" in detail
    assert "can approve: @quincy, @quinn" in detail


def test_self_approval_does_not_count(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head, author="quinn")
    api.review(PULL, "quinn", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    status, detail = rows[ROW]
    assert status == "fail"
    assert "@quinn is the author and does not count" in detail
    assert "can approve: @quincy" in detail


def test_approval_by_the_wrong_role_does_not_count(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "mona", "APPROVED", head)  # a model engineer, not a quality manager
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert "@mona approved but not as quality_managers" in rows[ROW][1]


def test_an_approval_made_stale_by_a_new_commit(repo: Path, api: RecordedGitHub) -> None:
    first = ask(repo)
    (repo / "notes.txt").write_text("one more commit after the approval\n")
    head = propose(repo, "one more", "promote")
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", first)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert f"@quinn's approval is stale (on {first[:12]}, not the head)" in rows[ROW][1]


def test_a_dismissed_approval_does_not_count(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.dismiss(PULL, api.review(PULL, "quinn", "APPROVED", head))
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert "@quinn's review was dismissed" in rows[ROW][1]


def test_a_comment_after_an_approval_keeps_it(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    api.review(PULL, "quinn", "COMMENTED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quinn")
    assert code == 0


def test_changes_requested_after_an_approval_replace_it(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    api.review(PULL, "quinn", "CHANGES_REQUESTED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert rows[ROW][0] == "fail"
    assert rows["approvals.changes"] == (
        "fail",
        f"@quinn requested changes on pull request #{PULL}",
    )


def test_changes_requested_by_anyone_block(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quincy", "APPROVED", head)
    api.review(PULL, "mona", "CHANGES_REQUESTED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quincy")
    assert code == 1
    assert rows["approvals.changes"][0] == "fail"


def test_logins_are_compared_without_case(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "Quincy", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quincy")
    assert code == 0


# --- two roles, two people ----------------------------------------------------------------

TWO = "approvals:\n  plan: [model_engineers, quality_managers]\n"


def test_one_person_holding_two_roles_fills_one(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo, spec(1, TWO), base_text=spec(0, TWO))
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)  # quality manager and model engineer
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    found = approvals(rows)
    statuses = sorted(status for status, _ in found.values())
    assert statuses == ["fail", "pass"]
    failed = next(detail for status, detail in found.values() if status == "fail")
    assert "@quinn already fills another approval: one person fills one" in failed


def test_two_people_fill_two_roles_whatever_the_order(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo, spec(1, TWO), base_text=spec(0, TWO))
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)  # could fill either
    api.review(PULL, "quincy", "APPROVED", head)  # a quality manager only
    code, report, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows["approvals.plan.model_engineers"] == ("pass", "approved by @quinn")
    assert rows["approvals.plan.quality_managers"] == ("pass", "approved by @quincy")
    assert code == 0
    assert {a["login"] for a in report["approvals"]} == {"quinn", "quincy"}


def test_a_count_of_two_needs_two_people(repo: Path, api: RecordedGitHub) -> None:
    two_qms = "approvals:\n  plan: [{role: quality_managers, count: 2}]\n"
    head = ask(repo, spec(1, two_qms), base_text=spec(0, two_qms))
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert "approved by @quinn; 1 more of quality_managers needed" in rows[ROW][1]
    api.review(PULL, "quincy", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quincy, @quinn")
    assert code == 0


# --- teams --------------------------------------------------------------------------------

CURATORS = "approvals:\n  plan: [data_curators]\n"


def test_a_team_handle_stands_for_its_members(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo, spec(1, CURATORS), base_text=spec(0, CURATORS))
    pr(api, head)
    api.review(PULL, "cody", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows["approvals.plan.data_curators"] == ("pass", "approved by @cody")
    assert code == 0


def test_team_members_that_cannot_be_read_are_unreachable(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo, spec(1, CURATORS), base_text=spec(0, CURATORS))
    pr(api, head)
    api.review(PULL, "cody", "APPROVED", head)
    api.refuse("team_members")  # the job's own token cannot read an organization's teams
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    status, detail = rows["approvals.plan.data_curators"]
    assert status == "unreachable"
    assert "cannot read the members of @octo-org/curators" in detail


# --- the base is the policy ---------------------------------------------------------------


def test_the_head_cannot_drop_the_approvals_it_is_judged_by(
    repo: Path, api: RecordedGitHub
) -> None:
    head = ask(repo, spec(1, "approvals:\n  plan: []\n"))
    pr(api, head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert rows["policy"][0] == "fail"
    assert rows[ROW][0] == "fail"  # judged by the base's: a quality manager
    assert rows["approvals.policy.quality_managers"][0] == "fail"


def test_the_author_cannot_make_themselves_a_quality_manager(
    repo: Path, api: RecordedGitHub
) -> None:
    head = ask(repo, spec(1, team=TEAM.replace('["@quinn", "@quincy"]', '["@alice"]')))
    pr(api, head, author="alice")
    api.review(PULL, "bob", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    assert "can approve: @quincy, @quinn" in rows[ROW][1]


def test_a_policy_change_alone_needs_a_quality_managers_approval(
    repo: Path, api: RecordedGitHub
) -> None:
    head = ask(repo, spec(0, "approvals:\n  plan: []\n"))
    pr(api, head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows["policy"][0] == "pass"
    assert code == 1
    api.review(PULL, "quincy", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows["approvals.policy.quality_managers"] == ("pass", "approved by @quincy")
    assert code == 0


def test_nothing_required_is_said(repo: Path, api: RecordedGitHub) -> None:
    none = "approvals:\n  plan: []\n"
    head = ask(repo, spec(1, none), base_text=spec(0, none))
    pr(api, head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows["approvals.plan"] == ("pass", "none required")
    assert code == 0


def test_a_default_role_with_nobody_warns(repo: Path, api: RecordedGitHub) -> None:
    no_qm = 'team:\n  modelers: ["@alice"]\n'
    head = ask(repo, spec(1, team=no_qm), base_text=spec(0, team=no_qm))
    pr(api, head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    status, detail = rows[ROW]
    assert status == "warn"
    assert "nobody holds quality_managers in the base's team" in detail
    assert code == 0


# --- where the reviews come from ----------------------------------------------------------


def test_outside_a_pull_request_the_rows_say_not_checked_here(repo: Path) -> None:
    ask(repo)
    code, _, rows, _ = gate(repo, None)
    assert rows["approvals.plan"][0] == "warn"
    assert rows["approvals.plan"][1].startswith("not checked here: needs 1 of quality_managers")
    assert code == 0


def test_the_pull_request_of_the_actions_event(
    repo: Path, api: RecordedGitHub, tmp_path: Path
) -> None:
    head = ask(repo)
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "submitted", "pull_request": {"number": PULL}}))
    env = {"GITHUB_EVENT_NAME": "pull_request_review", "GITHUB_EVENT_PATH": str(event)}
    code, _, rows, _ = gate(repo, api, **env)
    assert rows[ROW] == ("pass", "approved by @quinn")
    assert code == 0


def test_a_bad_token_is_unreachable_and_never_shown(repo: Path, api: RecordedGitHub) -> None:
    pr(api, ask(repo))
    code, _, rows, output = gate(repo, api, "--pull-request", str(PULL), token="ghs_wrong42")
    assert code == 1
    status, detail = rows["approvals.plan"]
    assert status == "unreachable"
    assert "401" in detail
    assert "ghs_wrong42" not in output


def test_the_judged_commit_must_be_the_pull_requests_head(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    api.add_pull(PULL, "alice", "0" * 40)  # approvals were given to another commit
    api.review(PULL, "quinn", "APPROVED", "0" * 40)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert code == 1
    status, detail = rows["approvals.plan"]
    assert status == "fail"
    assert f"the gate judged {head[:12]}, not the head 000000000000" in detail


def test_githubs_merge_commit_of_the_head_is_judged(repo: Path, api: RecordedGitHub) -> None:
    head = ask(repo)
    git(repo, "checkout", "-q", "main")
    (repo / "other.txt").write_text("main moved on\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "meanwhile on main")
    git(repo, "checkout", "-q", "--detach")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge promote into main", "promote")
    pr(api, head)
    api.review(PULL, "quinn", "APPROVED", head)
    code, _, rows, _ = gate(repo, api, "--pull-request", str(PULL))
    assert rows[ROW] == ("pass", "approved by @quinn")
    assert code == 0
