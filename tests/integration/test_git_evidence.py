"""The git evidence adapter against a real repository: a ref is never read as an option
(``--output=FILE`` would make git write a file), whoever passes it (``diva gate --base``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.git import stage_history
from diva.lifecycle.evidence.tree import CommitTree
from tests.support.gate import SPEC
from tests.support.git_repo import commit_spec, init_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "project")
    commit_spec(root, SPEC, "stage 1")
    return root


def test_a_ref_like_an_option_is_not_read_as_one_by_git_rev_parse(
    repo: Path, tmp_path: Path
) -> None:
    planted = tmp_path / "planted"
    with pytest.raises(UnreachableError):
        CommitTree(repo, f"--output={planted}")
    assert list(tmp_path.glob("planted*")) == []


def test_a_ref_like_an_option_is_not_read_as_one_by_git_log(repo: Path, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    with pytest.raises(UnreachableError):
        stage_history(repo, f"--output={planted}")
    assert list(tmp_path.glob("planted*")) == []


def test_refs_still_read(repo: Path) -> None:
    assert CommitTree(repo, "main").read("diva.yaml") == SPEC.encode()
    assert [change.after for change in stage_history(repo, "main")] == [1]
