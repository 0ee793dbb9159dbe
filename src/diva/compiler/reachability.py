"""Warnings, not errors: stores the generated CI gate can never read.

From stage 2 the gate's checkpoints are about data pushed to the DVC remote and runs in
MLflow, and with ``platform.evidence: verified`` (the default) the gate believes only
what it reads there itself. A remote folder or an MLflow store inside the project folder
(the scaffold's defaults, right for one laptop) is on the author's machine: the gate
in CI never sees it, so those checkpoints can only ever be ``unverified``. A folder or
SQLite file outside the project is seen only by runners that mount the same path.
``diva validate`` says so (exit 0; ``--strict`` makes it 1) with the line and column of
the setting; the spec is valid all the same — a project may well be at stage 2 on one
machine before the team's services exist.
"""

from __future__ import annotations

from diva.compiler.source import Document, PathKey
from diva.compiler.spec.model import Spec
from diva.errors import Issue
from diva.stores import on_disk, project_path

#: From this stage the gate checks evidence in the DVC remote and in MLflow.
FIRST_STAGE = 2
_DVC_URL: PathKey = ("platform", "dvc", "remote", "url")
_TRACKING_URI: PathKey = ("platform", "mlflow", "tracking_uri")
_WAY_OUT = (
    "; or, for a project without shared services, set platform.evidence: self-attested "
    "(docs/running-on-github.md)"
)


def warnings(spec: Spec, doc: Document) -> list[Issue]:
    """A warning for each store the gate in CI cannot read, located at its setting (or
    at ``stage`` when the setting is the default)."""
    if spec.stage < FIRST_STAGE or spec.platform.evidence != "verified":
        return []
    found = []
    remote = spec.platform.dvc.remote.url
    if on_disk(remote):
        found.append(_warning(doc, _DVC_URL, _remote_problem(remote)))
    uri = spec.platform.mlflow.tracking_uri
    if on_disk(uri):
        found.append(_warning(doc, _TRACKING_URI, _tracking_problem(uri)))
    return found


def _remote_problem(url: str) -> str:
    where = (
        "a folder on the author's machine"
        if project_path(url) is not None
        else "a folder that CI sees only if its runners mount the same path"
    )
    return (
        f"the DVC remote {url} is {where}: the CI gate cannot check that data is pushed, so "
        "the data checkpoints stay unverified; point platform.dvc.remote.url at storage CI "
        "can reach (s3://, gs://, azure://, ssh://, webdav(s)://, http(s)://)" + _WAY_OUT
    )


def _tracking_problem(uri: str) -> str:
    where = (
        "a store on the author's machine"
        if project_path(uri) is not None
        else "a store that CI sees only if its runners mount the same path"
    )
    return (
        f"the MLflow store {uri} is {where}: the CI gate cannot read its runs, so the "
        "MLflow checkpoints stay unverified; point platform.mlflow.tracking_uri at a "
        "tracking server CI can reach (http(s)://...)" + _WAY_OUT
    )


def _warning(doc: Document, path: PathKey, message: str) -> Issue:
    shown = path if _present(doc, path) else ("stage",)
    issue = doc.issue(shown, message, at_value=shown == path)
    return Issue(issue.file, issue.line, issue.column, path, message, severity="warning")


def _present(doc: Document, path: PathKey) -> bool:
    return path in doc.values or path in doc.keys
