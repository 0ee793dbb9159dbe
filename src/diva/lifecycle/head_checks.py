"""The gate's checks of the head commit's own files: every file it reads is a regular
file, the generated files are up to date, and no workflow other than diva's can report
the gate's required check."""

from __future__ import annotations

from pathlib import Path

from diva.compiler.backends.github.workflows import GATE_CHECK
from diva.compiler.ir import Project
from diva.compiler.pipeline import Job, plan_job
from diva.contract import LOCK_FILE
from diva.lifecycle.evidence import record
from diva.lifecycle.evidence.tree import CommitTree
from diva.lifecycle.report import Row
from diva.lifecycle.workflow_guard import impostors

#: Where GitHub reads workflows from (not from folders below it).
WORKFLOWS = ".github/workflows"

#: Files the gate reads from the head commit besides the spec and the datasets' .dvc files.
_READ = (LOCK_FILE, "dvc.lock", record.EVIDENCE_FILE)


def files(tree: CommitTree, project: Project) -> Row:
    """Every file the gate reads from the head is a regular file (or absent)."""
    paths = [project.spec_file, *_READ, *(f"{d.path}.dvc" for d in project.datasets)]
    odd = [
        f"{path} is {entry.kind}"
        for path in dict.fromkeys(paths)
        if (entry := tree.entry(path)) is not None and not entry.regular
    ]
    wording = "the files the gate reads are regular files"
    if odd:
        return Row("head.files", wording, "fail", "; ".join(odd) + ": refused")
    return Row("head.files", wording, "pass", f"read from commit {tree.commit[:12]}")


def drift(root: Path, spec_file: str) -> tuple[Row, frozenset[str]]:
    """The drift row, and the paths diva generates for the head's spec."""
    plan = plan_job(Job(root / spec_file, root))
    generated = frozenset(change.path for change in plan.changes)
    if plan.drifted:
        drifted = [change.path for change in plan.pending] or [LOCK_FILE]
        detail = f"run `diva compile`: {drifted}"
        return Row("generated", "generated files up to date", "fail", detail), generated
    return Row("generated", "generated files up to date", "pass", "no drift"), generated


def workflows(trees: list[CommitTree], generated: frozenset[str]) -> Row:
    """No workflow the pull request adds or changes, other than diva's, can report the
    gate's required check."""
    head = trees[0].files(WORKFLOWS)
    base = trees[1].files(WORKFLOWS) if len(trees) > 1 else {}
    problems = impostors(base, head, generated, GATE_CHECK)
    wording = f"no other workflow can report the check {GATE_CHECK!r}"
    if problems:
        return Row("workflows", wording, "fail", "; ".join(problems))
    return Row("workflows", wording, "pass", "none added or changed that could")
