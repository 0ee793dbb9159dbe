"""Pinning a release: ``serving.releases.<env>`` edited in place and proposed by pull request.

:func:`pin` edits one environment's release in ``diva.yaml`` (comments and formatting
kept), recompiles, records the pinned image in the evidence file, and with a
:class:`~diva.lifecycle.proposals.pull_request.Proposal` proposes it all by pull request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from diva.compiler.ir import Project, Release
from diva.compiler.pipeline import load_project
from diva.compiler.spec.types import DIGEST
from diva.errors import UsageError
from diva.lifecycle.evidence import record
from diva.lifecycle.evidence.record import recorded_serving
from diva.lifecycle.proposals.pull_request import (
    Outcome,
    Proposal,
    capture_evidence,
    compile_spec,
    propose,
    require_clean,
)
from diva.lifecycle.proposals.spec_edit import scalar_text, set_scalar
from diva.lifecycle.releases import ReleaseError


@dataclass(frozen=True)
class Pinned:
    """An environment's new release and where its values came from."""

    environment: str
    model_version: int
    image_digest: str | None
    notes: tuple[str, ...] = ()


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
    _, project = load_project(root, spec_file)

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
