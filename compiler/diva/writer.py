"""Writing generated files safely: plan first, refuse to clobber, write atomically.

The writer compares what the backends produced with what is on disk and with the lock
file (``diva.lock``), which records every generated path and its sha256. Per file it
decides ``create``, ``update``, ``identical``, ``delete`` or ``conflict``:

* a file that diva generated and nobody touched since is updated or deleted freely;
* a generated file edited by hand, or a file diva never generated standing where a
  generated file goes, is a conflict: nothing at all is written unless ``force``;
* a generated file that was deleted is simply created again.

Writing is crash-safe: each file is replaced atomically, and before the first file
changes the lock already accepts both the old and the new content of every file, so a
run killed half-way leaves each file old or new and the next run repairs the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from diva.errors import DivaError
from diva.layout import LOCK_FILE
from diva.render import Artifact

EXIT_CONFLICT = 3

Action = Literal["create", "update", "identical", "delete", "conflict"]


class WriteError(DivaError):
    """A file could not be written; the old content (if any) is untouched."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: cannot write: {reason}")


class ConflictError(DivaError):
    """Writing would destroy files diva does not own; nothing was written."""

    exit_code = EXIT_CONFLICT

    def __init__(self, conflicts: list[Change]) -> None:
        self.conflicts = conflicts
        lines = [f"  {change.path}: {change.reason}" for change in conflicts]
        super().__init__(
            "refusing to overwrite, nothing was written:\n"
            + "\n".join(lines)
            + "\nmove the edits into diva.yaml, or run again with --force to overwrite"
        )


class UnsafePathError(DivaError):
    """A target path would leave the output root; never written, even with --force."""

    exit_code = EXIT_CONFLICT


@dataclass(frozen=True)
class Change:
    path: str
    action: Action
    old: str | None = None
    new: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    root: Path
    changes: tuple[Change, ...]
    lock_text: str
    lock_current: str | None
    meta: Mapping[str, object] = field(default_factory=dict)
    old_hashes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[Change]:
        return [change for change in self.changes if change.action == "conflict"]

    @property
    def pending(self) -> list[Change]:
        """Changes that would touch the disk."""
        return [change for change in self.changes if change.action != "identical"]

    @property
    def drifted(self) -> bool:
        return bool(self.pending) or self.lock_text != self.lock_current


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_text(files: Mapping[str, str | list[str]], meta: Mapping[str, object]) -> str:
    document = {
        "$comment": "Written by `diva compile`: generated files and their sha256. Do not edit.",
        **meta,
        "files": dict(sorted(files.items())),
    }
    return json.dumps(document, indent=2) + "\n"


def read_lock(root: Path) -> dict[str, tuple[str, ...]]:
    """Path -> accepted hashes from the lock file (empty when there is none)."""
    path = root / LOCK_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        files = document["files"]
        return {
            str(name): tuple(value) if isinstance(value, list) else (str(value),)
            for name, value in files.items()
        }
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DivaError(f"{path}: not a diva lock file; delete it and compile again") from err


def plan(root: Path, artifacts: list[Artifact], meta: Mapping[str, object]) -> Plan:
    """What writing ``artifacts`` under ``root`` would do; touches nothing."""
    lock = read_lock(root)
    changes = [_decide(root, artifact, lock.get(artifact.path)) for artifact in artifacts]
    produced = {artifact.path for artifact in artifacts}
    changes += [
        change
        for path, hashes in sorted(lock.items())
        if path not in produced and (change := _stale(root, path, hashes)) is not None
    ]
    files = {artifact.path: sha256(artifact.text) for artifact in artifacts}
    current = _read(root / LOCK_FILE)
    return Plan(root, tuple(changes), lock_text(files, meta), current, meta, lock)


def _decide(root: Path, artifact: Artifact, hashes: tuple[str, ...] | None) -> Change:
    target = _target(root, artifact.path)
    if target.is_symlink():
        return Change(artifact.path, "conflict", None, artifact.text, "is a symbolic link")
    if target.is_dir():
        raise UnsafePathError(f"{target}: is a directory where diva generates a file")
    current = _read(target)
    if current == artifact.text:
        return Change(artifact.path, "identical", current, artifact.text)
    if current is None:
        return Change(artifact.path, "create", None, artifact.text)
    if hashes is None:
        reason = "exists and was not generated by diva"
        return Change(artifact.path, "conflict", current, artifact.text, reason)
    if sha256(current) not in hashes:
        reason = "was edited by hand since diva generated it"
        return Change(artifact.path, "conflict", current, artifact.text, reason)
    return Change(artifact.path, "update", current, artifact.text)


def _stale(root: Path, path: str, hashes: tuple[str, ...]) -> Change | None:
    """A file diva generated before but no longer produces."""
    current = _read(_target(root, path))
    if current is None:
        return None
    if sha256(current) in hashes:
        return Change(path, "delete", current, None)
    return Change(path, "conflict", current, None, "was edited by hand and is no longer generated")


def _target(root: Path, relative: str) -> Path:
    """The file for ``relative``, refusing anything that would leave ``root``."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise UnsafePathError(f"{relative}: generated paths must stay inside {root}")
    target = root / pure
    try:
        inside = target.parent.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError) as err:  # a symlink loop on the way
        raise UnsafePathError(f"{target}: cannot resolve the path: {err}") from err
    if not inside:
        raise UnsafePathError(f"{target}: a symbolic link leads out of {root}; refusing to write")
    for folder in pure.parents:
        blocker = root / folder
        if folder.parts and blocker.exists() and not blocker.is_dir():
            raise UnsafePathError(f"{blocker}: is a file where diva needs a folder")
    return target


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except UnicodeDecodeError:
        return "\0binary"  # never equal to generated text, so it counts as foreign


def apply(plan: Plan, *, force: bool = False) -> None:
    """Carry out ``plan``; :class:`ConflictError` (nothing written) on conflicts."""
    if plan.conflicts and not force:
        raise ConflictError(plan.conflicts)
    if not plan.drifted:
        return
    root = plan.root
    root.mkdir(parents=True, exist_ok=True)
    # First accept old and new content alike, so that a crash mid-way stays consistent.
    transition: dict[str, str | list[str]] = {
        path: list(hashes) for path, hashes in plan.old_hashes.items()
    }
    for change in plan.pending:
        if change.new is not None:
            accepted = set(transition.get(change.path, [])) | {sha256(change.new)}
            transition[change.path] = sorted(accepted)
    write_text_atomic(root / LOCK_FILE, lock_text(transition, plan.meta))
    for change in plan.pending:
        _carry_out(root, change)
    write_text_atomic(root / LOCK_FILE, plan.lock_text)


def _carry_out(root: Path, change: Change) -> None:
    target = root / change.path
    if change.action in ("create", "update", "conflict") and change.new is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        write_text_atomic(target, change.new)
    elif change.action == "delete":
        target.unlink(missing_ok=True)
        _prune_empty_parents(root, target.parent)
    # a "conflict" without new text under --force is an edited stale file: keep it


def _prune_empty_parents(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file, fsync, rename).

    The file gets the mode of the file it replaces, or the usual mode of a new file
    (0666 less the umask) — not mkstemp's private 0600.
    """
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise WriteError(path, err.strerror or str(err)) from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), _mode_for(path))
            os.fsync(stream.fileno())
        Path(temp).replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise WriteError(path, err.strerror or str(err)) from err


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
