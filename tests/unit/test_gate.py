"""Stage gates in memory: movement rules and the checkpoints judged on a spec.

Git evidence (cycles from history) and the gate commands, on real temporary repositories,
are in tests/integration/test_gate.py; MLflow evidence comes from a small stand-in for the
run SOURCE (the checkpoints under test are the real ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.compiler.ir import Target
from diva.lifecycle.checkpoints import CHECKPOINTS, Context, Verdict, best_run
from diva.lifecycle.evidence.mlflow import Run
from diva.lifecycle.gate import movement
from tests.support.gate import (
    LARGE_HASH,
    SMALL_HASH,
    FakeRuns,
    context,
    judge,
    run,
    spec_document,
)

# --- movement rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "stages", "status", "says"),
    [
        (None, 0, [], "pass", "new project at stage 0"),
        (None, 1, [1], "pass", "new project at stage 1"),
        (None, 2, [], "fail", "a new project starts at stage 0 or 1"),
        (2, 2, [], "pass", "no stage change"),
        (3, 2, [], "pass", "a new cycle"),
        (5, 0, [], "pass", "a new cycle"),
        (1, 2, [2], "pass", "promotion 1 -> 2"),
        (4, 5, [5], "pass", "promotion 4 -> 5"),
        (0, 2, [1, 2], "pass", "promotion 0 -> 2"),
        (1, 3, [], "fail", "one stage at a time"),
        (0, 3, [], "fail", "one stage at a time"),
        (2, 5, [], "fail", "one stage at a time"),
    ],
)
def test_movement_rules(
    before: int | None, after: int, stages: list[int], status: str, says: str
) -> None:
    checked, verdict = movement(before, after)
    assert checked == stages
    assert verdict.status == status
    assert says in verdict.detail


# --- spec-only checkpoints -----------------------------------------------------------

SPEC_ONLY = [
    # checkpoint id, what is removed, what the failure detail names
    ("idea.problem", ("idea", "problem"), "idea.problem"),
    ("idea.effect", ("idea", "expected_effect"), "idea.expected_effect"),
    ("idea.value", ("idea", "value"), "idea.value"),
    ("idea.data", ("idea", "outputs"), "idea.outputs"),
    ("plan.summary", ("plan", "summary"), "plan.summary"),
    ("plan.references", ("plan", "references"), "plan.references"),
    ("plan.pinned", ("datasets", "month", "existing", "version"), "month"),
    ("slos.declared", ("slos",), "slos"),
]


def test_the_spec_only_list_covers_every_spec_checkpoint() -> None:
    spec_only = {c.id for c in CHECKPOINTS if c.evidence == ("spec",)}
    assert spec_only == {checkpoint for checkpoint, _, _ in SPEC_ONLY}


@pytest.mark.parametrize("checkpoint", [checkpoint for checkpoint, _, _ in SPEC_ONLY])
def test_spec_checkpoint_passes_on_a_complete_spec(checkpoint: str, tmp_path: Path) -> None:
    verdict = judge(checkpoint, context(spec_document(), tmp_path))
    assert verdict.status == "pass", verdict.detail


@pytest.mark.parametrize(("checkpoint", "path", "named"), SPEC_ONLY)
def test_spec_checkpoint_fails_and_names_the_missing_field(
    checkpoint: str, path: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    document = spec_document()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    verdict = judge(checkpoint, context(document, tmp_path))
    assert verdict.status == "fail"
    assert named in verdict.detail


def test_value_names_the_side_that_is_missing(tmp_path: Path) -> None:
    document = spec_document()
    del document["idea"]["value"]["users"]
    verdict = judge("idea.value", context(document, tmp_path))
    assert verdict == Verdict("fail", "idea.value.users missing")


def test_references_accept_techniques_instead(tmp_path: Path) -> None:
    document = spec_document()
    del document["plan"]["references"]
    document["plan"]["techniques"] = ["ridge regression"]
    assert judge("plan.references", context(document, tmp_path)).status == "pass"


def test_an_existing_dataset_without_version_is_named(tmp_path: Path) -> None:
    document = spec_document()
    del document["datasets"]["month"]["existing"]["version"]
    verdict = judge("plan.pinned", context(document, tmp_path))
    assert verdict == Verdict("fail", "no version: ['month']")


# --- cycle budget ----------------------------------------------------------------------


def test_entering_stage_2_beyond_its_budget_fails_cycles_small(tmp_path: Path) -> None:
    document = spec_document()
    document["plan"]["cycles"] = {"small": 1}
    verdict = judge("cycles.small", context(document, tmp_path, cycles={2: 2}))
    assert verdict.status == "fail"
    assert verdict.detail == "2 of 1 cycle(s) of stage 2 — decide: proceed or stop"


def test_a_cycle_within_budget_passes(tmp_path: Path) -> None:
    document = spec_document()
    document["plan"]["cycles"] = {"small": 1}
    assert judge("cycles.small", context(document, tmp_path, cycles={2: 1})).status == "pass"


def test_no_budget_declared_passes(tmp_path: Path) -> None:
    document = spec_document()
    del document["plan"]["cycles"]
    verdict = judge("cycles.small", context(document, tmp_path, cycles={2: 7}))
    assert verdict.status == "pass"
    assert "no budget declared" in verdict.detail


# --- MLflow-dependent checkpoints --------------------------------------------------------

MLFLOW_CHECKPOINTS = [c.id for c in CHECKPOINTS if "mlflow" in c.evidence]


@pytest.mark.parametrize("checkpoint", MLFLOW_CHECKPOINTS)
def test_without_mlflow_evidence_a_checkpoint_is_unreachable(
    checkpoint: str, tmp_path: Path
) -> None:
    ctx = context(spec_document(), tmp_path, problem="MLflow unreachable (test)")
    assert judge(checkpoint, ctx) == Verdict("unreachable", "MLflow unreachable (test)")


@pytest.fixture
def dvc_root(tmp_path: Path) -> Path:
    """A project folder whose datasets are tracked by DVC and locked in dvc.lock."""
    (tmp_path / "data").mkdir()
    for name, md5 in (("month", SMALL_HASH), ("year", LARGE_HASH)):
        (tmp_path / "data" / f"{name}.dvc").write_text(
            f"outs:\n- md5: {md5}\n  size: 1024\n  nfiles: 3\n  path: {name}\n"
        )
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n"
        "  prepare-month:\n    cmd: python src/prepare.py\n"
        f"    deps:\n    - path: data/month\n      md5: {SMALL_HASH}\n"
        "  prepare-year:\n    cmd: python src/prepare.py\n"
        f"    deps:\n    - path: data/year\n      md5: {LARGE_HASH}\n"
    )
    return tmp_path


def with_runs(root: Path, source: FakeRuns) -> Context:
    return context(spec_document(), root, runs=source)


def test_a_run_on_the_tracked_small_dataset_passes(dvc_root: Path) -> None:
    verdict = judge("runs.small", with_runs(dvc_root, FakeRuns([run("r1")])))
    assert verdict == Verdict("pass", "1 run(s) on the small dataset (test runs)")


def test_a_run_on_another_version_of_the_data_does_not_count(dvc_root: Path) -> None:
    other = run("r1", data_hash="ffffffffffffffffffffffffffffffff.dir")
    verdict = judge("runs.small", with_runs(dvc_root, FakeRuns([other])))
    assert verdict.status == "fail"
    assert "0 run(s) on the small dataset" in verdict.detail


def test_a_run_of_another_project_does_not_count(dvc_root: Path) -> None:
    foreign = Run("r1", {**run("r1").tags, "diva.project": "other"}, {})
    assert judge("runs.small", with_runs(dvc_root, FakeRuns([foreign]))).status == "fail"


def test_an_untagged_run_does_not_count_when_the_dataset_is_untracked(tmp_path: Path) -> None:
    untagged = run("r1", data_hash=None)
    assert judge("runs.small", with_runs(tmp_path, FakeRuns([untagged]))).status == "fail"


@pytest.mark.parametrize(
    ("rmse", "r2", "status"),
    [
        (0.08, 0.95, "pass"),  # minimize: at the threshold is met
        (0.05, 0.95, "pass"),
        (0.0801, 0.95, "fail"),  # minimize: just above the threshold
        (0.05, 0.9, "pass"),  # maximize: at the threshold is met
        (0.05, 0.8999, "fail"),  # maximize: just below the threshold
    ],
)
def test_small_targets_around_the_threshold(
    dvc_root: Path, rmse: float, r2: float, status: str
) -> None:
    source = FakeRuns([run("r1", rmse=rmse, r2=r2)])
    assert judge("targets.small", with_runs(dvc_root, source)).status == status


def test_a_missing_metric_misses_its_target(dvc_root: Path) -> None:
    verdict = judge("targets.small", with_runs(dvc_root, FakeRuns([run("r1", rmse=0.01)])))
    assert verdict.status == "fail"
    assert "r2=None" in verdict.detail


def test_targets_need_a_run_to_judge(dvc_root: Path) -> None:
    verdict = judge("targets.small", with_runs(dvc_root, FakeRuns([])))
    assert verdict == Verdict("fail", "no run on the small dataset to judge")


def test_the_best_of_several_runs_is_judged(dvc_root: Path) -> None:
    source = FakeRuns([run("bad", rmse=0.5, r2=0.2), run("good", rmse=0.05, r2=0.95)])
    verdict = judge("targets.small", with_runs(dvc_root, source))
    assert verdict == Verdict("pass", "run good meets all")


LARGE_RUNS = [
    run("a-large", "large", LARGE_HASH, in_image=True),
    run("b-large", "large", LARGE_HASH, in_image=True),
]


def test_candidate_passes_when_the_best_runs_version_has_the_alias(dvc_root: Path) -> None:
    best = best_run(LARGE_RUNS, [])
    assert best is not None
    other = next(r for r in LARGE_RUNS if r is not best)
    source = FakeRuns(
        LARGE_RUNS, {best.run_id: "3", other.run_id: "4"}, {"candidate": "3", "champion": "4"}
    )
    assert judge("model.candidate", with_runs(dvc_root, source)).status == "pass"


def test_candidate_fails_when_the_alias_is_on_another_version(dvc_root: Path) -> None:
    best = best_run(LARGE_RUNS, [])
    assert best is not None
    other = next(r for r in LARGE_RUNS if r is not best)
    source = FakeRuns(LARGE_RUNS, {best.run_id: "3", other.run_id: "4"}, {"candidate": "4"})
    verdict = judge("model.candidate", with_runs(dvc_root, source))
    assert verdict == Verdict(
        "fail", "best run's version 3, alias candidate -> 4; set it with `diva release candidate`"
    )


def test_candidate_fails_when_no_version_has_the_alias(dvc_root: Path) -> None:
    source = FakeRuns(LARGE_RUNS, {r.run_id: "1" for r in LARGE_RUNS})
    verdict = judge("model.candidate", with_runs(dvc_root, source))
    assert verdict == Verdict(
        "fail",
        "best run's version 1, alias candidate -> None; set it with `diva release candidate`",
    )


def test_candidate_is_taken_from_runs_in_the_standardized_image(dvc_root: Path) -> None:
    host = run("0-host", "large", LARGE_HASH)  # sorts first: it would win a tie
    source = FakeRuns([host, *LARGE_RUNS], {"0-host": "9", "a-large": "3"}, {"candidate": "3"})
    verdict = judge("model.candidate", with_runs(dvc_root, source))
    assert verdict == Verdict("pass", "best run's version 3, alias candidate -> 3")


def test_candidate_fails_when_the_best_run_registered_no_version(dvc_root: Path) -> None:
    source = FakeRuns(LARGE_RUNS, {}, {"candidate": "1"})
    assert judge("model.candidate", with_runs(dvc_root, source)).status == "fail"


def test_best_run_breaks_ties_by_the_first_metrics_value() -> None:
    targets = [Target("rmse", "minimize", 0.08, "month", "small")]
    runs = [run("a", rmse=0.07), run("b", rmse=0.01)]  # both meet the target
    best = best_run(runs, targets)
    assert best is not None
    assert best.run_id == "b"
