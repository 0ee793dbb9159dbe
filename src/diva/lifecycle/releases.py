"""Releases: what each environment runs (docs/release.md), read from the spec.

``serving.releases.<env>`` pins the registered MLflow model version an environment
serves and, once the release workflow pushed it, the serving image's digest; the
kubernetes backend renders each environment's overlay from it. This module is the pure
model of that: which environment is production, the alias each runs, the releases a spec
text declares and which changed, and :func:`show` (what the release workflow reads).
Changing a release is a proposal: :mod:`diva.lifecycle.proposals.pin` and
:mod:`diva.lifecycle.proposals.aliases`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from diva.compiler.ir import Project, Release
from diva.compiler.pipeline import load_project
from diva.compiler.spec.model import Spec
from diva.errors import DivaError, UsageError, did_you_mean
from diva.lifecycle.evidence.git import facts_of

DEFAULT_CHAMPION = "champion"


class ReleaseError(DivaError):
    """A release that cannot be made: no such model version, nothing to change."""


def production(project: Project) -> str:
    """The last environment in promotion order: the one whose version is the champion."""
    return project.environments[-1]


def alias_for(spec: Spec, environment: str) -> str:
    """The MLflow alias of the version ``environment`` runs."""
    if environment == spec.platform.environments[-1]:
        return spec.monitoring.champion if spec.monitoring else DEFAULT_CHAMPION
    return environment


def releases_in(raw: bytes | None) -> dict[str, Release]:
    """The releases a spec text declares, read leniently (for the base of a pull request,
    which may be invalid or older); what cannot be read counts as no release."""
    return {
        environment: Release(pin.model_version, pin.image_digest)
        for environment, pin in facts_of(raw)[1].items()
    }


def changed(before: Mapping[str, Release], after: Mapping[str, Release]) -> list[str]:
    """Environments whose release is new or different (removed ones need no check)."""
    return [
        environment for environment, release in after.items() if before.get(environment) != release
    ]


def pinned(project: Project, environments: list[str]) -> dict[str, Release]:
    """The releases of ``environments`` (every one that pins a release when none is
    named); a usage error for an unknown environment, one that pins nothing, or a spec
    without the model the releases are versions of."""
    releases = project.serving.releases if project.serving else {}
    for environment in environments:
        checked_environment(project, environment)
        if environment not in releases:
            raise UsageError(f"{environment} pins no release (serving.releases.{environment})")
    if project.model is None:
        raise UsageError("the spec has no model section: there is no registered model")
    return {env: releases[env] for env in environments or releases}


def checked_environment(project: Project, environment: str) -> str:
    if environment not in project.environments:
        known = ", ".join(project.environments)
        hint = did_you_mean(environment, project.environments)
        raise UsageError(f"{environment!r} is not in platform.environments ({known}){hint}")
    if project.serving is None:
        raise UsageError("the spec has no serving section: releases come with stage 4")
    return environment


def show(root: Path, spec_file: str, environment: str) -> list[tuple[str, str]]:
    """``key=value`` facts of an environment's release, for the release workflow
    (``$GITHUB_OUTPUT``) and for people."""
    spec, project = load_project(root, spec_file)
    checked_environment(project, environment)
    assert project.serving is not None
    release = project.serving.releases.get(environment)
    version = str(release.model_version) if release else ""
    digest = (release.image_digest if release else None) or ""
    repository = project.image_repository("serve")
    image = f"{repository}@{digest}" if digest else f"{repository}:v{version}" if version else ""
    return [
        ("environment", environment),
        ("alias", alias_for(spec, environment)),
        ("model_version", version),
        ("image_digest", digest),
        ("image", image),
        ("needs_image", "true" if release and not digest else "false"),
    ]
