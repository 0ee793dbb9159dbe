"""Stage gates: movement rules, cycles from git history, checkpoints, the gate commands.

Git evidence is read from real temporary repositories; MLflow evidence comes from a small
stand-in for the run SOURCE (the checkpoints under test are the real ones).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compiler.ir import Target, build
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.compiler.writer import apply
from diva.lifecycle.checkpoints import CHECKPOINTS, Context, Verdict, best_run
from diva.lifecycle.evidence.git import cycles, stage_history
from diva.lifecycle.evidence.mlflow import Run
from diva.lifecycle.gate import evaluate, movement
from tests.conftest import RunDiva

REFERENCES = (
    "  references:\n"
    '    - {title: "Virtual metrology: a review", url: "https://doi.org/10.1109/TSM.2015.2476385"}\n'
)

#: A complete spec, valid at stages 0..3 (model, small and large datasets, base image).
SPEC = f"""\
# A complete project for the gate tests.
diva: 1
project: {{name: demo, title: Layer thickness from sensors}}
stage: 1

idea:
  problem: Thickness is measured late; a drifting reactor ruins whole lots.
  expected_effect: Every wafer gets an estimate within a minute.
  value:
    researchers: A model of what drives growth rate.
    users: Fewer scrapped lots.
  inputs:
    - {{name: temp_c, type: float}}
  outputs:
    - {{name: thickness_um, type: float}}

plan:
  summary: Gradient-boosted trees on one month of runs, then on a year.
{REFERENCES}  cycles: {{small: 3, large: 2}}

datasets:
  month:
    scale: small
    path: data/month
    existing: {{source: fab-registry, version: "2024.05.1"}}
  year: {{scale: large, path: data/year}}

model:
  framework: sklearn
  task: regression
  entrypoints: {{train: src/train.py, evaluate: src/evaluate.py}}

targets:
  - {{metric: rmse, goal: minimize, threshold: 0.08, dataset: month}}
  - {{metric: r2, goal: maximize, threshold: 0.9, dataset: month}}

slos: {{latency_p95_ms: 200, error_rate: 0.01}}

platform:
  base_images:
    sklearn: registry.example.com/base/sklearn:1.5@sha256:{"4f" * 32}
"""

BY_ID = {checkpoint.id: checkpoint for checkpoint in CHECKPOINTS}
SMALL_HASH = "6f1ed002ab5595859014ebf0951522d9.dir"
LARGE_HASH = "0cc175b9c0f1b6a831c399e269772661.dir"


def at_stage(stage: int | str, text: str = SPEC) -> str:
    assert "\nstage: 1\n" in text
    return text.replace("\nstage: 1\n", f"\nstage: {stage}\n")


# --- git helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No outer git repository or CI step summary leaks into the tests."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Diva Test")
    git(root, "config", "user.email", "diva@example.com")
    git(root, "config", "commit.gpgsign", "false")
    return root


def commit_spec(root: Path, text: str, message: str, *, compiled: bool = False) -> str:
    """Write diva.yaml (and compile it when asked), commit everything, return the commit."""
    (root / "diva.yaml").write_text(text, encoding="utf-8")
    if compiled:
        compile_here(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def compile_here(root: Path) -> None:
    apply(plan_job(Job(root / "diva.yaml", root)))


def stage_counts(root: Path) -> dict[int, int]:
    return cycles(stage_history(root))


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


# --- cycles from git history -------------------------------------------------------


def test_cycles_count_each_entry_of_a_stage(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    for stage in (0, 1, 2, 1, 2):
        commit_spec(root, f"diva: 1\nstage: {stage}\n", f"stage {stage}")
    assert stage_counts(root) == {0: 1, 1: 2, 2: 2}


def test_history_names_each_change_with_its_commit(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    first = commit_spec(root, "stage: idea\n", "idea")
    second = commit_spec(root, "stage: plan\n", "plan")
    history = stage_history(root)
    assert [(c.commit, c.before, c.after, c.author) for c in history] == [
        (first, None, 0, "Diva Test"),
        (second, 0, 1, "Diva Test"),
    ]


def test_commits_that_keep_the_stage_do_not_count(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    commit_spec(root, "# a comment\nstage: 0\n", "comment")
    commit_spec(root, "stage: idea\n", "same stage by name")
    (root / "README.md").write_text("hello\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "not the spec")
    commit_spec(root, "stage: 1\n", "promote")
    assert stage_counts(root) == {0: 1, 1: 1}


def test_a_merged_side_branch_counts_once_on_the_first_parent_line(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    git(root, "checkout", "-q", "-b", "side")
    for stage in (1, 2, 1):  # wandering on the side branch is not on the main line
        commit_spec(root, f"stage: {stage}\n", f"side {stage}")
    git(root, "checkout", "-q", "main")
    (root / "other.txt").write_text("main moved on\n")
    git(root, "add", "other.txt")
    git(root, "commit", "-q", "-m", "main work")
    git(root, "merge", "-q", "--no-ff", "side", "-m", "merge side")
    merge = git(root, "rev-parse", "HEAD")
    history = stage_history(root)
    assert [(c.before, c.after) for c in history] == [(None, 0), (0, 1)]
    assert history[-1].commit == merge
    assert cycles(history) == {0: 1, 1: 1}


def test_a_side_branch_merged_without_divergence_counts_once(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    git(root, "checkout", "-q", "-b", "side")
    commit_spec(root, "stage: 1\n", "side 1")
    commit_spec(root, "stage: 1\nx: 1\n", "side, same stage")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "side", "-m", "merge side")
    assert stage_counts(root) == {0: 1, 1: 1}


def test_an_unreadable_spec_in_an_old_commit_is_skipped(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, "stage: 0\n", "start")
    commit_spec(root, "stage: [0\n", "broken yaml")
    commit_spec(root, "stage: 9\n", "no such stage")
    commit_spec(root, "stage: 0\n", "fixed: still stage 0, not a new cycle")
    commit_spec(root, "stage: 1\n", "promote")
    assert stage_counts(root) == {0: 1, 1: 1}


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


def spec_document() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load(at_stage(2))
    return document


def context(
    document: dict[str, Any],
    root: Path,
    *,
    cycles: dict[int, int] | None = None,
    runs: object = None,
    problem: str = "",
) -> Context:
    """A Context from a validated spec, as the gate builds it."""
    raw = json.dumps(document).encode("utf-8")  # JSON is YAML
    spec = validate_document(load_bytes(raw))
    return Context(spec, build(spec, raw), root, cycles or {}, runs, problem)  # type: ignore[arg-type]


def judge(checkpoint: str, ctx: Context) -> Verdict:
    return BY_ID[checkpoint].evaluate(ctx)


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


def test_gate_counts_the_budget_from_git_history(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    budget_one = SPEC.replace("cycles: {small: 3, large: 2}", "cycles: {small: 1}")
    for stage in (1, 2, 1, 2):  # stage 2 entered a second time
        commit_spec(root, at_stage(stage, budget_one), f"stage {stage}")
    (root / "diva.yaml").write_text(at_stage(3, budget_one), encoding="utf-8")
    rows = {row.id: row for row in evaluate(root, "main").rows}
    assert rows["cycles.small"].status == "fail"
    assert "decide: proceed or stop" in rows["cycles.small"].detail


def test_going_back_beyond_the_budget_fails_the_pull_request(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    budget_one = SPEC.replace("cycles: {small: 3, large: 2}", "cycles: {small: 1}")
    for stage in (1, 2, 3):
        commit_spec(root, at_stage(stage, budget_one), f"stage {stage}")
    (root / "diva.yaml").write_text(at_stage(2, budget_one), encoding="utf-8")
    rows = {row.id: row for row in evaluate(root, "main").rows}
    assert rows["movement"].detail.startswith("back to stage 2")
    assert rows["cycles.small"].status == "fail"
    assert rows["cycles.small"].detail == "2 of 1 cycle(s) of stage 2 — decide: proceed or stop"


def test_gate_without_base_compares_with_the_last_commit(tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, at_stage(1), "stage 1", compiled=True)
    assert evaluate(root, "HEAD").movement == "no stage change (stage 1 (model planning))"


# --- MLflow-dependent checkpoints --------------------------------------------------------

MLFLOW_CHECKPOINTS = [c.id for c in CHECKPOINTS if "mlflow" in c.evidence]


@pytest.mark.parametrize("checkpoint", MLFLOW_CHECKPOINTS)
def test_without_mlflow_evidence_a_checkpoint_is_unreachable(
    checkpoint: str, tmp_path: Path
) -> None:
    ctx = context(spec_document(), tmp_path, problem="MLflow unreachable (test)")
    assert judge(checkpoint, ctx) == Verdict("unreachable", "MLflow unreachable (test)")


class FakeRuns:
    """A stand-in for the evidence source (live MLflow or the evidence file)."""

    kind = "test runs"

    def __init__(
        self,
        runs: list[Run],
        versions: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._runs = runs
        self._versions = versions or {}
        self._aliases = aliases or {}

    def runs(self, project: str) -> list[Run]:
        return [run for run in self._runs if run.tags.get("diva.project") == project]

    def version_of_run(self, model: str, run_id: str) -> str | None:
        return self._versions.get(run_id)

    def alias(self, model: str, alias: str) -> str | None:
        return self._aliases.get(alias)


def run(
    run_id: str, scale: str = "small", data_hash: str | None = SMALL_HASH, **metrics: float
) -> Run:
    tags = {"diva.project": "demo", "diva.dataset.scale": scale}
    if data_hash is not None:
        tags["diva.dataset.hash"] = data_hash
    return Run(run_id, tags, metrics)


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


LARGE_RUNS = [run("a-large", "large", LARGE_HASH), run("b-large", "large", LARGE_HASH)]


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
    assert verdict == Verdict("fail", "best run's version 3, alias candidate -> 4")


def test_candidate_fails_when_no_version_has_the_alias(dvc_root: Path) -> None:
    source = FakeRuns(LARGE_RUNS, {r.run_id: "1" for r in LARGE_RUNS})
    assert judge("model.candidate", with_runs(dvc_root, source)).status == "fail"


def test_candidate_fails_when_the_best_run_registered_no_version(dvc_root: Path) -> None:
    source = FakeRuns(LARGE_RUNS, {}, {"candidate": "1"})
    assert judge("model.candidate", with_runs(dvc_root, source)).status == "fail"


def test_best_run_breaks_ties_by_the_first_metrics_value() -> None:
    targets = [Target("rmse", "minimize", 0.08, "month", "small")]
    runs = [run("a", rmse=0.07), run("b", rmse=0.01)]  # both meet the target
    best = best_run(runs, targets)
    assert best is not None
    assert best.run_id == "b"


# --- diva gate through the CLI -----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main at stage 1 (compiled, committed); a branch asking for stage 2 (compiled)."""
    root = init_repo(tmp_path / "project")
    commit_spec(root, SPEC, "plan", compiled=True)
    git(root, "checkout", "-q", "-b", "promote")
    commit_spec(root, at_stage(2), "ask for stage 2", compiled=True)
    return root


def rows_of(output: str) -> dict[str, str]:
    """checkpoint id -> status, from the text report."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) > 2 and parts[0] in {"pass", "fail", "unreachable"}:
            rows[parts[1]] = parts[0]
    return rows


def test_gate_passes_a_complete_promotion(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("diva gate: promotion 1 -> 2\n")
    assert rows_of(result.stdout) == {
        "spec.valid": "pass",
        "movement": "pass",
        "generated": "pass",
        "plan.summary": "pass",
        "plan.references": "pass",
        "plan.pinned": "pass",
    }
    assert result.stdout.rstrip().endswith("gate passed")


def test_gate_fails_without_references(run_diva: RunDiva, repo: Path) -> None:
    assert REFERENCES in SPEC
    commit_spec(repo, at_stage(2, SPEC.replace(REFERENCES, "")), "no refs", compiled=True)
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout)["plan.references"] == "fail"
    assert "no plan.references or plan.techniques" in result.stdout
    assert result.stdout.rstrip().endswith("gate FAILED")


def test_gate_fails_on_a_hand_edited_generated_file(run_diva: RunDiva, repo: Path) -> None:
    with (repo / "dvc.yaml").open("a", encoding="utf-8") as stream:
        stream.write("# tweaked by hand\n")
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout)["generated"] == "fail"
    assert "dvc.yaml" in result.stdout


def test_gate_fails_on_an_invalid_spec_and_shows_the_issue(run_diva: RunDiva, repo: Path) -> None:
    spec = repo / "diva.yaml"
    spec.write_text(spec.read_text().replace("\nplan:\n", "\nplna:\n"))
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 1
    assert rows_of(result.stdout) == {"spec.valid": "fail"}
    assert "diva.yaml:" in result.stdout
    assert "plna" in result.stdout
    assert "Traceback" not in result.stderr


def test_gate_json_report(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "main", "--format", "json", cwd=repo)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert (report["base_stage"], report["head_stage"]) == (1, 2)
    assert [row["id"] for row in report["checkpoints"]][-3:] == [
        "plan.summary",
        "plan.references",
        "plan.pinned",
    ]


def test_gate_markdown_is_appended_to_the_step_summary(
    run_diva: RunDiva, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run_diva("gate", "--base", "main", "--format", "markdown", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("## diva gate passed: promotion 1 -> 2\n")
    assert "| ✅ | `plan.references` |" in result.stdout
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + result.stdout


def test_gate_with_an_unknown_base_is_a_usage_error(run_diva: RunDiva, repo: Path) -> None:
    result = run_diva("gate", "--base", "no-such-branch", cwd=repo)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("diva: error: ")
    assert "no-such-branch" in result.stderr
    assert "Traceback" not in result.stderr


# --- diva status and diva log ------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repo whose main line went new -> 1 -> 2, and the two commits."""
    root = init_repo(tmp_path)
    first = commit_spec(root, SPEC, "plan", compiled=True)
    second = commit_spec(root, at_stage(2), "small", compiled=True)
    return root, [first, second]


def test_status_shows_stage_cycles_and_next_checkpoints(
    run_diva: RunDiva, history: tuple[Path, list[str]]
) -> None:
    root, _ = history
    result = run_diva("status", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "stage: stage 2 (small-scale modeling)",
        "cycles entered: plan 1, small 1",
        "next: stage 3 (large-scale modeling) — its checkpoints:",
    ]
    assert set(rows_of(result.stdout)) == {
        "data.small",
        "runs.small",
        "targets.small",
        "cycles.small",
    }
    assert "1 of 3 cycle(s) of stage 2" in result.stdout


def test_status_at_stage_0_shows_the_idea_checkpoints(run_diva: RunDiva, tmp_path: Path) -> None:
    root = init_repo(tmp_path)
    commit_spec(root, at_stage(0), "idea", compiled=True)
    result = run_diva("status", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "next: stage 1 (model planning) — its checkpoints:" in result.stdout
    assert {row.split(".")[0] for row in rows_of(result.stdout)} == {"idea"}


def test_log_lists_each_stage_change_with_its_commit(
    run_diva: RunDiva, history: tuple[Path, list[str]]
) -> None:
    root, (first, second) = history
    result = run_diva("log", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert f"  {first[:10]}  new -> 1  Diva Test" in lines[0]
    assert f"  {second[:10]}  1 -> 2  Diva Test" in lines[1]
