"""The generated training workflow, run for real with act on a push to main.

The e2e fixture project (tests/e2e/fixture) at stage 3 names the team's services, all
on loopback, which the job container and the containers it starts reach over the host
network:

* an MLflow tracking server with MLflow's basic-auth app: the run is logged as
  ``admin``, with the credentials the workflow takes from variable
  ``MLFLOW_TRACKING_USERNAME`` and secret ``MLFLOW_TRACKING_PASSWORD`` and diva passes
  into the training container by name; artifacts go through the server;
* the DVC remote over HTTP (tests/support/http_remote.py): the large dataset is pushed
  there and removed from the workspace, so the job's ``dvc pull`` must fetch it;
* an image registry (Debian's docker-registry), which also serves the standardized base
  image the spec pins by digest (the test base of tests/support/docker_harness.py, with
  a wheel of this checkout, since diva is not on PyPI).

act maps the job's runner label (the spec's ``gpu_runner``) to the local runner image,
binds the project into the job (``--bind``) and mounts the host's Docker socket and
client, so that ``diva build train --push`` and ``diva train`` use the host's engine
with the job's own paths. Two runs: a push to main, then a manual dispatch on the
repository as a fresh checkout has it (the first run's data and outputs gone), so that
DVC trains again. Afterwards the host checks what stage 4 would: each run's MLflow run
carries the digest the registry serves for the pushed image, and the checkpoint
``runs.large`` (two in-image runs) passes in ``diva status``. Each act run prints its
duration (``-s`` shows it); the first builds the image (minutes: the image installs
MLflow, DVC and scikit-learn from PyPI), the second reuses its cached layers.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from diva.compiler.backends.install import DVC_VERSIONS
from diva.lifecycle.evidence.registry import manifest_digest
from tests.support.act_harness import (
    OFFLINE_PIP_ENV,
    WHEELHOUSE,
    act_problem,
    build_wheelhouse,
    run_act,
)
from tests.support.docker_harness import (
    build_test_base,
    image_problem,
    local_registry,
    remove_images,
)
from tests.support.http_remote import serving
from tests.support.mlflow_server import Credentials, as_user, running
from tests.support.process import diva, sh

if (problem := act_problem() or image_problem()) is not None:
    pytest.skip(f"act cannot run the training workflow here: {problem}", allow_module_level=True)

pytest.importorskip("mlflow.server.auth", reason="MLflow's basic-auth app needs mlflow[auth]")

FIXTURE = Path(__file__).parents[1] / "e2e" / "fixture"
ADMIN = Credentials("admin", secrets.token_urlsafe(18))
GPU_LABEL = "gpu-test"
DIGEST = re.compile(r"MLflow runs tagged with image (sha256:[0-9a-f]{64})")


@dataclass
class Trained:
    """Two act runs of one project: a push to main, then a manual dispatch."""

    repo: Path
    registry: str
    tracking_uri: str
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    #: images.training of diva.evidence.json after each run
    recorded: dict[str, dict[str, str]] = field(default_factory=dict)


def _spec(text: str, registry: str, base: str, tracking_uri: str, remote: str) -> str:
    fake_base = 'sklearn: "python@sha256:' + "0" * 64 + '"'
    assert fake_base in text
    text = text.replace("stage: small", "stage: large").replace(fake_base, f'sklearn: "{base}"')
    return text.replace(
        "platform:\n",
        "platform:\n"
        f"  image_registry: {registry}/diva-train-test\n"
        f"  mlflow: {{tracking_uri: '{tracking_uri}'}}\n"
        f"  dvc: {{remote: {{name: team, url: '{remote}'}}}}\n"
        f"  ci: {{runner: ubuntu-latest, gpu_runner: {GPU_LABEL}}}\n",
    )


def _project(root: Path, spec: str, remote_folder: Path) -> Path:
    """main at stage 3: both datasets tracked and pushed to the team's remote (into its
    folder, as a team member with write access pushes), then gone from the workspace."""
    shutil.copytree(FIXTURE, root)
    (root / "diva.yaml").write_text(spec)
    pins = [f"{name}=={_version(name)}" for name in ("mlflow", "scikit-learn")]
    (root / "requirements.txt").write_text("\n".join([*pins, "numpy"]) + "\n")
    (root / ".gitignore").write_text(".diva/\n")
    sh("git", "init", "-q", "-b", "main", cwd=root)
    sh("git", "config", "user.email", "ci@example.com", cwd=root)
    sh("git", "config", "user.name", "CI", cwd=root)
    sh("dvc", "init", "-q", cwd=root)
    remote_url = spec.split("url: '")[1].split("'")[0]
    sh("dvc", "remote", "add", "-d", "team", remote_url, cwd=root)
    for name in ("sample", "full"):
        sh("python", "make_data.py", f"data/{name}", cwd=root)
        sh("dvc", "add", "-q", f"data/{name}", cwd=root)
    sh("dvc", "remote", "modify", "--local", "team", "url", str(remote_folder), cwd=root)
    sh("dvc", "push", "-q", cwd=root)
    (root / ".dvc" / "config.local").unlink()
    diva("compile", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "tiny project at stage 3", cwd=root)
    shutil.rmtree(root / "data" / "full")
    shutil.rmtree(root / ".dvc" / "cache")
    sh("git", "remote", "add", "origin", "https://github.com/acme/tiny-regression.git", cwd=root)
    return root


def _built(repo: Path) -> dict[str, str]:
    """The training image the job built, as the evidence file records it."""
    evidence = repo / "diva.evidence.json"
    if not evidence.is_file():
        return {}
    training: dict[str, str] = (
        json.loads(evidence.read_text()).get("images", {}).get("training", {})
    )
    return training


def _version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def _pinned_base(base: str, registry: str, images: list[str]) -> str:
    """``base`` pushed to ``registry``: the reference by digest the spec pins."""
    pushed = f"{registry}/diva-python-test:{base.rpartition(':')[2]}"
    sh("docker", "tag", base, pushed, cwd=Path.cwd())
    images.append(pushed)
    subprocess.run(["docker", "push", "-q", pushed], check=True, capture_output=True)
    digest = manifest_digest(pushed)
    assert digest is not None
    return f"{registry}/diva-python-test@{digest}"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """diva of this checkout and the DVC the job installs on the runner."""
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), requirements=[f"dvc{DVC_VERSIONS}"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Iterator[Trained]:
    work = tmp_path_factory.mktemp("train-act")
    base = build_test_base(f"diva-python-test:train-{uuid.uuid4().hex[:8]}", work)
    images = [base]
    trained = None
    with (
        local_registry(work / "registry") as registry,
        running(work / "mlflow", admin=ADMIN, proxy_artifacts=True) as mlflow,
        serving(work / "dvc") as remote,
    ):
        try:
            pinned = _pinned_base(base, registry, images)
            text = _spec(
                (FIXTURE / "diva.yaml").read_text(), registry, pinned, mlflow.url, remote.url
            )
            trained = Trained(_project(work / "tiny", text, remote.folder), registry, mlflow.url)
            _run(trained, "push", wheels)
            _fresh_checkout(trained.repo)
            _run(trained, "workflow_dispatch", wheels)
            yield trained
        finally:
            built = (
                {entry["reference"] for entry in trained.recorded.values()} if trained else set()
            )
            remove_images(*images, *built)


def _fresh_checkout(repo: Path) -> None:
    """The repository as the next run's checkout has it: what the first run pulled,
    built and wrote (data, DVC cache, outputs, dvc.lock, the evidence file) gone."""
    sh("git", "checkout", "-q", "--", ".", cwd=repo)
    sh("git", "clean", "-q", "-d", "-x", "--force", cwd=repo)


def _run(trained: Trained, event: str, wheels: Path) -> None:
    docker = shutil.which("docker")
    assert docker is not None
    started = time.monotonic()
    trained.results[event] = run_act(
        trained.repo,
        event,
        {"ref": "refs/heads/main", **({"inputs": {}} if event == "workflow_dispatch" else {})},
        workflow=trained.repo / ".github" / "workflows" / "diva-train.yml",
        runner_labels=(GPU_LABEL,),
        env=OFFLINE_PIP_ENV,
        secrets={"MLFLOW_TRACKING_PASSWORD": ADMIN.password},
        variables={"MLFLOW_TRACKING_USERNAME": ADMIN.username},
        mounts={wheels: WHEELHOUSE, Path(docker): "/usr/local/bin/docker"},
        writable={Path("/var/run/docker.sock"): "/var/run/docker.sock"},
        bind=True,
        timeout=2400,
    )
    print(f"act {event} run of diva-train.yml: {time.monotonic() - started:.0f} s")
    recorded = _built(trained.repo)
    if recorded:
        trained.recorded[event] = recorded


def _runs(trained: Trained) -> list[Any]:
    from mlflow.tracking import MlflowClient

    with as_user(ADMIN):
        client = MlflowClient(tracking_uri=trained.tracking_uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
        return list(client.search_runs(experiments))


EVENTS = ["push", "workflow_dispatch"]


@pytest.mark.parametrize("event", EVENTS)
def test_the_training_workflow_succeeds(trained: Trained, event: str) -> None:
    result = trained.results[event]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Job succeeded" in result.stdout
    assert "Main Pull dataset full" in result.stdout
    assert ADMIN.password not in result.stdout + result.stderr


@pytest.mark.parametrize("event", EVENTS)
def test_the_pushed_image_is_what_the_registry_serves(trained: Trained, event: str) -> None:
    training = trained.recorded[event]
    repository = f"{trained.registry}/diva-train-test/tiny-regression-train:"
    assert training["reference"].startswith(repository)
    assert manifest_digest(training["reference"]) == training["digest"]
    (printed,) = set(DIGEST.findall(trained.results[event].stdout))
    assert printed == training["digest"]


def test_each_run_trains_again_in_the_same_image(trained: Trained) -> None:
    """A fresh checkout has no pipeline outputs: DVC reruns it, MLflow gets a new run,
    and the same Dockerfile and requirements give the same image."""
    digests = {trained.recorded[event]["digest"] for event in EVENTS}
    assert len(digests) == 1
    runs = _runs(trained)
    assert len(runs) == len(EVENTS)
    for run in runs:
        assert run.data.tags["diva.image.digest"] in digests
        assert run.data.tags["diva.dataset"] == "full"
        assert run.data.tags["diva.dataset.scale"] == "large"


def test_stage_4_counts_the_runs_as_made_in_the_standardized_image(trained: Trained) -> None:
    with as_user(ADMIN):
        status = diva("status", cwd=trained.repo)
    rows = {line.split()[1]: line for line in status.splitlines() if line.startswith("  ")}
    print(rows["runs.large"])
    assert rows["runs.large"].split()[0] == "pass", status
    assert "2 run(s) on the large dataset in the standardized image" in rows["runs.large"]
