"""Temporary files a killed compile left behind: reported, deleted, and nothing else.

A temporary file of the writer is ``.NAME.XXXXXXXX.tmp`` next to ``NAME``, a generated
file (or one the lock names). ``diva compile --check`` counts one as drift; the next
``diva compile`` deletes it and says so. Anything merely similar stays untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.monorepo import spec_text
from tests.support.process import RunDiva

LEFTOVER = ".dvc.yaml.k3_x9qz1.tmp"


@pytest.fixture
def project(tmp_path: Path, run_diva: RunDiva) -> Path:
    (tmp_path / "diva.yaml").write_text(spec_text(0, "a"), encoding="utf-8")
    assert run_diva("compile", cwd=tmp_path).returncode == 0
    return tmp_path


def test_a_leftover_is_drift_and_the_next_compile_deletes_it(
    project: Path, run_diva: RunDiva
) -> None:
    (project / LEFTOVER).write_text("half a dvc.yaml")
    (project / ".github" / ".CODEOWNERS.aaaaaaaa.tmp").write_text("")
    check = run_diva("compile", "--check", cwd=project)
    assert check.returncode == 1
    reported = [
        f"   delete  {LEFTOVER} (left behind by an interrupted diva compile)",
        "   delete  .github/.CODEOWNERS.aaaaaaaa.tmp (left behind by an interrupted diva compile)",
    ]
    assert check.stdout.splitlines()[:2] == reported
    assert check.stdout.splitlines()[2].startswith("./: would 2 delete, ")
    result = run_diva("compile", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == reported
    assert result.stdout.splitlines()[2].startswith("./: 2 delete, ")  # nothing else changes
    assert not (project / LEFTOVER).exists()
    assert not (project / ".github" / ".CODEOWNERS.aaaaaaaa.tmp").exists()
    assert run_diva("compile", "--check", cwd=project).returncode == 0


#: Names close to a leftover's that are not one.
LOOKALIKES = (
    ".notes.k3_x9qz1.tmp",  # no generated file is called .notes
    ".dvc.yaml.k3_x9qz.tmp",  # 7 characters, mkstemp makes 8
    ".dvc.yaml.K3_X9QZ1.tmp",  # mkstemp's names are lower case
    ".dvc.yaml.k3_x9qz1.tmp.bak",
    "dvc.yaml.k3_x9qz1.tmp",  # not hidden
)


def test_files_folders_and_links_that_only_look_like_leftovers_are_kept(
    project: Path, run_diva: RunDiva
) -> None:
    for name in LOOKALIKES:
        (project / name).write_text("mine")
    (project / LEFTOVER).mkdir()
    (project / ".params.yaml.k3_x9qz1.tmp").symlink_to(project / "diva.yaml")
    assert run_diva("compile", "--check", cwd=project).returncode == 0
    assert run_diva("compile", cwd=project).returncode == 0
    assert [(project / name).read_text() for name in LOOKALIKES] == ["mine"] * len(LOOKALIKES)
    assert (project / LEFTOVER).is_dir()
    assert (project / ".params.yaml.k3_x9qz1.tmp").is_symlink()
