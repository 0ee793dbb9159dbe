"""Two ``diva compile`` processes at once on the same output folders.

Each output folder is locked (``flock`` on the folder itself) while a compile plans and
writes it: the second compile waits, saying so, then plans on what the first wrote. So
the tree is always exactly what one of the two compiles produces — never a mix — and
neither refuses. A compile that waits too long gives up with exit 4 and writes nothing;
read-only modes take no lock. The documented protocol (``flock`` on the folder) is used
by the tests to hold the lock themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.monorepo import (
    diva_command,
    env,
    projects,
    temp_files,
    tree,
    write_specs,
)

COUNT = 4
ROUNDS = 6
SEED = int(os.environ.get("DIVA_RELIABILITY_SEED") or random.SystemRandom().randrange(10**9))


def _command(repo: Path, version: str, *args: str) -> list[str]:
    """Compile version ``version``'s specs into ``repo/out/<project>``."""
    specs = [str(repo / version / name) for name in projects(COUNT)]
    return diva_command("compile", "--out", str(repo / "out"), *args, *specs)


def _run(repo: Path, version: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(repo, version, *args),
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _repo(root: Path) -> Path:
    for version in ("a", "b"):
        write_specs(root / version, COUNT, version)
    return root


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """What each version alone compiles to, in a repository of the same layout."""
    found = {}
    for version in ("a", "b"):
        repo = _repo(tmp_path_factory.mktemp(f"reference-{version}"))
        result = _run(repo, version)
        assert result.returncode == 0, result.stdout + result.stderr
        found[version] = tree(repo / "out")
    return found


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return _repo(tmp_path)


@contextlib.contextmanager
def held(folder: Path) -> Iterator[None]:
    """Hold the compile lock of ``folder`` the way diva takes it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_two_compiles_at_once_leave_the_tree_of_one_of_them(
    repo: Path, references: dict[str, dict[str, bytes]]
) -> None:
    rng = random.Random(SEED)
    trees = [references["a"], references["b"]]
    for round_ in range(ROUNDS):
        first, second = rng.sample("ab", 2)
        starts = [
            subprocess.Popen(
                _command(repo, first), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        ]
        time.sleep(rng.uniform(0, 0.3))
        starts.append(
            subprocess.Popen(
                _command(repo, second), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
        for process in starts:
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, f"seed {SEED}, round {round_}: {stdout!r}{stderr!r}"
            assert b"Traceback" not in stderr
        assert temp_files(repo / "out") == [], f"seed {SEED}, round {round_}"
        assert tree(repo / "out") in trees, f"seed {SEED}, round {round_}: a mixed tree"


def test_a_compile_waits_for_the_lock_says_so_and_then_writes(
    repo: Path, references: dict[str, dict[str, bytes]]
) -> None:
    folder = repo / "out" / projects(COUNT)[0]
    with held(folder):
        process = subprocess.Popen(
            _command(repo, "a"),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        message = process.stderr.readline()  # blocks until the compile says it waits
        assert message.startswith(f"diva: another diva compile is writing in {folder}; waiting")
        assert process.poll() is None
        assert tree(repo / "out") == {}, "nothing is written while another compile writes"
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    assert tree(repo / "out") == references["a"]


def test_a_compile_gives_up_after_the_timeout_with_exit_4_and_writes_nothing(
    repo: Path,
) -> None:
    folder = repo / "out" / projects(COUNT)[-1]
    with held(folder):
        result = _run(repo, "a", DIVA_LOCK_TIMEOUT="0.2")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(
        f"diva: error: {folder}: another diva compile has been writing here for 0.2 s; "
        "nothing was written: run again when it has finished "
        "(DIVA_LOCK_TIMEOUT sets how many seconds to wait)\n"
    )
    assert result.stdout == ""
    assert tree(repo / "out") == {}


def test_a_timeout_of_zero_does_not_wait_at_all(repo: Path) -> None:
    with held(repo / "out" / projects(COUNT)[0]):
        result = _run(repo, "a", DIVA_LOCK_TIMEOUT="0")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "waiting" not in result.stderr


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_lock_timeout_that_is_not_a_number_of_seconds_is_a_usage_error(
    repo: Path, value: str
) -> None:
    result = _run(repo, "a", DIVA_LOCK_TIMEOUT=value)
    assert result.returncode == 2
    assert result.stderr == (
        f"diva: error: DIVA_LOCK_TIMEOUT={value!r}: expected a number of seconds\n"
    )


@pytest.mark.parametrize("mode", ["--check", "--dry-run", "--diff"])
def test_read_only_modes_take_no_lock(
    repo: Path, mode: str, references: dict[str, dict[str, bytes]]
) -> None:
    assert _run(repo, "a").returncode == 0
    with held(repo / "out" / projects(COUNT)[0]):
        result = _run(repo, "a", mode, DIVA_LOCK_TIMEOUT="0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_monorepo_larger_than_the_open_files_limit_compiles(tmp_path: Path) -> None:
    """Every output folder is locked through its own descriptor: diva raises the soft
    limit of open files up to the hard one instead of failing at folder 60."""
    import resource

    roots = [tmp_path / f"p{index:03}" for index in range(100)]
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from diva.compiler.folderlock import exclusive\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
        "with exclusive([Path(p) for p in sys.argv[1:]]):\n"
        "    print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, roots)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 100 + 64
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 164  # the hard limit allowed it
