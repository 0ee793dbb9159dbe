"""A folder's files as data, to compare whole trees of compile outputs."""

from __future__ import annotations

from pathlib import Path


def tree(root: Path, *, skip: frozenset[str] = frozenset()) -> dict[str, bytes]:
    """Every file under ``root`` by its POSIX relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() not in skip
    }
