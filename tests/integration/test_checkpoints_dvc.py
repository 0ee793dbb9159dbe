"""The data checkpoints on a real git + DVC repository: tracked, locked, pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dvc_cli import DVC, sh
from tests.support.gate import context, judge, spec_document


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    """A git + DVC repository with data/month tracked and a local remote, not pushed."""
    pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")
    root = tmp_path / "repo"
    (root / "data" / "month").mkdir(parents=True)
    (root / "data" / "month" / "rows.csv").write_text("1,2\n3,4\n")
    sh(root, "git", "init", "-q")
    sh(root, *DVC, "init", "-q")
    sh(root, *DVC, "add", "-q", "data/month")
    sh(root, *DVC, "remote", "add", "-d", "local", str(tmp_path / "remote"))
    return root


def _lock(root: Path) -> None:
    """dvc.lock as `dvc repro` writes it after a stage that read data/month."""
    from ruamel.yaml import YAML

    pointer = YAML(typ="safe").load(root / "data" / "month.dvc")
    md5 = pointer["outs"][0]["md5"]
    (root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  train-month:\n    cmd: python src/train.py\n"
        f"    deps:\n    - path: data/month\n      md5: {md5}\n"
    )


def test_data_small_fails_while_the_pipeline_never_ran_on_it(dvc_repo: Path) -> None:
    verdict = judge("data.small", context(spec_document(), dvc_repo))
    assert verdict.status == "fail"
    assert "month: not in dvc.lock" in verdict.detail


def test_data_small_fails_until_pushed_then_passes(dvc_repo: Path) -> None:
    _lock(dvc_repo)
    before = judge("data.small", context(spec_document(), dvc_repo))
    assert (before.status, before.detail) == ("fail", "month: not pushed to the DVC remote")
    sh(dvc_repo, *DVC, "push", "-q")
    after = judge("data.small", context(spec_document(), dvc_repo))
    assert (after.status, after.detail) == ("pass", "month tracked, locked and pushed")
