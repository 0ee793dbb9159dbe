"""Real full and read-only file systems for a compile, in a private mount namespace.

``python -m tests.support.mounts KIND PROJECT OUT`` runs inside
``unshare --mount --propagation private`` (root only): the mounts it makes vanish with
the process, even if it is killed, and nobody else sees them. ``PROJECT`` holds the specs
(and the files of an earlier compile); ``OUT`` receives ``first.json``/``first/`` (the
compile on the bad file system: its exit code, output, and the tree afterwards) and
``second.json``/``second/`` (the compile once the file system is fine again).

* ``full``: the project is copied onto a tmpfs that is then filled up to ``FREE_PAGES``
  pages, so that a compile runs out of space half-way through writing;
* ``read-only``: the project folder is bind-mounted onto itself read-only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

#: Free pages left on the full tmpfs: fewer than a compile of the project needs.
FREE_PAGES = 6
FILLER = "filler"


def unshare_command(kind: str, project: Path, out: Path) -> list[str]:
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        sys.executable,
        "-m",
        "tests.support.mounts",
        kind,
        str(project),
        str(out),
    ]


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _compile(folder: Path, out: Path, name: str) -> None:
    """``diva compile`` of every project in ``folder``; the result saved as ``name``."""
    specs = sorted(path.parent.name for path in folder.glob("*/diva.yaml"))
    result = subprocess.run(
        [sys.executable, "-m", "diva", "compile", *specs],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    record = {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
    (out / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    shutil.copytree(folder, out / name, ignore=shutil.ignore_patterns(FILLER))


def _fill(folder: Path, free_pages: int) -> None:
    stats = os.statvfs(folder)
    size = max(stats.f_bavail - free_pages, 0) * stats.f_frsize
    with (folder / FILLER).open("wb") as stream:
        while size > 0:
            size -= stream.write(b"\0" * min(size, 1 << 20))


def full(project: Path, out: Path) -> None:
    mount = out / "tmpfs"
    mount.mkdir()
    _sh("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount))
    shutil.copytree(project, mount, dirs_exist_ok=True)
    _fill(mount, FREE_PAGES)
    _compile(mount, out, "first")
    (mount / FILLER).unlink()
    _compile(mount, out, "second")


def read_only(project: Path, out: Path) -> None:
    _sh("mount", "--bind", str(project), str(project))
    _sh("mount", "-o", "remount,bind,ro", str(project))
    _compile(project, out, "first")
    _sh("mount", "-o", "remount,bind,rw", str(project))
    _compile(project, out, "second")


KINDS: dict[str, Callable[[Path, Path], None]] = {"full": full, "read-only": read_only}


if __name__ == "__main__":
    KINDS[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]))
