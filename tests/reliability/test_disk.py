"""A full disk and a read-only output folder: a clear error, and nothing half-written.

For real: the project is compiled once (version ``a``), its specs are switched to
version ``b``, and ``diva compile`` runs on a tmpfs filled up to a few free pages, and on
a read-only bind mount (``tests/support/mounts.py``, in a private mount namespace —
this needs root, as the test machines and CI have). It must exit 1 with
``diva: error: PATH: cannot write: <the system's reason>; nothing was changed`` and no
traceback, and leave every file as it was, with no temporary file; once there is space
again (or the folder is writable), the next compile writes version ``b``.

A folder the user may not write (``EACCES``) cannot be made for real here: the tests run
as root, whom permission bits do not stop, and an unprivileged user cannot reach the
test interpreter (it lives under ``/root``). That case, and ``ENOSPC`` raised by
``fsync`` (as network file systems report it), are injected at the writer's calls into
the operating system (``tempfile.mkstemp``, ``os.fsync``) instead.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from diva.compiler import writer
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import WriteError, apply_all
from tests.support.monorepo import env, projects, temp_files, tree, write_specs
from tests.support.mounts import unshare_command

COUNT = 2


def _compile_lib(repo: Path) -> None:
    jobs = [Job(repo / name / "diva.yaml", repo / name) for name in projects(COUNT)]
    apply_all([plan_job(job) for job in jobs])


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    found = {}
    for version in ("a", "b"):
        repo = tmp_path_factory.mktemp(version)
        write_specs(repo, COUNT, version)
        _compile_lib(repo)
        found[version] = tree(repo)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Compiled from version ``a``; its specs are version ``b`` now."""
    repo = tmp_path / "project"
    write_specs(repo, COUNT, "a")
    _compile_lib(repo)
    write_specs(repo, COUNT, "b")
    return repo


def _in_namespace(kind: str, project: Path, out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    out.mkdir()
    try:
        result = subprocess.run(
            unshare_command(kind, project, out),
            env=env(PYTHONPATH=f"{env()['PYTHONPATH']}{os.pathsep}{Path(__file__).parents[2]}"),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip("needs unshare (util-linux)")
    if result.returncode != 0 and "mount" in result.stderr and "ermission" in result.stderr:
        pytest.skip(f"mounting needs root: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads((out / f"{name}.json").read_text()) for name in ("first", "second"))
    return first, second


def _assert_refused_and_untouched(
    first: dict[str, Any], after: Path, old: dict[str, bytes], reason: str
) -> None:
    assert first["returncode"] == 1, first
    assert first["stdout"] == ""
    assert "Traceback" not in first["stderr"]
    assert first["stderr"].startswith("diva: error: "), first["stderr"]
    assert f": cannot write: {reason}; nothing was changed\n" in first["stderr"]
    assert temp_files(after) == []
    assert tree(after) == old, "a file changed although the compile failed"


def test_a_full_disk_is_a_clear_error_and_leaves_every_file_as_it_was(
    project: Path, tmp_path: Path, references: dict[str, dict[str, bytes]]
) -> None:
    first, second = _in_namespace("full", project, tmp_path / "out")
    _assert_refused_and_untouched(
        first, tmp_path / "out" / "first", references["a"], "No space left on device"
    )
    assert second["returncode"] == 0, second
    assert tree(tmp_path / "out" / "second") == references["b"]


def test_a_read_only_output_folder_is_a_clear_error_and_nothing_changes(
    project: Path, tmp_path: Path, references: dict[str, dict[str, bytes]]
) -> None:
    first, second = _in_namespace("read-only", project, tmp_path / "out")
    _assert_refused_and_untouched(
        first, tmp_path / "out" / "first", references["a"], "Read-only file system"
    )
    assert second["returncode"] == 0, second
    assert tree(project) == references["b"]


# --- injected: what cannot be made for real as root ------------------------------------


def _fail(number: int) -> Any:
    def fail(*args: object, **kwargs: object) -> Any:
        raise OSError(number, os.strerror(number))

    return fail


@pytest.mark.parametrize(
    ("call", "number"),
    [
        ("mkstemp", errno.EACCES),  # a folder the user may not write
        ("mkstemp", errno.EDQUOT),  # over quota
        ("fsync", errno.ENOSPC),  # network file systems report a full disk late
        ("fsync", errno.EIO),
    ],
)
def test_an_os_error_while_writing_names_the_file_and_changes_nothing(
    call: str,
    number: int,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    references: dict[str, dict[str, bytes]],
) -> None:
    target = writer.tempfile if call == "mkstemp" else writer.os
    with monkeypatch.context() as patch:
        patch.setattr(target, call, _fail(number))
        with pytest.raises(WriteError) as raised:
            _compile_lib(project)
    assert str(raised.value).endswith(f": cannot write: {os.strerror(number)}; nothing was changed")
    assert str(raised.value).startswith(str(project / projects(COUNT)[0]))
    assert temp_files(project) == []
    assert tree(project) == references["a"]
    _compile_lib(project)
    assert tree(project) == references["b"]
