"""Where a proposal's commit goes: its branch, made or rebuilt from the current commit.

The commit is made on a detached HEAD, so no branch moves until the push has landed:
the push is leased on the remote branch's value this repository knows (none: the branch
must not exist there), and only then is the local branch set to the pushed commit. When
anything fails on the way — the change, the gate, the push — the repository is put back
as it was: the same branch checked out at the same commit, no new branch or commit, the
working tree as it was (clean: the caller checked).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from diva import tools
from diva.errors import UnavailableError, UsageError


class PushError(UnavailableError):
    """The remote refused the branch or could not be reached (exit 4); nothing changed."""


@dataclass(frozen=True)
class Start:
    """Where the repository was before a proposal: what a failure puts back."""

    #: the branch checked out, or the commit of a detached HEAD
    ref: str
    detached: bool


@dataclass(frozen=True)
class Known:
    """What this repository knows of a proposal branch ('' for none)."""

    local: str
    #: the remote-tracking ref: the value the push is leased on
    remote: str

    @property
    def replaced(self) -> str | None:
        """The commit the rebuilt branch replaces, if the branch existed."""
        return self.remote or self.local or None


def git(root: Path, *args: str) -> str:
    return tools.run(["git", *args], cwd=root, error=UsageError).stdout.strip()


def _tip(root: Path, ref: str) -> str:
    command = ["git", "rev-parse", "-q", "--verify", f"{ref}^{{commit}}"]
    result = tools.run(command, cwd=root, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def require_remote(root: Path, remote: str) -> None:
    if remote not in git(root, "remote").split():
        raise UsageError(
            f"no remote {remote!r} to push the proposal to: add it with "
            f"`git remote add {remote} URL`, or name another with --remote; nothing was changed"
        )


def known(root: Path, remote: str, branch: str) -> Known:
    """The branch here and as last seen on ``remote``; refuses (nothing changed) when the
    local branch has commits the remote branch has not: rebuilding would drop them."""
    found = Known(_tip(root, f"refs/heads/{branch}"), _tip(root, f"refs/remotes/{remote}/{branch}"))
    if found.local and found.remote and found.local != found.remote:
        ahead = tools.run(
            ["git", "merge-base", "--is-ancestor", found.local, found.remote], cwd=root, check=False
        )
        if ahead.returncode:
            raise UsageError(
                f"branch {branch} has commits that are not on {remote}/{branch}: push them, or "
                f"delete the branch (`git branch -D {branch}`), then propose again; "
                "nothing was changed"
            )
    return found


def start(root: Path) -> Start:
    """The current branch (or commit), then HEAD detached at the same commit."""
    result = tools.run(["git", "symbolic-ref", "-q", "--short", "HEAD"], cwd=root, check=False)
    here = Start(result.stdout.strip(), False) if result.returncode == 0 else None
    here = here or Start(git(root, "rev-parse", "HEAD"), True)
    git(root, "checkout", "-q", "--detach")
    return here


def restore(root: Path, here: Start) -> None:
    """Back where :func:`start` was: what the proposal left untracked was its own."""
    git(root, "checkout", "-q", "-f", *(["--detach"] if here.detached else []), here.ref)
    git(root, "clean", "-q", "-f", "-d")


def push(root: Path, remote: str, branch: str, lease: Known) -> None:
    """Push HEAD to ``remote``'s ``branch``, leased on the value this repository knows."""
    command = ["git", "push", f"--force-with-lease=refs/heads/{branch}:{lease.remote}"]
    command += [remote, f"HEAD:refs/heads/{branch}"]
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail, never ask for a password
    result = tools.run(command, cwd=root, check=False, env=environment, error=PushError)
    if result.returncode == 0:
        return
    why = tools.failure(result)
    if "stale info" in why:
        why = (
            f"{remote}/{branch} has moved since this repository last saw it: "
            f"`git fetch {remote}` and look at {remote}/{branch} before proposing again"
        )
    raise PushError(
        f"git push to {remote} failed, so nothing was proposed and nothing was changed here: {why}"
    )


def settle(root: Path, remote: str, branch: str) -> None:
    """The local branch set to the pushed commit (HEAD), checked out, tracking ``remote``."""
    git(root, "checkout", "-q", "-B", branch)
    git(root, "branch", "-q", f"--set-upstream-to={remote}/{branch}")
