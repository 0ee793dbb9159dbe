"""MLflow aliases moved to the pinned releases: ``champion`` for production.

:func:`move_aliases` points each environment's MLflow alias at its pinned version: the
last environment (production) carries ``champion`` (``monitoring.champion``), every other
environment an alias of its own name. Run by the release workflow after the merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from diva.compiler.pipeline import load_project
from diva.errors import UnavailableError, UsageError
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.releases import ReleaseError, alias_for, pinned

#: Aliases MLflow keeps for itself: ``latest`` and version-like names.
_RESERVED_ALIAS = re.compile(r"latest|[vV]\d+")


class ReleaseUnavailable(UnavailableError):  # noqa: N818 - reads as what happened
    """MLflow cannot be reached."""


@dataclass(frozen=True)
class Moved:
    environment: str
    alias: str
    before: str | None
    version: str


class Registry(Mlflow):
    """The MLflow adapter, allowed to move an alias."""

    def set_alias(self, model: str, alias: str, version: str) -> None:
        try:
            self._client.set_registered_model_alias(model, alias, version)
        except Exception as err:
            raise self.unreachable(err) from err


def move_aliases(root: Path, spec_file: str, environments: list[str]) -> list[Moved]:
    """Point each environment's alias at its pinned version (every environment with a
    release when none is named). Every version is checked before any alias moves."""
    spec, project = load_project(root, spec_file)
    releases = project.serving.releases if project.serving else {}
    if not releases and not environments:
        return []
    wanted = [
        (env, alias_for(spec, env), str(release.model_version))
        for env, release in pinned(project, environments).items()
    ]
    for _, alias, _ in wanted:
        if _RESERVED_ALIAS.fullmatch(alias):
            raise UsageError(f"MLflow reserves the alias {alias!r}: rename the environment")
    assert project.model is not None  # pinned() said so
    try:
        return _move(
            Registry(root, project.mlflow.tracking_uri), project.model.registered_name, wanted
        )
    except UnreachableError as err:
        raise ReleaseUnavailable(str(err)) from err


def _move(registry: Registry, model: str, wanted: list[tuple[str, str, str]]) -> list[Moved]:
    missing = [
        version for _, _, version in wanted if registry.run_of_version(model, version) is None
    ]
    if missing:
        raise ReleaseError(
            f"model {model} has no version {', '.join(sorted(set(missing)))} in MLflow"
        )
    moved = []
    for environment, alias, version in wanted:
        before = registry.alias(model, alias)
        if before != version:
            registry.set_alias(model, alias, version)
        moved.append(Moved(environment, alias, before, version))
    return moved
