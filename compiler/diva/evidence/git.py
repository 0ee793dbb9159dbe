"""Git evidence: the spec at any commit, and the history of its ``stage`` field."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from diva.errors import DivaError
from diva.evidence import UnreachableError
from diva.source import load_bytes
from diva.stages import parse_stage


@dataclass(frozen=True)
class StageChange:
    """A commit on the main line where the spec's stage took a new value."""

    commit: str
    date: str
    author: str
    before: int | None
    after: int


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError as err:
        raise UnreachableError(f"git is not available: {err}") from err
    if result.returncode != 0:
        raise UnreachableError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def spec_bytes_at(root: Path, ref: str, spec: str = "diva.yaml") -> bytes | None:
    """The spec file at ``ref``, or None when it did not exist there."""
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    try:
        result = subprocess.run(
            ["git", "show", f"{ref}:{prefix}{spec}"], cwd=root, capture_output=True, check=False
        )
    except OSError as err:
        raise UnreachableError(f"git is not available: {err}") from err
    if result.returncode != 0:
        _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}")  # unknown ref -> UnreachableError
        return None
    return result.stdout


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
    log = _git(
        root, "log", "--first-parent", "--reverse", "--format=%H%x1f%aI%x1f%an", ref, "--", spec
    )
    changes: list[StageChange] = []
    current: int | None = None
    for line in log.splitlines():
        commit, date, author = line.split("\x1f")
        after = stage_of(spec_bytes_at(root, commit, spec))
        if after is None or after == current:
            continue
        changes.append(StageChange(commit, date, author, current, after))
        current = after
    return changes


def cycles(history: list[StageChange]) -> dict[int, int]:
    """How many times each stage was entered (each entry is one cycle of that stage)."""
    counts: dict[int, int] = {}
    for change in history:
        counts[change.after] = counts.get(change.after, 0) + 1
    return counts
