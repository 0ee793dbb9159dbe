"""Attacks on the gate, each a pull request on a real git + DVC repository, judged by the
real ``diva gate --base main`` against a real (embedded SQLite) MLflow store.

``main`` is a project at stage 2 whose small dataset is tracked, locked and pushed to
the DVC remote the spec names, with one MLflow run on it that meets both small targets.
A pull request asking for stage 3 passes; every attack below is what a team member who
wants the stage moved without the evidence might try, and each fails with a row that
says why. The rule under test: the base branch is the policy, the head is data, and
evidence is what the gate reads itself.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.dvc_cli import DVC, sh
from tests.support.gate import at_stage
from tests.support.gate_repo import REMOTE, STORE, failing, gate, log_run, month_hash
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.process import RunDiva

pytest.importorskip("mlflow.tracking")
pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main at stage 2: data/month tracked, in dvc.lock, pushed; a run meeting the targets."""
    root = init_repo(tmp_path_factory.mktemp("template") / "project")
    (root / "data" / "month").mkdir(parents=True)
    (root / "data" / "month" / "rows.csv").write_text("temp_c,thickness_um\n1,2\n3,4\n")
    (root / ".gitignore").write_text(".diva/\n")
    sh(root, *DVC, "init", "-q")
    sh(root, *DVC, "add", "-q", "data/month")
    sh(root, *DVC, "remote", "add", "-d", "local", REMOTE)
    sh(root, *DVC, "push", "-q")
    md5 = month_hash(root)
    (root / "dvc.lock").write_text(  # as `dvc repro` writes it after train-month
        "schema: '2.0'\nstages:\n  train-month:\n    cmd: python src/train.py\n"
        f"    deps:\n    - path: data/month\n      md5: {md5}\n"
    )
    commit_spec(root, at_stage(2), "stage 2: the month is in", compiled=True)
    log_run(root / STORE, md5, rmse=0.05, r2=0.95)
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "project"


def ask_for_stage_3(repo: Path, text: str | None = None) -> None:
    """The pull request's head: the spec at stage 3 (or ``text``), compiled, committed."""
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(text if text is not None else at_stage(3))
    compile_here(repo)
    propose(repo, "ask for stage 3", "promote")


def move_store_away(repo: Path) -> None:
    """What CI sees: the embedded store and the remote folder live on the author's machine."""
    shutil.move(repo / ".diva", repo.parent / "laptop")


# --- the genuine promotion --------------------------------------------------------------


def test_a_genuine_promotion_passes(run_diva: RunDiva, repo: Path) -> None:
    ask_for_stage_3(repo)
    code, report, rows = gate(run_diva, repo)
    assert code == 0, rows
    assert report["movement"] == "promotion 2 -> 3"
    assert rows["policy"] == ("pass", "unchanged")
    assert rows["data.small"] == ("pass", "month tracked, locked and pushed")
    assert rows["targets.small"][0] == "pass"
    assert report["evidence"].startswith("verified against MLflow at sqlite:///")


def test_a_policy_change_alone_passes_and_names_its_reviewers(
    run_diva: RunDiva, repo: Path
) -> None:
    team = '\nteam: {quality_managers: ["@qa"]}\n\nidea:\n'
    with_team = at_stage(2).replace("\nidea:\n", team, 1)
    commit_spec(repo, with_team, "the quality managers", compiled=True)
    git(repo, "checkout", "-q", "-b", "loosen")
    (repo / "diva.yaml").write_text(with_team.replace("threshold: 0.08", "threshold: 0.5"))
    compile_here(repo)
    propose(repo, "loosen the rmse target", "loosen")
    code, _, rows = gate(run_diva, repo)
    assert code == 0, rows
    assert rows["policy"] == ("pass", "policy change (targets): review by @qa")


# --- the evidence file is an index, not proof -------------------------------------------


def test_a_forged_evidence_file_is_not_proof(run_diva: RunDiva, repo: Path) -> None:
    """The attack: no run meets the targets anywhere CI can look; the PR writes a
    diva.evidence.json that says one does."""
    forged = {
        "mlflow": {
            "runs": [
                {
                    "run_id": "f" * 32,
                    "tags": {
                        "diva.project": "demo",
                        "diva.dataset.scale": "small",
                        "diva.dataset.hash": month_hash(repo),
                    },
                    "metrics": {"rmse": 0.01, "r2": 0.99},
                }
            ]
        }
    }
    (repo / "diva.evidence.json").write_text(json.dumps(forged))
    ask_for_stage_3(repo)
    move_store_away(repo)
    code, report, rows = gate(run_diva, repo)
    assert code == 1
    assert failing(rows) == {
        "data.small": "unverified",
        "runs.small": "unverified",
        "targets.small": "unverified",
    }
    assert "diva.evidence.json is not proof" in rows["runs.small"][1]
    assert "folder on the author's machine" in rows["data.small"][1]
    assert report["evidence"].startswith("MLflow unverified")


def test_a_self_attested_policy_believes_the_file_and_says_so(
    run_diva: RunDiva, repo: Path
) -> None:
    """The opt-in for a project with no shared services: set on the base first."""
    from diva.lifecycle.evidence import record
    from diva.lifecycle.evidence.mlflow import Mlflow

    attested = at_stage(2) + "  evidence: self-attested\n"
    commit_spec(repo, attested, "no shared services: self-attested evidence", compiled=True)
    live = Mlflow(repo, f"sqlite:///{repo / STORE}")  # what `diva promote` records
    (repo / "diva.evidence.json").write_text(
        json.dumps(record.capture(live, "demo", "demo", 3, ("rmse", "r2")))
    )
    ask_for_stage_3(repo, at_stage(3) + "  evidence: self-attested\n")
    move_store_away(repo)
    code, report, rows = gate(run_diva, repo)
    assert code == 0, rows
    assert report["evidence"].startswith("SELF-ATTESTED: MLflow not reachable")
    assert rows["data.small"][1].startswith("month: SELF-ATTESTED")
    assert "SELF-ATTESTED" in run_diva("gate", "--base", "main", cwd=repo).stdout


def test_a_remote_folder_that_ci_has_not_is_named_as_such(run_diva: RunDiva, repo: Path) -> None:
    """An absolute remote folder (a mount on the author's machine) that the machine the
    gate runs on has not: the data is unverified, never "not pushed"."""
    away = "  dvc:\n    remote: {name: local, url: /var/empty/diva-remote-not-here}\n"
    commit_spec(repo, at_stage(2) + away, "the remote on a mount", compiled=True)
    ask_for_stage_3(repo, at_stage(3) + away)
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert failing(rows) == {"data.small": "unverified"}
    assert (
        "/var/empty/diva-remote-not-here is a folder that is not on this machine"
        in (rows["data.small"][1])
    )


# --- the rules come from the base -------------------------------------------------------


def test_a_pull_request_cannot_loosen_the_targets_it_needs(run_diva: RunDiva, repo: Path) -> None:
    """The attack: the only run misses rmse 0.08; the same PR that asks for stage 3
    raises the threshold to 0.5."""
    (repo / STORE).unlink()
    log_run(repo / STORE, month_hash(repo), rmse=0.3, r2=0.95)
    ask_for_stage_3(repo, at_stage(3).replace("threshold: 0.08", "threshold: 0.5"))
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["policy"][0] == "fail"
    assert rows["policy"][1].startswith("policy change (targets): review by")
    assert "may not also move the stage" in rows["policy"][1]
    # and the checkpoints judge by the base's targets, not the loosened ones
    assert rows["targets.small"][0] == "fail"
    assert "rmse=0.3 vs 0.08" in rows["targets.small"][1]


def test_a_pull_request_cannot_point_mlflow_at_a_store_it_chose(
    run_diva: RunDiva, repo: Path, tmp_path: Path
) -> None:
    """The attack: the base's store has no run meeting the targets; the PR points
    platform.mlflow at a store of its own that has one."""
    (repo / STORE).unlink()
    log_run(repo / STORE, month_hash(repo), rmse=0.3, r2=0.5)
    own = tmp_path / "attacker.db"
    log_run(own, month_hash(repo), rmse=0.01, r2=0.99)
    pointed = at_stage(3) + f"  mlflow: {{tracking_uri: 'sqlite:///{own}'}}\n"
    ask_for_stage_3(repo, pointed)
    code, report, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["policy"][0] == "fail"
    assert "platform.mlflow" in rows["policy"][1]
    assert rows["targets.small"][0] == "fail"  # judged against the base's store
    assert str(own) not in report["evidence"]


def test_a_pull_request_cannot_point_dvc_at_a_remote_it_chose(
    run_diva: RunDiva, repo: Path, tmp_path: Path
) -> None:
    """The attack: the data is not on the spec's remote; the PR's .dvc/config makes a
    remote of its own the default, where it pushed the data."""
    shutil.rmtree(repo / REMOTE)
    (repo / REMOTE).mkdir()  # the spec's remote is there, without the data
    own = tmp_path / "attacker-remote"
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(at_stage(3))
    compile_here(repo)  # .dvc/config is generated: the edit below comes after it
    sh(repo, *DVC, "remote", "add", "-d", "attacker", str(own))
    sh(repo, *DVC, "push", "-q")
    propose(repo, "ask for stage 3", "promote")
    assert "attacker" in git(repo, "show", "HEAD:.dvc/config")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["data.small"] == ("fail", "month: not pushed to the DVC remote")
    assert rows["generated"][0] == "fail"  # and the edited config is drift
    assert ".dvc/config" in rows["generated"][1]


def test_a_committed_dvc_config_local_does_not_change_the_remote_or_its_credentials(
    run_diva: RunDiva, repo: Path, tmp_path: Path
) -> None:
    """The attack: the PR force-adds a ``.dvc/config.local`` (which DVC reads over
    ``.dvc/config``) that moves the spec's remote ``local`` to a folder of its own, where
    it pushed the data, and sets credentials. The gate writes the judged folder's
    ``.dvc`` itself: the remote is the spec's, the credentials the gate job's own."""
    shutil.rmtree(repo / REMOTE)
    (repo / REMOTE).mkdir()
    own = tmp_path / "attacker-remote"
    sh(repo, *DVC, "remote", "modify", "--local", "local", "url", str(own))
    sh(repo, *DVC, "push", "-q")
    with (repo / ".dvc" / "config.local").open("a") as local:
        local.write('    user = "attacker"\n    password = "chosen"\n')
    git(repo, "checkout", "-q", "-b", "promote")
    git(repo, "add", "--force", ".dvc/config.local")
    (repo / "diva.yaml").write_text(at_stage(3))
    compile_here(repo)
    propose(repo, "ask for stage 3", "promote")
    assert str(own) in git(repo, "show", "HEAD:.dvc/config.local")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["data.small"] == ("fail", "month: not pushed to the DVC remote")


def test_going_back_with_a_bigger_cycle_budget_is_a_policy_change(
    run_diva: RunDiva, repo: Path
) -> None:
    git(repo, "checkout", "-q", "-b", "back")
    text = at_stage(1).replace("cycles: {small: 3, large: 2}", "cycles: {small: 9, large: 2}")
    (repo / "diva.yaml").write_text(text)
    compile_here(repo)
    propose(repo, "back to stage 1, with a bigger budget", "back")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["policy"][0] == "fail"
    assert "plan.cycles" in rows["policy"][1]


# --- the head is data, read from git objects -------------------------------------------


def test_a_symlinked_spec_is_refused(run_diva: RunDiva, repo: Path) -> None:
    """The attack: diva.yaml a symlink, so that git (its link text) and the working
    tree (its target) disagree about the stage."""
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "stage3.yaml").write_text(at_stage(3))
    (repo / "diva.yaml").unlink()
    (repo / "diva.yaml").symlink_to("stage3.yaml")
    propose(repo, "a symlinked spec", "promote")
    code, report, rows = gate(run_diva, repo)
    assert code == 1
    assert report["movement"] == "spec invalid"
    assert rows["spec.valid"][0] == "fail"
    assert "diva.yaml is a symlink (mode 120000)" in rows["spec.valid"][1]


@pytest.mark.parametrize("path", ["dvc.lock", "data/month.dvc", "diva.evidence.json"])
def test_a_symlinked_file_the_gate_reads_is_refused(
    run_diva: RunDiva, repo: Path, path: str
) -> None:
    ask_for_stage_3(repo)
    target = repo / path
    if target.exists():
        shutil.copy(target, repo / "elsewhere")
        target.unlink()
    else:
        (repo / "elsewhere").write_text("{}")
    target.symlink_to(os.path.relpath(repo / "elsewhere", target.parent))
    propose(repo, f"{path} as a symlink", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["head.files"] == ("fail", f"{path} is a symlink: refused")


def test_uncommitted_changes_are_not_judged(run_diva: RunDiva, repo: Path) -> None:
    """The gate judges the commit: a working tree at stage 3 is not a promotion."""
    (repo / "diva.yaml").write_text(at_stage(3))
    compile_here(repo)
    result = run_diva("gate", "--base", "main", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("diva gate: no stage change (stage 2")
    assert "uncommitted changes are not judged" in result.stderr


# --- stores committed to the repository are no evidence ----------------------------------


def test_a_committed_mlflow_store_is_not_evidence(run_diva: RunDiva, repo: Path) -> None:
    """The attack, as CI would see it: the PR commits the SQLite store the spec's
    tracking URI names, with the run it wants."""
    ask_for_stage_3(repo)
    git(repo, "add", "-f", STORE)
    propose(repo, "bring my own store", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["runs.small"][0] == "fail"
    assert "committed to git" in rows["runs.small"][1]


def test_a_store_reached_through_a_committed_symlink_is_not_evidence(
    run_diva: RunDiva, repo: Path
) -> None:
    ask_for_stage_3(repo)
    shutil.move(repo / ".diva", repo / "mine")
    (repo / ".diva").symlink_to("mine")
    git(repo, "add", "-f", ".diva", "mine/mlflow.db")
    propose(repo, "a store through a symlink", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert "committed to git" in rows["runs.small"][1]


def test_a_committed_dvc_remote_is_not_evidence(run_diva: RunDiva, repo: Path) -> None:
    ask_for_stage_3(repo)
    git(repo, "add", "-f", REMOTE)
    propose(repo, "bring my own remote", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    assert rows["data.small"] == (
        "fail",
        f"month: the DVC remote {REMOTE} is committed to git: "
        "a remote in the repository is not evidence",
    )


# --- workflows: no other job may report the required check ------------------------------

IMPOSTOR = """\
name: quick checks
on: pull_request
permissions: {contents: read}
jobs:
  fast:
    name: diva gate
    runs-on: ubuntu-latest
    steps:
      - run: echo all good
"""


def test_a_workflow_that_reports_the_gates_check_fails(run_diva: RunDiva, repo: Path) -> None:
    """The attack: a job named like the required check, always green, in a workflow of
    the pull request's own; GitHub counts it as the check."""
    ask_for_stage_3(repo)
    (repo / ".github" / "workflows" / "quick.yml").write_text(IMPOSTOR)
    propose(repo, "faster checks", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 1
    status, detail = rows["workflows"]
    assert status == "fail"
    assert ".github/workflows/quick.yml" in detail


def test_a_workflow_of_the_teams_own_passes(run_diva: RunDiva, repo: Path) -> None:
    ask_for_stage_3(repo)
    own = IMPOSTOR.replace("name: diva gate", "name: lint")
    (repo / ".github" / "workflows" / "quick.yml").write_text(own)
    propose(repo, "a lint workflow", "promote")
    code, _, rows = gate(run_diva, repo)
    assert code == 0, rows
    assert rows["workflows"][0] == "pass"
