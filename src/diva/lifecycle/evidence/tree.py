"""A commit's files as data: what the gate judges, read from git objects alone.

The gate never reads the working tree of the commit it judges: a checkout may hold
untracked files, and a tracked path may be a symlink whose target (or whose link text)
says something other than the commit does. :class:`CommitTree` lists the project folder
of one commit with ``git ls-tree`` and reads blobs with ``git cat-file``; only regular
files (modes 100644 and 100755) are content. :meth:`CommitTree.materialize` writes
those into a fresh folder, the only place the gate's tools (the compiler's drift check,
DVC) then look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.git import END_OF_OPTIONS, blobs, git

#: The modes of regular files in a git tree (plain and executable).
REGULAR = frozenset({"100644", "100755"})
_KINDS = {"120000": "a symlink", "160000": "a submodule", "040000": "a folder"}


@dataclass(frozen=True)
class Entry:
    mode: str
    oid: str

    @property
    def regular(self) -> bool:
        return self.mode in REGULAR

    @property
    def kind(self) -> str:
        return "a regular file" if self.regular else _KINDS.get(self.mode, f"mode {self.mode}")


class CommitTree:
    """The files of the project folder (the folder of ``root``) at one commit."""

    def __init__(self, root: Path, ref: str) -> None:
        self.root = root
        self.ref = ref
        self.commit = git(
            root, "rev-parse", "--verify", "--quiet", END_OF_OPTIONS, f"{ref}^{{commit}}"
        ).strip()
        prefix = git(root, "rev-parse", "--show-prefix").strip()
        self.entries = _listing(root, f"{self.commit}:{prefix}")

    def entry(self, path: str) -> Entry | None:
        return self.entries.get(path)

    def read(self, path: str) -> bytes | None:
        """The content of ``path``, None when the commit has no such path.

        Raises :class:`NotRegularError` when the path is anything but a regular file."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        if not entry.regular:
            raise NotRegularError(path, entry)
        return blobs(self.root, [entry.oid])[0]

    def tracked_under(self, path: str) -> list[str]:
        """The paths at or below ``path`` (a file or a folder) that the commit holds."""
        folder = path.rstrip("/") + "/"
        return [name for name in self.entries if name == path or name.startswith(folder)]

    def claims(self, path: str) -> list[str]:
        """The entries that decide what is at ``path``: the path itself, what is under
        it, and any parent of it that is not a folder (a symlink leads elsewhere)."""
        parents = [str(parent) for parent in PurePosixPath(path).parents if str(parent) != "."]
        return [*self.tracked_under(path), *(p for p in parents if p in self.entries)]

    def files(self, folder: str) -> dict[str, bytes]:
        """The regular files directly or deeply under ``folder``, with their content."""
        names = [
            name
            for name in self.tracked_under(folder)
            if self.entries[name].regular and name != folder
        ]
        contents = blobs(self.root, [self.entries[name].oid for name in names])
        return {name: content or b"" for name, content in zip(names, contents, strict=True)}

    def materialize(
        self, destination: Path, skip: tuple[str, ...] = (), keep: tuple[str, ...] = ()
    ) -> None:
        """Write every regular file of the commit under ``destination`` (an empty folder),
        except those under the folders of ``skip`` that are not in ``keep``. Symlinks and
        submodules are not written: they are not content the gate judges."""
        names = [
            name
            for name, entry in self.entries.items()
            if entry.regular
            and _safe(name)
            and (name in keep or not any(_under(name, s) for s in skip))
        ]
        contents = blobs(self.root, [self.entries[name].oid for name in names])
        for name, content in zip(names, contents, strict=True):
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content or b"")
            if self.entries[name].mode == "100755":
                target.chmod(0o755)


class NotRegularError(UnreachableError):
    """A path the gate must read is not a regular file in the commit."""

    def __init__(self, path: str, entry: Entry) -> None:
        super().__init__(
            f"{path} is {entry.kind} (mode {entry.mode}) in the commit, not a regular file: "
            "the gate reads only regular files"
        )
        self.path = path
        self.entry = entry


def _listing(root: Path, tree: str) -> dict[str, Entry]:
    """``git ls-tree -r`` of ``tree`` (``COMMIT:FOLDER/``): path -> entry; empty when the
    folder is not in the commit."""
    if git(root, "cat-file", "-t", tree, check=False).strip() != "tree":
        return {}
    output = git(root, "ls-tree", "-r", "-z", "--full-tree", tree)
    entries: dict[str, Entry] = {}
    for record in output.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, _kind, oid = meta.split(" ")
        entries[path] = Entry(mode, oid)
    return entries


def _safe(name: str) -> bool:
    """A tree path that stays inside the destination (git refuses others on checkout,
    but a crafted tree object may hold them)."""
    parts = PurePosixPath(name).parts
    return not name.startswith("/") and not any(part in ("..", ".git", "") for part in parts)


def _under(name: str, folder: str) -> bool:
    return name == folder.rstrip("/") or name.startswith(folder.rstrip("/") + "/")
