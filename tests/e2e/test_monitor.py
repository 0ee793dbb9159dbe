"""`diva monitor` with real MLflow (the embedded store) and two real model versions
trained by a scaffolded project's own code on synthetic data.

Version 1 is over-regularized (a poor fit), version 2 fits well. Three situations:
the challenger is better (a proposal, exit 0), worse (no proposal, exit 0), better but
the current data drifted (no proposal, exit 1). The proposal is a real pull-request
branch pushed to a bare origin, pinning the challenger's version in production. Every
run states its decision (a reason code and a sentence) on the terminal's last line, in
report.md and in report.json: each reason code has a run here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diva.scaffold import new_project
from tests.support.process import run, sh

NAME = "sensor-watch"
MODULE = "sensor_watch"
SPEC = f"""\
diva: 1
project: {{name: {NAME}, title: Sensor model under monitoring}}
stage: manage
idea:
  inputs:
    - {{name: x0, type: float}}
    - {{name: x1, type: float}}
    - {{name: x2, type: float}}
    - {{name: x3, type: float}}
  outputs:
    - {{name: y, type: float}}
datasets:
  sample: {{scale: small, path: data/sample}}
  full: {{scale: large, path: data/full}}
  recent: {{scale: large, path: data/recent}}
  shifted: {{scale: large, path: data/shifted}}
model:
  framework: sklearn
  task: regression
  entrypoints:
    prepare: src/{MODULE}/prepare.py
    train: src/{MODULE}/train.py
    evaluate: src/{MODULE}/evaluate.py
  params: {{alpha: 0.1, test_fraction: 0.25, seed: 7}}
targets:
  - {{metric: rmse, goal: minimize, threshold: 0.5, dataset: sample}}
  - {{metric: rmse, goal: minimize, threshold: 0.4, dataset: full}}
  - {{metric: r2, goal: maximize, threshold: 0.9, dataset: full}}
slos: {{latency_p95_ms: 200, error_rate: 0.01, availability: 0.99}}
serving:
  pattern: model-as-service
  releases:
    production: {{model_version: 1}}
platform:
  image_registry: 127.0.0.1:5000/acme
  base_images:
    sklearn: "registry.example.org/base/sklearn@sha256:{"0" * 64}"
  environments: [staging, production]
monitoring:
  schedule: "0 6 * * MON"
  reference_dataset: full
  drift: {{method: psi, threshold: 0.2}}
  margin: 0.05
"""


def diva(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "diva", *args, cwd=root)


def train(root: Path, alpha: float) -> None:
    """prepare, train and evaluate on `full` with ``alpha``: one registered version."""
    params = root / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("alpha: 0.1", f"alpha: {alpha}"))
    try:
        for step in ("prepare", "train", "evaluate"):
            sh(sys.executable, f"src/{MODULE}/{step}.py", "--dataset", "full", cwd=root)
    finally:
        params.write_text(original)


def set_alias(root: Path, alias: str, version: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / '.diva' / 'mlflow.db'}")
    client.set_registered_model_alias(NAME, alias, version)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stage-5 project with versions 1 (poor) and 2 (good), pushed to a bare origin."""
    where = tmp_path_factory.mktemp("monitor")
    root = new_project(where / NAME, {"project_name": NAME}, no_input=True)
    (root / "diva.yaml").write_text(SPEC)
    sh(sys.executable, "-m", "diva", "compile", cwd=root)
    data = f"src/{MODULE}/data.py"
    sh(sys.executable, data, "data/sample", cwd=root)
    sh(sys.executable, data, "data/full", "--rows", "4000", cwd=root)
    sh(sys.executable, data, "data/recent", "--rows", "2000", "--seed", "1", cwd=root)
    shifted = ("data/shifted", "--rows", "2000", "--seed", "2", "--shift", "1.5")
    sh(sys.executable, data, *shifted, cwd=root)
    train(root, alpha=20000.0)  # version 1: shrunk towards the mean
    train(root, alpha=0.1)  # version 2
    sh(sys.executable, "-m", "diva", "release", "alias", "production", cwd=root)  # champion -> 1
    set_alias(root, "challenger", "2")
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_text("data/\nbuild/\nmetrics/\nplots/\nreports/\n")
    sh("git", "config", "user.email", "ci@example.com", cwd=root)
    sh("git", "config", "user.name", "CI", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "Stage 5 with two versions", cwd=root)
    sh("git", "init", "-q", "--bare", str(where / "origin.git"), cwd=where)
    sh("git", "remote", "add", "origin", str(where / "origin.git"), cwd=root)
    sh("git", "push", "-q", "-u", "origin", "main", cwd=root)
    return root


def report_of(root: Path, out: str) -> dict[str, object]:
    document: dict[str, object] = json.loads((root / out / "report.json").read_text())
    return document


def decision_of(
    result: subprocess.CompletedProcess[str], folder: Path, reason: str, version: str | None
) -> str:
    """The run's decision, the same on the terminal, in report.md and in report.json:
    ``reason`` about ``version``. Returns its sentence."""
    decision = json.loads((folder / "report.json").read_text())["decision"]
    assert (decision["reason"], decision["version"]) == (reason, version), decision
    assert decision["proposed"] is (reason == "proposed")
    message = decision["message"]
    last = result.stdout.rstrip().splitlines()[-1]
    assert last == f"decision: {reason}: {message}", result.stdout
    markdown = (folder / "report.md").read_text()
    assert f"**Decision** (`{reason}`): {message.rstrip('.')}." in markdown
    assert f"(<code>{reason}</code>)" in (folder / "report.html").read_text()
    return str(message)


def monitor_recent(root: Path, out: str, *options: str) -> subprocess.CompletedProcess[str]:
    return diva(root, "monitor", "--current", "recent", "--out", out, *options)


def test_a_better_challenger_is_proposed_for_production(project: Path) -> None:
    result = diva(project, "monitor", "--current", "recent", "--out", "reports/better", "--propose")
    assert result.returncode == 0, result.stdout + result.stderr
    report = report_of(project, "reports/better")
    assert report["healthy"] is True
    assert report["proposal"] == {"alias": "challenger", "version": "2"}
    branch = "diva/release-production-v2"
    message = decision_of(result, project / "reports/better", "proposed", "2")
    assert message.startswith("challenger (version 2) beats the champion by the margin 0.05")
    assert message.endswith(f"proposed for production in branch {branch}")
    assert branch in sh("git", "ls-remote", "origin", cwd=project)
    pinned = sh("git", "show", f"{branch}:diva.yaml", cwd=project)
    assert "production: {model_version: 2}" in pinned
    sh("git", "checkout", "-q", "main", cwd=project)


def _forget_branch(root: Path, branch: str) -> None:
    """Take back a proposal branch of an earlier test, here and on origin."""
    if branch in sh("git", "ls-remote", "origin", cwd=root):
        sh("git", "push", "-q", "origin", "--delete", branch, cwd=root)
    if sh("git", "branch", "--list", branch, cwd=root).strip():
        sh("git", "branch", "-q", "-D", branch, cwd=root)


def test_the_run_split_over_three_jobs_proposes_what_one_run_does(
    project: Path, tmp_path: Path
) -> None:
    """download (MLflow, loads nothing) -> score (no MLflow) -> judge, log and propose
    (MLflow and the push): the same report and the same pull request."""
    branch = "diva/release-production-v2"
    _forget_branch(project, branch)
    versions, measured = tmp_path / "versions", tmp_path / "measured"
    spec = str(project / "diva.yaml")
    downloaded = diva(tmp_path, "monitor", "--spec", spec, "--download", str(versions))
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    manifest = json.loads((versions / "versions.json").read_text())
    assert [manifest["champion"]["version"], manifest["challengers"][0]["version"]] == ["1", "2"]
    assert (versions / "2" / "MLmodel").is_file()
    scored = diva(
        tmp_path, "monitor", "--spec", spec, "--current", "recent",
        "--models", str(versions), "--out", str(measured),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert json.loads((measured / "report.json").read_text())["run_id"] is None  # not logged
    message = decision_of(scored, measured, "scoring_only", "2")
    assert "`diva monitor --from-report` judges and proposes" in message
    report = str(measured / "report.json")
    args = ("monitor", "--from-report", report, "--out", "reports/split", "--propose")
    judged = diva(project, *args)
    assert judged.returncode == 0, judged.stdout + judged.stderr
    final = report_of(project, "reports/split")
    assert final["proposal"] == {"alias": "challenger", "version": "2"}
    decision_of(judged, project / "reports/split", "proposed", "2")
    assert final["run_id"] is not None
    assert final["history"]
    assert "production: {model_version: 2}" in sh("git", "show", f"{branch}:diva.yaml", cwd=project)
    sh("git", "checkout", "-q", "main", cwd=project)


def _split_measure(project: Path, folder: Path, current: str) -> Path:
    """The first two jobs of the split run: download, then score; the report's path."""
    versions, measured = folder / "versions", folder / "measured"
    spec = str(project / "diva.yaml")
    sh(sys.executable, "-m", "diva", "monitor", "--spec", spec, "--download", str(versions),
       cwd=folder)  # fmt: skip
    sh(sys.executable, "-m", "diva", "monitor", "--spec", spec, "--models", str(versions),
       "--current", current, "--out", str(measured), cwd=folder)  # fmt: skip
    return measured / "report.json"


def test_a_forged_verdict_in_the_handed_over_report_is_not_believed(
    project: Path, tmp_path: Path
) -> None:
    """The better challenger on drifted data, in a report that claims no drift and a
    proposal: flags and verdict are worked out again from the numbers, so nothing is
    proposed and the run fails."""
    branch = "diva/release-production-v2"
    _forget_branch(project, branch)
    path = _split_measure(project, tmp_path, "shifted")
    document = json.loads(path.read_text())
    challenger = document["challengers"][0]
    document["healthy"] = document["verdict"]["healthy"] = True
    document["proposal"] = {"alias": "challenger", "version": challenger["version"]}
    decision = {"proposed": True, "version": "2", "reason": "proposed", "message": "forged"}
    document["decision"] = decision
    document["verdict"] = {
        "healthy": True, "proposal": challenger, "decision": decision, "reasons": []
    }  # fmt: skip
    for row in document["drift"]:
        row["drifted"] = False
    path.write_text(json.dumps(document))
    args = ("monitor", "--from-report", str(path), "--out", "reports/forged", "--propose")
    result = diva(project, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    report = report_of(project, "reports/forged")
    assert report["proposal"] is None
    decision_of(result, project / "reports/forged", "drift", "2")
    assert [row["feature"] for row in report["drift"] if row["drifted"]] == ["x0"]  # type: ignore[union-attr]
    assert branch not in sh("git", "ls-remote", "origin", cwd=project)


def test_a_report_scored_before_the_aliases_moved_is_refused(project: Path, tmp_path: Path) -> None:
    path = _split_measure(project, tmp_path, "recent")
    set_alias(project, "challenger", "1")
    try:
        args = ("monitor", "--from-report", str(path), "--out", "reports/moved", "--propose")
        result = diva(project, *args)
    finally:
        set_alias(project, "challenger", "2")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the monitoring aliases moved since the versions were scored" in result.stderr
    assert not (project / "reports" / "moved").exists()


def test_a_worse_challenger_is_not_proposed(project: Path) -> None:
    set_alias(project, "champion", "2")
    set_alias(project, "challenger", "1")
    try:
        result = diva(
            project, "monitor", "--current", "recent", "--out", "reports/worse", "--propose"
        )
    finally:
        set_alias(project, "champion", "1")
        set_alias(project, "challenger", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    report = report_of(project, "reports/worse")
    assert report["healthy"] is True
    assert report["proposal"] is None
    champion, challenger = report["champion"], report["challengers"][0]  # type: ignore[index]
    assert challenger["metrics"]["rmse"] > champion["metrics"]["rmse"]
    message = decision_of(result, project / "reports/worse", "not_better", "1")
    assert message.startswith("challenger (version 1) is not better than the champion on every")
    assert "rmse" in message


def test_a_better_challenger_on_drifted_data_fails_the_job(project: Path) -> None:
    result = diva(
        project, "monitor", "--current", "shifted", "--out", "reports/drifted", "--propose"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = report_of(project, "reports/drifted")
    assert report["healthy"] is False
    assert report["proposal"] is None
    drifted = {row["feature"] for row in report["drift"] if row["drifted"]}  # type: ignore[index, union-attr]
    assert drifted == {"x0"}
    assert any("drifted: no proposal" in reason for reason in report["verdict"]["reasons"])  # type: ignore[index]
    message = decision_of(result, project / "reports/drifted", "drift", "2")
    assert "the data drifted: no proposal until the drift is understood" in message


def test_a_breached_slo_fails_the_job_and_holds_the_winner_back(
    project: Path, tmp_path: Path
) -> None:
    _forget_branch(project, "diva/release-production-v2")
    observed = tmp_path / "serving.json"
    prometheus = {"status": "success", "data": {"result": [{"value": [0, "0.05"]}]}}
    observed.write_text(json.dumps({"latency_p95_ms": 120, "error_rate": prometheus}))
    result = monitor_recent(project, "reports/slo", "--metrics", str(observed), "--propose")
    assert result.returncode == 1, result.stdout + result.stderr
    message = decision_of(result, project / "reports/slo", "slo_breached", "2")
    assert "an SLO is breached: no proposal while serving misses it" in message
    assert "diva/release-production-v2" not in sh("git", "ls-remote", "origin", cwd=project)
    slos = {row["name"]: row["status"] for row in report_of(project, "reports/slo")["slos"]}  # type: ignore[union-attr]
    assert slos == {
        "latency_p95_ms": "met",
        "error_rate": "breached",
        "availability": "not observed",
    }


def test_a_winner_without_propose_is_named_and_not_proposed(project: Path) -> None:
    result = monitor_recent(project, "reports/asked")
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/asked", "not_requested", "2")
    assert message == (
        "challenger (version 2) beats the champion by the margin 0.05 on every target; "
        "`diva monitor --propose` opens the pull request that pins it"
    )


def test_a_challenger_on_the_champions_version_is_a_tie(project: Path) -> None:
    set_alias(project, "challenger", "1")
    try:
        result = monitor_recent(project, "reports/tie", "--propose")
    finally:
        set_alias(project, "challenger", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/tie", "tie", "1")
    assert message.endswith("scores the same as the champion on every target: a tie is no win")


def _spec_edited(root: Path, old: str, new: str) -> str:
    """Edit diva.yaml in the work tree (not committed); returns the original."""
    original = (root / "diva.yaml").read_text()
    assert old in original
    (root / "diva.yaml").write_text(original.replace(old, new))
    return original


def test_a_better_challenger_within_the_margin_is_not_proposed(project: Path) -> None:
    original = _spec_edited(project, "margin: 0.05", "margin: 0.99")
    try:
        result = monitor_recent(project, "reports/margin", "--propose")
    finally:
        (project / "diva.yaml").write_text(original)
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/margin", "within_margin", "2")
    assert message.startswith("challenger (version 2) is better, but not by the margin 0.99")


def test_no_challenger_version_no_comparison(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / '.diva' / 'mlflow.db'}")
    client.delete_registered_model_alias(NAME, "challenger")
    try:
        result = monitor_recent(project, "reports/alone", "--propose")
    finally:
        set_alias(project, "challenger", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/alone", "no_challenger", None)
    assert message.startswith("no version carries a challenger alias")
    assert (
        "No version carries the alias: challenger."
        in (project / "reports/alone/report.md").read_text()
    )


def test_a_winner_without_a_serving_section_is_not_proposed(project: Path) -> None:
    """Stage 3 may already monitor; with no serving section there is no release to pin."""
    serving = (
        "serving:\n  pattern: model-as-service\n  releases:\n    production: {model_version: 1}\n"
    )
    original = _spec_edited(project, serving, "")
    (project / "diva.yaml").write_text(
        (project / "diva.yaml").read_text().replace("stage: manage", "stage: 3")
    )
    try:
        result = monitor_recent(project, "reports/unserved", "--propose")
    finally:
        (project / "diva.yaml").write_text(original)
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/unserved", "no_serving", "2")
    assert "diva.yaml has no serving section to pin a release in" in message


def test_a_refused_release_pin_is_the_decision(project: Path) -> None:
    """Production already pins the winner's version: the pin refuses, the run goes on."""
    _forget_branch(project, "diva/release-production-v2")
    original = _spec_edited(
        project, "production: {model_version: 1}", "production: {model_version: 2}"
    )
    try:
        result = monitor_recent(project, "reports/refused", "--propose")
    finally:
        (project / "diva.yaml").write_text(original)
    assert result.returncode == 0, result.stdout + result.stderr
    message = decision_of(result, project / "reports/refused", "refused", "2")
    assert "the release pin was refused: production already pins this release" in message
    assert "diva/release-production-v2" not in sh("git", "ls-remote", "origin", cwd=project)


def test_each_monitoring_run_is_an_mlflow_run_with_its_reports(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / '.diva' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(NAME)
    runs = client.search_runs([experiment.experiment_id], "tags.`diva.step` = 'monitor'")
    assert len(runs) >= 3
    for found in runs:
        assert "champion.rmse" in found.data.metrics
        artifacts = {item.path for item in client.list_artifacts(found.info.run_id, "monitor")}
        assert artifacts == {"monitor/report.json", "monitor/report.md", "monitor/report.html"}


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_html_report_renders_its_plots_in_a_browser(project: Path, tmp_path: Path) -> None:
    """Headless Chromium opens the report; the screenshot holds the plots' colors."""
    from PIL import Image

    from diva.monitor.html import CHALLENGER_COLORS, CHAMPION_COLOR, DRIFTED_COLOR

    chromium = _chromium()
    if chromium is None:  # CI installs it (.ci/browser-setup); DIVA_NO_SKIP fails this there
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    result = diva(project, "monitor", "--current", "shifted", "--out", "reports/shot")
    assert result.returncode == 1, result.stdout + result.stderr
    page = (project / "reports" / "shot" / "report.html").resolve()
    picture = tmp_path / "report.png"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += [f"--screenshot={picture}", "--window-size=1100,2600", page.as_uri()]
    shot = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert picture.is_file(), shot.stderr
    colors = Image.open(picture).convert("RGB").getcolors(maxcolors=1 << 20) or []
    counts = {"#{:02x}{:02x}{:02x}".format(*rgb): count for count, rgb in colors}
    for color in (CHAMPION_COLOR, CHALLENGER_COLORS[0], DRIFTED_COLOR):
        assert counts.get(color, 0) > 500, f"{color} barely on the page: the plots did not render"
    assert len(counts) > 50  # text, bars, lines: not a blank page
