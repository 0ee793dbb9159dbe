"""Checkpoints of stages 3-5 not covered in test_gate.py: DVC registration (on a real
DVC repository in tests/integration/test_checkpoints_dvc.py), runs in the standardized
image, large-scale targets, stage 3's budget, champion, serving image."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.lifecycle.evidence.mlflow import Run
from tests.support.gate import (
    LARGE_HASH,
    SMALL_HASH,
    FakeRuns,
    context,
    judge,
    run,
    spec_document,
)


@pytest.fixture
def dvc_root(tmp_path: Path) -> Path:
    """Both datasets tracked (``.dvc`` files) and locked (``dvc.lock``), by hash only."""
    (tmp_path / "data").mkdir()
    lock = "schema: '2.0'\nstages:\n"
    for name, md5 in (("month", SMALL_HASH), ("year", LARGE_HASH)):
        (tmp_path / "data" / f"{name}.dvc").write_text(f"outs:\n- md5: {md5}\n  path: {name}\n")
        lock += (
            f"  train-{name}:\n    cmd: x\n    deps:\n    - path: data/{name}\n      md5: {md5}\n"
        )
    (tmp_path / "dvc.lock").write_text(lock)
    return tmp_path


def test_data_small_fails_while_the_dataset_is_not_tracked(tmp_path: Path) -> None:
    verdict = judge("data.small", context(spec_document(), tmp_path))
    assert verdict.status == "fail"
    assert "month: not tracked (no data/month.dvc)" in verdict.detail


def test_data_large_judges_the_large_dataset(tmp_path: Path) -> None:
    verdict = judge("data.large", context(spec_document(), tmp_path))
    assert verdict.status == "fail"
    assert "year: not tracked" in verdict.detail


IMAGE = "sha256:" + "c" * 64


def _large(run_id: str, digest: str | None, **metrics: float) -> Run:
    base = run(run_id, scale="large", data_hash=LARGE_HASH, **metrics)
    if digest is not None:
        base.tags["diva.image.digest"] = digest
    return base


def test_runs_large_counts_only_runs_made_in_the_standardized_image(dvc_root: Path) -> None:
    digest = "sha256:" + "a" * 64
    outside = FakeRuns([_large("r1", None), _large("r2", None)])
    inside = FakeRuns([_large("r1", digest), _large("r2", digest)])
    assert judge("runs.large", context(spec_document(), dvc_root, runs=outside)).status == "fail"
    assert judge("runs.large", context(spec_document(), dvc_root, runs=inside)).status == "pass"


def test_runs_large_needs_two_runs(dvc_root: Path) -> None:
    one = FakeRuns([_large("r1", "sha256:" + "b" * 64)])
    verdict = judge("runs.large", context(spec_document(), dvc_root, runs=one))
    assert verdict.status == "fail"
    assert verdict.detail.endswith("need 2")


def test_targets_large_judges_large_scale_targets(dvc_root: Path) -> None:
    document = spec_document()
    document["targets"] = [
        {"metric": "rmse", "goal": "minimize", "threshold": 0.1, "dataset": "year"}
    ]
    good = FakeRuns([_large("r1", IMAGE, rmse=0.05)])
    bad = FakeRuns([_large("r1", IMAGE, rmse=0.5)])
    assert judge("targets.large", context(document, dvc_root, runs=good)).status == "pass"
    verdict = judge("targets.large", context(document, dvc_root, runs=bad))
    assert verdict.status == "fail"
    assert "rmse=0.5 vs 0.1" in verdict.detail


def test_targets_large_judges_only_runs_made_in_the_standardized_image(dvc_root: Path) -> None:
    document = spec_document()
    document["targets"] = [
        {"metric": "rmse", "goal": "minimize", "threshold": 0.1, "dataset": "year"}
    ]
    on_the_host = FakeRuns([_large("host", None, rmse=0.01), _large("r1", IMAGE, rmse=0.5)])
    verdict = judge("targets.large", context(document, dvc_root, runs=on_the_host))
    assert verdict.status == "fail"
    assert "rmse=0.5 vs 0.1" in verdict.detail
    alone = FakeRuns([_large("host", None, rmse=0.01)])
    verdict = judge("targets.large", context(document, dvc_root, runs=alone))
    assert verdict.detail == "no run on the large dataset in the standardized image to judge"


def test_cycles_large_is_stage_3s_budget(tmp_path: Path) -> None:
    document = spec_document()  # cycles: {small: 3, large: 2}
    over = judge("cycles.large", context(document, tmp_path, cycles={3: 3}))
    assert (over.status, over.detail) == (
        "fail",
        "3 of 2 cycle(s) of stage 3 — decide: proceed or stop",
    )
    assert judge("cycles.large", context(document, tmp_path, cycles={3: 2})).status == "pass"


def test_model_champion_needs_the_alias(tmp_path: Path) -> None:
    without = FakeRuns([])
    with_alias = FakeRuns([], aliases={"champion": "3"})
    assert judge("model.champion", context(spec_document(), tmp_path, runs=without)).status == (
        "fail"
    )
    verdict = judge("model.champion", context(spec_document(), tmp_path, runs=with_alias))
    assert (verdict.status, verdict.detail) == ("pass", "version 3")


def test_model_champion_follows_a_renamed_alias(tmp_path: Path) -> None:
    document = spec_document()
    document["monitoring"] = {
        "schedule": "0 6 * * 1",
        "reference_dataset": "year",
        "champion": "prod",
    }
    old_name = FakeRuns([], aliases={"champion": "3"})
    renamed = FakeRuns([], aliases={"prod": "4"})
    verdict = judge("model.champion", context(document, tmp_path, runs=old_name))
    assert (verdict.status, verdict.detail) == ("fail", "no version has alias prod")
    verdict = judge("model.champion", context(document, tmp_path, runs=renamed))
    assert (verdict.status, verdict.detail) == ("pass", "version 4")


def test_serving_image_fails_without_a_recorded_digest(tmp_path: Path) -> None:
    verdict = judge("image.serving", context(spec_document(), tmp_path, runs=FakeRuns([])))
    assert verdict.status == "fail"
    assert "diva build serve --push" in verdict.detail
