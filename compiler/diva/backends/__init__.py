"""Backends: pure functions from the normalized project to generated files.

Each backend is one module with an ``emit(project) -> list[Artifact]`` function and the
first DIVA stage from which it contributes; :data:`BACKENDS` registers them by name.
Backends do no I/O, read no clock and no environment: the same project always gives the
same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diva.backends import card, dvc, github, mlflow
from diva.ir import Project
from diva.render import Artifact

Emit = Callable[[Project], list[Artifact]]


@dataclass(frozen=True)
class Backend:
    name: str
    first_stage: int
    emit: Emit
    summary: str


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend("card", 0, card.emit, "generated/stage.md: the stage card"),
        Backend(
            "github",
            0,
            github.emit,
            "CODEOWNERS, pull request template, ruleset, gate and pipeline workflows",
        ),
        Backend("dvc", 2, dvc.emit, "dvc.yaml and params.yaml: the pipeline"),
        Backend("mlflow", 2, mlflow.emit, "MLflow configuration and MLproject"),
    )
}


def emit_all(project: Project) -> list[Artifact]:
    """Every file the project's current stage produces, sorted by path."""
    artifacts = [
        artifact
        for backend in BACKENDS.values()
        if project.stage >= backend.first_stage
        for artifact in backend.emit(project)
    ]
    paths = [artifact.path for artifact in artifacts]
    duplicates = {path for path in paths if paths.count(path) > 1}
    if duplicates:  # a programming error in the backends, not a user error
        raise RuntimeError(f"several backends generate {sorted(duplicates)}")
    return sorted(artifacts, key=lambda artifact: artifact.path)
