"""GitHub's REST API on loopback, answering from GitHub's documented responses.

The real api.github.com cannot be reached from these machines, so this server answers
from GitHub's documented responses: ``github_responses/*.json`` are the example
responses of the REST reference on docs.github.com ("Get a pull request", "List reviews
for a pull request", "List team members", "Get rules for a branch", "Get all repository
rulesets", "Get a repository ruleset", "Get an environment", "List CODEOWNERS errors",
"List pull requests associated with a commit", and the error bodies), trimmed of long
fields but with their documented names and shapes. Each answer is such an example with
the state a test set up filled in (numbers, logins, shas, rules), so a client that reads
these answers reads GitHub's.

Like GitHub, the server wants ``Authorization: Bearer <token>`` (401 "Bad credentials"
otherwise), answers 404 "Not Found" for what it does not know, paginates lists by
``per_page``/``page`` with a ``Link`` header, and can be told to refuse an endpoint with
403 "Resource not accessible by integration" (a token without the permission). It
remembers every request, so that a test can assert that a client never writes.
"""

from __future__ import annotations

import copy
import fnmatch
import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from tests.support import github_examples as examples
from tests.support.github_examples import recorded

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"})

#: Endpoint name -> path pattern; ``{...}`` parts are captured, ``{owner}/{repo}`` must be
#: the server's repository.
ROUTES: dict[str, tuple[str, ...]] = {
    "pull_request": ("repos", "{owner}", "{repo}", "pulls", "{number}"),
    "reviews": ("repos", "{owner}", "{repo}", "pulls", "{number}", "reviews"),
    "team_members": ("orgs", "{org}", "teams", "{slug}", "members"),
    "branch_rules": ("repos", "{owner}", "{repo}", "rules", "branches", "{branch}"),
    "rulesets": ("repos", "{owner}", "{repo}", "rulesets"),
    "ruleset": ("repos", "{owner}", "{repo}", "rulesets", "{id}"),
    "environment": ("repos", "{owner}", "{repo}", "environments", "{name}"),
    "codeowners_errors": ("repos", "{owner}", "{repo}", "codeowners", "errors"),
    "commit_pulls": ("repos", "{owner}", "{repo}", "commits", "{sha}", "pulls"),
}
PAGED = frozenset({"reviews", "team_members", "branch_rules", "rulesets", "commit_pulls"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # by lower-case name: HTTP's names are case-insensitive


class AnswerError(Exception):
    """An error answer, as GitHub gives it: a status and a documented body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = recorded(body)


@dataclass
class _Pull:
    number: int
    author: str
    head_sha: str
    base: str
    merged: bool
    merge_commit_sha: str | None
    reviews: list[dict[str, Any]] = field(default_factory=list)


class RecordedGitHub:
    """The REST API of one repository (and its organization's teams) on 127.0.0.1."""

    def __init__(
        self,
        repository: str = "octo-org/diva-demo",
        token: str = "ghs_recordedToken0123456789",
        default_branch: str = "main",
    ) -> None:
        self.repository = repository
        self.token = token
        self.default_branch = default_branch
        self.url = ""
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._pulls: dict[int, _Pull] = {}
        self._teams: dict[tuple[str, str], list[str]] = {}
        self._rulesets: dict[int, dict[str, Any]] = {}
        self._environments: dict[str, dict[str, Any]] = {}
        self._codeowners: list[dict[str, Any]] | None = []
        self._commits: dict[str, list[int]] = {}
        self._refused: set[str] = set()
        self._next_id = 1000
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the state a test sets up -----------------------------------------------------

    def add_pull(
        self,
        number: int,
        author: str,
        head_sha: str,
        base: str = "main",
        merged: bool = False,
        merge_commit_sha: str | None = None,
    ) -> None:
        with self._lock:
            self._pulls[number] = _Pull(number, author, head_sha, base, merged, merge_commit_sha)

    def review(self, number: int, login: str, state: str, commit_id: str) -> int:
        """A submitted review of pull request ``number``; returns its id."""
        if state not in REVIEW_STATES:
            raise ValueError(f"not a review state: {state}")
        with self._lock:
            review_id = self._new_id()
            reviews = self._pulls[number].reviews
            repository = self.repository
            reviews.append(examples.review(repository, number, review_id, login, state, commit_id))
        return review_id

    def dismiss(self, number: int, review_id: int) -> None:
        """Dismiss a review: GitHub keeps it, in the state DISMISSED."""
        with self._lock:
            for review in self._pulls[number].reviews:
                if review["id"] == review_id:
                    review["state"] = "DISMISSED"
                    return
        raise KeyError(review_id)

    def team(self, org: str, slug: str, members: Iterable[str]) -> None:
        with self._lock:
            self._teams[(org.lower(), slug.lower())] = list(members)

    def add_ruleset(self, ruleset_json: dict[str, Any], enforcement: str = "active") -> int:
        """A repository ruleset (as ``generated/ruleset.json``), applied; returns its id."""
        with self._lock:
            ruleset_id = self._new_id()
            self._rulesets[ruleset_id] = examples.ruleset(
                self.repository, ruleset_id, ruleset_json, enforcement
            )
        return ruleset_id

    def environment(
        self,
        name: str,
        reviewers: Iterable[str] = (),
        branch_policy: str | None = None,
    ) -> None:
        """A deployment environment; reviewers are logins or ``org/team-slug``;
        ``branch_policy`` is None (all branches), ``"protected"`` or ``"custom"``."""
        with self._lock:
            self._environments[name] = examples.environment(
                self.repository, name, list(reviewers), branch_policy
            )

    def codeowners_errors(self, errors: list[dict[str, Any]] | None) -> None:
        """Errors of the CODEOWNERS file, each with ``line``, ``kind``, ``source`` (and
        optionally ``column``, ``suggestion``); None: the repository has no such file."""
        with self._lock:
            self._codeowners = (
                None if errors is None else [examples.codeowners_error(e) for e in errors]
            )

    def associate(self, sha: str, pull_number: int) -> None:
        """Commit ``sha`` belongs to pull request ``pull_number``."""
        with self._lock:
            self._commits.setdefault(sha, []).append(pull_number)

    def refuse(self, endpoint: str) -> None:
        """Answer ``endpoint`` (a key of :data:`ROUTES`) with 403, as for a token without
        the permission it needs."""
        if endpoint not in ROUTES:
            raise KeyError(endpoint)
        self._refused.add(endpoint)

    # -- serving ----------------------------------------------------------------------

    def __enter__(self) -> RecordedGitHub:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def methods(self) -> set[str]:
        """The HTTP methods of every request so far."""
        return {request.method for request in self.requests}

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._serve(self)

            def do_POST(self) -> None:
                api._serve(self)

            def do_PUT(self) -> None:
                api._serve(self)

            def do_PATCH(self) -> None:
                api._serve(self)

            def do_DELETE(self) -> None:
                api._serve(self)

        return Handler

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        with self._lock:
            headers = {name.lower(): value for name, value in handler.headers.items()}
            self.requests.append(Request(handler.command, parts.path, query, headers))
        try:
            status, body, link = self._answer(handler, parts.path, query)
        except AnswerError as answer:
            status, body, link = answer.status, answer.body, None
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        if link:
            handler.send_header("Link", link)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(
        self, handler: http.server.BaseHTTPRequestHandler, path: str, query: dict[str, str]
    ) -> tuple[int, Any, str | None]:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            raise AnswerError(401, "bad-credentials")
        if handler.command != "GET":
            raise AnswerError(404, "not-found")  # nothing here writes
        endpoint, values = self._route(path)
        if endpoint in self._refused:
            raise AnswerError(403, "forbidden")
        with self._lock:
            body = self._endpoints()[endpoint](values, query)
        if endpoint not in PAGED:
            return 200, body, None
        return self._page(path, query, body)

    def _route(self, path: str) -> tuple[str, dict[str, str]]:
        segments = [urllib.parse.unquote(part) for part in path.strip("/").split("/")]
        for endpoint, pattern in ROUTES.items():
            values = _match(pattern, segments)
            if values is None:
                continue
            if "owner" in values and f"{values['owner']}/{values['repo']}".lower() != (
                self.repository.lower()
            ):
                break
            return endpoint, values
        raise AnswerError(404, "not-found")

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, Any, str]:
        per_page = min(int(query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page = max(int(query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []

        def link(number: int, rel: str) -> str:
            wanted = urllib.parse.urlencode({**query, "per_page": per_page, "page": number})
            return f'<{self.url}{path}?{wanted}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        start = (page - 1) * per_page
        return 200, items[start : start + per_page], ", ".join(links)

    # -- the endpoints ----------------------------------------------------------------

    def _endpoints(self) -> dict[str, Callable[[dict[str, str], dict[str, str]], Any]]:
        return {
            "pull_request": lambda v, q: self._pull_json(self._pull(v["number"])),
            "reviews": lambda v, q: copy.deepcopy(self._pull(v["number"]).reviews),
            "team_members": self._members,
            "branch_rules": lambda v, q: self._branch_rules(v["branch"]),
            "rulesets": lambda v, q: [examples.summary(r) for r in self._rulesets.values()],
            "ruleset": self._ruleset,
            "environment": self._environment,
            "codeowners_errors": self._codeowners_answer,
            "commit_pulls": lambda v, q: [
                self._pull_json(self._pull(str(n)), simple=True)
                for n in self._commits.get(v["sha"], [])
            ],
        }

    def _pull(self, number: str) -> _Pull:
        pull = self._pulls.get(int(number)) if number.isdigit() else None
        if pull is None:
            raise AnswerError(404, "not-found")
        return pull

    def _members(self, values: dict[str, str], query: dict[str, str]) -> list[dict[str, Any]]:
        members = self._teams.get((values["org"].lower(), values["slug"].lower()))
        if members is None:
            raise AnswerError(404, "not-found")
        return [examples.user(login, index + 1) for index, login in enumerate(members)]

    def _branch_rules(self, branch: str) -> list[dict[str, Any]]:
        rules = []
        for ruleset in self._rulesets.values():
            if ruleset["enforcement"] != "active" or not self._applies(ruleset, branch):
                continue
            for rule in ruleset["rules"]:
                rules.append(examples.effective_rule(self.repository, rule, ruleset["id"]))
        return rules

    def _applies(self, ruleset: dict[str, Any], branch: str) -> bool:
        if ruleset.get("target", "branch") != "branch":
            return False
        ref_name = ruleset.get("conditions", {}).get("ref_name", {})
        include, exclude = ref_name.get("include", []), ref_name.get("exclude", [])
        return self._matches(include, branch) and not self._matches(exclude, branch)

    def _matches(self, patterns: list[str], branch: str) -> bool:
        for pattern in patterns:
            if pattern == "~ALL" or (
                pattern == "~DEFAULT_BRANCH" and branch == self.default_branch
            ):
                return True
            if fnmatch.fnmatchcase(f"refs/heads/{branch}", pattern):
                return True
        return False

    def _ruleset(self, values: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        ruleset = self._rulesets.get(int(values["id"])) if values["id"].isdigit() else None
        if ruleset is None:
            raise AnswerError(404, "not-found")
        return copy.deepcopy(ruleset)

    def _environment(self, values: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        environment = self._environments.get(values["name"])
        if environment is None:
            raise AnswerError(404, "not-found")
        return copy.deepcopy(environment)

    def _codeowners_answer(self, values: dict[str, str], query: dict[str, str]) -> Any:
        if self._codeowners is None:
            raise AnswerError(404, "not-found")
        return {"errors": copy.deepcopy(self._codeowners)}

    # -- documented responses, filled in ----------------------------------------------

    def _pull_json(self, pull: _Pull, simple: bool = False) -> dict[str, Any]:
        return examples.pull(
            self.repository, pull.number, pull.author, pull.head_sha, pull.base, pull.merged,
            pull.merge_commit_sha, simple,
        )  # fmt: skip

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    values = {}
    for expected, segment in zip(pattern, segments, strict=True):
        if expected.startswith("{"):
            values[expected.strip("{}")] = segment
        elif expected != segment:
            return None
    return values
