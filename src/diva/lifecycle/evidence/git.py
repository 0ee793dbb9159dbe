"""Git evidence: the spec at any commit, and the history of its ``stage`` field."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diva import tools
from diva.compiler.source import load_bytes
from diva.errors import DivaError
from diva.lifecycle.evidence import UnreachableError
from diva.stages import parse_stage


@dataclass(frozen=True)
class StageChange:
    """A commit on the main line where the spec's stage took a new value."""

    commit: str
    date: str
    author: str
    before: int | None
    after: int


#: Everything after it is a revision or a path, never an option, even when it starts with
#: '-' (``--output=FILE`` would make git write a file): git 2.24 and later.
END_OF_OPTIONS = "--end-of-options"


def git(root: Path, *args: str, check: bool = True) -> str:
    """``git ARGS`` in ``root``; a failure (with ``check``) is :class:`UnreachableError`."""
    return tools.run(["git", *args], cwd=root, error=UnreachableError, check=check).stdout


def stage_of(raw: bytes | None) -> int | None:
    """The stage a spec text declares, or None when it has none that can be read."""
    return facts_of(raw)[0]


@dataclass(frozen=True)
class Pin:
    """What a spec text pins for one environment (``serving.releases.<env>``)."""

    model_version: int
    image_digest: str | None


def pins_in(data: Mapping[str, Any]) -> dict[str, Pin]:
    """The releases a spec's data pins, read leniently: what is not a release is none."""
    serving = data.get("serving")
    entries = serving.get("releases") if isinstance(serving, dict) else None
    found = {}
    for environment, entry in entries.items() if isinstance(entries, dict) else ():
        if isinstance(entry, dict) and type(entry.get("model_version")) is int:
            digest = entry.get("image_digest")
            found[str(environment)] = Pin(entry["model_version"], digest and str(digest))
    return found


def facts_of(raw: bytes | None) -> tuple[int | None, dict[str, Pin]]:
    """The stage and the release pins of a spec text, in one parse; what cannot be
    read counts as none (a base or an old commit may hold an invalid spec)."""
    if raw is None:
        return None, {}
    try:
        data = load_bytes(raw).data
    except DivaError:
        return None, {}
    try:
        stage: int | None = parse_stage(data.get("stage")).number
    except ValueError:
        stage = None
    return stage, pins_in(data)


#: A top-level key of a block-style mapping, at column 0.
_TOP_KEY = re.compile(rb"[A-Za-z_][A-Za-z0-9_-]*[ \t]*:(?:[ \t]|$)")


def facts_slice(raw: bytes) -> bytes | None:
    """The ``stage`` and ``serving`` sections of a block-style spec text, the only
    part :func:`facts_of` reads: versions that differ elsewhere share it, so a long
    history parses each distinct slice once. None when the text is not plainly block
    style at the top (a flow mapping, a document marker, a quoted or repeated key):
    then the whole text is read."""
    sections: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in raw.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t", b"\n", b"\r", b"#") or not line.strip():
            if current is not None:
                current.append(line)
            continue
        match = _TOP_KEY.match(line)
        if match is None:
            return None
        key = line.split(b":", 1)[0].strip()
        if key in sections:
            return None
        current = sections[key] = [line]
    return b"".join(b"".join(sections.get(key, [])) for key in (b"stage", b"serving"))


@dataclass(frozen=True)
class Version:
    """The spec at one commit of the first-parent line: who, when, and what it says."""

    commit: str
    #: ISO 8601 dates: written (the author's) and landed (the committer's: a merge's)
    authored: str
    committed: str
    author: str
    stage: int | None
    pins: dict[str, Pin]


def versions(root: Path, ref: str = "HEAD", spec: str = "diva.yaml") -> list[Version]:
    """Every version of the spec along the first-parent line of ``ref``, oldest first:
    one ``git log`` and one ``git cat-file --batch``, and one parse per distinct
    ``stage``/``serving`` slice (:func:`facts_slice`)."""
    log = git(
        root,
        *("log", "--first-parent", "--reverse", "--format=%H%x1f%aI%x1f%cI%x1f%an"),
        *(END_OF_OPTIONS, ref, "--", spec),
    )
    entries = [line.split("\x1f") for line in log.splitlines()]
    prefix = git(root, "rev-parse", "--show-prefix").strip()
    texts = blobs(root, [f"{commit}:{prefix}{spec}" for commit, *_ in entries])
    read: dict[bytes | None, tuple[int | None, dict[str, Pin]]] = {}
    found = []
    for (commit, authored, committed, author), raw in zip(entries, texts, strict=True):
        part = facts_slice(raw) if raw is not None else None
        key = raw if part is None else part
        if key not in read:  # many versions share their stage and serving sections
            read[key] = facts_of(key)
        found.append(Version(commit, authored, committed, author, *read[key]))
    return found


def stage_history(root: Path, ref: str = "HEAD", spec: str = "diva.yaml") -> list[StageChange]:
    """Every change of the stage along the first-parent line of ``ref``, oldest first."""
    changes: list[StageChange] = []
    current: int | None = None
    for version in versions(root, ref, spec):
        if version.stage is None or version.stage == current:
            continue
        changes.append(
            StageChange(version.commit, version.authored, version.author, current, version.stage)
        )
        current = version.stage
    return changes


def blobs(root: Path, objects: list[str]) -> list[bytes | None]:
    """The contents of objects (``COMMIT:PATH`` names or blob ids) through one
    ``git cat-file --batch`` (None where there is no such object): one process, however
    many objects."""
    if not objects:
        return []
    result = tools.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        error=UnreachableError,
        check=False,
        text=False,
        input="".join(f"{name}\n" for name in objects).encode("utf-8"),
    )
    if result.returncode != 0:
        raise UnreachableError(f"git cat-file: {result.stderr.decode(errors='replace').strip()}")
    return list(_batch_answers(result.stdout, len(objects)))


def _batch_answers(output: bytes, count: int) -> Iterator[bytes | None]:
    """Parse ``git cat-file --batch`` output: ``<oid> <type> <size>\n<content>\n`` per
    object, or ``<name> missing\n``."""
    position = 0
    for _ in range(count):
        end = output.index(b"\n", position)
        header = output[position:end].split(b" ")
        position = end + 1
        if header[-1] == b"missing" or len(header) != 3:
            yield None
            continue
        size = int(header[2])
        yield output[position : position + size]
        position += size + 1


def cycles(history: list[StageChange]) -> dict[int, int]:
    """How many times each stage was entered (each entry is one cycle of that stage)."""
    counts: dict[int, int] = {}
    for change in history:
        counts[change.after] = counts.get(change.after, 0) + 1
    return counts
