"""The act harness runs a real workflow: pinned checkout and setup-python, env, exit codes.

Each test is a real `act` run in a Docker container (a few seconds each). Without
Docker they skip; CI's DIVA_NO_SKIP=1 turns that into a failure.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import act_times
from tests.support.act_harness import (
    CHECKOUT,
    OFFLINE_PIP_ENV,
    SETUP_PYTHON,
    WHEELHOUSE,
    act_problem,
    build_wheelhouse,
    run_act,
)

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

VERDICT_WORKFLOW = f"""\
name: verdict
on:
  pull_request:
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - id: python
        uses: {SETUP_PYTHON}
        with:
          python-version: "3.11"
      - name: Judge
        env:
          PYTHON_VERSION: ${{{{ steps.python.outputs.python-version }}}}
        run: |
          echo "greeting=$GREETING verdict=$(cat verdict) python=$PYTHON_VERSION"
          echo "workspace=$GITHUB_WORKSPACE base=$GITHUB_BASE_REF head=$GITHUB_HEAD_REF"
          test "$(cat verdict)" = pass
"""

INSTALL_WORKFLOW = f"""\
name: install
on:
  pull_request:
jobs:
  install:
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT}
      - uses: {SETUP_PYTHON}
        with:
          python-version: "3.11"
      - run: |
          pip install diva-lifecycle
          echo "installed: $(diva --version)"
"""

SECRETS_WORKFLOW = """\
name: secrets
on:
  pull_request:
jobs:
  read:
    runs-on: ubuntu-latest
    steps:
      - env:
          FROM_VARIABLE: ${{ vars.GREETING }}
          FROM_SECRET: ${{ secrets.TOKEN }}
          UNSET_SECRET: ${{ secrets.NOT_GIVEN }}
        run: |
          echo "variable=$FROM_VARIABLE secret=$FROM_SECRET unset=[$UNSET_SECRET]"
          test "$FROM_SECRET" = s3cret-value-1
"""

PAYLOAD = {
    "number": 7,
    "pull_request": {"number": 7, "base": {"ref": "main"}, "head": {"ref": "feature"}},
}


def sh(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=60)


def git_repo(root: Path, workflow: str, files: dict[str, str]) -> Path:
    """A committed repository with `workflow` as its only workflow, plus `files`."""
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(workflow)
    for name, text in files.items():
        (root / name).write_text(text)
    sh("git", "init", "-q", "-b", "feature", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "config", "user.email", "ci@example.com", cwd=root)
    sh("git", "config", "user.name", "CI", cwd=root)
    sh("git", "commit", "-qm", "x", cwd=root)
    return root


def log_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"act exited {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(("verdict", "succeeds"), [("pass", True), ("fail", False)])
def test_the_job_result_follows_the_step(tmp_path: Path, verdict: str, succeeds: bool) -> None:
    repo = git_repo(tmp_path, VERDICT_WORKFLOW, {"verdict": f"{verdict}\n"})
    result = run_act(repo, "pull_request", PAYLOAD, env={"GREETING": "hello"}, timeout=300)
    assert (result.returncode == 0) is succeeds, log_of(result)
    assert f"greeting=hello verdict={verdict} python=3.11." in result.stdout, log_of(result)
    assert f"workspace={repo} base=main head=feature" in result.stdout, log_of(result)
    assert ("Job succeeded" if succeeds else "Job failed") in result.stdout, log_of(result)


def test_the_runner_installs_the_local_diva_offline(tmp_path: Path) -> None:
    wheels = build_wheelhouse(tmp_path / "wheels")
    repo = git_repo(tmp_path / "repo", INSTALL_WORKFLOW, {})
    result = run_act(
        repo,
        "pull_request",
        PAYLOAD,
        env=OFFLINE_PIP_ENV,
        mounts={wheels: WHEELHOUSE},
        network="none",
        timeout=300,
    )
    assert result.returncode == 0, log_of(result)
    assert "installed: diva, version" in result.stdout, log_of(result)


def test_secrets_and_variables_reach_the_job_and_the_secret_is_masked(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, SECRETS_WORKFLOW, {})
    result = run_act(
        repo,
        "pull_request",
        PAYLOAD,
        secrets={"TOKEN": "s3cret-value-1"},
        variables={"GREETING": "hello"},
        timeout=300,
    )
    assert result.returncode == 0, log_of(result)
    assert "variable=hello secret=*** unset=[]" in result.stdout, log_of(result)
    assert "s3cret-value-1" not in result.stdout + result.stderr
    assert not any("s3cret" in arg for arg in result.args)  # a file, not the command line


def test_values_act_would_misread_are_refused(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, SECRETS_WORKFLOW, {})
    with pytest.raises(ValueError, match="only plain names and values"):
        run_act(repo, "pull_request", PAYLOAD, secrets={"TOKEN": "two\nlines"})


def test_two_runs_of_one_workflow_at_once_both_run(tmp_path: Path) -> None:
    """act names the job container after the workflow and the job: the harness runs
    one act at a time, or the second run fails with a container name conflict."""
    repos = [git_repo(tmp_path / name, VERDICT_WORKFLOW, {"verdict": "pass\n"}) for name in "ab"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda repo: run_act(repo, "pull_request", PAYLOAD, timeout=300), repos)
        results = list(runs)
    for result in results:
        assert result.returncode == 0, log_of(result)


@pytest.mark.parametrize(("verdict", "succeeds"), [("pass", True), ("fail", False)])
def test_each_step_and_run_time_is_recorded_for_the_benchmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdict: str, succeeds: bool
) -> None:
    """`bench/workflows.py` reads act's own step times from the log of a real run."""
    times = tmp_path / "times.jsonl"
    monkeypatch.setenv(act_times.TIMES_VARIABLE, str(times))
    repo = git_repo(tmp_path / "repo", VERDICT_WORKFLOW, {"verdict": f"{verdict}\n"})
    workflow = repo / ".github" / "workflows" / "ci.yml"
    result = run_act(repo, "pull_request", PAYLOAD, workflow=workflow, timeout=300)
    [entry] = [json.loads(line) for line in times.read_text().splitlines()]
    assert entry["workflow"] == "ci.yml (verdict)"
    assert entry["event"] == "pull_request"
    assert entry["returncode"] == result.returncode
    assert entry["seconds"] > 0
    main = {step["step"]: step for step in entry["steps"] if step["stage"] == "Main"}
    assert main["Judge"]["ok"] is succeeds, log_of(result)
    assert 0 < main["Judge"]["seconds"] < entry["seconds"], entry
    assert all(step["job"] == "verdict/check" for step in entry["steps"]), entry


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2.07s", 2.07), ("345ms", 0.345), ("1m2.5s", 62.5), ("1h0m1s", 3601.0), ("12.5µs", 12.5e-6)],
)
def test_go_durations_are_read_as_seconds(text: str, seconds: float) -> None:
    assert act_times.go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "2", "2s junk", "s"])
def test_what_is_not_a_go_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Go duration"):
        act_times.go_duration(text)
