"""``diva gate`` when its evidence cannot be reached: "unreachable", never a false pass.

Real sources, really out of reach: a DVC remote whose HTTP server does not answer (a
closed port on localhost), one over ssh that cannot be reached, a local remote folder
that does not exist; an MLflow tracking server on a closed port; an image registry on a
closed port. And the data case DVC itself gets wrong: data in neither the cache nor the
remote, for which ``dvc status --cloud --json`` prints ``{}`` (the JSON of "in sync")
with a warning — that used to pass ``data.small``/``data.large``.

The DVC repositories are fresh clones, as CI sees them: the ``.dvc`` files and
``dvc.lock`` committed, no cache, no data in the work tree.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from diva.lifecycle.evidence import record
from tests.support.dvc_cli import DVC, sh
from tests.support.gate import SPEC, at_stage, context, judge, rows_of, spec_document
from tests.support.git_repo import commit_spec, git, init_repo
from tests.support.monorepo import env

#: MLflow's HTTP client retries a refused connection with backoff for about four minutes
#: per request by default; the tests do not wait for that (see the module's note below).
MLFLOW_FAST_FAILURE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


@pytest.fixture(autouse=True, scope="module")
def _isolated_env() -> Iterator[None]:
    """No outer git repository or CI step summary leaks into the tests (module-wide:
    the module's fixtures run git and the gate too)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
            patch.delenv(name, raising=False)
        yield


def closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _track_data(repo: Path, remote: str) -> None:
    """data/month (small) and data/year (large) tracked by DVC and in dvc.lock."""
    from ruamel.yaml import YAML

    for name in ("month", "year"):
        (repo / "data" / name).mkdir(parents=True)
        (repo / "data" / name / "rows.csv").write_text(f"{name},1\n{name},2\n")
    sh(repo, *DVC, "init", "-q")
    sh(repo, *DVC, "add", "-q", "data/month", "data/year")
    sh(repo, *DVC, "remote", "add", "-d", "store", remote)
    lock = "schema: '2.0'\nstages:\n"
    for name in ("month", "year"):
        md5 = YAML(typ="safe").load(repo / "data" / f"{name}.dvc")["outs"][0]["md5"]
        lock += f"  train-{name}:\n    cmd: x\n    deps:\n    - path: data/{name}\n"
        lock += f"      md5: {md5}\n"
    (repo / "dvc.lock").write_text(lock)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed repository whose data was pushed to a local remote."""
    root = tmp_path_factory.mktemp("origin")
    repo = init_repo(root / "repo")
    _track_data(repo, str(root / "remote"))
    sh(repo, *DVC, "push", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    return repo


def fresh_clone(origin: Path, tmp_path: Path, remote: str | None = None) -> Path:
    """A clone without cache or data; its default remote moved to ``remote`` if given."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    if (
        remote is not None
    ):  # what `dvc remote add --local -f store URL` writes, without its start-up
        (clone / ".dvc" / "config.local").write_text(f"['remote \"store\"']\n    url = {remote}\n")
    return clone


# --- DVC -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkpoint", "dataset"), [("data.small", "month"), ("data.large", "year")]
)
def test_data_in_neither_cache_nor_remote_fails(
    checkpoint: str, dataset: str, origin: Path, tmp_path: Path
) -> None:
    """A clone without cache, whose remote (a folder that does not exist) holds nothing:
    DVC prints ``{}``, the JSON of "in sync", and warns about missing files."""
    clone = fresh_clone(origin, tmp_path, str(tmp_path / "no-such-remote"))
    verdict = judge(checkpoint, context(spec_document(), clone))
    assert (verdict.status, verdict.detail) == ("fail", f"{dataset}: not pushed to the DVC remote")


@pytest.mark.parametrize(
    ("checkpoint", "dataset"), [("data.small", "month"), ("data.large", "year")]
)
def test_pushed_data_passes_in_a_fresh_clone_without_a_cache(
    checkpoint: str, dataset: str, origin: Path, tmp_path: Path
) -> None:
    """DVC reports objects only on the remote as ``deleted``: that is pushed."""
    clone = fresh_clone(origin, tmp_path)
    verdict = judge(checkpoint, context(spec_document(), clone))
    assert (verdict.status, verdict.detail) == ("pass", f"{dataset} tracked, locked and pushed")


def test_an_http_remote_that_does_not_answer_is_unreachable(origin: Path, tmp_path: Path) -> None:
    remote = f"http://127.0.0.1:{closed_port()}/dvc"
    clone = fresh_clone(origin, tmp_path, remote)
    verdict = judge("data.small", context(spec_document(), clone))
    assert verdict.status == "unreachable"
    assert verdict.detail.startswith(f"month: the DVC remote 'store' at {remote} does not answer (")
    assert verdict.detail.endswith("), so whether the data is pushed cannot be told")


def test_credentials_in_a_remote_url_are_not_shown(origin: Path, tmp_path: Path) -> None:
    port = closed_port()
    clone = fresh_clone(origin, tmp_path, f"https://user:secret@127.0.0.1:{port}/d")
    verdict = judge("data.small", context(spec_document(), clone))
    assert verdict.status == "unreachable"
    assert f"https://127.0.0.1:{port}/d" in verdict.detail
    assert "secret" not in verdict.detail


def test_an_ssh_remote_that_cannot_be_reached_is_unreachable(origin: Path, tmp_path: Path) -> None:
    """Without a cache, DVC prints ``{}`` for a remote it cannot read (here: no ssh plugin,
    or nothing listening), exactly as for data in sync: that used to pass."""
    remote = f"ssh://127.0.0.1:{closed_port()}/dvc"
    clone = fresh_clone(origin, tmp_path, remote)
    verdict = judge("data.small", context(spec_document(), clone))
    assert verdict.status == "unreachable"
    assert f"the DVC remote 'store' at {remote}" in verdict.detail or (
        "dvc status --cloud failed" in verdict.detail  # DVC with the ssh plugin says why
    )


# --- the image registry --------------------------------------------------------------


def test_a_registry_that_does_not_answer_is_unreachable(tmp_path: Path) -> None:
    registry = f"127.0.0.1:{closed_port()}/acme"
    reference = f"{registry}/demo-serve:1"
    record.merge(tmp_path, {"images": {"serving": {"reference": reference, "digest": "sha256:0"}}})
    document = spec_document()
    document.setdefault("platform", {})["image_registry"] = registry
    verdict = judge("image.serving", context(document, tmp_path))
    assert verdict.status == "unreachable"
    assert verdict.detail.startswith(f"{reference}: registry unreachable (")


# --- the whole gate: MLflow and DVC out of reach ---------------------------------------


@pytest.fixture(scope="module")
def promotion(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], int]:
    """``diva gate`` of a branch asking for stage 3 from stage 2 on main, with MLflow and
    the DVC remote as HTTP servers on closed ports; the run and MLflow's port."""
    mlflow_port, dvc_port = closed_port(), closed_port()
    remote = f"http://127.0.0.1:{dvc_port}/dvc"
    tracking = f'  mlflow: {{tracking_uri: "http://127.0.0.1:{mlflow_port}"}}\n'
    stores = tracking + f'  dvc: {{remote: {{name: store, url: "{remote}"}}}}\n'
    spec = SPEC.replace("\nplatform:\n", f"\nplatform:\n{stores}")
    repo = init_repo(tmp_path_factory.mktemp("promotion") / "project")
    _track_data(repo, remote)
    commit_spec(repo, at_stage(2, spec), "small", compiled=True)
    git(repo, "checkout", "-q", "-b", "promote")
    commit_spec(repo, at_stage(3, spec), "ask for stage 3", compiled=True)
    result = subprocess.run(
        [sys.executable, "-m", "diva", "gate", "--base", "main"],
        cwd=repo,
        env=env(**MLFLOW_FAST_FAILURE),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result, mlflow_port


def test_the_gate_fails_and_names_what_was_unreachable(
    promotion: tuple[subprocess.CompletedProcess[str], int],
) -> None:
    result, port = promotion
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = rows_of(result.stdout)
    assert {row: rows[row] for row in ("data.small", "runs.small", "targets.small")} == {
        "data.small": "unreachable",
        "runs.small": "unreachable",
        "targets.small": "unreachable",
    }
    assert "month: the DVC remote 'store' at http://127.0.0.1:" in result.stdout
    assert f"MLflow at http://127.0.0.1:{port}: " in result.stdout
    assert result.stdout.rstrip().endswith("gate FAILED")


def test_the_evidence_line_does_not_claim_an_mlflow_that_never_answered(
    promotion: tuple[subprocess.CompletedProcess[str], int],
) -> None:
    result, port = promotion
    evidence = next(line for line in result.stdout.splitlines() if "evidence:" in line)
    assert "verified against" not in evidence
    assert f"http://127.0.0.1:{port}" in evidence
