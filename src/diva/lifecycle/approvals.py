"""Approvals by role: whether the right people approved a pull request, read from GitHub.

The base branch's ``approvals`` (:func:`diva.compiler.policy.approvals`) says whose
approval each kind of pull request needs: a promotion into a stage (by its key), a move
``back``, a ``release`` before production, a ``production_release``, a ``policy`` change.
The reviews are GitHub's, read with the job's token (:mod:`diva.lifecycle.evidence.github`),
and counted as GitHub counts them, stricter where it is lax:

* the latest approving or changes-requesting review of each reviewer is their state;
  comments change nothing, a dismissed review is no approval;
* an approval counts only on the pull request's head commit (a new commit makes it stale);
* the author never counts, and every required approval is a different person: one person
  holding two roles fills one of them (a maximum matching of people to the approvals);
* a team handle (``@org/team``) stands for its members, read from the API.

The gate shows a row per kind and role, naming who approved and who is still needed.
Outside a pull request the rows say "not checked here" (status ``warn``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from diva.compiler.ir import Project
from diva.compiler.policy import Approval
from diva.errors import UsageError
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.github import GitHub, PullRequest, Review
from diva.lifecycle.report import Row
from diva.stages import stage

#: Review states that set a reviewer's state (comments and pending reviews do not).
_DECISIVE = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})
#: How the rows call each kind of pull request.
KIND_WORDS = {
    "plan": "the promotion to stage 1",
    "small": "the promotion to stage 2",
    "large": "the promotion to stage 3",
    "deploy": "the promotion to stage 4",
    "manage": "the promotion to stage 5",
    "back": "the move back",
    "release": "the release",
    "production_release": "the production release",
    "policy": "the policy change",
}


class Reviews(Protocol):
    """What the approvals are read from: :class:`diva.lifecycle.evidence.github.GitHub`."""

    def pull_request(self, number: int) -> PullRequest: ...
    def reviews(self, number: int) -> list[Review]: ...
    def team_members(self, org: str, slug: str) -> list[str]: ...
    def branch_rules(self, branch: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class PullSource:
    """Where the gate reads a pull request's reviews: ``number`` on ``github``."""

    github: Reviews
    number: int


def login(handle: str) -> str:
    """GitHub compares logins without case; a handle is ``@login``."""
    return handle.removeprefix("@").lower()


@dataclass
class Reviewed:
    """A pull request's reviews, as they count: who approved its head commit, whose
    approval is stale, who requests changes."""

    pull: PullRequest
    approved: set[str] = field(default_factory=set)
    stale: dict[str, str] = field(default_factory=dict)
    changes: set[str] = field(default_factory=set)
    dismissed: set[str] = field(default_factory=set)


def reviewed(pull: PullRequest, reviews: Iterable[Review]) -> Reviewed:
    """Each reviewer's latest decisive review, judged against the head commit."""
    latest: dict[str, Review] = {}
    for review in reviews:  # in the API's (chronological) order
        if review.state in _DECISIVE:
            latest[login(review.login)] = review
    result = Reviewed(pull)
    for who, review in latest.items():
        if review.state == "DISMISSED":
            result.dismissed.add(who)
        elif review.state == "CHANGES_REQUESTED":
            result.changes.add(who)
        elif review.commit_id == pull.head_sha:
            result.approved.add(who)
        else:
            result.stale[who] = (review.commit_id or "an unknown commit")[:12]
    return result


class Holders:
    """Who holds each role of a team: logins, a team handle resolved to its members."""

    def __init__(self, team: object, github: Reviews | None) -> None:
        self._team = team
        self._github = github
        self._members: dict[str, list[str]] = {}
        self.unresolved: dict[str, str] = {}

    def handles(self, role: str) -> tuple[str, ...]:
        return tuple(getattr(self._team, role))

    def of(self, role: str) -> set[str]:
        people: set[str] = set()
        for handle in self.handles(role):
            name = handle.removeprefix("@")
            if "/" not in name:
                people.add(name.lower())
            else:
                people.update(self._team_members(name))
        return people

    def _team_members(self, name: str) -> list[str]:
        if name in self._members:
            return self._members[name]
        org, _, slug = name.partition("/")
        members: list[str] = []
        if self._github is not None:
            try:
                members = [login(m) for m in self._github.team_members(org, slug)]
            except UnreachableError as err:
                self.unresolved[name] = str(err)
        self._members[name] = members
        return members


def _match(slots: list[str], candidates: Mapping[str, set[str]]) -> dict[int, str]:
    """A maximum matching of approval slots (roles) to distinct people (Kuhn's
    augmenting paths; the slots are few)."""
    owner: dict[str, int] = {}

    def place(slot: int, seen: set[str]) -> bool:
        for person in sorted(candidates[slots[slot]]):
            if person in seen:
                continue
            seen.add(person)
            if person not in owner or place(owner[person], seen):
                owner[person] = slot
                return True
        return False

    for slot in range(len(slots)):
        place(slot, set())
    return {slot: person for person, slot in owner.items()}


def kinds(project: Project, stages: list[int], back: bool, released: list[str]) -> list[str]:
    """The kinds of pull request a move is: promotions into ``stages``, a move back,
    releases (of production or before it)."""
    found = [stage(number).key for number in stages]
    if back:
        found.append("back")
    production = project.environments[-1] if project.environments else None
    for environment in released:
        kind = "production_release" if environment == production else "release"
        if kind not in found:
            found.append(kind)
    return found


@dataclass
class Counted:
    """The approval rows, and what a verdict record keeps: the pull request, and who
    filled which approval (login -> roles)."""

    rows: list[Row]
    pull: PullRequest | None = None
    approvers: dict[str, list[str]] = field(default_factory=dict)


def count(policy: Project, wanted: list[str], source: PullSource | None, head: str) -> Counted:
    """A row per kind and required role: approved by whom, or who is still needed.
    ``policy`` is the project whose ``approvals`` and ``team`` apply (the base's);
    ``head`` the commit the gate judges, with its parents, which must be the pull
    request's head (or a merge of it)."""
    needs = {kind: policy.approvals.get(kind, ()) for kind in wanted}
    if source is None:
        return Counted(
            [
                Row(f"approvals.{kind}", _wording(kind), "warn", "not checked here: " + _ask(need))
                for kind, need in needs.items()
            ]
        )
    holders = Holders(policy.team, source.github)
    try:
        pull = source.github.pull_request(source.number)
        if not needs:  # nothing to count; the pull request still names its base branch
            return Counted([], pull)
        state = reviewed(pull, source.github.reviews(source.number))
    except UnreachableError as err:
        detail = f"pull request #{source.number}: {err}"
        return Counted(
            [Row(f"approvals.{kind}", _wording(kind), "unreachable", detail) for kind in needs]
        )
    counted = Counted([], pull)
    if not _judges_head(pull, head):
        detail = (
            f"the gate judged {head.split()[0][:12]}, not the head {pull.head_sha[:12]} of "
            f"pull request #{pull.number}: approvals are not counted"
        )
        counted.rows = [Row(f"approvals.{kind}", _wording(kind), "fail", detail) for kind in needs]
        return counted
    for kind, need in needs.items():
        counted.rows += _kind_rows(kind, need, state, holders, counted.approvers)
    if state.changes:
        who = ", ".join(f"@{name}" for name in sorted(state.changes))
        counted.rows.append(
            Row(
                "approvals.changes",
                "no reviewer requests changes",
                "fail",
                f"{who} requested changes on pull request #{pull.number}",
            )
        )
    return counted


def _judges_head(pull: PullRequest, head: str) -> bool:
    """``head`` is ``"<commit> <parent>..."``: the pull request's head itself, GitHub's
    merge of it (its second parent), or its merge commit once merged."""
    commit, *parents = head.split()
    return (
        pull.head_sha == commit
        or parents[1:2] == [pull.head_sha]
        or (pull.merge_commit_sha is not None and pull.merge_commit_sha == commit)
    )


def _wording(kind: str, role: str | None = None) -> str:
    words = KIND_WORDS.get(kind, kind)
    return f"{role.replace('_', ' ')} approve {words}" if role else f"approvals of {words}"


def _ask(needs: tuple[Approval, ...]) -> str:
    if not needs:
        return "no approval required"
    asked = ", ".join(f"{need.count} of {need.role}" for need in needs)
    return f"needs {asked} (the gate counts them on the pull request)"


def _kind_rows(
    kind: str,
    needs: tuple[Approval, ...],
    state: Reviewed,
    holders: Holders,
    approvers: dict[str, list[str]],
) -> list[Row]:
    if not needs:
        return [Row(f"approvals.{kind}", _wording(kind), "pass", "none required")]
    author = login(state.pull.author)
    required = [need for need in needs if need.declared or holders.handles(need.role)]
    rows_found = [
        Row(
            f"approvals.{kind}.{need.role}",
            _wording(kind, need.role),
            "warn",
            f"not required: nobody holds {need.role} in the base's team "
            f"(name them in team.{need.role} to require it)",
        )
        for need in needs
        if need not in required
    ]
    slots = [need.role for need in required for _ in range(need.count)]
    candidates = {
        need.role: (holders.of(need.role) & state.approved) - {author} for need in required
    }
    matched = _match(slots, candidates)
    for slot, person in matched.items():
        roles = approvers.setdefault(person, [])
        if slots[slot] not in roles:
            roles.append(slots[slot])
    for need in required:
        mine = [matched[i] for i, role in enumerate(slots) if role == need.role and i in matched]
        rows_found.append(_role_row(kind, need, mine, set(matched.values()), state, holders))
    return rows_found


def _role_row(
    kind: str,
    need: Approval,
    filled: list[str],
    used: set[str],
    state: Reviewed,
    holders: Holders,
) -> Row:
    row_id, wording = f"approvals.{kind}.{need.role}", _wording(kind, need.role)
    people = holders.of(need.role)
    by = ", ".join(f"@{name}" for name in sorted(filled))
    if len(filled) >= need.count:
        return Row(row_id, wording, "pass", f"approved by {by}")
    author = login(state.pull.author)
    notes = [f"{need.count - len(filled)} more of {need.role} needed"]
    if filled:
        notes[0] = f"approved by {by}; " + notes[0]
    waiting = sorted(people - {author} - used - state.approved)
    if waiting:
        notes.append("can approve: " + ", ".join(f"@{name}" for name in waiting))
    if author in people:
        notes.append(f"@{author} is the author and does not count")
    twice = sorted((people & state.approved & used) - set(filled))
    if twice:
        notes.append(
            ", ".join(f"@{name}" for name in twice)
            + " already fills another approval: one person fills one"
        )
    notes += [
        f"@{who}'s approval is stale (on {sha}, not the head)"
        for who, sha in sorted(state.stale.items())
        if who in people
    ]
    notes += [f"@{who}'s review was dismissed" for who in sorted(state.dismissed) if who in people]
    outsiders = sorted(state.approved - people - {author})
    if outsiders:
        names = ", ".join(f"@{name}" for name in outsiders)
        notes.append(f"{names} approved but not as {need.role}")
    status = "fail"
    for handle, problem in holders.unresolved.items():
        if f"@{handle}" in holders.handles(need.role):
            notes.append(f"cannot read the members of @{handle}: {problem}")
            status = "unreachable"
    if not people and not holders.unresolved:
        notes.append(f"nobody holds {need.role} in the base's team")
    return Row(row_id, wording, status, "; ".join(notes))


#: The GitHub Actions events whose payload is a pull request's.
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_review", "pull_request_target"})


def pull_source(
    number: int | None, environ: Mapping[str, str], repository: str | None = None
) -> PullSource | None:
    """The pull request to count approvals on: ``number`` (``--pull-request``), else the
    one of the GitHub Actions event being run (the runner's event file, which a pull
    request cannot write); None outside a pull request."""
    if number is None:
        number = _event_pull_request(environ)
        if number is None:
            return None
    github = GitHub.from_environment(environ, repository)
    if github is None:
        raise UsageError(
            f"pull request #{number}: which repository? set GITHUB_REPOSITORY=owner/name "
            "(GitHub Actions sets it) or pass --repo"
        )
    return PullSource(github, number)


def _event_pull_request(environ: Mapping[str, str]) -> int | None:
    if environ.get("GITHUB_EVENT_NAME") not in PULL_REQUEST_EVENTS:
        return None
    path = environ.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
        number = event["pull_request"]["number"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(f"cannot read the pull request of the event at {path}: {err}") from err
    if type(number) is not int:
        raise UsageError(f"the event at {path} has no pull request number")
    return number


def merged_pull_source(
    environ: Mapping[str, str], commit: str, repository: str | None = None
) -> PullSource | None:
    """For a commit on the default branch (the record job): the pull request it merged,
    from the API; None when there is no repository or no such pull request."""
    github = GitHub.from_environment(environ, repository)
    if github is None:
        return None
    pulls = github.pulls_of_commit(commit)
    merged = [pull for pull in pulls if pull.merge_commit_sha == commit] or pulls
    return PullSource(github, merged[0].number) if merged else None
