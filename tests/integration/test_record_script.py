"""The record job's script (``RECORD_SCRIPT`` of the generated ``diva-record.yml``), run by
bash against real git repositories: the note it keeps reaches the origin even when
another merge's record job pushed its note first, and the job's exit code is the gate's.

``diva`` on the script's PATH is a stand-in here (the gate itself is tested end to end in
tests/act/test_record_workflow.py): it writes a note on HEAD as ``diva gate --record``
does, and, to make the race happen at the worst moment, first pushes another merge's note
to the origin from a second clone, after the script fetched the notes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from diva.compiler.backends.github.workflows import RECORD_SCRIPT
from tests.support.git_repo import git, init_repo

IDENTITY = {
    "GIT_AUTHOR_NAME": "diva record",
    "GIT_AUTHOR_EMAIL": "diva-record@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "diva record",
    "GIT_COMMITTER_EMAIL": "diva-record@users.noreply.github.com",
}


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str, str]:
    """A bare origin whose main has two merges, A then B; no notes yet."""
    work = init_repo(tmp_path / "work")
    for name in ("A", "B"):
        (work / "diva.yaml").write_text(f"diva: 1\nstage: 0\n# {name}\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", name)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return bare, git(work, "rev-parse", "HEAD^"), git(work, "rev-parse", "HEAD")


def stand_in(folder: Path, other: Path | None, verdict: int) -> Path:
    """A ``diva`` that records a note on HEAD, after ``other`` (a clone at B) pushed its
    own note to the origin, and exits ``verdict``."""
    folder.mkdir()
    race = ""
    if other is not None:
        race = (
            f'git -C {other} notes --ref=diva add -m \'{{"diva": 1, "for": "B"}}\' HEAD\n'
            f"git -C {other} push -q origin refs/notes/diva\n"
        )
    script = folder / "diva"
    script.write_text(
        "#!/bin/bash\nset -e\n"
        + race
        + 'git notes --ref=diva add -m \'{"diva": 1, "for": "A"}\' HEAD\n'
        + f"exit {verdict}\n"
    )
    script.chmod(0o755)
    return folder


def run_record(clone: Path, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **IDENTITY,
        "PATH": f"{path}:{os.environ['PATH']}",
        "GITHUB_TOKEN": "ghs_notUsedForALocalOrigin",
    }
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", RECORD_SCRIPT],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def clone_at(origin: Path, folder: Path, commit: str) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(folder))
    git(folder, "checkout", "-q", commit)
    return folder


def notes_on(origin: Path) -> dict[str, str]:
    listing = git(origin, "notes", "--ref=diva", "list")
    return {
        commit: git(origin, "notes", "--ref=diva", "show", commit)
        for _, commit in (line.split() for line in listing.splitlines())
    }


def test_the_note_reaches_the_origin(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    bare, a, _ = origin
    clone = clone_at(bare, tmp_path / "job-a", a)
    result = run_record(clone, stand_in(tmp_path / "bin", None, 0))
    assert result.returncode == 0, result.stdout + result.stderr
    assert notes_on(bare) == {a: '{"diva": 1, "for": "A"}'}


def test_a_note_pushed_meanwhile_is_merged_not_lost(
    origin: tuple[Path, str, str], tmp_path: Path
) -> None:
    bare, a, b = origin
    clone = clone_at(bare, tmp_path / "job-a", a)
    other = clone_at(bare, tmp_path / "job-b", b)
    result = run_record(clone, stand_in(tmp_path / "bin", other, 0))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notes moved on (attempt 1): merging theirs" in result.stdout
    assert notes_on(bare) == {a: '{"diva": 1, "for": "A"}', b: '{"diva": 1, "for": "B"}'}


def test_the_job_fails_when_the_gate_failed_but_keeps_the_note(
    origin: tuple[Path, str, str], tmp_path: Path
) -> None:
    """A merge whose gate fails (an admin bypassed the ruleset) is recorded as such,
    and the job's red status says so."""
    bare, a, _ = origin
    clone = clone_at(bare, tmp_path / "job-a", a)
    result = run_record(clone, stand_in(tmp_path / "bin", None, 1))
    assert result.returncode == 1
    assert a in notes_on(bare)
