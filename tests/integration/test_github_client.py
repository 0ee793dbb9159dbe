"""The read-only GitHub client against GitHub's documented answers (tests/support/github_api)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.github import GitHub, GitHubError, PullRequest, Review
from tests.support.github_api import ROUTES, RecordedGitHub
from tests.support.github_examples import recorded
from tests.support.paths import ROOT

RULESET = json.loads((ROOT / "generated/demand-forecast/generated/ruleset.json").read_text())
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
OTHER_SHA = "e5bd3914e2e596debea16f433f57875b5b90bcd6"


@pytest.fixture
def api() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        yield server


def client(api: RecordedGitHub, token: str | None = None) -> GitHub:
    return GitHub(api.repository, api.token if token is None else token, api.url)


def test_a_pull_request_is_read_from_the_documented_answer(api: RecordedGitHub) -> None:
    api.add_pull(7, "mona", SHA, base="main", merged=True, merge_commit_sha=OTHER_SHA)
    pull = client(api).pull_request(7)
    assert pull == PullRequest(7, "mona", SHA, "main", True, OTHER_SHA)


def test_an_open_pull_request_is_not_merged(api: RecordedGitHub) -> None:
    api.add_pull(8, "mona", SHA)
    assert client(api).pull_request(8).merged is False


def test_reviews_are_read_over_every_page_in_order(api: RecordedGitHub) -> None:
    api.add_pull(3, "mona", SHA)
    ids = [api.review(3, f"user{index}", "COMMENTED", SHA) for index in range(230)]
    reviews = client(api).reviews(3)
    assert [review.id for review in reviews] == ids
    assert [request.query.get("page", "1") for request in api.requests] == ["1", "2", "3"]
    assert {request.query["per_page"] for request in api.requests} == {"100"}


def test_a_dismissed_review_says_so(api: RecordedGitHub) -> None:
    api.add_pull(3, "mona", SHA)
    review_id = api.review(3, "hubot", "APPROVED", SHA)
    api.dismiss(3, review_id)
    [review] = client(api).reviews(3)
    assert review == Review(review_id, "hubot", "DISMISSED", SHA, review.submitted_at)
    assert review.submitted_at


def test_team_members_are_logins(api: RecordedGitHub) -> None:
    api.team("octo-org", "quality", [f"qm{index}" for index in range(120)])
    members = client(api).team_members("octo-org", "quality")
    assert members == [f"qm{index}" for index in range(120)]


def test_branch_rules_come_from_the_active_ruleset(api: RecordedGitHub) -> None:
    ruleset_id = api.add_ruleset(RULESET)
    rules = client(api).branch_rules("main")
    assert [rule["type"] for rule in rules] == [rule["type"] for rule in RULESET["rules"]]
    assert {rule["ruleset_id"] for rule in rules} == {ruleset_id}
    # the documented shape of "Get rules for a branch"
    documented = set(recorded("branch-rules")[0])
    assert all(set(rule) <= documented for rule in rules)


def test_a_ruleset_in_evaluate_mode_gives_no_branch_rules(api: RecordedGitHub) -> None:
    api.add_ruleset(RULESET, enforcement="evaluate")
    assert client(api).branch_rules("main") == []
    assert [ruleset["enforcement"] for ruleset in client(api).rulesets()] == ["evaluate"]


def test_a_branch_name_with_a_slash_is_one_path_part(api: RecordedGitHub) -> None:
    api.add_ruleset({**RULESET, "conditions": {"ref_name": {"include": ["~ALL"]}}})
    assert client(api).branch_rules("release/2024")
    assert api.paths() == ["/repos/octo-org/diva-demo/rules/branches/release%2F2024"]


def test_rulesets_are_listed_with_the_parents_and_read_one_by_one(api: RecordedGitHub) -> None:
    ruleset_id = api.add_ruleset(RULESET)
    [summary] = client(api).rulesets()
    assert (summary["id"], summary["name"], summary["enforcement"]) == (
        ruleset_id,
        "diva",
        "active",
    )
    assert "rules" not in summary
    assert api.requests[-1].query["includes_parents"] == "true"
    assert client(api).ruleset(ruleset_id)["rules"] == RULESET["rules"]


def test_an_environment_or_none(api: RecordedGitHub) -> None:
    api.environment("release", reviewers=["mona", "octo-org/quality"], branch_policy="protected")
    environment = client(api).environment("release")
    assert environment is not None
    [rule, _] = environment["protection_rules"]
    assert [entry["type"] for entry in rule["reviewers"]] == ["User", "Team"]
    assert environment["deployment_branch_policy"]["protected_branches"] is True
    assert client(api).environment("staging") is None


def test_codeowners_errors_are_listed(api: RecordedGitHub) -> None:
    api.codeowners_errors([{"line": 3, "kind": "Unknown owner", "source": "* @nobody"}])
    [error] = client(api).codeowners_errors(ref="main")
    assert (error["line"], error["kind"]) == (3, "Unknown owner")
    assert api.requests[-1].query == {"ref": "main"}


def test_the_pulls_of_a_commit_tell_merged_from_merged_at(api: RecordedGitHub) -> None:
    api.add_pull(5, "mona", SHA, merged=True, merge_commit_sha=OTHER_SHA)
    api.associate(OTHER_SHA, 5)
    assert client(api).pulls_of_commit(OTHER_SHA) == [
        PullRequest(5, "mona", SHA, "main", True, OTHER_SHA)
    ]


def test_the_client_only_reads_with_githubs_headers(api: RecordedGitHub) -> None:
    api.add_pull(1, "mona", SHA)
    github = client(api)
    github.pull_request(1)
    github.rulesets()
    github.branch_rules("main")
    github.environment("release")
    assert api.methods == {"GET"}
    headers = api.requests[0].headers
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["authorization"] == f"Bearer {api.token}"
    assert headers["user-agent"].startswith("diva/")


def test_bad_credentials_are_401_and_the_token_is_never_shown(api: RecordedGitHub) -> None:
    secret = "ghp_wrongSecretToken42"
    with pytest.raises(GitHubError) as caught:
        client(api, secret).rulesets()
    assert caught.value.status == 401
    assert (
        str(caught.value)
        == "GitHub API GET /repos/octo-org/diva-demo/rulesets: 401 Bad credentials"
    )
    assert secret not in repr(caught.value)
    assert secret not in repr(client(api, secret))


def test_a_refused_endpoint_is_403_with_githubs_message(api: RecordedGitHub) -> None:
    api.refuse("team_members")
    with pytest.raises(GitHubError) as caught:
        client(api).team_members("octo-org", "quality")
    assert caught.value.status == 403
    assert str(caught.value) == (
        "GitHub API GET /orgs/octo-org/teams/quality/members:"
        " 403 Resource not accessible by integration"
    )


def test_an_unknown_pull_request_is_404(api: RecordedGitHub) -> None:
    with pytest.raises(GitHubError, match=r"pulls/3: 404 Not Found$") as caught:
        client(api).pull_request(3)
    assert caught.value.status == 404


def test_another_repository_is_404(api: RecordedGitHub) -> None:
    with pytest.raises(GitHubError) as caught:
        GitHub("someone/else", api.token, api.url).rulesets()
    assert caught.value.status == 404


def test_no_answer_is_status_none_and_unreachable() -> None:
    with RecordedGitHub() as gone:
        url = gone.url
    with pytest.raises(UnreachableError) as caught:
        GitHub("octo-org/diva-demo", "t", url, timeout=5).rulesets()
    assert isinstance(caught.value, GitHubError)
    assert caught.value.status is None
    assert "GitHub API GET /repos/octo-org/diva-demo/rulesets: no answer" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["http://api.github.com", "http://10.0.0.1:8080", "file:///etc/passwd", "ftp://127.0.0.1"],
)
def test_plain_http_is_for_loopback_only(url: str) -> None:
    with pytest.raises(GitHubError, match="only https://, or http:// to loopback"):
        GitHub("octo-org/diva-demo", "t", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"])
def test_loopback_may_be_plain_http(url: str) -> None:
    assert GitHub("octo-org/diva-demo", None, url).api_url == url


@pytest.mark.parametrize("repository", ["octo-org", "a/b/c", "-x/y", "o/..", "o/na me", ""])
def test_a_repository_is_owner_slash_name(repository: str) -> None:
    with pytest.raises(GitHubError, match=r"is not a repository \(OWNER/NAME\)"):
        GitHub(repository, None)


def test_from_environment_prefers_the_gates_token() -> None:
    environ = {
        "GITHUB_REPOSITORY": "octo-org/diva-demo",
        "GITHUB_API_URL": "https://ghe.example.com/api/v3",
        "DIVA_GATE_GITHUB_TOKEN": "gate",
        "GITHUB_TOKEN": "actions",
        "GH_TOKEN": "gh",
    }
    github = GitHub.from_environment(environ)
    assert github is not None
    assert (github.repository, github.api_url) == ("octo-org/diva-demo", environ["GITHUB_API_URL"])
    assert github._headers()["Authorization"] == "Bearer gate"
    fallback = GitHub.from_environment(
        {**environ, "DIVA_GATE_GITHUB_TOKEN": "", "GITHUB_TOKEN": ""}
    )
    assert fallback is not None
    assert fallback._headers()["Authorization"] == "Bearer gh"


def test_from_environment_takes_the_repository_argument_and_the_public_api() -> None:
    github = GitHub.from_environment({}, repository="mona/lisa")
    assert github is not None
    assert (github.repository, github.api_url) == ("mona/lisa", "https://api.github.com")
    assert "Authorization" not in github._headers()


def test_from_environment_without_repository_is_none() -> None:
    assert GitHub.from_environment({"GITHUB_TOKEN": "x"}) is None


def test_a_next_page_at_another_origin_is_not_followed(tmp_path: Path) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Link", '<https://evil.example/steal?page=2>; rel="next"')
            self.end_headers()
            self.wfile.write(b"[]")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(GitHubError, match="next page is at another origin"):
            GitHub("octo-org/diva-demo", "t", url).rulesets()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_every_endpoint_of_the_server_is_one_the_client_reads() -> None:
    assert set(ROUTES) == {
        "pull_request", "reviews", "team_members", "branch_rules", "rulesets", "ruleset",
        "environment", "codeowners_errors", "commit_pulls",
    }  # fmt: skip
