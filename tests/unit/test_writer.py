"""Atomic writes: content, permissions, and nothing left behind on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from diva.compiler.writer import WriteError, write_text_atomic


def test_new_file_gets_the_usual_mode_not_a_private_one(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    umask = os.umask(0o022)
    try:
        write_text_atomic(target, "{}\n")
    finally:
        os.umask(umask)
    assert target.read_text() == "{}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_replacing_keeps_the_mode_of_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o600)
    write_text_atomic(target, "new")
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("new", 0o600)


def test_failure_leaves_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.mkdir()  # a directory cannot be replaced by a file
    with pytest.raises(WriteError, match="cannot write"):
        write_text_atomic(target, "new")
    assert [path.name for path in tmp_path.iterdir()] == ["out.json"]
