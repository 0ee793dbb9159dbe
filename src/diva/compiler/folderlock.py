"""An exclusive lock on each output folder while ``diva compile`` writes there.

The lock is ``flock`` on the folder itself: no lock file appears among the outputs, and
the kernel releases it when the process ends, even by SIGKILL, so a lock is never stale.
Every locked folder holds a descriptor until the write ends, so a monorepo's compile
raises the soft limit of open files as far as the hard one allows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from diva.errors import DivaError, UnavailableError, WriteError

#: How long a compile waits for another one writing the same folder, in seconds.
DEFAULT_LOCK_TIMEOUT = 60.0


class BusyError(UnavailableError):
    """Another diva compile kept writing the output folder for longer than the timeout."""

    def __init__(self, root: Path, timeout: float) -> None:
        super().__init__(
            f"{root}: another diva compile has been writing here for {timeout:g} s; "
            "nothing was written: run again when it has finished "
            "(DIVA_LOCK_TIMEOUT sets how many seconds to wait)"
        )


_held = threading.local()


@contextlib.contextmanager
def exclusive(
    roots: Iterable[Path],
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    notify: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on each output folder (created if missing) meanwhile.

    The lock is ``flock`` on the folder itself: no lock file appears among the outputs,
    and the kernel releases it when the process ends, even by SIGKILL, so a lock is
    never stale. Folders are locked in sorted order, so two compiles of overlapping
    folders cannot deadlock. A compile finding a folder locked says so through
    ``notify`` and waits up to ``timeout`` seconds, then raises :class:`BusyError`.
    Re-entrant within a thread: folders this thread already holds are skipped.
    """
    held = _held_roots()
    wanted = sorted({_make_root(root) for root in roots} - held)
    _allow_open_files(len(wanted))
    deadline = time.monotonic() + timeout
    with contextlib.ExitStack() as stack:
        for root in wanted:
            stack.enter_context(_flocked(root, deadline, timeout, notify))
            held.add(root)
            stack.callback(held.discard, root)
        yield


#: Descriptors kept free for everything else a compile opens while it holds the locks.
_SPARE_FILES = 64


def _allow_open_files(folders: int) -> None:
    """Each locked folder holds a descriptor until the write ends: raise the soft limit
    of open files (up to the hard one) for a monorepo of many projects, or say clearly
    that it is too low."""
    import resource

    needed = folders + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise DivaError(
            f"compiling {folders} output folders at once needs {needed} open files, "
            f"but the limit is {hard}: raise it (ulimit -n) or compile fewer specs per run"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _held_roots() -> set[Path]:
    if not hasattr(_held, "roots"):
        _held.roots = set()
    roots: set[Path] = _held.roots
    return roots


def _make_root(root: Path) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(root, err.strerror or str(err)) from err
    return root.resolve()


@contextlib.contextmanager
def _flocked(
    root: Path, deadline: float, timeout: float, notify: Callable[[str], None] | None
) -> Iterator[None]:
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise WriteError(root, err.strerror or str(err)) from err
    try:
        _acquire(fd, root, deadline, timeout, notify)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(
    fd: int, root: Path, deadline: float, timeout: float, notify: Callable[[str], None] | None
) -> None:
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as err:  # a file system without locks (some network mounts)
            if notify:
                notify(f"cannot lock {root} ({err.strerror}); not guarded against a parallel run")
            return
        if time.monotonic() >= deadline:
            raise BusyError(root, timeout)
        if not waiting and notify:
            notify(f"another diva compile is writing in {root}; waiting up to {timeout:g} s")
        waiting = True
        time.sleep(0.05)
