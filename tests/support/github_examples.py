"""GitHub's documented REST responses (``github_responses/*.json``), filled in.

Each file is the example response of one endpoint in GitHub's REST reference on
docs.github.com, trimmed of long fields but with the documented names and shapes. The
functions here take such an example and put in what a test set up (a number, a login,
a sha, the rules of a ruleset), so that :mod:`tests.support.github_api` answers in
GitHub's own words.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

RESPONSES = Path(__file__).parent / "github_responses"
API = "https://api.github.com"
WEB = "https://github.com"
MERGED_AT = "2024-05-02T10:00:00Z"


def recorded(name: str) -> Any:
    """A documented response, freshly loaded (callers may change it)."""
    return json.loads((RESPONSES / f"{name}.json").read_text(encoding="utf-8"))


def api(*parts: object) -> str:
    return "/".join([API, *(str(part) for part in parts)])


def pull(
    repository: str,
    number: int,
    author: str,
    head_sha: str,
    base: str,
    merged: bool,
    merge_commit_sha: str | None,
    simple: bool = False,
) -> dict[str, Any]:
    """ "Get a pull request", or with ``simple`` an item of "List pull requests associated
    with a commit" (which has ``merged_at`` but no ``merged``)."""
    body = recorded("commit-pulls")[0] if simple else recorded("pull-request")
    body.update(url=api("repos", repository, "pulls", number), number=number)
    body["html_url"] = f"{WEB}/{repository}/pull/{number}"
    body["state"] = "closed" if merged else "open"
    body["user"]["login"] = author
    body["head"]["sha"] = head_sha
    body["base"]["ref"] = base
    for side in ("head", "base"):
        body[side]["repo"]["full_name"] = repository
    body["merge_commit_sha"] = merge_commit_sha
    body["merged_at"] = body["closed_at"] = MERGED_AT if merged else None
    if not simple:
        body["merged"] = merged
    return body


def review(
    repository: str, number: int, review_id: int, login: str, state: str, commit_id: str
) -> dict[str, Any]:
    """An item of "List reviews for a pull request"."""
    body = recorded("reviews")[0]
    pull_url = api("repos", repository, "pulls", number)
    html = f"{WEB}/{repository}/pull/{number}#pullrequestreview-{review_id}"
    body.update(id=review_id, state=state, commit_id=commit_id, html_url=html)
    body["user"]["login"] = login
    body["pull_request_url"] = pull_url
    body["_links"] = {"html": {"href": html}, "pull_request": {"href": pull_url}}
    # ids grow with time: reviews are listed in the order they were submitted
    body["submitted_at"] = f"2024-05-01T{review_id % 24:02d}:{review_id % 60:02d}:00Z"
    if state == "PENDING":
        del body["submitted_at"]
    return body


def user(login: str, user_id: int) -> dict[str, Any]:
    """An item of "List team members" (a simple user)."""
    body = recorded("simple-user")
    body.update(login=login, id=user_id, url=api("users", login), html_url=f"{WEB}/{login}")
    return body


def ruleset(
    repository: str, ruleset_id: int, source: dict[str, Any], enforcement: str
) -> dict[str, Any]:
    """ "Get a repository ruleset" for ``source`` (a file such as generated/ruleset.json),
    created in ``repository``; its ``$comment`` is not a ruleset field and is dropped."""
    body = recorded("ruleset")
    body.update(copy.deepcopy({key: value for key, value in source.items() if key != "$comment"}))
    body.update(id=ruleset_id, enforcement=enforcement, source=repository)
    body.update(source_type="Repository", node_id=f"RRS_recorded{ruleset_id}")
    body["_links"] = {
        "self": {"href": api("repos", repository, "rulesets", ruleset_id)},
        "html": {"href": f"{WEB}/{repository}/rules/{ruleset_id}"},
    }
    return body


def summary(full: dict[str, Any]) -> dict[str, Any]:
    """A ruleset as "Get all repository rulesets" lists it: without its rules."""
    return {key: copy.deepcopy(full[key]) for key in recorded("rulesets")[0]}


def effective_rule(repository: str, rule: dict[str, Any], ruleset_id: int) -> dict[str, Any]:
    """A rule as "Get rules for a branch" shows it: with the ruleset it comes from."""
    effective = {
        "type": rule["type"],
        "ruleset_source_type": "Repository",
        "ruleset_source": repository,
        "ruleset_id": ruleset_id,
    }
    if "parameters" in rule:
        effective["parameters"] = copy.deepcopy(rule["parameters"])
    return effective


def environment(
    repository: str, name: str, reviewers: list[str], branch_policy: str | None
) -> dict[str, Any]:
    """ "Get an environment": required reviewers (logins, or ``org/team-slug``) when any,
    and a deployment branch policy (None: every branch, ``protected``, ``custom``)."""
    body = recorded("environment")
    _wait_timer, required, policy_rule = body["protection_rules"]
    body.update(name=name, url=api("repos", repository, "environments", name))
    body["html_url"] = f"{WEB}/{repository}/deployments/activity_log?environments_filter={name}"
    user_entry, team_entry = required["reviewers"]
    required["reviewers"] = [_reviewer(entry, user_entry, team_entry) for entry in reviewers]
    policies = {
        "protected": {"protected_branches": True, "custom_branch_policies": False},
        "custom": {"protected_branches": False, "custom_branch_policies": True},
    }
    rules = [required] if reviewers else []
    if branch_policy is not None:
        rules.append(policy_rule)
    body["protection_rules"] = rules
    body["deployment_branch_policy"] = policies[branch_policy] if branch_policy else None
    return body


def _reviewer(entry: str, user_entry: dict[str, Any], team_entry: dict[str, Any]) -> Any:
    if "/" in entry:
        org, slug = entry.split("/", 1)
        reviewer = copy.deepcopy(team_entry)
        reviewer["reviewer"].update(slug=slug, name=slug, html_url=f"{WEB}/orgs/{org}/teams/{slug}")
        return reviewer
    reviewer = copy.deepcopy(user_entry)
    reviewer["reviewer"]["login"] = entry
    return reviewer


def codeowners_error(error: dict[str, Any]) -> dict[str, Any]:
    """An error of "List CODEOWNERS errors" from its ``line``, ``kind``, ``source`` (and
    ``column``, ``suggestion``), its message laid out as GitHub lays it out."""
    line, kind, source = error["line"], error["kind"], error["source"]
    column = error.get("column", 1)
    suggestion = error.get("suggestion")
    head = f"{kind} on line {line}: {suggestion}" if suggestion else f"{kind} on line {line}:"
    message = f"{head}\n\n  {source}\n  {' ' * (column - 1)}^"
    body = recorded("codeowners-errors")["errors"][0]
    body.update(line=line, column=column, kind=kind, source=source, suggestion=suggestion)
    body.update(message=message, path=error.get("path", ".github/CODEOWNERS"))
    return body
