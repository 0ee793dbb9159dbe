"""GitHub's REST API, read-only: pull requests, reviews, teams, rulesets, environments.

On the standard library (``urllib.request``), so that the gate needs no new package. Every
call is a ``GET``; lists are read page by page (``per_page=100``, the ``Link`` header's
``rel="next"``). An error answer becomes a :class:`GitHubError` with the status and
GitHub's own ``message``; no answer at all (network, timeout) one with status ``None``.
The token goes in the ``Authorization`` header only: never in a URL or a message, and
never to another origin (no cross-origin redirect or next page is followed).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from diva import __version__
from diva.errors import escape_control
from diva.lifecycle.evidence import UnreachableError

PUBLIC_API = "https://api.github.com"
API_VERSION = "2022-11-28"
#: Where the token is looked for, first one set wins: the gate's own, Actions', gh's.
TOKEN_VARIABLES = ("DIVA_GATE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
PER_PAGE = 100
#: ``owner/name`` as GitHub allows them (an owner of at most 39 letters, digits, hyphens).
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(UnreachableError):
    """GitHub's API could not be read: ``status`` is the HTTP status of its answer, or
    ``None`` when it gave none (network error, timeout, a refused URL)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class PullRequest:
    number: int
    author: str
    head_sha: str
    base_ref: str
    merged: bool
    merge_commit_sha: str | None


@dataclass(frozen=True)
class Review:
    id: int
    login: str
    state: str
    commit_id: str | None
    submitted_at: str | None


def valid_repository(repository: str) -> bool:
    """Whether ``repository`` is ``owner/name`` as GitHub spells them."""
    return REPOSITORY.match(repository) is not None


#: A github.com remote: ``https://github.com/o/r(.git)``, ``git@github.com:o/r(.git)``,
#: ``ssh://git@github.com/o/r(.git)``.
_REMOTE = re.compile(
    r"^(?:https://(?:[^@/]+@)?|ssh://git@|git@)github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$"
)


def repository_of_remote(url: str) -> str | None:
    """The ``owner/name`` of a github.com remote URL; None for any other remote."""
    match = _REMOTE.match(url.strip())
    if match is None or not valid_repository(match[1]):
        return None
    return match[1]


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_api_url(api_url: str) -> str:
    parts = urllib.parse.urlsplit(api_url)
    plain_loopback = parts.scheme == "http" and _loopback(parts.hostname)
    if not parts.hostname or (parts.scheme != "https" and not plain_loopback):
        shown = escape_control(urllib.parse.urlunsplit(parts._replace(query="", fragment="")))
        raise GitHubError(
            f"GitHub API URL {shown!r} refused: only https://, or http:// to loopback"
            " (127.0.0.1, localhost, ::1) for tests"
        )
    return api_url.rstrip("/")


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the API's origin: the token must not travel."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            return None  # urllib then raises the redirect as an HTTPError
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _message(err: urllib.error.HTTPError) -> str:
    """GitHub's ``message`` from an error answer, else the HTTP reason."""
    try:
        message = json.loads(err.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return escape_control(str(message or err.reason))


class GitHub:
    """One repository's side of GitHub's REST API, read-only."""

    def __init__(
        self,
        repository: str,
        token: str | None,
        api_url: str = PUBLIC_API,
        timeout: float = 30.0,
    ) -> None:
        if not valid_repository(repository):
            raise GitHubError(f"{escape_control(repository)!r} is not a repository (OWNER/NAME)")
        self.repository = repository
        self.api_url = _check_api_url(api_url)
        self.timeout = timeout
        self._token = token or None
        self._opener = urllib.request.build_opener(_SameOrigin())

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] = os.environ, repository: str | None = None
    ) -> GitHub | None:
        """The client CI's variables describe; None when no repository is known."""
        repository = repository or environ.get("GITHUB_REPOSITORY")
        if not repository:
            return None
        token = next((environ[name] for name in TOKEN_VARIABLES if environ.get(name)), None)
        return cls(repository, token, environ.get("GITHUB_API_URL") or PUBLIC_API)

    def __repr__(self) -> str:  # no token in a traceback's locals either
        return f"GitHub({self.repository!r}, api_url={self.api_url!r})"

    # -- the endpoints ----------------------------------------------------------------

    def pull_request(self, number: int) -> PullRequest:
        return _pull(self._object(self._repo("pulls", str(number))))

    def reviews(self, number: int) -> list[Review]:
        """Every review of the pull request, in the API's (chronological) order."""
        return [_review(item) for item in self._pages(self._repo("pulls", str(number), "reviews"))]

    def team_members(self, org: str, slug: str) -> list[str]:
        path = _path("orgs", org, "teams", slug, "members")
        return [_field(item, "login", path) for item in self._pages(path)]

    def branch_rules(self, branch: str) -> list[dict[str, Any]]:
        """The active rules that apply to ``branch``, from every level (repository, org)."""
        return list(self._pages(self._repo("rules", "branches", branch)))

    def rulesets(self) -> list[dict[str, Any]]:
        """The repository's rulesets and those of its organization (summaries)."""
        return list(self._pages(self._repo("rulesets"), {"includes_parents": "true"}))

    def ruleset(self, ruleset_id: int) -> dict[str, Any]:
        path = self._repo("rulesets", str(ruleset_id))
        return self._object(path, {"includes_parents": "true"})

    def environment(self, name: str) -> dict[str, Any] | None:
        """The deployment environment ``name``; None when the repository has none such."""
        try:
            return self._object(self._repo("environments", name))
        except GitHubError as err:
            if err.status == 404:
                return None
            raise

    def codeowners_errors(self, ref: str | None = None) -> list[dict[str, Any]]:
        """The CODEOWNERS file's syntax errors at ``ref`` (the default branch by default)."""
        path = self._repo("codeowners", "errors")
        answer = self._object(path, {"ref": ref} if ref else None)
        errors = answer.get("errors")
        if not isinstance(errors, list):
            raise GitHubError(f"GitHub API GET {path}: the answer has no list of errors")
        return errors

    def pulls_of_commit(self, sha: str) -> list[PullRequest]:
        """The pull requests that contain (or, once merged, merged) the commit ``sha``."""
        return [_pull(item) for item in self._pages(self._repo("commits", sha, "pulls"))]

    # -- requests ---------------------------------------------------------------------

    def _repo(self, *parts: str) -> str:
        owner, name = self.repository.split("/")
        return _path("repos", owner, name, *parts)

    def _object(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        answer, _ = self._get(path, self._url(path, query))
        if not isinstance(answer, dict):
            raise GitHubError(f"GitHub API GET {path}: expected an object, got {_kind(answer)}")
        return answer

    def _pages(self, path: str, query: Mapping[str, str] | None = None) -> Iterator[Any]:
        url: str | None = self._url(path, {**(query or {}), "per_page": str(PER_PAGE)})
        while url is not None:
            answer, url = self._get(path, url)
            if not isinstance(answer, list):
                raise GitHubError(f"GitHub API GET {path}: expected a list, got {_kind(answer)}")
            yield from answer

    def _url(self, path: str, query: Mapping[str, str] | None) -> str:
        return self.api_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def _get(self, path: str, url: str) -> tuple[Any, str | None]:
        """The decoded answer and the next page's URL (None on the last page)."""
        label = f"GitHub API GET {path}"
        # the scheme is https, or http to loopback (_check_api_url): never file: or ftp:
        request = urllib.request.Request(url, headers=self._headers(), method="GET")  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
                link = response.headers.get("Link")
        except urllib.error.HTTPError as err:
            raise GitHubError(f"{label}: {err.code} {_message(err)}", err.code) from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise GitHubError(f"{label}: no answer ({escape_control(str(reason))})") from err
        try:
            answer = json.loads(body)
        except ValueError:
            raise GitHubError(f"{label}: the answer is not JSON", 200) from None
        return answer, self._next(label, link)

    def _next(self, label: str, link: str | None) -> str | None:
        match = _NEXT.search(link or "")
        if match is None:
            return None
        url = match[1]
        if _origin(url) != _origin(self.api_url):
            raise GitHubError(f"{label}: the next page is at another origin; not followed")
        return url

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"diva/{__version__}",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers


def _path(*parts: str) -> str:
    """``/a/b%2Fc``: every part percent-encoded, so a branch ``a/b`` stays one part."""
    return "".join("/" + urllib.parse.quote(part, safe="") for part in parts)


def _kind(answer: Any) -> str:
    return type(answer).__name__


def _field(item: Any, key: str, path: str) -> Any:
    try:
        return item[key]
    except (KeyError, TypeError, IndexError):
        raise GitHubError(f"GitHub API GET {path}: an item without {key!r}") from None


def _login(user: Any) -> str:
    """A user's login; GitHub sends ``null`` for a deleted account (shown as ghost)."""
    return str(user["login"]) if isinstance(user, dict) and user.get("login") else "ghost"


def _pull(data: Any) -> PullRequest:
    try:
        # "Get a pull request" says ``merged``; the simple form of lists only ``merged_at``
        merged = data["merged"] if "merged" in data else data.get("merged_at") is not None
        return PullRequest(
            number=int(data["number"]),
            author=_login(data.get("user")),
            head_sha=str(data["head"]["sha"]),
            base_ref=str(data["base"]["ref"]),
            merged=bool(merged),
            merge_commit_sha=data.get("merge_commit_sha") or None,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise GitHubError(f"GitHub API: a pull request without {err}") from None


def _review(data: Any) -> Review:
    try:
        return Review(
            id=int(data["id"]),
            login=_login(data.get("user")),
            state=str(data["state"]),
            commit_id=data.get("commit_id"),
            submitted_at=data.get("submitted_at"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise GitHubError(f"GitHub API: a review without {err}") from None
