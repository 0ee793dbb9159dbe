"""The gate tests' project as a team runs it: its data on the team's WebDAV remote, its
runs and models on the team's MLflow server (tests/support/team_services.py).

Each project has a name of its own (its runs on the shared server are its own). The
spec holds every policy field the walk 2 -> 3 -> 4 needs from stage 2 on (the
large-scale target, the team's MLflow, DVC remote and image registry), so that each
promotion changes the stage and what the new stage adds, never the policy.
``.dvc/config`` names the remote as the spec does (the gate's read-only share); the
gitignored ``.dvc/config.local`` sends a team member's pushes to the writable share
with the writer's credentials, as a team member's machine does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.dvc_cli import DVC, sh
from tests.support.gate import at_stage
from tests.support.gate_repo import dataset_hash
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.mlflow_server import Credentials, as_user
from tests.support.release import LARGE_TARGET
from tests.support.team_services import Team

SERVING = "\nserving:\n  pattern: model-as-service\n  releases: {}\n"
DATASETS = {"train-month": "data/month", "train-year": "data/year"}
#: The training image `diva train` ran the large-scale runs in.
TRAINING_IMAGE = "sha256:" + "7e" * 32
ROWS = "temp_c,thickness_um\n1,2\n3,4\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def spec(name: str, stage: int, team: Team, *, tracking_uri: str | None = None) -> str:
    """The gate tests' project as ``name`` at ``stage`` on the team's services."""
    text = at_stage(stage).replace("{name: demo,", f"{{name: {name},", 1)
    text = text.replace("\ntargets:\n", f"\ntargets:\n{LARGE_TARGET}")
    text += (
        f"  image_registry: {team.registry}/{name}\n"
        f"  mlflow: {{tracking_uri: '{tracking_uri or team.mlflow.url}'}}\n"
        f"  dvc: {{remote: {{name: team, url: '{team.remote.url}'}}}}\n"
    )
    return text + (SERVING if stage >= 4 else "")


def lock(repo: Path) -> None:
    """dvc.lock as `dvc repro` writes it after the train stages, on the data as it is."""
    lines = ["schema: '2.0'", "stages:"]
    for stage, path in DATASETS.items():
        lines += [f"  {stage}:", "    cmd: python src/train.py", "    deps:"]
        lines += [f"    - path: {path}", f"      md5: {dataset_hash(repo, path)}"]
    (repo / "dvc.lock").write_text("\n".join(lines) + "\n")


def project(root: Path, name: str, stage: int, team: Team) -> Path:
    """``main`` of project ``name`` at ``stage``, pushed to a bare origin; both datasets
    tracked, locked and pushed to the team's WebDAV remote by its writer."""
    repo = init_repo(root / "project")
    (repo / ".gitignore").write_text(".diva/\n")
    for path in DATASETS.values():
        (repo / path).mkdir(parents=True)
        (repo / path / "rows.csv").write_text(f"{ROWS}# {name} {path}\n")
    sh(repo, *DVC, "init", "-q")
    sh(repo, *DVC, "add", "-q", *DATASETS.values())
    sh(repo, *DVC, "remote", "add", "-d", "team", team.remote.url)
    writer = team.remote.writer
    for key, value in (("url", team.remote.write_url), ("user", writer.username)):
        sh(repo, *DVC, "remote", "modify", "--local", "team", key, value)
    sh(repo, *DVC, "remote", "modify", "--local", "team", "password", writer.password)
    sh(repo, *DVC, "push", "-q")
    lock(repo)
    commit_spec(repo, spec(name, stage, team), f"stage {stage}", compiled=True)
    git(root, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(root / "origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def log_run(
    team: Team,
    name: str,
    data_hash: str,
    *,
    scale: str = "small",
    tags: dict[str, str] | None = None,
    **metrics: float,
) -> str:
    """A run of project ``name`` on the dataset of ``scale``, logged by the team's admin."""
    lineage = {
        "diva.project": name,
        "diva.dataset": "month" if scale == "small" else "year",
        "diva.dataset.scale": scale,
        "diva.dataset.hash": data_hash,
    }
    with as_user(team.admin):
        client = team.mlflow.client()
        found = client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else client.create_experiment(name)
        run = client.create_run(experiment, tags={**lineage, **(tags or {})})
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def stage_4_evidence(team: Team, name: str, repo: Path, models: Path) -> str:
    """What a project earns in stage 3, on the team's server: a run on the month, two
    runs on the year in the training image, the best one's model logged to the shared
    artifact store (through the server), registered and aliased ``candidate``."""
    log_run(team, name, dataset_hash(repo, "data/month"), rmse=0.05, r2=0.95)
    year, in_image = dataset_hash(repo, "data/year"), {"diva.image.digest": TRAINING_IMAGE}
    best = log_run(team, name, year, scale="large", tags=in_image, rmse=0.06)
    log_run(team, name, year, scale="large", tags=in_image, rmse=0.09)
    model = models / "model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    with as_user(team.admin):
        client = team.mlflow.client()
        client.log_artifacts(best, str(model), "model")
        client.create_registered_model(name)
        source = f"{client.get_run(best).info.artifact_uri}/model"
        version = client.create_model_version(name, source=source, run_id=best)
        client.set_registered_model_alias(name, "candidate", str(version.version))
    return best


def ask_for(repo: Path, name: str, stage: int, team: Team, **options: str) -> None:
    """The pull request's head: the spec at ``stage``, compiled, committed on promote
    with whatever else the working tree holds."""
    (repo / "diva.yaml").write_text(spec(name, stage, team, **options))
    compile_here(repo)
    propose(repo, f"ask for stage {stage}", "promote")


def gate_env(
    team: Team, *, mlflow: Credentials | None = None, dvc: Credentials | None = None
) -> dict[str, str]:
    """The gate job's environment: its own read-only credentials (MLflow's user, the
    remote's reader), or the ones given."""
    dvc = dvc or team.remote.reader
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return (
        env
        | (mlflow or team.gate).env()
        | {
            "DIVA_DVC_USER": dvc.username,
            "DIVA_DVC_PASSWORD": dvc.password,
        }
    )


def run_gate(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``diva gate --base main --format json`` in ``repo`` with ``env``, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "diva", "gate", "--base", "main", "--format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
