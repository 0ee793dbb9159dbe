"""Where the gate takes its evidence from: the policy's stores, never the pull request's.

The MLflow tracking URI, the DVC remote and the image registry come from the policy
spec (the base branch's); the commit under judgement only says what to look up. A
store that the repository itself holds (an SQLite file or a remote folder committed to
git, or reached through a committed symlink) is no evidence: the pull request could
have written it. When the policy's MLflow cannot be read, its checkpoints are
``unreachable`` (a server that does not answer) or ``unverified`` (a store on the
author's machine, of which CI has only the author's copy in ``diva.evidence.json``) —
unless the policy opts in to ``platform.evidence: self-attested``, the one case where
the evidence file is believed, and every report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diva.compiler.ir import Project
from diva.lifecycle.context import RunSource, Status, Verdict
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence import dvc as dvc_evidence
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.evidence.tree import CommitTree
from diva.lifecycle.report import SELF_ATTESTED
from diva.progress import Notify, silent
from diva.stores import on_disk, project_path
from diva.urls import strip_userinfo


@dataclass(frozen=True)
class Evidence:
    """The run source of a gate, or why there is none, and the DVC remote's verdict
    when it cannot be asked."""

    runs: RunSource | None
    status: Status
    problem: str
    summary: str
    attested: bool
    data: Verdict | None = None


def gather(
    policy: Project,
    root: Path,
    judged: Path,
    trees: list[CommitTree],
    notify: Notify = silent,
) -> Evidence:
    """The evidence for judging the materialized commit ``judged`` by ``policy``.

    ``root`` is the project folder the gate runs in (where a local store lives); the
    ``trees`` (head and base) are checked for stores committed to git; ``notify`` is
    told when MLflow is asked."""
    attested = policy.evidence == "self-attested"
    data = _remote(policy, root, judged, trees, attested)
    uri = policy.mlflow.tracking_uri
    committed = _committed(project_path(uri), trees)
    if committed:
        problem = (
            f"the MLflow store {committed} is committed to git: "
            "a store in the repository is not evidence"
        )
        return Evidence(None, "fail", problem, problem, attested, data)
    try:
        live = Mlflow(root, uri, notify)
        return Evidence(
            live, "pass", "", f"verified against MLflow at {strip_userinfo(uri)}", attested, data
        )
    except UnreachableError as err:
        problem = str(err)
    recorded = record.read(judged)
    if attested and recorded is not None:
        recorded.kind = f"{SELF_ATTESTED} {record.EVIDENCE_FILE}, not verified"
        summary = (
            f"{SELF_ATTESTED}: MLflow not reachable ({problem}); the runs, versions and "
            f"aliases are the author's copy in {record.EVIDENCE_FILE} (platform.evidence: "
            "self-attested)"
        )
        return Evidence(recorded, "pass", "", summary, attested, data)
    local = project_path(uri) is not None
    status: Status = "unverified" if local else "unreachable"
    if local:
        problem += (
            f": the MLflow store is on the author's machine and {record.EVIDENCE_FILE} is not "
            "proof; point platform.mlflow.tracking_uri at a server CI can reach"
        )
    return Evidence(None, status, problem, f"MLflow {status}: {problem}", attested, data)


def _remote(
    policy: Project, root: Path, judged: Path, trees: list[CommitTree], attested: bool
) -> Verdict | None:
    """Make ``judged`` a DVC project that knows only the policy's remote; the verdict
    for every dataset when that remote cannot be asked at all, else None."""
    name, url = policy.dvc_remote
    local = project_path(url) if "://" not in url else None
    shown_url = url
    if local is not None:
        committed = _committed(local, trees)
        if committed:
            return Verdict(
                "fail",
                f"the DVC remote {committed} is committed to git: "
                "a remote in the repository is not evidence",
            )
        folder = (root / local).resolve()
        url = str(folder)
        if not folder.is_dir():
            if attested:
                return Verdict(
                    "pass",
                    f"{SELF_ATTESTED}: tracked and locked; the DVC remote folder "
                    f"{shown_url} is not here to check (platform.evidence: self-attested)",
                )
            return Verdict(
                "unverified",
                f"the DVC remote {shown_url} is a folder on the author's machine: "
                "point platform.dvc.remote at storage CI can reach",
            )
    elif on_disk(url) and not Path(url).is_dir():
        return Verdict(
            "pass" if attested else "unverified",
            f"the DVC remote {shown_url} is a folder that is not on this machine: CI sees it "
            "only if its runners mount the same path; point platform.dvc.remote at storage "
            "CI can reach" + (" (platform.evidence: self-attested)" if attested else ""),
        )
    try:
        dvc_evidence.configure(judged, name, url)
    except UnreachableError as err:
        return Verdict("unreachable", str(err))
    return None


def _committed(path: str | None, trees: list[CommitTree]) -> str | None:
    """``path`` when a commit holds it, something under it, or a parent of it that is
    not a folder (a symlink leading elsewhere)."""
    if path is None:
        return None
    for tree in trees:
        if tree.claims(path):
            return path
    return None
