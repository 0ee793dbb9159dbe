"""Releases: what each environment runs, changed by pull request (docs/release.md).

``serving.releases.<env>`` pins the registered MLflow model version an environment
serves and, once the release workflow pushed it, the serving image's digest; the
kubernetes backend renders each environment's overlay from it. Here:

* :func:`pin` edits one environment's release in ``diva.yaml`` in place (comments and
  formatting kept), recompiles, records the pinned image in the evidence file, and with
  a :class:`~diva.lifecycle.proposals.pull_request.Proposal` proposes it all by pull request;
* :func:`move_aliases` points each environment's MLflow alias at its pinned version:
  the last environment (production) carries ``champion`` (``monitoring.champion``),
  every other environment an alias of its own name;
* :func:`show` is what the release workflow reads from the spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diva.compiler.ir import Project, Release, build
from diva.compiler.spec.model import Spec
from diva.compiler.spec.types import DIGEST
from diva.compiler.validate import load_spec
from diva.errors import EXIT_UNAVAILABLE, DivaError, UsageError, did_you_mean
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.proposals.pull_request import (
    Outcome,
    Proposal,
    capture_evidence,
    compile_spec,
    propose,
    require_clean,
)
from diva.lifecycle.proposals.spec_edit import scalar_text, set_scalar

DEFAULT_CHAMPION = "champion"
#: Aliases MLflow keeps for itself: ``latest`` and version-like names.
_RESERVED_ALIAS = re.compile(r"latest|[vV]\d+")


class ReleaseError(DivaError):
    """A release that cannot be made: no such model version, nothing to change."""


class ReleaseUnavailable(DivaError):  # noqa: N818 - reads as what happened
    """MLflow cannot be reached."""

    exit_code = EXIT_UNAVAILABLE


@dataclass(frozen=True)
class Pinned:
    """An environment's new release and where its values came from."""

    environment: str
    model_version: int
    image_digest: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Moved:
    environment: str
    alias: str
    before: str | None
    version: str


# --- reading the spec ----------------------------------------------------------------


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
    from diva.compiler.source import load_bytes

    try:
        data = load_bytes(raw).data if raw is not None else {}
    except DivaError:
        return {}
    entries = (data.get("serving") or {}).get("releases") or {}
    found = {}
    for environment, entry in entries.items() if isinstance(entries, dict) else ():
        if isinstance(entry, dict) and isinstance(entry.get("model_version"), int):
            digest = entry.get("image_digest")
            found[str(environment)] = Release(entry["model_version"], digest and str(digest))
    return found


def changed(before: Mapping[str, Release], after: Mapping[str, Release]) -> list[str]:
    """Environments whose release is new or different (removed ones need no check)."""
    return [
        environment for environment, release in after.items() if before.get(environment) != release
    ]


def load(root: Path, spec_file: str) -> tuple[Spec, Project]:
    path = root / spec_file
    spec = load_spec(path)
    return spec, build(spec, path.read_bytes(), spec_file)


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
    spec, project = load(root, spec_file)
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


# --- pinning a release -----------------------------------------------------------------


def resolve(
    root: Path, project: Project, environment: str, version: int | None, digest: str | None
) -> Pinned:
    """The release to pin: the options given, else what is known for them — the version
    of the previous environment (a promotion), and a digest already pushed for that
    version (by the previous environment, or recorded by ``diva build serve --push``)."""
    assert project.serving is not None
    releases = project.serving.releases
    index = project.environments.index(environment)
    previous = project.environments[index - 1] if index else None
    earlier = releases.get(previous) if previous else None
    notes = []
    if version is None:
        if earlier is None:
            where = f"{previous} pins no release" if previous else "it is the first environment"
            raise UsageError(f"pass --model-version N for {environment} ({where})")
        version = earlier.model_version
        notes.append(f"model version {version} from the {previous} release")
    if digest is None:
        digest, note = _known_digest(root, project, version, previous, earlier)
        notes += [note] if note else []
    elif re.fullmatch(DIGEST, digest) is None:
        raise UsageError(f"{digest!r} is not an image digest (sha256:<64 lowercase hex digits>)")
    return Pinned(environment, version, digest, tuple(notes))


def _known_digest(
    root: Path, project: Project, version: int, previous: str | None, earlier: Release | None
) -> tuple[str | None, str | None]:
    if earlier is not None and earlier.model_version == version and earlier.image_digest:
        return earlier.image_digest, f"image digest from the {previous} release"
    serving = recorded_serving(root)
    if serving.get("digest") and str(serving.get("model_version")) == str(version):
        return str(serving["digest"]), f"image digest recorded in {record.EVIDENCE_FILE}"
    return None, None


def recorded_serving(root: Path) -> dict[str, Any]:
    """``images.serving`` of the evidence file (reference, digest, model_version), or {}."""
    recorded = record.read(root)
    images = (recorded.document if recorded else {}).get("images") or {}
    serving = images.get("serving") if isinstance(images, dict) else None
    return serving if isinstance(serving, dict) else {}


def pin_text(text: str, pinned: Pinned) -> str:
    """The spec text with ``serving.releases.<env>`` set, every other byte kept."""
    path = ("serving", "releases", pinned.environment)
    text = set_scalar(text, (*path, "model_version"), str(pinned.model_version))
    if pinned.image_digest is not None:
        return set_scalar(text, (*path, "image_digest"), f'"{pinned.image_digest}"')
    if scalar_text(text, (*path, "image_digest")) is not None:
        return set_scalar(text, (*path, "image_digest"), "null")
    return text


def pin(
    root: Path, spec_file: str, pinned: Pinned, proposal: Proposal | None = None
) -> Outcome | None:
    """Write the release (and with ``proposal``, propose it by pull request)."""
    spec_path = root / spec_file
    text = spec_path.read_bytes().decode("utf-8")  # keep CRLF line ends as they are
    edited = pin_text(text, pinned)
    if edited == text:
        raise ReleaseError(f"{pinned.environment} already pins this release: nothing to change")
    _, project = load(root, spec_file)

    def change() -> None:
        spec_path.write_bytes(edited.encode("utf-8"))
        compile_spec(root, spec_file)
        if proposal is not None:
            capture_evidence(root, spec_file)
        _record_image(root, project, pinned)

    if proposal is not None:
        require_clean(root)
        return propose(proposal, title(pinned), change)
    try:
        change()
    except BaseException:
        spec_path.write_bytes(text.encode("utf-8"))
        raise
    return None


def branch_name(pinned: Pinned) -> str:
    digest = f"-{pinned.image_digest[7:19]}" if pinned.image_digest else ""
    return f"diva/release-{pinned.environment}-v{pinned.model_version}{digest}"


def title(pinned: Pinned) -> str:
    image = f" (image {pinned.image_digest[:19]}…)" if pinned.image_digest else ""
    return f"Release {pinned.environment}: model version {pinned.model_version}{image}"


def _record_image(root: Path, project: Project, pinned: Pinned) -> None:
    """The pinned image becomes the recorded serving image, which the stage-5 gate
    re-verifies against the registry (and the smoke test must have run)."""
    if pinned.image_digest is None or pinned.image_digest == recorded_serving(root).get("digest"):
        return
    reference = f"{project.image_repository('serve')}:v{pinned.model_version}"
    entry = {"reference": reference, "digest": pinned.image_digest}
    record.merge(
        root, {"images": {"serving": {**entry, "model_version": str(pinned.model_version)}}}
    )


# --- MLflow aliases ------------------------------------------------------------------


class _Registry(Mlflow):
    """The MLflow adapter, allowed to move an alias."""

    def set_alias(self, model: str, alias: str, version: str) -> None:
        try:
            self._client.set_registered_model_alias(model, alias, version)
        except Exception as err:
            raise UnreachableError(f"MLflow at {self.uri}: {err}") from err


def move_aliases(root: Path, spec_file: str, environments: list[str]) -> list[Moved]:
    """Point each environment's alias at its pinned version (every environment with a
    release when none is named). Every version is checked before any alias moves."""
    spec, project = load(root, spec_file)
    releases = project.serving.releases if project.serving else {}
    for environment in environments:
        checked_environment(project, environment)
        if environment not in releases:
            raise UsageError(f"{environment} pins no release (serving.releases.{environment})")
    wanted = [
        (env, alias_for(spec, env), str(releases[env].model_version))
        for env in environments or releases
    ]
    if not wanted:
        return []
    for _, alias, _ in wanted:
        if _RESERVED_ALIAS.fullmatch(alias):
            raise UsageError(f"MLflow reserves the alias {alias!r}: rename the environment")
    if project.model is None:
        raise UsageError("the spec has no model section: there is no registered model")
    try:
        return _move(
            _Registry(root, project.mlflow.tracking_uri), project.model.registered_name, wanted
        )
    except UnreachableError as err:
        raise ReleaseUnavailable(str(err)) from err


def _move(registry: _Registry, model: str, wanted: list[tuple[str, str, str]]) -> list[Moved]:
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
