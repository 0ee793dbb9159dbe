"""Generated GitHub workflows pass zizmor, the workflow JSON Schema, yamllint — and ours.

Every example and every golden case is compiled the way a project is (the spec at the
root of the output folder, which is the repository root a workflow runs in). The
external linters must report nothing; the project's own checks below cover what they
do not: pinned actions, allowed triggers, timeouts, permissions, scripts free of
expressions.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.compiler.writer import apply
from tests.support.linters import tool
from tests.support.paths import EXAMPLES, ROOT

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*/diva.yaml"))


def _replaced(text: str, changes: tuple[tuple[str, str], ...]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


WAFER = ROOT / "specs" / "examples" / "wafer-defects" / "diva.yaml"
FORECAST = ROOT / "specs" / "examples" / "demand-forecast" / "diva.yaml"
#: Release workflows of other shapes: three environments, a team without model
#: engineers, a MySQL-backed MLflow, a project at stage 5 with both releases pinned.
VARIANTS = {
    "variant-three-environments": (
        WAFER,
        (
            ("environments: [staging, production]", "environments: [dev, staging, production]"),
            ('  model_engineers: ["@mlops/platform"]\n', ""),
        ),
    ),
    "variant-mysql-mlflow": (
        FORECAST,
        (
            (
                "postgresql://db.internal:5432/mlflow",
                "mysql+pymysql://db.internal:3306/mlflow",
            ),
        ),
    ),
}
CASES = (
    {f"example-{spec.parent.name}": spec.read_text() for spec in EXAMPLES}
    | {f"golden-{spec.parent.name}": spec.read_text() for spec in GOLDEN}
    | {name: _replaced(spec.read_text(), changes) for name, (spec, changes) in VARIANTS.items()}
)
RELEASE_WORKFLOW = "release.yml"
MONITOR_WORKFLOW = "monitor.yml"
GATE_WORKFLOW = "diva-gate.yml"
RECORD_WORKFLOW = "diva-record.yml"
TRAIN_WORKFLOW = "diva-train.yml"
#: The jobs that open pull requests (workflow file, job id), the only ones that may write
#: to pull requests.
WRITING_JOBS = {
    (RELEASE_WORKFLOW, "pin"),
    (MONITOR_WORKFLOW, "propose"),
    (MONITOR_WORKFLOW, "releases"),
}
WRITE_SCOPES = {"contents": "write", "pull-requests": "write"}
#: Every job whose permissions are not the workflow's read-only ones, and what they are:
#: the gate reads reviews; the record job pushes the verdict note (refs/notes/diva).
JOB_PERMISSIONS = dict.fromkeys(WRITING_JOBS, WRITE_SCOPES) | {
    (GATE_WORKFLOW, "gate"): {"contents": "read", "pull-requests": "read"},
    (RECORD_WORKFLOW, "record"): {"contents": "write", "pull-requests": "read"},
}
#: Workflows whose runs are never cancelled halfway: they push branches, notes and PRs.
UNCANCELLED = {RELEASE_WORKFLOW, MONITOR_WORKFLOW, RECORD_WORKFLOW, TRAIN_WORKFLOW}
#: The GitHub environment of each workflow's secrets.
ENVIRONMENTS = {
    RELEASE_WORKFLOW: "release",
    MONITOR_WORKFLOW: "release",
    TRAIN_WORKFLOW: "training",
}


def _stage(text: str) -> int:
    return validate_document(load_bytes(text.encode("utf-8"))).stage


#: Cases from stage 4: each has a release workflow, linted with the others of its folder.
RELEASE_CASES = sorted(name for name, text in CASES.items() if _stage(text) >= 4)
#: Cases from stage 3 with an MLflow server or database: each has a training workflow.
TRAIN_CASES = sorted(
    name
    for name, text in CASES.items()
    if _stage(text) >= 3 and "sqlite:" not in text and "tracking_uri" in text
)
#: Cases at stage 5: each has a monitoring workflow too.
MONITOR_CASES = sorted(name for name, text in CASES.items() if _stage(text) >= 5)
WORKFLOWS_DIR = Path(".github/workflows")
YAMLLINT_CONFIG = (
    "{extends: default, rules: {truthy: {check-keys: false}, line-length: {max: 120, "
    # a URL of the spec (a pinned wheel's) stands alone as a value: it cannot be broken
    "allow-non-breakable-inline-mappings: true}, "
    "document-start: disable}}"
)
PINNED = re.compile(r"^[^@]+@[0-9a-f]{40}$")
FORBIDDEN_TRIGGERS = {"pull_request_target", "workflow_run"}
ALLOWED_TRIGGERS = {"pull_request", "push", "schedule", "workflow_dispatch"}
#: Only the gate also runs on reviews (a pull_request run again: same token, no secrets).
REVIEW_TRIGGER = "pull_request_review"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case compiled into its own folder; the case name -> its workflows folder."""
    root = tmp_path_factory.mktemp("workflows")
    folders = {}
    for name, text in CASES.items():
        out = root / name
        out.mkdir()
        (out / "diva.yaml").write_text(text, encoding="utf-8")
        lock = ROOT / "tests" / "golden" / name.removeprefix("golden-") / "diva-lock.txt"
        if lock.is_file():  # the input a case's platform.install.lock names
            (out / lock.name).write_bytes(lock.read_bytes())
        apply(plan_job(Job(out / "diva.yaml", out)))
        folders[name] = out / WORKFLOWS_DIR
    return folders


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def workflow_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.yml"))
    assert files, f"no workflow in {folder}"
    return files


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(path)
    return data


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    return run(
        tool("zizmor"),
        "--offline",
        "--persona",
        "pedantic",
        "--no-config",
        "--no-ignores",
        "--strict-collection",
        "--no-progress",
        "--color",
        "never",
        str(target),
    )


# --- external linters ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_zizmor_pedantic_finds_nothing(case: str, compiled: dict[str, Path]) -> None:
    workflow_files(compiled[case])
    result = zizmor(compiled[case])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_zizmor_does_catch_an_expression_in_a_script(
    compiled: dict[str, Path], tmp_path: Path
) -> None:
    """The zero-findings test means something: a planted injection is found."""
    gate = compiled["example-demand-forecast"] / "diva-gate.yml"
    planted = gate.read_text().replace('"origin/${BASE_REF}"', '"origin/${{ github.head_ref }}"')
    assert planted != gate.read_text()
    folder = tmp_path / WORKFLOWS_DIR
    folder.mkdir(parents=True)
    (folder / "diva-gate.yml").write_text(planted)
    result = zizmor(folder)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


@pytest.mark.parametrize(
    "cases", [RELEASE_CASES, MONITOR_CASES, TRAIN_CASES], ids=["release", "monitor", "train"]
)
def test_the_cases_cover_examples_goldens_and_variants(cases: list[str]) -> None:
    kinds = {case.split("-")[0] for case in cases}
    assert kinds == {"example", "golden", "variant"}


@pytest.mark.parametrize("case", RELEASE_CASES)
def test_every_case_from_stage_4_has_a_release_workflow(
    case: str, compiled: dict[str, Path]
) -> None:
    """So that the linters of this module, run on each case's folder, see it."""
    assert (compiled[case] / RELEASE_WORKFLOW).is_file()


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_every_case_from_stage_3_on_a_server_has_a_training_workflow(
    case: str, compiled: dict[str, Path]
) -> None:
    assert (compiled[case] / TRAIN_WORKFLOW).is_file()


@pytest.mark.parametrize("case", MONITOR_CASES)
def test_every_case_at_stage_5_has_a_monitoring_workflow(
    case: str, compiled: dict[str, Path]
) -> None:
    assert (compiled[case] / MONITOR_WORKFLOW).is_file()


def test_zizmor_does_catch_an_expression_in_the_monitor_script(
    compiled: dict[str, Path], tmp_path: Path
) -> None:
    monitor = compiled["example-demand-forecast"] / MONITOR_WORKFLOW
    text = monitor.read_text()
    planted = text.replace("--out monitoring-report", "--out ${{ github.head_ref }}")
    assert planted != text
    folder = tmp_path / WORKFLOWS_DIR
    folder.mkdir(parents=True)
    (folder / MONITOR_WORKFLOW).write_text(planted)
    result = zizmor(folder)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


def test_zizmor_does_catch_an_expression_in_the_release_pin(
    compiled: dict[str, Path], tmp_path: Path
) -> None:
    release = compiled["example-wafer-defects"] / RELEASE_WORKFLOW
    text = release.read_text()
    planted = text.replace('--digest "$IMAGE_DIGEST"', "--digest ${{ needs.image.outputs.digest }}")
    assert planted != text
    folder = tmp_path / WORKFLOWS_DIR
    folder.mkdir(parents=True)
    (folder / RELEASE_WORKFLOW).write_text(planted)
    result = zizmor(folder)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_workflow_schema_accepts_them(case: str, compiled: dict[str, Path]) -> None:
    files = [str(path) for path in workflow_files(compiled[case])]
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_yamllint_finds_nothing(case: str, compiled: dict[str, Path]) -> None:
    files = [str(path) for path in workflow_files(compiled[case])]
    result = run(tool("yamllint"), "--strict", "-f", "parsable", "-d", YAMLLINT_CONFIG, *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# --- our own checks ------------------------------------------------------------------


def all_workflows(compiled: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{case}/{path.name}", load(path))
        for case, folder in sorted(compiled.items())
        for path in workflow_files(folder)
    ]


def values_of(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in ``node``."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                found.append(value)
            found += values_of(value, key)
    elif isinstance(node, list):
        for item in node:
            found += values_of(item, key)
    return found


def test_every_action_is_pinned_to_a_commit(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        uses = values_of(workflow, "uses")
        assert uses, name
        assert [ref for ref in uses if not PINNED.fullmatch(ref)] == [], name


def test_only_safe_triggers(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        triggers = set(workflow["on"])
        if name.rpartition("/")[2] == GATE_WORKFLOW:
            assert triggers == {"pull_request", REVIEW_TRIGGER}, name
            triggers -= {REVIEW_TRIGGER}
        assert triggers <= ALLOWED_TRIGGERS, name
        assert not triggers & FORBIDDEN_TRIGGERS, name


def test_every_job_has_a_timeout(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        for job_id, job in workflow["jobs"].items():
            timeout = job.get("timeout-minutes")
            assert isinstance(timeout, int), f"{name}: job {job_id}"
            assert timeout > 0, f"{name}: job {job_id}"


def test_permissions_are_read_only_but_for_the_jobs_that_open_pull_requests(
    compiled: dict[str, Path],
) -> None:
    for name, workflow in all_workflows(compiled):
        assert workflow["permissions"] == {"contents": "read"}, name
        for job_id, job in workflow["jobs"].items():
            wanted = JOB_PERMISSIONS.get((name.rpartition("/")[2], job_id))
            if wanted is not None:
                assert job["permissions"] == wanted, f"{name}: job {job_id}"
            else:
                assert "permissions" not in job, f"{name}: job {job_id}"


def test_only_the_jobs_that_open_pull_requests_get_a_token(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        for job_id, job in workflow["jobs"].items():
            tokens = [
                value
                for step in job["steps"]
                for key, value in (step.get("env") or {}).items()
                if key == "GH_TOKEN"
            ]
            if tokens:
                assert (name.rpartition("/")[2], job_id) in WRITING_JOBS, name


@pytest.mark.parametrize(
    ("file", "cases"),
    [
        (RELEASE_WORKFLOW, RELEASE_CASES),
        (MONITOR_WORKFLOW, MONITOR_CASES),
        (TRAIN_WORKFLOW, TRAIN_CASES),
    ],
)
def test_secrets_live_in_the_release_environment(
    file: str, cases: list[str], compiled: dict[str, Path]
) -> None:
    """Every job that reads a secret is in the environment ``release`` (the training
    job: ``training``), and every job runs on main only. The monitor's ``evaluate`` job,
    which runs the project's code, reads none and stays out of it."""
    for case in cases:
        workflow = load(compiled[case] / file)
        for job_id, job in workflow["jobs"].items():
            assert job["if"], f"{case}: job {job_id} runs on main only"
            if "secrets." in str(job):
                assert job["environment"] == ENVIRONMENTS[file], f"{case}: job {job_id}"
            else:
                assert (file, job_id) == (MONITOR_WORKFLOW, "evaluate"), f"{case}: job {job_id}"
                assert "environment" not in job, f"{case}: job {job_id}"


def test_concurrency_is_per_workflow_and_ref(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        concurrency = workflow["concurrency"]
        # a release or monitor under way finishes; the gate and the pipeline give way
        cancels = name.rpartition("/")[2] not in UNCANCELLED
        assert concurrency["cancel-in-progress"] is cancels, name
        assert "github.workflow" in concurrency["group"], name
        assert "github.ref" in concurrency["group"], name


def test_checkout_never_persists_credentials(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name


def test_no_expression_inside_a_run_script(compiled: dict[str, Path]) -> None:
    for name, workflow in all_workflows(compiled):
        scripts = values_of(workflow, "run")
        assert scripts, name
        assert [script for script in scripts if "${{" in str(script)] == [], name
