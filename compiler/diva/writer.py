"""Writing files safely: never a half-written file, whatever happens mid-write."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from diva.errors import DivaError


class WriteError(DivaError):
    """A file could not be written; the old content (if any) is untouched."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: cannot write: {reason}")


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
