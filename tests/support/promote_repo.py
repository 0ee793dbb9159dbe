"""Projects for the ``diva promote`` tests: committed on main, pushed to a bare origin,
and what a test compares to prove that a refused or failed promotion changed nothing."""

from __future__ import annotations

from pathlib import Path

from tests.support.git_repo import commit_spec, git, init_repo


def make_project(tmp_path: Path, text: str) -> Path:
    """A compiled project committed on main and pushed to a bare local origin."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    root = init_repo(tmp_path / "project")
    commit_spec(root, text, "stage 1", compiled=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "-u", "origin", "main")
    return root


def current_branch(root: Path) -> str:
    return git(root, "rev-parse", "--abbrev-ref", "HEAD")


def local_branches(root: Path) -> list[str]:
    return git(root, "branch", "--format=%(refname:short)").split()


def remote_branches(root: Path) -> list[str]:
    return [line.split()[1] for line in git(root, "ls-remote", "--heads", "origin").splitlines()]


def remote_tip(root: Path, branch: str) -> str:
    """The commit of ``branch`` on origin itself (not this clone's idea of it)."""
    return git(root, "ls-remote", "origin", f"refs/heads/{branch}").split()[0]


def snapshot(root: Path) -> dict[str, str]:
    """Everything a failed promotion must leave as it was: the branch checked out, HEAD,
    every ref (branches, remote-tracking refs), and the working tree's status."""
    return {
        "branch": current_branch(root),
        "head": git(root, "rev-parse", "HEAD"),
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "status": git(root, "status", "--porcelain", "--untracked-files=all", "--ignored"),
    }


def merge(root: Path, branch: str) -> None:
    """Merge ``branch`` into main and push main, as the approved pull request would be."""
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", branch, "-m", f"Merge {branch}")
    git(root, "push", "-q", "origin", "main")


def refuse_pushes(origin: Path) -> None:
    """A pre-receive hook in the bare origin that declines every push."""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed today' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
