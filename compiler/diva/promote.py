"""``diva promote``: ask for the next stage by pull request.

Creates a branch, edits the spec's ``stage`` in place (only the value's characters
change: comments and formatting stay), recompiles, records the MLflow evidence CI cannot
reach, runs the gate, commits, pushes, and opens the pull request with ``gh`` when it is
installed and logged in — else prints what to run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from diva.errors import DivaError, UsageError
from diva.evidence import UnreachableError, record
from diva.evidence.mlflow import Mlflow
from diva.source import load_bytes
from diva.stages import Stage, parse_stage, stage

_SCALAR = re.compile(r"[A-Za-z0-9_-]+|'[^']*'|\"[^\"]*\"")


class PromotionRefused(DivaError):  # noqa: N818 - reads as what happened
    """The gate would fail; nothing was committed (unless --draft)."""


@dataclass(frozen=True)
class Outcome:
    branch: str
    title: str
    body: str
    pushed: bool
    pr_url: str | None
    draft: bool = False


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def set_stage(text: str, target: Stage) -> str:
    """``text`` with only the stage value replaced, in the same form (number or name)."""
    document = load_bytes(text.encode("utf-8"))
    line, column = document.values[("stage",)]
    lines = text.splitlines(keepends=True)
    current = lines[line - 1]
    match = _SCALAR.match(current, column - 1)
    if match is None:  # pragma: no cover - the loader located a scalar here
        raise UsageError("cannot find the stage value to edit")
    written = match.group().strip("'\"")
    value = target.key if not written.isdigit() else str(target.number)
    lines[line - 1] = current[: match.start()] + value + current[match.end() :]
    return "".join(lines)


def promote(
    root: Path,
    target_text: str | None,
    *,
    spec_file: str = "diva.yaml",
    draft: bool = False,
    remote: str = "origin",
) -> Outcome:
    """Carry out a promotion; raises :class:`PromotionRefused` when the gate fails."""
    from diva.compile import Job, plan_job
    from diva.gate import as_markdown, as_text, evaluate
    from diva.writer import apply

    if _git(root, "status", "--porcelain"):
        raise UsageError("the working tree has uncommitted changes; commit or stash them first")
    spec_path = root / spec_file
    text = spec_path.read_bytes().decode("utf-8")  # keep CRLF line ends as they are
    current = parse_stage(load_bytes(text.encode("utf-8")).data.get("stage"))
    target = _target(current, target_text)
    base = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    branch = f"diva/stage-{target.number}-{target.key}"
    _git(root, "checkout", "-q", "-b", branch)
    try:
        spec_path.write_bytes(set_stage(text, target).encode("utf-8"))
        apply(plan_job(Job(spec_path, root)))
        _capture_evidence(root, spec_path, target.number)
        report = evaluate(root, base, spec_file)
        if not report.passed and not draft:
            raise PromotionRefused(as_text(report))
        title = f"Promote to {target}"
        body = as_markdown(report)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", title, "-m", as_text(report))
    except BaseException:
        # the tree was clean before (checked above), so whatever is untracked now is ours
        _git(root, "checkout", "-q", "-f", base)
        _git(root, "clean", "-q", "-f", "-d")
        _git(root, "branch", "-q", "-D", branch)
        raise
    pushed = _push(root, remote, branch)
    url = _open_pr(root, base, branch, title, body, draft) if pushed else None
    return Outcome(branch, title, body, pushed, url, draft)


def _target(current: Stage, text: str | None) -> Stage:
    if text is None:
        if current.number == 5:
            raise UsageError(f"{current} is the last stage")
        return stage(current.number + 1)
    try:
        return parse_stage(int(text) if text.isdigit() else text)
    except ValueError as err:
        raise UsageError(f"{text!r}: {err}") from err


def _capture_evidence(root: Path, spec_path: Path, number: int) -> None:
    """Record MLflow evidence when a live store is reachable (an embedded one is)."""
    from diva.validate import load_spec

    spec = load_spec(spec_path)
    if spec.model is None:
        return
    try:
        live = Mlflow(root, spec.platform.mlflow.tracking_uri)
        document = record.capture(
            live, spec.project.name, spec.model.name or spec.project.name, number
        )
    except UnreachableError:
        return
    path = root / record.EVIDENCE_FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _push(root: Path, remote: str, branch: str) -> bool:
    remotes = _git(root, "remote").split()
    if remote not in remotes:
        return False
    _git(root, "push", "-q", "-u", remote, branch)
    return True


def _open_pr(root: Path, base: str, branch: str, title: str, body: str, draft: bool) -> str | None:
    gh = shutil.which("gh")
    if gh is None:
        return None
    if subprocess.run(
        [gh, "auth", "status"], cwd=root, capture_output=True, check=False
    ).returncode:
        return None
    command = [
        gh,
        "pr",
        "create",
        "--base",
        base,
        "--head",
        branch,
        "--title",
        title,
        "--body",
        body,
    ]
    result = subprocess.run(
        [*command, *(["--draft"] if draft else [])],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None
