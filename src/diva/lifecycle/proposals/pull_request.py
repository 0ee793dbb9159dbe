"""A change of the spec proposed by pull request: what ``diva promote`` and
``diva release pin --pr`` share.

On the proposal's branch (:mod:`.branch`: made, or rebuilt on the current commit when it
exists): apply the change (edit the spec, recompile, record evidence), commit, run the
gate on that commit against the branch it started from, push with a lease, and open the
pull request with ``gh`` when it is installed and logged in — or refresh the one already
open. When anything fails up to and including the push, the repository is put back as it
was: same branch, same commit, no new branch or commit, the working tree unchanged.
"""

from __future__ import annotations

import shlex
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
from diva.lifecycle.proposals import branch


class GateRefused(DivaError):  # noqa: N818 - reads as what happened
    """The gate would fail; nothing was committed (unless a draft was asked for)."""


@dataclass(frozen=True)
class Outcome:
    """A proposal made: its branch pushed, and its pull request or how to open it."""

    branch: str
    title: str
    body: str
    pr_url: str | None
    draft: bool = False
    #: Why the pull request was not opened, when ``gh`` was there to open it.
    pr_problem: str | None = None
    base: str = "main"
    #: The commit the branch was at before it was rebuilt (None: a new branch).
    replaced: str | None = None
    #: The pull request was open already: its title and body were refreshed.
    reused: bool = False
    #: Where the body was written for ``gh pr create --body-file`` (None: gh opened it).
    body_file: Path | None = None


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
    """Carry out ``change`` on the proposal's branch — made, or rebuilt on the current
    commit when it exists — push it and propose it; raises :class:`GateRefused` when the
    gate fails and no draft was asked for, :class:`~.branch.PushError` when the push
    fails: either way the repository is left as it was."""

    root = proposal.root
    branch.require_remote(root, proposal.remote)
    lease = branch.known(root, proposal.remote, proposal.branch)
    here = branch.start(root)
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
        branch.push(root, proposal.remote, proposal.branch, lease)
    except BaseException:
        branch.restore(root, here)
        raise
    branch.settle(root, proposal.remote, proposal.branch)
    url, problem, reused = _open_pr(proposal, title, body)
    body_file = None if url else _write_body(root, proposal.branch, body)
    return Outcome(
        proposal.branch,
        title,
        body,
        url,
        proposal.draft,
        problem,
        base=proposal.base,
        replaced=lease.replaced,
        reused=reused,
        body_file=body_file,
    )


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


def _open_pr(proposal: Proposal, title: str, body: str) -> tuple[str | None, str | None, bool]:
    """The pull request's URL, or why there is none (None: no usable ``gh``), and
    whether it was already open (its title and body are then refreshed)."""
    gh = shutil.which("gh")
    if gh is None:
        return None, None, False
    root = proposal.root
    if tools.run([gh, "auth", "status"], cwd=root, check=False).returncode:
        return None, None, False
    existing = _open_pull_request(gh, proposal)
    if existing:
        command = [gh, "pr", "edit", existing, "--title", title, "--body", body]
    else:
        command = [gh, "pr", "create", "--base", proposal.base, "--head", proposal.branch]
        command += ["--title", title, "--body", body, *(["--draft"] if proposal.draft else [])]
    result = tools.run(command, cwd=root, check=False)
    if result.returncode:
        return None, f"gh pr {command[2]} failed: {tools.failure(result)}", bool(existing)
    if existing and not proposal.draft:  # a draft asked for again without --draft
        tools.run([gh, "pr", "ready", existing], cwd=root, check=False)
    return existing or result.stdout.strip(), None, bool(existing)


def _open_pull_request(gh: str, proposal: Proposal) -> str | None:
    """The URL of the open pull request of the proposal's branch, if there is one."""
    command = [gh, "pr", "list", "--head", proposal.branch, "--base", proposal.base]
    command += ["--state", "open", "--json", "url", "--jq", ".[0].url // empty"]
    result = tools.run(command, cwd=proposal.root, check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


def _write_body(root: Path, branch_name: str, body: str) -> Path:
    """The pull request's body in the git directory, for ``gh pr create --body-file``:
    outside the working tree, which stays clean for the next proposal."""
    path = root / git(root, "rev-parse", "--git-path", f"diva/{branch_name.replace('/', '-')}.md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if body.endswith("\n") else body + "\n", encoding="utf-8")
    return path.resolve()


def next_steps(outcome: Outcome, remote: str) -> list[str]:
    """What the user reads after a proposal: where it went, or how to finish it."""
    lines = [f"committed on branch {outcome.branch}: {outcome.title}"]
    if outcome.replaced:
        lines.append(
            f"rebuilt {outcome.branch} on {outcome.base} and pushed it to {remote} with a lease "
            f"(it was at {outcome.replaced[:12]})"
        )
    if outcome.pr_url:
        done = "pull request updated" if outcome.reused else "pull request"
        return [*lines, f"{done}: {outcome.pr_url}"]
    if outcome.pr_problem:
        lines.append(outcome.pr_problem)
    body_file = shlex.quote(str(outcome.body_file or "PR.md"))
    draft = " --draft" if outcome.draft else ""
    create = (
        f"  gh pr create{draft} --base {shlex.quote(outcome.base)} --head {outcome.branch}"
        f" --title {shlex.quote(outcome.title)} --body-file {body_file}"
    )
    if outcome.replaced:
        edit = f"  gh pr edit {outcome.branch} --title {shlex.quote(outcome.title)}"
        lines += [
            "if its pull request is open, it shows the new commit; refresh its description with:",
            f"{edit} --body-file {body_file}",
            "else open the pull request with:",
        ]
    else:
        lines.append("open the pull request with:")
    return [*lines, create, f"with this body (written to {body_file}):\n", outcome.body]
