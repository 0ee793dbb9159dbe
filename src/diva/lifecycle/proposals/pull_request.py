"""A change of the spec proposed by pull request: what ``diva promote`` and
``diva release pin --pr`` share.

On a new branch: apply the change (edit the spec, recompile, record evidence), commit,
run the gate on that commit against the branch it started from, push, and open the pull request with
``gh`` when it is installed and logged in. When anything fails before the commit, the
working tree and branches are put back as they were.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diva import tools
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.validate import load_spec
from diva.compiler.writer import apply
from diva.errors import DivaError, UsageError
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.gate import as_markdown, as_text, evaluate


class GateRefused(DivaError):  # noqa: N818 - reads as what happened
    """The gate would fail; nothing was committed (unless a draft was asked for)."""


@dataclass(frozen=True)
class Outcome:
    branch: str
    title: str
    body: str
    pushed: bool
    pr_url: str | None
    draft: bool = False
    #: Why the pull request was not opened, when ``gh`` was there to open it.
    pr_problem: str | None = None


@dataclass(frozen=True)
class Proposal:
    """Where the change goes: the spec, the new branch, its base and remote."""

    root: Path
    spec_file: str
    branch: str
    base: str
    remote: str = "origin"
    draft: bool = False


def git(root: Path, *args: str) -> str:
    return tools.run(["git", *args], cwd=root, error=UsageError).stdout.strip()


def require_clean(root: Path) -> None:
    if git(root, "status", "--porcelain"):
        raise UsageError("the working tree has uncommitted changes; commit or stash them first")


def current_branch(root: Path) -> str:
    branch = git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise UsageError("HEAD is detached: check out the branch to propose against")
    return branch


def propose(proposal: Proposal, title: str, change: Callable[[], None]) -> Outcome:
    """Carry out ``change`` on a new branch and propose it; raises :class:`GateRefused`
    (nothing committed) when the gate fails and no draft was asked for."""

    root = proposal.root
    git(root, "checkout", "-q", "-b", proposal.branch)
    try:
        change()
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", title)
        # the gate judges commits: the one just made, which a failure takes back below
        report = evaluate(root, proposal.base, proposal.spec_file, "HEAD")
        if not report.passed and not proposal.draft:
            raise GateRefused(as_text(report))
        body = as_markdown(report)
        git(root, "commit", "-q", "--amend", "-m", title, "-m", as_text(report))
    except BaseException:
        # the tree was clean before (checked by the caller), so what is untracked is ours
        git(root, "checkout", "-q", "-f", proposal.base)
        git(root, "clean", "-q", "-f", "-d")
        git(root, "branch", "-q", "-D", proposal.branch)
        raise
    pushed = _push(root, proposal.remote, proposal.branch)
    url, problem = _open_pr(proposal, title, body) if pushed else (None, None)
    return Outcome(proposal.branch, title, body, pushed, url, proposal.draft, problem)


def compile_spec(root: Path, spec_file: str) -> None:

    apply(plan_job(Job(root / spec_file, root)))


def capture_evidence(root: Path, spec_file: str) -> None:
    """Record the MLflow evidence CI cannot reach, when a live store is reachable."""

    spec = load_spec(root / spec_file)
    if spec.model is None:
        return
    try:
        live = Mlflow(root, spec.platform.mlflow.tracking_uri)
        monitored = (
            (spec.monitoring.champion, *spec.monitoring.challengers) if spec.monitoring else ()
        )
        model = spec.model.name or spec.project.name
        aliases = (*record.ALIASES, *monitored)
        metrics = {target.metric for target in spec.targets}
        document = record.capture(live, spec.project.name, model, spec.stage, metrics, aliases)
    except UnreachableError:
        return
    # the MLflow part is replaced; images and smoke results recorded earlier stay
    record.merge(root, document, replace=("mlflow",))


def _push(root: Path, remote: str, branch: str) -> bool:
    if remote not in git(root, "remote").split():
        return False
    git(root, "push", "-q", "-u", remote, branch)
    return True


def _open_pr(proposal: Proposal, title: str, body: str) -> tuple[str | None, str | None]:
    """The new pull request's URL, or why there is none (None: no usable ``gh``)."""
    gh = shutil.which("gh")
    if gh is None:
        return None, None
    root = proposal.root
    if tools.run([gh, "auth", "status"], cwd=root, check=False).returncode:
        return None, None
    command = [gh, "pr", "create", "--base", proposal.base, "--head", proposal.branch]
    command += ["--title", title, "--body", body, *(["--draft"] if proposal.draft else [])]
    result = tools.run(command, cwd=root, check=False)
    if result.returncode:
        return None, f"gh pr create failed: {tools.failure(result)}"
    return result.stdout.strip(), None


def next_steps(outcome: Outcome, remote: str) -> list[str]:
    """What the user reads after a proposal: where it went, or how to finish it."""
    lines = [f"committed on branch {outcome.branch}: {outcome.title}"]
    if outcome.pr_url:
        return [*lines, f"pull request: {outcome.pr_url}"]
    if outcome.pr_problem:
        lines.append(outcome.pr_problem)
    if not outcome.pushed:
        lines.append(f"no remote {remote!r}: push with `git push -u {remote} {outcome.branch}`")
    draft = " --draft" if outcome.draft else ""
    return [
        *lines,
        "open the pull request with:",
        f"  gh pr create{draft} --head {outcome.branch} --title {outcome.title!r}"
        " --body-file PR.md",
        "with this body (PR.md):\n",
        outcome.body,
    ]
