"""Backends: pure functions from the normalized project to generated files.

Each backend is one module with an ``emit(project) -> list[Artifact]`` function and the
first DIVA stage from which it contributes; :data:`BACKENDS` registers them by name.
Backends do no I/O, read no clock and no environment: the same project always gives the
same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diva.compiler.backends import (
    alerts,
    card,
    docker,
    dvc,
    dvc_config,
    github,
    kubernetes,
    mlflow,
    package,
)
from diva.compiler.ir import Project
from diva.compiler.render import Artifact

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
            "CODEOWNERS, pull request template, ruleset; gate, pipeline, release and monitoring "
            "workflows",
        ),
        Backend(
            "dvc-config",
            0,
            dvc_config.emit,
            ".dvc/config and .dvc/.gitignore: the DVC remote of platform.dvc",
        ),
        Backend("dvc", 2, dvc.emit, "dvc.yaml and params.yaml: the pipeline"),
        Backend("mlflow", 2, mlflow.emit, "MLflow configuration and MLproject"),
        Backend(
            "docker",
            3,
            docker.emit,
            "training (stage 3) and serving (stage 4) Dockerfiles on the standardized base",
        ),
        Backend(
            "kubernetes",
            3,
            kubernetes.emit,
            "training Job (stage 3); serving manifests per pattern, kustomize base and "
            "overlays per environment (stage 4)",
        ),
        Backend("alerts", 4, alerts.emit, "PrometheusRule: alerts derived from the SLOs"),
        Backend("package", 4, package.emit, "model-as-dependency: a Python package of the model"),
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
