"""``diva compile`` killed with SIGKILL at random points, for real.

A repository of 6 specs (about 70 generated files) is compiled back and forth between
two versions of every spec, and each run is killed after a random delay. A third of
the kills are spread over the whole run (start-up, planning, writing), a third over the
staging phase (from the moment the first folder's lock is replaced), a third over the
short commit phase (from the moment its first file is renamed). After every kill:

* every generated file is byte-identical to its version before the run or to the one
  the run was writing — never a mix, never truncated;
* every generated file on disk is accepted by its folder's lock, so the next compile
  never refuses (exit 3) and needs no ``--force``.

Every few rounds, and at the end, a compile runs to completion: it must exit 0, delete
the killed runs' temporary files, and leave exactly the tree of a clean compile; at the
end ``diva compile --check`` is clean. The repairs do not wait for the compile lock
(``DIVA_LOCK_TIMEOUT=0``): the lock of a killed run dies with it. Kills stack: a run
starts on the remains of the run killed before it.

The random choices come from ``DIVA_RELIABILITY_SEED`` (default: a fresh seed, printed
in every failure message, so that a failure can be replayed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from diva.contract import LOCK_FILE
from tests.support.monorepo import (
    compile_all,
    diva_command,
    env,
    projects,
    temp_files,
    tree,
    unaccepted,
    without_temp_files,
    write_specs,
)

COUNT = 6
KILLS = 30
REPAIR_EVERY = 6
SEED = int(os.environ.get("DIVA_RELIABILITY_SEED") or random.SystemRandom().randrange(10**9))
#: Where a kill is aimed: anywhere in the run, or into one of the two writing phases.
AIMS = ("anywhere", "staging", "commit")


@dataclass
class Timing:
    """How long a whole run takes and its two writing phases, for aiming the kills."""

    total: float
    staging: float
    commit: float


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """The trees of a clean compile of each version, in a repository of the same layout."""
    found = {}
    for version in ("a", "b"):
        repo = tmp_path_factory.mktemp(f"reference-{version}")
        write_specs(repo, COUNT, version)
        result = compile_all(repo, COUNT)
        assert result.returncode == 0, result.stdout + result.stderr
        found[version] = tree(repo)
    return found


class Watch:
    """Inodes of a few files of a run: the first folder's lock changes when staging
    starts, one of its files when the renames start, the last folder's lock a second
    time when the last rename is done (files are replaced by rename: a new inode)."""

    def __init__(self, repo: Path, references: dict[str, dict[str, bytes]]) -> None:
        first, last = projects(COUNT)[0], projects(COUNT)[-1]
        self.lock = repo / first / LOCK_FILE
        self.last_lock = repo / last / LOCK_FILE
        changing = set(references["a"].items()) ^ set(references["b"].items())
        self.files = sorted(
            repo / path
            for path, _ in changing
            if path.startswith(f"{first}/") and Path(path).name != LOCK_FILE
        )
        self.start = {path: _inode(path) for path in (self.lock, self.last_lock, *self.files)}
        self.last_lock_changes = 0

    def staging(self) -> bool:
        return _inode(self.lock) != self.start[self.lock]

    def commit(self) -> bool:
        return any(_inode(path) != self.start[path] for path in self.files)

    def done(self) -> bool:
        """The last lock changed twice (transition, then final)."""
        current = _inode(self.last_lock)
        if current != self.start[self.last_lock]:
            self.start[self.last_lock] = current
            self.last_lock_changes += 1
        return self.last_lock_changes >= 2


def _inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return 0


def _start(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        diva_command("compile", *projects(COUNT)),
        cwd=repo,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until(process: subprocess.Popen[str], event: Callable[[], bool]) -> float:
    """Poll until ``event`` happens (or the process ends); the time then."""
    while process.poll() is None and not event():
        time.sleep(0.0002)
    return time.monotonic()


def _calibrate(repo: Path, references: dict[str, dict[str, bytes]]) -> Timing:
    """One complete run (a -> b) to measure where its phases are."""
    write_specs(repo, COUNT, "b")
    watch = Watch(repo, references)
    started = time.monotonic()
    process = _start(repo)
    staging = _until(process, watch.staging)
    commit = _until(process, watch.commit)
    done = _until(process, watch.done)
    _, stderr = process.communicate(timeout=120)
    ended = time.monotonic()
    assert process.returncode == 0, stderr
    return Timing(ended - started, max(commit - staging, 0.001), max(done - commit, 0.001))


def _kill_once(repo: Path, watch: Watch, rng: random.Random, timing: Timing, aim: str) -> int:
    """Start a compile, kill it after a random delay; its exit code (-9 when killed)."""
    process = _start(repo)
    if aim == "staging":
        _until(process, watch.staging)
        time.sleep(rng.uniform(0, timing.staging))
    elif aim == "commit":
        _until(process, watch.commit)
        time.sleep(rng.uniform(0, timing.commit))
    else:
        time.sleep(rng.uniform(0, timing.total))
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, -signal.SIGKILL), f"seed {SEED}: {stderr}"
    return process.returncode


def _assert_old_or_new(
    before: dict[str, bytes], after: dict[str, bytes], new: dict[str, bytes], what: str
) -> None:
    for path in sorted(set(before) | set(after) | set(new)):
        if Path(path).name == LOCK_FILE:
            continue  # between the two, the lock accepts both (checked by `unaccepted`)
        assert after.get(path) in (before.get(path), new.get(path)), (
            f"seed {SEED}, {what}: {path} is neither its old nor its new version"
        )


def _repair(repo: Path, expected: dict[str, bytes], what: str) -> None:
    result = compile_all(repo, COUNT, DIVA_LOCK_TIMEOUT="0")  # no lock outlives its process
    assert result.returncode == 0, f"seed {SEED}, {what}: {result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    assert temp_files(repo) == [], f"seed {SEED}, {what}: temporary files remain"
    assert tree(repo) == expected, f"seed {SEED}, {what}: the repair differs from a clean compile"


def test_sigkill_at_random_points_leaves_old_or_new_files_and_the_next_run_repairs(
    tmp_path: Path, references: dict[str, dict[str, bytes]]
) -> None:
    rng = random.Random(SEED)
    repo = tmp_path / "repo"
    write_specs(repo, COUNT, "a")
    assert compile_all(repo, COUNT).returncode == 0
    timing = _calibrate(repo, references)
    generated = set(references["a"]) | set(references["b"])
    for kill in range(KILLS):
        version, aim = rng.choice("ab"), AIMS[kill % len(AIMS)]
        what = f"kill {kill} (towards {version}, aimed at {aim})"
        write_specs(repo, COUNT, version)
        before = without_temp_files(tree(repo))
        _kill_once(repo, Watch(repo, references), rng, timing, aim)
        _assert_old_or_new(before, without_temp_files(tree(repo)), references[version], what)
        assert unaccepted(repo, COUNT, generated) == [], f"seed {SEED}, {what}"
        if kill % REPAIR_EVERY == REPAIR_EVERY - 1:
            _repair(repo, references[version], what)
    check = compile_all(repo, COUNT, "--check")
    assert check.returncode == 0, f"seed {SEED}: {check.stdout}{check.stderr}"
