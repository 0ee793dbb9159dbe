"""``diva quickstart``: a freshly scaffolded project walked from stage 0 to stage 3.

Everything runs on embedded defaults in one workspace folder, with no server: the
project (git, DVC with a local remote, MLflow on a SQLite store under ``.diva/``) and a
bare git repository standing in for GitHub (``origin.git``). Each promotion is what a
team does: write the checkpoint's content in diva.yaml, commit, ``diva promote`` (a
branch, the stage changed, recompiled, gated, pushed), then merge the branch as the
pull request would be merged. The gate report of every promotion is printed and kept
in ``quickstart.json`` with the rest of the outcome.

Stage 4 needs the Docker engine and an image registry (``diva build``, ``diva train``):
the walk stops at stage 3 and says how to go on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from diva.errors import DivaError
from diva.extras import ToolsMissing, require
from diva.lifecycle.evidence.git import stage_history
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.gate import as_json, as_text, evaluate, next_stage
from diva.lifecycle.proposals.promote import promote
from diva.lifecycle.proposals.spec_edit import set_scalar
from diva.scaffold import new_project
from diva.stages import stage

PROJECT = "sensor-model"
SUMMARY_FILE = "quickstart.json"
#: Packages the walk runs besides diva: the pipeline's tools and the template's model code.
NEEDS = {"dvc": "dvc", "mlflow": "mlflow", "sklearn": "scikit-learn", "pandas": "pandas"}
#: A placeholder base image: stage 3 names one; building on it needs `diva build --base`.
PLACEHOLDER_BASE = "registry.example.org/base/sklearn:py3.11@sha256:" + "0" * 64

Echo = Callable[[str], None]
#: What `dvc repro` suggests to someone typing commands; the walk does those itself.
_DVC_HINTS = ("To track", "git add", "To enable", "dvc config", "Use `dvc push`", "'data/")


@dataclass
class Walk:
    """The workspace, the project in it, and what happened so far."""

    workspace: Path
    echo: Echo
    gates: list[dict[str, object]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def root(self) -> Path:
        return self.workspace / PROJECT

    @property
    def origin(self) -> Path:
        return self.workspace / "origin.git"


def run(workspace: Path, echo: Echo = print) -> Walk:
    """Walk a new project in ``workspace`` (absent or empty) from stage 0 to stage 3."""
    require("the quickstart", "quickstart", NEEDS)
    walk = Walk(workspace.resolve(), echo)
    steps = (_scaffold, _publish, _stage_1, _stage_2, _small_runs, _stage_3)
    for number, step in enumerate(steps, 1):
        echo(f"\n[{number}/{len(steps)}] {(step.__doc__ or '').strip()}")
        step(walk)
    _write_summary(walk)
    return walk


# --- the steps -------------------------------------------------------------------------


def _scaffold(walk: Walk) -> None:
    """Scaffold the project from the template (diva new)"""

    walk.workspace.mkdir(parents=True, exist_ok=True)
    answers = {
        "project_name": PROJECT,
        "project_title": "Sensor model: y from four sensor readings",
        "description": "The quickstart's project: a regression on synthetic sensor data.",
        "modelers": "@quickstart/modelers",
    }
    new_project(walk.root, answers, no_input=True)
    walk.echo(f"  created {walk.root}")


def _publish(walk: Walk) -> None:
    """Commit the scaffold and push it to a local bare origin (GitHub's stand-in)"""
    _git(walk, "init", "-q", "--bare", "-b", "main", "--", str(walk.origin), cwd=walk.workspace)
    if not _git(walk, "config", "user.email", check=False):
        _git(walk, "config", "user.name", "diva quickstart")
        _git(walk, "config", "user.email", "quickstart@diva.invalid")
    _commit(walk, "Scaffold sensor-model with diva new")
    _git(walk, "remote", "add", "--", "origin", str(walk.origin))
    _git(walk, "push", "-q", "-u", "origin", "main")
    walk.echo(f"  main pushed to {walk.origin}")


def _stage_1(walk: Walk) -> None:
    """Stage 0 -> 1: state the idea, promote, gate, merge"""
    _edit(
        walk,
        (("idea", "problem"), "Faulty sensors go unnoticed until a batch is scrapped."),
        (("idea", "expected_effect"), "Half of the scrapped batches caught a shift earlier."),
        (("idea", "value", "researchers"), "How the four readings combine into y."),
        (("idea", "value", "users"), "Operators see a predicted y before the lab does."),
    )
    _commit(walk, "Describe the idea")
    _promote(walk)


def _stage_2(walk: Walk) -> None:
    """Stage 1 -> 2: write the plan, promote, gate, merge"""
    _edit(
        walk,
        (("plan", "summary"), "A scaled ridge regression on 400 rows; scale up if rmse < 0.5."),
    )
    text = _spec(walk)
    reference = (
        '[{title: "Ridge regression", url: "https://doi.org/10.1080/00401706.1970.10488634"}]'
    )
    _spec(walk, set_scalar(text, ("plan", "references"), reference))
    _commit(walk, "Write the research plan")
    _promote(walk)


def _small_runs(walk: Walk) -> None:
    """Stage 2: make and register the small dataset, run the pipeline (DVC + MLflow)"""
    module = f"src/{PROJECT.replace('-', '_')}"
    _python(walk, f"{module}/data.py", "data/sample")
    _dvc(walk, "add", "-q", "--", "data/sample")
    walk.echo("  dvc repro: prepare -> train -> evaluate (MLflow runs in .diva/mlflow.db)")
    _dvc(walk, "repro", echo_output=True)
    _dvc(walk, "push", "-q")
    metrics = json.loads((walk.root / "metrics" / "sample.json").read_text("utf-8"))
    walk.echo("  metrics: " + ", ".join(f"{key} {value:.4f}" for key, value in metrics.items()))
    _commit(walk, "Small-scale runs on data/sample")


def _stage_3(walk: Walk) -> None:
    """Stage 2 -> 3: name the standardized base image, promote, gate, merge"""
    _edit(walk, (("platform", "base_images", "sklearn"), PLACEHOLDER_BASE))
    _commit(walk, "Name the standardized base image for sklearn")
    _promote(walk)
    walk.echo(
        "  stage 4 needs runs inside the training image: start a Docker engine and a registry,"
        "\n  then `diva build train --push --base <local image>` and `diva train` (docs/images.md)"
    )


# --- promotion as a team does it -------------------------------------------------------


def _promote(walk: Walk) -> None:

    outcome = promote(walk.root, None)
    report = evaluate(walk.root, "main")
    walk.echo(f"  {outcome.title} on branch {outcome.branch}, pushed: the gate says")
    walk.echo("    " + as_text(report).replace("\n", "\n    "))
    walk.gates.append({"branch": outcome.branch, **json.loads(as_json(report))})
    _git(walk, "checkout", "-q", "main")
    _git(walk, "merge", "-q", "--no-ff", outcome.branch, "-m", f"Merge {outcome.branch}")
    _git(walk, "push", "-q", "origin", "main")
    walk.echo(f"  merged {outcome.branch} into main (as the approved pull request would be)")


def _write_summary(walk: Walk) -> None:

    report, _ = next_stage(walk.root)
    summary = {
        "project": str(walk.root),
        "origin": str(walk.origin),
        "stage": report.base_stage,
        "gates": walk.gates,
        "seconds": round(time.monotonic() - walk.started, 1),
    }
    (walk.workspace / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")


# --- small helpers ---------------------------------------------------------------------


def _spec(walk: Walk, text: str | None = None) -> str:
    path = walk.root / "diva.yaml"
    if text is not None:
        path.write_text(text, "utf-8")
        return text
    return path.read_text("utf-8")


def _edit(walk: Walk, *changes: tuple[tuple[str, ...], str]) -> None:
    text = _spec(walk)
    for path, value in changes:
        text = set_scalar(text, path, json.dumps(value))
    _spec(walk, text)


def _commit(walk: Walk, message: str) -> None:
    _git(walk, "add", "-A")
    _git(walk, "commit", "-q", "-m", message)


def _env() -> dict[str, str]:
    """PATH with this Python's folder first: dvc.yaml runs `python`, which must be it."""
    folder = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def _git(walk: Walk, *args: str, cwd: Path | None = None, check: bool = True) -> str:
    return _call(walk, ["git", *args], cwd or walk.root, check=check)


def _dvc(walk: Walk, *args: str, echo_output: bool = False) -> str:
    output = _call(walk, [sys.executable, "-m", "dvc", *args], walk.root)
    if echo_output:
        for line in output.splitlines():
            if line.strip() and not line.lstrip().startswith(_DVC_HINTS):
                walk.echo(f"    {line}")
    return output


def _python(walk: Walk, *args: str) -> str:
    return _call(walk, [sys.executable, *args], walk.root)


def _call(walk: Walk, command: list[str], cwd: Path, *, check: bool = True) -> str:
    if shutil.which(command[0]) is None:
        raise ToolsMissing(f"{command[0]} is not installed; the quickstart needs it")
    result = subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    if check and result.returncode:
        shown = " ".join(command[1:] if command[0] == sys.executable else command)
        output = (result.stdout + result.stderr).strip()[-2000:]
        raise DivaError(f"`{shown}` failed in {cwd} (exit {result.returncode}):\n{output}")
    return result.stdout.strip()


# --- the closing report ----------------------------------------------------------------


def closing_report(walk: Walk) -> list[str]:
    """The status table, the stage history, the MLflow runs, and how to look further."""

    report, _ = next_stage(walk.root)
    lines = [f"\n{PROJECT} is at {stage(report.base_stage or 0)}; the stage history on main:"]
    for change in stage_history(walk.root, "HEAD"):
        before = "new" if change.before is None else str(change.before)
        lines.append(f"  {change.commit[:10]}  {before:>3} -> {change.after}  {change.author}")
    lines.append(f"next, {stage(report.head_stage or 0)}: its checkpoints")
    lines += [f"  {row.status:<11} {row.id:<16} {row.detail}" for row in report.rows]
    runs = Mlflow(walk.root, "sqlite:///.diva/mlflow.db").runs(PROJECT)
    lines.append(f"MLflow runs of {PROJECT}: {len(runs)}")
    for found in runs:
        shown = ", ".join(f"{key} {value:.4f}" for key, value in sorted(found.metrics.items()))
        lines.append(f"  {found.run_id[:12]}  {found.tags.get('diva.step', '?'):<9} {shown}")
    seconds = time.monotonic() - walk.started
    return [
        *lines,
        f"\ndone in {seconds:.0f} s; the project is {walk.root}",
        f"summary with every gate report: {walk.workspace / SUMMARY_FILE}",
        "open the MLflow UI on the embedded store:",
        f"  cd {walk.root} && mlflow ui --backend-store-uri sqlite:///.diva/mlflow.db",
    ]
