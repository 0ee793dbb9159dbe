"""What a checkpoint reads and what it says: the :class:`Context` and the :class:`Verdict`.

A verdict's status is ``pass``, ``fail``, ``unreachable`` (a source that cannot be read)
or ``unverified`` (evidence that only the author's evidence file holds); only ``pass``
and ``warn`` (holds, with something to say) pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from diva.compiler.ir import Project
from diva.compiler.spec.model import Spec
from diva.lifecycle.evidence.mlflow import Run
from diva.progress import Notify, silent

Status = Literal["pass", "warn", "fail", "unreachable", "unverified"]


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str


class RunSource(Protocol):
    kind: str

    def runs(self, project: str) -> list[Run]: ...
    def version_of_run(self, model: str, run_id: str) -> str | None: ...
    def alias(self, model: str, alias: str) -> str | None: ...
    def run_of_version(self, model: str, version: str) -> str | None: ...
    def run(self, run_id: str) -> Run | None: ...


@dataclass
class Context:
    """What evaluators may read. ``runs`` is None when no MLflow evidence can be read;
    then ``runs_status`` says why (``unreachable`` or ``unverified``). ``data`` is the
    verdict for every dataset when the DVC remote cannot be asked at all. ``attested``:
    the policy believes the evidence file where nothing else can be asked. ``notify``
    is told each slow step an evaluator starts (a dataset asked of the DVC remote, an
    image of its registry)."""

    spec: Spec
    project: Project
    root: Path
    cycles: dict[int, int]
    runs: RunSource | None
    runs_problem: str = ""
    runs_status: Status = "unreachable"
    data: Verdict | None = None
    attested: bool = False
    notify: Notify = silent
