"""A failure at every single write step of a compile, injected deterministically.

The compile writes in two phases (``diva.compiler.writer``): staging (the lock that accepts old
and new, then temporary files) and commit (renames and deletions). The writer's three
file-system steps — stage a file, rename, delete — are made to fail, one at a time, at
every position of a compile of two specs from version ``a`` to ``b`` (creates,
updates, deletions, several folders). After a failure in staging nothing has changed;
after one in the commit phase every file is old or new and the lock accepts it; either
way no temporary file is left and the next compile finishes the job without ``--force``.

A run *killed* while staging cannot clean up: that is simulated here by a failure that
skips the clean-up, and the next compile (towards either version) must delete what it
left. The real SIGKILL is in ``test_sigkill.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from diva.compiler import writer
from diva.compiler.pipeline import Job, Output, plan_output, render_job
from diva.compiler.writer import WriteError, apply_all
from tests.support.monorepo import (
    projects,
    temp_files,
    tree,
    unaccepted,
    without_temp_files,
    write_specs,
)

COUNT = 2
STEPS = ("_stage_file", "_rename", "_unlink")


_RENDERED: dict[str, list[Output]] = {}


def compile_lib(repo: Path, version: str) -> None:
    """Compile every spec of ``version`` in ``repo`` with the library, as one run."""
    write_specs(repo, COUNT, version)
    jobs = [Job(repo / name / "diva.yaml", repo / name) for name in projects(COUNT)]
    if version not in _RENDERED:  # rendering is the slow part, and always the same
        _RENDERED[version] = [render_job(job) for job in jobs]
    apply_all([plan_output(job, out) for job, out in zip(jobs, _RENDERED[version], strict=True)])


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    found = {}
    for version in ("a", "b"):
        repo = tmp_path_factory.mktemp(version)
        compile_lib(repo, version)
        found[version] = tree(repo)
    return found


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync is not what these tests are about, and costs milliseconds per file."""
    monkeypatch.setattr(writer.os, "fsync", lambda fd: None)


def _copy_of_a(references: dict[str, dict[str, bytes]], repo: Path) -> None:
    """``repo`` as compiled from version ``a`` (copied: faster than compiling)."""
    write_specs(repo, COUNT, "a")
    for path, data in references["a"].items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)


class Injector:
    """Counts the writer's file-system steps and makes the one at ``fail_at`` fail."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_at: int | None) -> None:
        self.steps: list[str] = []
        self.fail_at = fail_at
        for name in STEPS:
            monkeypatch.setattr(writer, name, self._wrap(name, getattr(writer, name)))

    def _wrap(self, name: str, real: Callable[..., object]) -> Callable[..., object]:
        def step(path: Path, *args: object) -> object:
            if len(self.steps) == self.fail_at:
                raise WriteError(path, f"injected failure of {name}")
            self.steps.append(name)
            return real(path, *args)

        return step


def _steps(repo: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The steps of a whole compile a -> b."""
    compile_lib(repo, "a")
    with monkeypatch.context() as patch:
        injector = Injector(patch, None)
        compile_lib(repo, "b")
    return injector.steps


def _positions(steps: list[str]) -> Iterator[tuple[int, str]]:
    staging = len(steps) - steps[::-1].index("_stage_file")  # after the last staged file
    for position in range(len(steps)):
        yield position, "staging" if position < staging else "commit"


def test_a_compile_has_steps_in_both_phases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _steps(tmp_path, monkeypatch)
    assert set(steps) == set(STEPS)
    assert steps[0] == "_stage_file"  # the old lock, kept aside first
    assert steps[-1] == "_rename"  # the final lock, last


def test_a_failure_at_any_step_leaves_a_consistent_tree_and_the_next_run_repairs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    references: dict[str, dict[str, bytes]],
) -> None:
    old, new = references["a"], references["b"]
    generated = set(old) | set(new)
    for position, phase in _positions(_steps(tmp_path / "count", monkeypatch)):
        repo = tmp_path / f"fail-{position}"
        _copy_of_a(references, repo)
        with monkeypatch.context() as patch:
            Injector(patch, position)
            with pytest.raises(WriteError) as raised:
                compile_lib(repo, "b")
        after = tree(repo)
        assert temp_files(repo) == [], f"temporary files after a failure at {position}"
        if phase == "staging":
            assert "nothing was changed" in str(raised.value)
            assert after == old, f"a failure at {position} (staging) changed the tree"
        else:
            assert "run diva compile again" in str(raised.value)
            for path in sorted(_without_locks(dict.fromkeys(generated, b""))):
                assert after.get(path) in (old.get(path), new.get(path)), (position, path)
            assert unaccepted(repo, COUNT, generated) == [], position
        compile_lib(repo, "b")  # no force needed
        assert tree(repo) == new, f"the repair after a failure at {position} differs"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (the writer's clean-up is skipped)."""


@pytest.mark.parametrize("towards", ["a", "b"])
def test_temporary_files_of_a_run_killed_while_staging_are_deleted_by_the_next(
    towards: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    references: dict[str, dict[str, bytes]],
) -> None:
    steps = _steps(tmp_path / "count", monkeypatch)
    unchanged = _without_locks(references["a"])
    for position in [index for index, step in enumerate(steps) if step == "_stage_file"]:
        repo = tmp_path / f"kill-{position}"
        _copy_of_a(references, repo)
        with monkeypatch.context() as patch:
            _die_after(patch, position)
            with pytest.raises(Killed):
                compile_lib(repo, "b")
        assert temp_files(repo), f"the simulated kill at {position} left nothing to clean"
        assert _without_locks(without_temp_files(tree(repo))) == unchanged, position
        compile_lib(repo, towards)
        assert temp_files(repo) == [], f"temporary files left after a kill at {position}"
        assert tree(repo) == references[towards], position


def _die_after(monkeypatch: pytest.MonkeyPatch, position: int) -> None:
    """The compile dies right after the temporary file of step ``position`` exists,
    and nothing cleans up (the writer's clean-up is skipped, as under SIGKILL)."""
    injector = Injector(monkeypatch, None)
    counted = writer._stage_file

    def die(path: Path, text: str) -> Path:
        staged = counted(path, text)
        if len(injector.steps) > position:
            raise Killed
        return staged

    monkeypatch.setattr(writer, "_stage_file", die)
    monkeypatch.setattr(writer._Staged, "discard", lambda *_, **__: None)


def _without_locks(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if not path.endswith("/diva.lock")}
