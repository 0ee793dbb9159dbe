"""Writing generated files safely: plan first, refuse to clobber, write atomically.

The writer compares what the backends produced with what is on disk and with the lock
file (``diva.lock``), which records every generated path and its sha256. Per file it
decides ``create``, ``update``, ``identical``, ``delete`` or ``conflict``:

* a file that diva generated and nobody touched since is updated or deleted freely;
* a generated file edited by hand, or a file diva never generated standing where a
  generated file goes, is a conflict: nothing at all is written unless ``force``;
* a generated file that was deleted is simply created again;
* a file diva never generated that says nothing the generated one does not (what
  ``dvc init`` writes, for ``.dvc/config``) is taken over (``Artifact.adopts``);
* a temporary file that a killed run left next to a generated file is deleted.

Writing happens in two phases, under an exclusive lock on each output folder (so two
compiles never interleave; :func:`diva.compiler.folderlock.exclusive`):

1. *stage*: the lock is replaced by one that accepts the old *and* the new content of
   every file (a copy of the old lock is kept aside), then every new file and the final
   lock are written to temporary files next to their targets and synced. No generated
   file changes yet: when a write fails (disk full, read-only or forbidden folder) the
   temporary files are removed, the old lock is put back, and the tree is as before.
2. *commit*: renames only. Each file is renamed over its target, stale files are
   deleted, and last the lock is replaced by the one that keeps only the new content.

A run killed at any point leaves every file old or new, whole, and a lock that accepts
both and names every path a temporary file can be left for; the next run deletes those
temporary files and finishes the job without ``force``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from diva.compiler.folderlock import exclusive
from diva.compiler.render import Artifact
from diva.contract import LOCK_FILE
from diva.errors import EXIT_CONFLICT, DivaError, WriteError

#: Why a leftover temporary file is deleted (also how the report shows it).
LEFTOVER = "left behind by an interrupted diva compile"
#: Why a file diva did not write is overwritten all the same (``Artifact.adopts``).
ADOPTED = "taken over: it said nothing the spec does not"
#: ``.NAME.XXXXXXXX.tmp``: the temporary files of :func:`_stage_file` (mkstemp's names).
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")

Action = Literal["create", "update", "identical", "delete", "conflict"]


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
    known = [artifact.path for artifact in artifacts] + [*lock, LOCK_FILE]
    changes += [Change(path, "delete", reason=LEFTOVER) for path in _leftovers(root, known)]
    files = {artifact.path: sha256(artifact.text) for artifact in artifacts}
    current = _read(root / LOCK_FILE)
    return Plan(root, tuple(changes), lock_text(files, meta), current, meta, lock)


def _leftovers(root: Path, known: Iterable[str]) -> list[str]:
    """Temporary files of a killed run next to ``known`` paths (``.NAME.XXXXXXXX.tmp``).

    Only a name built from a generated file's own name counts, so that nothing else in
    the folder is ever taken for diva's.
    """
    names: dict[str, set[str]] = {}
    for path in known:  # plain string operations: this runs for every spec, every time
        folder, _, name = path.rpartition("/")
        names.setdefault(folder, set()).add(name)
    found = []
    for folder, expected in names.items():
        try:
            entries = list(os.scandir(root / folder))
        except OSError:  # no such folder (yet), or not one
            continue
        found += [
            f"{folder}/{entry.name}" if folder else entry.name
            for entry in entries
            if entry.name.endswith(".tmp")
            and (match := _TEMP_NAME.match(entry.name))
            and match["name"] in expected
            and entry.is_file(follow_symlinks=False)
        ]
    return sorted(found)


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
        if artifact.adopts is not None and artifact.adopts(current):
            return Change(artifact.path, "update", current, artifact.text, ADOPTED)
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
    apply_all([plan], force=force)


def apply_all(plans: Sequence[Plan], *, force: bool = False) -> None:
    """Carry out every plan: all are staged before any file changes (module docstring).

    :class:`ConflictError` when any plan has conflicts and not ``force``;
    :class:`WriteError` when a file cannot be written, with nothing changed if staging
    failed; :class:`~diva.compiler.folderlock.BusyError` when another
    compile keeps an output folder locked.
    """
    conflicts = [change for plan in plans for change in plan.conflicts]
    if conflicts and not force:
        raise ConflictError(conflicts)
    work = [plan for plan in plans if plan.drifted]
    if not work:
        return
    with exclusive([plan.root for plan in work]):
        staged: list[_Staged] = []
        try:
            for plan in work:
                staged.append(_Staged(plan))
                staged[-1].stage()
        except BaseException as err:
            for done in reversed(staged):
                done.discard()
            if isinstance(err, WriteError):
                raise WriteError(err.path, f"{err.reason}; nothing was changed") from err
            raise
        _commit(staged)


def _commit(staged: list[_Staged]) -> None:
    for index, done in enumerate(staged):
        try:
            done.commit()
        except WriteError as err:
            done.discard(restore_lock=False)  # half renamed: the transition lock stays
            for rest in staged[index + 1 :]:
                rest.discard()
            raise WriteError(
                err.path,
                f"{err.reason}; every file is its old or its new version and diva.lock "
                "accepts both: fix the cause and run diva compile again",
            ) from err


class _Staged:
    """One plan's new files, staged as temporary files next to their targets."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.files: list[tuple[Path, Path]] = []  # (temporary file, target)
        self.final: Path | None = None  # the lock after the run
        self.old_lock: Path | None = None  # a copy of the lock before the run
        self.transitioned = False  # the lock accepts old and new content
        self.folders: list[Path] = []  # created for new files, removed when discarded

    @property
    def lock(self) -> Path:
        return self.plan.root / LOCK_FILE

    def stage(self) -> None:
        """Write everything to temporary files; only the lock changes, to accept both
        old and new content *before* any temporary file of a generated file exists, so
        that the lock names every path a killed run can leave a temporary file for."""
        plan, root = self.plan, self.plan.root
        for change in plan.pending:
            if change.reason == LEFTOVER:  # garbage, and maybe what filled the disk
                _unlink(root / change.path)
                _prune_empty_parents(root, (root / change.path).parent)
        writes = [change for change in plan.pending if change.new is not None]
        if writes:
            if plan.lock_current is not None:
                self.old_lock = _stage_file(self.lock, plan.lock_current)
            transition = _stage_file(self.lock, lock_text(_transition(plan), plan.meta))
            try:
                _rename(transition, self.lock)
            except WriteError:
                self._remove(transition)
                raise
            self.transitioned = True
        for change in writes:
            assert change.new is not None
            target = root / change.path
            self._make_folders(target.parent)
            self.files.append((_stage_file(target, change.new), target))
        if writes or plan.lock_text != plan.lock_current:
            self.final = _stage_file(self.lock, plan.lock_text)

    def commit(self) -> None:
        """Renames and deletions only; every step leaves a state the lock accepts."""
        root = self.plan.root
        while self.files:
            _rename(*self.files[0])
            self.files.pop(0)
        for change in self.plan.pending:
            if change.action == "delete" and change.reason != LEFTOVER:
                _unlink(root / change.path)
                _prune_empty_parents(root, (root / change.path).parent)
        # a "conflict" without new text under --force is an edited stale file: keep it
        if self.final is not None:
            _rename(self.final, self.lock)
            self.final = None
        self._remove(self.old_lock)

    def discard(self, *, restore_lock: bool = True) -> None:
        """Remove what is still staged and, unless told not to, put the old lock back:
        then the tree is as before the run (best effort: each step is harmless alone)."""
        for temp in [temp for temp, _ in self.files] + [self.final]:
            self._remove(temp)
        self.files, self.final = [], None
        if restore_lock and self.transitioned:
            with contextlib.suppress(OSError):
                if self.old_lock is None:
                    self.lock.unlink()
                else:
                    self.old_lock.replace(self.lock)
        self._remove(self.old_lock)
        for folder in reversed(self.folders):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when still empty

    @staticmethod
    def _remove(temp: Path | None) -> None:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)

    def _make_folders(self, folder: Path) -> None:
        missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
        for parent in reversed(missing):
            try:
                parent.mkdir()
            except FileExistsError:
                continue
            except OSError as err:
                raise WriteError(parent, err.strerror or str(err)) from err
            self.folders.append(parent)


def _transition(plan: Plan) -> dict[str, str | list[str]]:
    """The lock while files change: old and new content of every file are accepted."""
    transition: dict[str, str | list[str]] = {
        path: list(hashes) for path, hashes in plan.old_hashes.items()
    }
    for change in plan.pending:
        if change.new is not None:
            accepted = set(transition.get(change.path, [])) | {sha256(change.new)}
            transition[change.path] = sorted(accepted)
    return transition


def _rename(temp: Path, target: Path) -> None:
    try:
        temp.replace(target)  # a symbolic link at ``target`` is replaced, not followed
    except OSError as err:
        raise WriteError(target, err.strerror or str(err)) from err


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        raise WriteError(path, f"cannot delete: {err.strerror or err}") from err


def _prune_empty_parents(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# --- one writer per output folder ----------------------------------------------

# --- one file ------------------------------------------------------------------


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file, fsync, rename).

    The file gets the mode of the file it replaces, or the usual mode of a new file
    (0666 less the umask) — not mkstemp's private 0600.
    """
    temp = _stage_file(path, text)
    try:
        _rename(temp, path)
    except WriteError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _stage_file(path: Path, text: str) -> Path:
    """``text`` in a synced temporary file next to ``path`` (``.NAME.XXXXXXXX.tmp``)."""
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
    except OSError as err:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise WriteError(path, err.strerror or str(err)) from err
    return Path(temp)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
