"""The README's main job, `diva quickstart`, and the state it leaves: stage 3 reached on
the origin's main through three merged promotion branches, every gate passed, a real
MLflow run and model version, the dataset in the DVC remote — and the gate, run again
on its own, agrees.

CI runs the README's command exactly as written before the tests (.ci/run) and points
DIVA_QUICKSTART_DIR at its workspace; elsewhere the test runs the quickstart itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from diva.compiler.source import load_bytes
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.stages import parse_stage
from tests.support.process import run, sh

PROJECT = "sensor-model"
BRANCHES = ["diva/stage-1-plan", "diva/stage-2-small", "diva/stage-3-large"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if given := os.environ.get("DIVA_QUICKSTART_DIR"):
        return Path(given)
    where = tmp_path_factory.mktemp("quickstart") / "diva-quickstart"
    result = run(sys.executable, "-m", "diva", "quickstart", str(where), cwd=where.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "open the MLflow UI on the embedded store" in result.stdout
    return where


def test_the_summary_records_three_passed_gates(workspace: Path) -> None:
    summary = json.loads((workspace / "quickstart.json").read_text())
    assert summary["stage"] == 3
    assert [gate["branch"] for gate in summary["gates"]] == BRANCHES
    for gate in summary["gates"]:
        assert gate["passed"] is True
        held = [row for row in gate["checkpoints"] if row["status"] != "pass"]
        # the approvals are counted on the pull request, which a local gate has not
        assert {row["status"] for row in held} <= {"warn"}
        assert all(row["id"].startswith("approvals.") for row in held), held
        assert all(row["detail"].startswith("not checked here") for row in held), held
    checked = {row["id"] for gate in summary["gates"] for row in gate["checkpoints"]}
    expected = {"idea.problem", "idea.value", "plan.references", "data.small", "runs.small"}
    assert expected | {"targets.small"} <= checked


def test_origin_main_is_at_stage_3_after_merging_each_branch(workspace: Path) -> None:
    origin = workspace / "origin.git"
    spec = sh("git", "--git-dir", str(origin), "show", "main:diva.yaml", cwd=workspace)
    assert parse_stage(load_bytes(spec.encode()).data["stage"]).number == 3
    heads = sh(
        "git", "--git-dir", str(origin), "branch", "--format=%(refname:short)", cwd=workspace
    )
    assert set(BRANCHES) <= set(heads.split())
    merges = sh(
        "git", "--git-dir", str(origin), "log", "--merges", "--format=%s", "main", cwd=workspace
    )
    assert merges.splitlines() == [f"Merge {branch}" for branch in reversed(BRANCHES)]


def test_the_stage_history_is_0_1_2_3(workspace: Path) -> None:
    history = sh(sys.executable, "-m", "diva", "log", cwd=workspace / PROJECT)
    moves = [" ".join(line.split()[2:5]) for line in history.splitlines()]
    assert moves == ["new -> 0", "0 -> 1", "1 -> 2", "2 -> 3"]


def test_mlflow_holds_the_small_scale_run_and_its_model_version(workspace: Path) -> None:
    store = Mlflow(workspace / PROJECT, "sqlite:///.diva/mlflow.db")
    (found,) = store.runs(PROJECT)
    assert found.tags["diva.dataset"] == "sample"
    assert found.tags["diva.stage"] == "2"
    assert found.metrics["rmse"] <= 0.5
    assert store.version_of_run(PROJECT, found.run_id) == "1"


def test_the_dataset_is_in_the_dvc_remote(workspace: Path) -> None:
    status = sh(sys.executable, "-m", "dvc", "status", "--cloud", cwd=workspace / PROJECT)
    assert "are in sync" in status


def test_the_gate_run_again_agrees(workspace: Path) -> None:
    """The last merge's first parent is main before it: the 2 -> 3 promotion, re-judged."""
    result = run(sys.executable, "-m", "diva", "gate", "--base", "HEAD^1", cwd=workspace / PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promotion 2 -> 3" in result.stdout
    assert "evidence: verified against MLflow at sqlite:///.diva/mlflow.db" in result.stdout


def test_quickstart_refuses_a_workspace_in_use(workspace: Path) -> None:
    result = run(sys.executable, "-m", "diva", "quickstart", str(workspace), cwd=workspace)
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
