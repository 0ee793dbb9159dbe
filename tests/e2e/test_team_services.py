"""The team setup, for real: projects walked through gates against the team's services
on loopback, brought up once for the module (tests/support/team_services.py):
PostgreSQL, ``mlflow server`` on it with the basic-auth app and a served artifact store,
the DVC remote over WebDAV with basic auth, and the image registry.

A team member pushes the data to the WebDAV remote (its writable share, as the writer)
and logs the runs and models to MLflow (as the admin); ``diva gate`` reads with the gate
job's own read-only credentials: MLflow's ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` and
the remote's ``DIVA_DVC_USER``/``DIVA_DVC_PASSWORD`` (the read-only share). Each
promotion passes when the evidence is there and fails with a row saying why when one
piece is not; a wrong password is "unreachable", never "not pushed" or "no run".
The module's last tests run the generated gate workflow under act against the same
services (tests/act/test_gate_live.py runs it against an HTTP remote and SQLite).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.support.gate_repo import failing, month_hash
from tests.support.git_repo import git, propose
from tests.support.github_api import RecordedGitHub
from tests.support.mlflow_server import Credentials, as_user
from tests.support.team_project import (
    ask_for,
    gate_env,
    lock,
    log_run,
    project,
    run_gate,
    stage_4_evidence,
    unique,
)
from tests.support.team_services import Team, problem, running

if (reason := problem()) is not None:
    pytest.skip(f"the team's services cannot run here: {reason}", allow_module_level=True)
pytest.importorskip("mlflow.server.auth", reason="MLflow's basic-auth app needs mlflow[auth]")
pytest.importorskip("psycopg2", reason="MLflow's PostgreSQL store needs psycopg2 (test extra)")
pytest.importorskip("dvc_webdav", reason="DVC's WebDAV remote needs dvc[webdav] (test extra)")
pytest.importorskip("wsgidav", reason="the WebDAV remote is WsgiDAV (test extra)")

Rows = dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def team(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Team]:
    with running(tmp_path_factory.mktemp("team")) as services:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n{services.summary()}")  # in the test output, captured or not
        yield services


def judged(repo: Path, env: dict[str, str], team: Team) -> tuple[int, dict[str, Any], Rows]:
    """The gate's exit code, report and rows; no password in what it printed."""
    result = run_gate(repo, env)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    for password in (env["MLFLOW_TRACKING_PASSWORD"], env["DIVA_DVC_PASSWORD"]):
        assert not password or password not in result.stdout + result.stderr
    report = json.loads(result.stdout)
    rows = {row["id"]: (row["status"], row["detail"]) for row in report["checkpoints"]}
    return result.returncode, report, rows


def at_2(tmp_path: Path, team: Team, prefix: str, *, run: bool = True) -> tuple[Path, str]:
    """Project ``prefix-<random>`` at stage 2 on the team's services, a run on the month
    meeting both small targets (when ``run``), and a pull request asking for stage 3."""
    name = unique(prefix)
    repo = project(tmp_path, name, 2, team)
    if run:
        log_run(team, name, month_hash(repo), rmse=0.05, r2=0.95)
    return repo, name


# --- 2 -> 3 ----------------------------------------------------------------------------


def test_2_to_3_passes_on_the_team_services(tmp_path: Path, team: Team) -> None:
    repo, name = at_2(tmp_path, team, "walk")
    ask_for(repo, name, 3, team)
    asked = team.remote.requests()
    code, report, rows = judged(repo, gate_env(team), team)
    assert failing(rows) == {}, rows
    assert code == 0
    assert report["movement"] == "promotion 2 -> 3"
    assert rows["data.small"][1] == "month tracked, locked and pushed"
    assert rows["runs.small"][1] == "1 run(s) on the small dataset (live MLflow)"
    assert report["evidence"] == f"verified against MLflow at {team.mlflow.url}"
    assert team.remote.requests() > asked  # the gate asked the read-only share


def test_2_to_3_with_data_not_pushed_fails(tmp_path: Path, team: Team) -> None:
    """The pull request changes the month and logs a run on it, but pushes nothing."""
    repo, name = at_2(tmp_path, team, "unpushed", run=False)
    (repo / "data" / "month" / "rows.csv").write_text(
        f"temp_c,thickness_um\n5,{secrets.randbelow(99)}\n"
    )
    sh(repo, *DVC, "add", "-q", "data/month")
    lock(repo)
    log_run(team, name, month_hash(repo), rmse=0.05, r2=0.95)
    ask_for(repo, name, 3, team)
    code, _, rows = judged(repo, gate_env(team), team)
    assert code == 1
    assert failing(rows) == {"data.small": "fail"}
    assert rows["data.small"][1] == "month: not pushed to the DVC remote"


def test_2_to_3_without_a_run_fails(tmp_path: Path, team: Team) -> None:
    repo, name = at_2(tmp_path, team, "norun", run=False)
    ask_for(repo, name, 3, team)
    code, _, rows = judged(repo, gate_env(team), team)
    assert code == 1
    assert failing(rows) == {"runs.small": "fail", "targets.small": "fail"}
    assert rows["runs.small"][1].startswith("0 run(s) on the small dataset (live MLflow)")


def test_a_wrong_mlflow_password_is_unreachable(tmp_path: Path, team: Team) -> None:
    repo, name = at_2(tmp_path, team, "mlflowpw")
    ask_for(repo, name, 3, team)
    wrong = Credentials(team.gate.username, "not-" + team.gate.password)
    code, _, rows = judged(repo, gate_env(team, mlflow=wrong), team)
    assert code == 1
    assert failing(rows) == {"runs.small": "unreachable", "targets.small": "unreachable"}
    assert "401" in rows["runs.small"][1]
    assert rows["data.small"][0] == "pass"


def test_a_wrong_dvc_password_is_unreachable_naming_the_remote(tmp_path: Path, team: Team) -> None:
    repo, name = at_2(tmp_path, team, "dvcpw")
    ask_for(repo, name, 3, team)
    wrong = Credentials(team.remote.reader.username, "not-" + team.remote.reader.password)
    code, _, rows = judged(repo, gate_env(team, dvc=wrong), team)
    assert code == 1
    assert failing(rows) == {"data.small": "unreachable"}
    assert rows["data.small"][1].startswith(
        f"month: the DVC remote 'team' at {team.remote.url} refused the gate's credentials "
        "(HTTP 401), so whether the data is pushed cannot be told"
    )


def test_the_writer_s_config_in_the_head_gives_the_gate_no_credentials(
    tmp_path: Path, team: Team
) -> None:
    """The pull request force-adds the team member's ``.dvc/config.local`` (the writable
    share and the writer's password); a gate job without credentials of its own (a
    fork's pull request gets no secrets) asks the spec's share, and cannot read it."""
    repo, name = at_2(tmp_path, team, "leaked")
    ask_for(repo, name, 3, team)
    git(repo, "add", "--force", ".dvc/config.local")
    propose(repo, "commit the writer's config", "promote")
    assert team.remote.writer.password in git(repo, "show", "HEAD:.dvc/config.local")
    env = gate_env(team) | {"DIVA_DVC_USER": "", "DIVA_DVC_PASSWORD": ""}
    code, _, rows = judged(repo, env, team)
    assert code == 1
    assert failing(rows) == {"data.small": "unreachable"}
    assert rows["data.small"][1].startswith(
        f"month: the DVC remote 'team' at {team.remote.url} needs credentials (HTTP 401)"
    )


# --- 3 -> 4 ----------------------------------------------------------------------------


@pytest.fixture
def at_3(tmp_path: Path, team: Team) -> tuple[Path, str]:
    """Project at stage 3 with its stage-3 evidence on the team's server; the pull
    request asks for stage 4 (and adds serving)."""
    name = unique("deploy")
    repo = project(tmp_path, name, 3, team)
    stage_4_evidence(team, name, repo, tmp_path / "models")
    ask_for(repo, name, 4, team)
    return repo, name


def test_3_to_4_passes_on_the_team_services(at_3: tuple[Path, str], team: Team) -> None:
    repo, _ = at_3
    code, report, rows = judged(repo, gate_env(team), team)
    assert failing(rows) == {}, rows
    assert code == 0
    assert report["movement"] == "promotion 3 -> 4"
    assert rows["data.large"][1] == "year tracked, locked and pushed"
    assert rows["runs.large"][1] == (
        "2 run(s) on the large dataset in the standardized image (live MLflow)"
    )
    assert rows["model.candidate"][1] == "best run's version 1, alias candidate -> 1"


def test_3_to_4_without_a_candidate_fails(at_3: tuple[Path, str], team: Team) -> None:
    repo, name = at_3
    with as_user(team.admin):
        team.mlflow.client().delete_registered_model_alias(name, "candidate")
    code, _, rows = judged(repo, gate_env(team), team)
    assert code == 1
    assert failing(rows) == {"model.candidate": "fail"}
    assert rows["model.candidate"][1] == (
        "best run's version 1, alias candidate -> None; set it with `diva release candidate`"
    )


# --- the generated gate workflow, under act, against the same services --------------

needs_act = pytest.mark.skipif(act_problem() is not None, reason=f"act: {act_problem()}")
PAYLOAD = {
    "number": 5,
    "pull_request": {"number": 5, "base": {"ref": "main"}, "head": {"ref": "promote"}},
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """diva of this checkout and what the gate job installs for a WebDAV remote."""
    readers = [f"dvc[webdav]{DVC_VERSIONS}", MLFLOW_READER]
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), requirements=readers)


@pytest.fixture(scope="module")
def github() -> Iterator[RecordedGitHub]:
    with RecordedGitHub() as server:
        yield server


def act_gate(
    repo: Path, wheels: Path, github: RecordedGitHub, team: Team, *, dvc_password: str
) -> tuple[subprocess.CompletedProcess[str], Rows]:
    """act runs the generated gate workflow with the team's variables and secrets: the
    gate's MLflow user and the remote's reader. The rows of its Markdown report."""
    github.add_pull(5, "alice", git(repo, "rev-parse", "HEAD"))
    result = run_act(
        repo,
        "pull_request",
        PAYLOAD,
        workflow=repo / ".github" / "workflows" / "diva-gate.yml",
        env={
            **OFFLINE_PIP_ENV,
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": github.repository,
        },
        variables={
            "DIVA_GATE_MLFLOW_USERNAME": team.gate.username,
            "DIVA_GATE_DVC_USER": team.remote.reader.username,
        },
        secrets={
            "GITHUB_TOKEN": github.token,
            "DIVA_GATE_MLFLOW_PASSWORD": team.gate.password,
            "DIVA_GATE_DVC_PASSWORD": dvc_password,
        },
        mounts={wheels: WHEELHOUSE},
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert team.gate.password not in log
    assert dvc_password not in log
    assert team.remote.reader.password not in log
    return result, markdown_rows(result.stdout)


def markdown_rows(log: str) -> Rows:
    """checkpoint id -> (status, detail) from the Markdown report in act's log."""
    marks = {"✅": "pass", "🔸": "warn", "❌": "fail", "⚠️": "unreachable", "⛔": "unverified"}
    row = re.compile(r"\| (✅|🔸|❌|⚠️|⛔) \| `([^`]+)` \| [^|]* \| (.*) \|\s*$")
    rows = {}
    for line in log.splitlines():
        if found := row.search(line):
            mark, row_id, detail = found.groups()
            rows[row_id] = (marks[mark], detail.replace("\\", ""))
    return rows


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"act exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@needs_act
def test_the_gate_workflow_passes_under_act(
    tmp_path: Path, team: Team, wheels: Path, github: RecordedGitHub
) -> None:
    repo, name = at_2(tmp_path, team, "actwalk")
    ask_for(repo, name, 3, team)
    asked = team.remote.requests()
    result, rows = act_gate(repo, wheels, github, team, dvc_password=team.remote.reader.password)
    assert result.returncode == 0, shown(result)
    assert "Job succeeded" in result.stdout
    assert failing(rows) == {}, rows
    assert rows["data.small"][1] == "month tracked, locked and pushed"
    assert rows["runs.small"][1] == "1 run(s) on the small dataset (live MLflow)"
    assert team.remote.requests() > asked


@needs_act
def test_a_wrong_dvc_password_under_act_is_unreachable(
    tmp_path: Path, team: Team, wheels: Path, github: RecordedGitHub
) -> None:
    repo, name = at_2(tmp_path, team, "actpw")
    ask_for(repo, name, 3, team)
    wrong = "not-" + team.remote.reader.password
    result, rows = act_gate(repo, wheels, github, team, dvc_password=wrong)
    assert result.returncode != 0, shown(result)
    assert "Job failed" in result.stdout
    assert failing(rows) == {"data.small": "unreachable"}, shown(result)
    assert f"the DVC remote 'team' at {team.remote.url} refused" in rows["data.small"][1]
