"""Real temporary git repositories: created, committed to, and a PATH with git only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Diva Test")
    git(root, "config", "user.email", "diva@example.com")
    git(root, "config", "commit.gpgsign", "false")
    return root


def commit_spec(root: Path, text: str, message: str, *, compiled: bool = False) -> str:
    """Write diva.yaml (and compile it when asked), commit everything, return the commit."""
    (root / "diva.yaml").write_text(text, encoding="utf-8")
    if compiled:
        compile_here(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def propose(root: Path, message: str, branch: str = "proposal") -> str:
    """Commit everything on ``branch`` (created from the current commit when it is not
    checked out already), as a pull request's head: the gate judges commits."""
    if git(root, "rev-parse", "--abbrev-ref", "HEAD") != branch:
        git(root, "checkout", "-q", "-b", branch)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def compile_here(root: Path) -> None:
    apply(plan_job(Job(root / "diva.yaml", root)))


def git_only_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH holds git and nothing else: no `gh` to open pull requests with."""
    found = shutil.which("git")
    assert found is not None
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "git").symlink_to(found)
    monkeypatch.setenv("PATH", str(tools))
