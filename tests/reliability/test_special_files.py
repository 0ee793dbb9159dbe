"""A spec path that is not a regular file: a FIFO, a device, a directory.

A FIFO opened for reading blocks until somebody writes to it, and a device may never
end (``/dev/zero``): each must be refused at once with ``diva: error: PATH: ...`` and
exit 2 (a path that cannot be read, docs/cli.md), never hang or crash. Every case runs
the real CLI in a subprocess with a timeout, so that a regression fails instead of
blocking the suite. A symlink to a regular file is still read (local use); a symlink to
a FIFO is refused like the FIFO.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gate import SPEC
from tests.support.monorepo import env

#: Generous: diva answers in well under a second; this only stops a hang.
TIMEOUT = 60
VALID = "diva: 1\nproject: {name: demo, title: Demo}\nstage: 0\n"


def _diva(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diva", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _refused(result: subprocess.CompletedProcess[str], shown: str, reason: str) -> None:
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"diva: error: {shown}: {reason}" in result.stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "diva.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["validate", "explain", "compile"])
def test_a_fifo_spec_is_refused_without_blocking(command: str, fifo: Path, tmp_path: Path) -> None:
    result = _diva(command, str(fifo), cwd=tmp_path)
    _refused(result, str(fifo), "not a regular file (a FIFO); a spec is a file")


def test_a_folder_whose_diva_yaml_is_a_fifo_is_refused(fifo: Path, tmp_path: Path) -> None:
    result = _diva("validate", ".", cwd=tmp_path)
    _refused(result, "diva.yaml", "not a regular file (a FIFO); a spec is a file")


def test_the_other_paths_are_still_checked_after_a_fifo(fifo: Path, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "diva.yaml").write_text(VALID, encoding="utf-8")
    result = _diva("validate", str(fifo), "good", cwd=tmp_path)
    _refused(result, str(fifo), "not a regular file (a FIFO)")
    assert "good/diva.yaml: valid" in result.stdout


@pytest.mark.parametrize("command", ["gate", "status"])
def test_a_fifo_given_as_spec_option_is_refused_without_blocking(
    command: str, fifo: Path, tmp_path: Path
) -> None:
    result = _diva(command, "--spec", str(fifo), cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"diva: error: {fifo}: not a regular file (a FIFO)" in result.stderr


@pytest.mark.parametrize(
    ("device", "kind"), [("/dev/zero", "a character device"), ("/dev/null", "a character device")]
)
def test_a_device_is_refused_without_reading_it(device: str, kind: str, tmp_path: Path) -> None:
    result = _diva("validate", device, cwd=tmp_path)
    _refused(result, device, f"not a regular file ({kind}); a spec is a file")


def test_a_folder_whose_diva_yaml_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project" / "diva.yaml").mkdir(parents=True)
    result = _diva("validate", "project", cwd=tmp_path)
    _refused(result, "project/diva.yaml", "is a directory, not a spec file")


def test_a_symlink_to_a_fifo_is_refused(fifo: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(fifo)
    result = _diva("validate", str(link), cwd=tmp_path)
    _refused(result, str(link), "not a regular file (a FIFO)")


def test_a_symlink_to_a_regular_spec_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "diva.yaml").symlink_to(tmp_path / "real.yaml")
    result = _diva("validate", "diva.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "diva.yaml: valid (demo" in result.stdout
