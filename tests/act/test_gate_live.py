"""The generated gate workflow, run with act, against live team services.

The CI counterpart of tests/integration/test_gate_attacks.py: there the gate is judged
locally against an embedded store; here `.github/workflows/diva-gate.yml`, exactly as
diva generated it, runs in a job container (act, host network) on a pull request asking
for stage 3, and reads its evidence from servers on loopback:

* the team's MLflow tracking server with MLflow's basic-auth app: ``admin`` logs the
  runs, the gate reads as a user of its own that may only read, with the credentials
  the workflow takes from variable ``DIVA_GATE_MLFLOW_USERNAME`` and secret
  ``DIVA_GATE_MLFLOW_PASSWORD``;
* the team's DVC remote over HTTP (tests/support/http_remote.py) rather than a folder
  mounted into the container: CI reaches a team's remote over the network (S3, WebDAV,
  HTTP), and an absolute folder would be judged as a folder, not as a remote;
* a second MLflow server without auth: the one an attacker's pull request points at.

Each case is a project of its own name (its runs on the shared server are its own):
``main`` at stage 2, its data tracked, locked and pushed, and a branch asking for stage
3. diva comes from a wheelhouse of this checkout, DVC and MLflow's client too, so the
job downloads nothing. The gate's Markdown report is in act's log (the step's stdout).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from diva.compiler.backends.install import DVC_VERSIONS, MLFLOW_READER
from tests.support.act_harness import (
    OFFLINE_PIP_ENV,
    WHEELHOUSE,
    act_problem,
    build_wheelhouse,
    run_act,
)
from tests.support.dvc_cli import DVC, sh
from tests.support.gate import at_stage
from tests.support.gate_repo import failing, month_hash
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.github_api import RecordedGitHub
from tests.support.http_remote import HttpRemote, serving
from tests.support.mlflow_server import Credentials, Server, as_user, running

if (problem := act_problem()) is not None:
    pytest.skip(f"act cannot run workflows here: {problem}", allow_module_level=True)

pytest.importorskip("mlflow.server.auth", reason="MLflow's basic-auth app needs mlflow[auth]")
pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")

ADMIN = Credentials("admin", secrets.token_urlsafe(18))
GATE = Credentials("diva-gate", secrets.token_urlsafe(18))
ROWS = "temp_c,thickness_um\n1,2\n3,4\n"


@dataclass(frozen=True)
class Team:
    mlflow: Server
    remote: HttpRemote


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """diva of this checkout, and the DVC and MLflow client the gate job installs."""
    readers = [f"dvc{DVC_VERSIONS}", MLFLOW_READER]
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), requirements=readers)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The team's MLflow server (basic auth, a READ-only user for the gate) and remote."""
    folder = tmp_path_factory.mktemp("team")
    with running(folder / "mlflow", admin=ADMIN) as mlflow, serving(folder / "dvc") as remote:
        mlflow.add_user(ADMIN, GATE)
        yield Team(mlflow, remote)


@pytest.fixture(scope="module")
def github() -> Iterator[RecordedGitHub]:
    """GitHub's REST API as documented (the real one cannot be reached here): the pull
    request the gate counts approvals on. The project has no team: none is required."""
    with RecordedGitHub() as server:
        yield server


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("attacker")) as server:
        yield server


# --- the project ---------------------------------------------------------------------


def spec(name: str, stage: int, tracking_uri: str, remote: str) -> str:
    """The gate tests' spec as project ``name``, with the team's MLflow and DVC remote."""
    text = at_stage(stage).replace("{name: demo,", f"{{name: {name},", 1)
    assert f"name: {name}," in text
    return (
        text
        + f"  mlflow: {{tracking_uri: '{tracking_uri}'}}\n"
        + f"  dvc: {{remote: {{name: team, url: '{remote}'}}}}\n"
    )


def lock(repo: Path) -> None:
    """dvc.lock as `dvc repro` writes it after train-month, on the data as it is now."""
    (repo / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  train-month:\n    cmd: python src/train.py\n"
        f"    deps:\n    - path: data/month\n      md5: {month_hash(repo)}\n"
    )


def project(root: Path, name: str, team: Team) -> Path:
    """``main`` of project ``name`` at stage 2, pushed to a bare origin: data/month
    tracked, in dvc.lock and pushed to the team's remote (into its folder, as a team
    member with write access pushes; `.dvc/config` names the HTTP URL, as the spec)."""
    repo = init_repo(root / "project")
    (repo / "data" / "month").mkdir(parents=True)
    (repo / "data" / "month" / "rows.csv").write_text(ROWS)
    sh(repo, *DVC, "init", "-q")
    sh(repo, *DVC, "add", "-q", "data/month")
    sh(repo, *DVC, "remote", "add", "-d", "team", team.remote.url)
    sh(repo, *DVC, "remote", "modify", "--local", "team", "url", str(team.remote.folder))
    sh(repo, *DVC, "push", "-q")
    lock(repo)
    text = spec(name, 2, team.mlflow.url, team.remote.url)
    commit_spec(repo, text, "stage 2: the month is in", compiled=True)
    git(root, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(root / "origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def log_run(
    server: Server, name: str, data_hash: str, *, by: Credentials | None = ADMIN, **metrics: float
) -> str:
    """A run of project ``name`` on the small dataset, logged as ``by`` (the team's admin;
    None for a server without auth)."""
    tags = {
        "diva.project": name,
        "diva.dataset": "month",
        "diva.dataset.scale": "small",
        "diva.dataset.hash": data_hash,
    }
    with as_user(by) if by else contextlib.nullcontext():
        client = server.client()
        found = client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else client.create_experiment(name)
        run = client.create_run(experiment, tags=tags)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def ask_for_stage_3(repo: Path, text: str) -> None:
    """The pull request's head: ``text`` (at stage 3), compiled, committed on promote
    with whatever else the working tree holds."""
    (repo / "diva.yaml").write_text(text)
    compile_here(repo)
    propose(repo, "ask for stage 3", "promote")


# --- the gate job --------------------------------------------------------------------

PAYLOAD = {
    "number": 3,
    "pull_request": {"number": 3, "base": {"ref": "main"}, "head": {"ref": "promote"}},
}


def run_gate(
    repo: Path, wheels: Path, github: RecordedGitHub, *, password: str | None = GATE.password
) -> subprocess.CompletedProcess[str]:
    """act runs the generated gate workflow; the repository's variable names the gate's
    MLflow user, its secret (when given) holds the password. The pull request's reviews
    come from ``github`` (act takes its URL and the repository from ``--env``)."""
    github.add_pull(3, "alice", git(repo, "rev-parse", "HEAD"))
    api = {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": github.repository}
    return run_act(
        repo,
        "pull_request",
        PAYLOAD,
        workflow=repo / ".github" / "workflows" / "diva-gate.yml",
        env={**OFFLINE_PIP_ENV, **api},
        variables={"DIVA_GATE_MLFLOW_USERNAME": GATE.username},
        secrets={"GITHUB_TOKEN": github.token}
        | ({} if password is None else {"DIVA_GATE_MLFLOW_PASSWORD": password}),
        mounts={wheels: WHEELHOUSE},
        timeout=900,
    )


_STATUS = {"✅": "pass", "🔸": "warn", "❌": "fail", "⚠️": "unreachable", "⛔": "unverified"}
_ROW = re.compile(r"\| (✅|🔸|❌|⚠️|⛔) \| `([^`]+)` \| [^|]* \| (.*) \|\s*$")


def rows_in(log: str) -> dict[str, tuple[str, str]]:
    """checkpoint id -> (status, detail) from the Markdown report in act's log."""
    rows = {}
    for line in log.splitlines():
        if found := _ROW.search(line):
            mark, row_id, detail = found.groups()
            rows[row_id] = (_STATUS[mark], detail.replace("\\", ""))
    return rows


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"act exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


def judged(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """The report's rows; the password never shows in the log."""
    assert GATE.password not in result.stdout + result.stderr
    rows = rows_in(result.stdout)
    assert rows, shown(result)
    return rows


# --- the cases -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory, team: Team) -> Path:
    """A run on the pushed data meets both targets; the pull request asks for stage 3."""
    repo = project(tmp_path_factory.mktemp("genuine"), "genuine", team)
    log_run(team.mlflow, "genuine", month_hash(repo), rmse=0.05, r2=0.95)
    ask_for_stage_3(repo, spec("genuine", 3, team.mlflow.url, team.remote.url))
    return repo


def test_a_genuine_promotion_passes(
    genuine: Path, wheels: Path, team: Team, github: RecordedGitHub
) -> None:
    asked = len(team.remote.requests)
    result = run_gate(genuine, wheels, github)
    rows = judged(result)
    assert result.returncode == 0, shown(result)
    assert "diva gate passed: promotion 2 -> 3" in result.stdout
    assert "Job succeeded" in result.stdout
    assert failing(rows) == {}
    assert rows["data.small"][1] == "month tracked, locked and pushed"
    assert rows["runs.small"][1] == "1 run(s) on the small dataset (live MLflow)"
    assert f"Evidence: verified against MLflow at {team.mlflow.url}\n" in result.stdout
    assert len(team.remote.requests) > asked  # dvc status --cloud asked the HTTP remote


def test_without_the_password_the_mlflow_rows_are_unreachable(
    genuine: Path, wheels: Path, team: Team, github: RecordedGitHub
) -> None:
    """As for a pull request from a fork, which gets no secrets: the server says 401."""
    result = run_gate(genuine, wheels, github, password=None)
    rows = judged(result)
    assert result.returncode != 0
    assert "diva gate failed: promotion 2 -> 3" in result.stdout
    assert "Job failed" in result.stdout
    assert failing(rows) == {"runs.small": "unreachable", "targets.small": "unreachable"}
    assert "401" in rows["runs.small"][1]
    assert rows["data.small"][0] == "pass"


def test_a_forged_evidence_file_is_not_proof(
    tmp_path: Path, wheels: Path, team: Team, github: RecordedGitHub
) -> None:
    """The server's only run misses the rmse target; the pull request commits a
    diva.evidence.json that claims a perfect run."""
    repo = project(tmp_path, "forged", team)
    log_run(team.mlflow, "forged", month_hash(repo), rmse=0.3, r2=0.95)
    tags = {"diva.project": "forged", "diva.dataset.scale": "small"}
    perfect = {
        "run_id": "f" * 32,
        "tags": {**tags, "diva.dataset.hash": month_hash(repo)},
        "metrics": {"rmse": 0.01, "r2": 0.99},
    }
    (repo / "diva.evidence.json").write_text(json.dumps({"mlflow": {"runs": [perfect]}}))
    ask_for_stage_3(repo, spec("forged", 3, team.mlflow.url, team.remote.url))
    result = run_gate(repo, wheels, github)
    rows = judged(result)
    assert result.returncode != 0
    assert "Job failed" in result.stdout
    assert failing(rows) == {"targets.small": "fail"}
    assert "rmse=0.3 vs 0.08" in rows["targets.small"][1]
    assert rows["runs.small"][1] == "1 run(s) on the small dataset (live MLflow)"
    assert f"Evidence: verified against MLflow at {team.mlflow.url}\n" in result.stdout


def test_changed_data_that_was_not_pushed_fails(
    tmp_path: Path, wheels: Path, team: Team, github: RecordedGitHub
) -> None:
    """The pull request changes the data (a new hash in data/month.dvc and dvc.lock)
    but pushes nothing and has no run on it: the run on the old data does not count."""
    repo = project(tmp_path, "tampered", team)
    log_run(team.mlflow, "tampered", month_hash(repo), rmse=0.05, r2=0.95)
    (repo / "data" / "month" / "rows.csv").write_text(ROWS + f"5,{secrets.randbelow(99)}\n")
    sh(repo, *DVC, "add", "-q", "data/month")
    lock(repo)
    ask_for_stage_3(repo, spec("tampered", 3, team.mlflow.url, team.remote.url))
    result = run_gate(repo, wheels, github)
    rows = judged(result)
    assert result.returncode != 0
    assert "Job failed" in result.stdout
    assert failing(rows) == {"data.small": "fail", "runs.small": "fail", "targets.small": "fail"}
    assert rows["data.small"][1] == "month: not pushed to the DVC remote"
    assert rows["runs.small"][1].startswith("0 run(s) on the small dataset (live MLflow)")


def test_a_pull_request_cannot_point_the_gate_at_its_own_server(
    tmp_path: Path, wheels: Path, team: Team, attacker: Server, github: RecordedGitHub
) -> None:
    """The team's server has only a run that misses the rmse target; the pull request
    points platform.mlflow at a server of its own, with a perfect run. The gate asks
    the base's server, and the credentials never go to the other one."""
    repo = project(tmp_path, "pointed", team)
    log_run(team.mlflow, "pointed", month_hash(repo), rmse=0.3, r2=0.95)
    log_run(attacker, "pointed", month_hash(repo), by=None, rmse=0.01, r2=0.99)
    ask_for_stage_3(repo, spec("pointed", 3, attacker.url, team.remote.url))
    before = attacker.requests_logged()
    result = run_gate(repo, wheels, github)
    rows = judged(result)
    assert result.returncode != 0
    assert "Job failed" in result.stdout
    assert rows["policy"][0] == "fail"
    assert "platform.mlflow" in rows["policy"][1]
    assert "may not also move the stage" in rows["policy"][1]
    assert rows["targets.small"][0] == "fail"
    assert "rmse=0.3 vs 0.08" in rows["targets.small"][1]
    assert f"Evidence: verified against MLflow at {team.mlflow.url}\n" in result.stdout
    assert attacker.requests_logged() == before  # not one request reached it
