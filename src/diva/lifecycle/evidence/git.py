"""Git evidence: the spec at any commit, and the history of its ``stage`` field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    if raw is None:
        return None
    try:
        return parse_stage(load_bytes(raw).data.get("stage")).number
    except (DivaError, ValueError):
        return None


def stage_history(root: Path, ref: str = "HEAD", spec: str = "diva.yaml") -> list[StageChange]:
    """Every change of the stage along the first-parent line of ``ref``, oldest first."""
    log = git(
        root,
        *("log", "--first-parent", "--reverse", "--format=%H%x1f%aI%x1f%an"),
        *(END_OF_OPTIONS, ref, "--", spec),
    )
    entries = [line.split("\x1f") for line in log.splitlines()]
    prefix = git(root, "rev-parse", "--show-prefix").strip()
    texts = blobs(root, [f"{commit}:{prefix}{spec}" for commit, _, _ in entries])
    stages: dict[bytes | None, int | None] = {}  # many commits share a spec text's stage
    changes: list[StageChange] = []
    current: int | None = None
    for (commit, date, author), raw in zip(entries, texts, strict=True):
        if raw not in stages:
            stages[raw] = stage_of(raw)
        after = stages[raw]
        if after is None or after == current:
            continue
        changes.append(StageChange(commit, date, author, current, after))
        current = after
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
