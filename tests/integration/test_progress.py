"""`diva status` and `diva gate` name each source they ask, on stderr, as they ask it.

A real project at stage 2 on real git + DVC with a real (embedded SQLite) MLflow store:
its small dataset tracked, locked and pushed, one run on it. Without a terminal (CI, a
pipe) each step is one plain ``diva: ... ...`` line on stderr; stdout is byte for byte
what ``--quiet`` prints, so JSON still parses. On a terminal (a pty) the steps are rich's
live spinner line, cleared when the command ends.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gate import at_stage
from tests.support.gate_repo import STORE, log_run, month_hash, track
from tests.support.git_repo import commit_spec, compile_here, git, init_repo, propose
from tests.support.paths import SRC
from tests.support.process import RunDiva

pytest.importorskip("mlflow.tracking")
pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")

#: What each command says it asks of the project's stores, in this order.
STORES = [
    "diva: asking MLflow at sqlite:///.diva/mlflow.db ...",
    "diva: asking the DVC remote whether dataset month is pushed ...",
    "diva: asking MLflow for the runs of project demo ...",  # once, though asked twice
]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main at stage 2: data/month tracked, locked, pushed; a run on it."""
    root = init_repo(tmp_path_factory.mktemp("template") / "project")
    track(root, {"train-month": "data/month"})
    commit_spec(root, at_stage(2), "stage 2: the month is in", compiled=True)
    log_run(root / STORE, month_hash(root), rmse=0.05, r2=0.95)
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "project"


def ask_for_stage_3(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "diva.yaml").write_text(at_stage(3))
    compile_here(repo)
    propose(repo, "ask for stage 3", "promote")


def steps(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.endswith(" ...")]


def test_status_names_git_mlflow_and_each_dataset_on_stderr(run_diva: RunDiva, repo: Path) -> None:
    shown = run_diva("status", cwd=repo)
    quiet = run_diva("status", "--quiet", cwd=repo)
    assert shown.returncode == quiet.returncode == 0, shown.stderr
    said = steps(shown.stderr)
    assert said[0] == "diva: reading the stage history from git ..."
    assert said[1:] == STORES
    assert "\x1b" not in shown.stderr  # not a terminal: no ANSI codes
    assert shown.stdout == quiet.stdout  # stdout is the command's, untouched
    assert shown.stdout.startswith("stage: stage 2 (small-scale modeling)\n")
    assert quiet.stderr == ""


def test_gate_names_each_source_it_asks_and_json_still_parses(
    run_diva: RunDiva, repo: Path
) -> None:
    ask_for_stage_3(repo)
    shown = run_diva("gate", "--base", "main", "--format", "json", cwd=repo)
    quiet = run_diva("gate", "--base", "main", "--format", "json", "-q", cwd=repo)
    assert shown.returncode == quiet.returncode == 0, shown.stderr
    said = steps(shown.stderr)
    assert said[:3] == [
        "diva: reading the head commit and the base main from git ...",
        "diva: checking the generated files ...",
        "diva: reading the stage history from git ...",
    ]
    assert said[3:] == STORES
    assert "\x1b" not in shown.stderr
    assert shown.stdout == quiet.stdout
    assert json.loads(shown.stdout)["passed"] is True
    assert quiet.stderr == ""


def test_gate_text_report_is_unchanged_by_progress(run_diva: RunDiva, repo: Path) -> None:
    ask_for_stage_3(repo)
    shown = run_diva("gate", "--base", "main", cwd=repo)
    quiet = run_diva("gate", "--base", "main", "--quiet", cwd=repo)
    assert shown.stdout == quiet.stdout
    assert shown.stdout.startswith("diva gate: promotion 2 -> 3\n")
    assert "diva:" not in shown.stdout


def test_on_a_terminal_the_steps_are_a_spinner_line_that_is_cleared(repo: Path) -> None:
    """stderr on a pty, stdout a pipe (as in `diva status > file` at a terminal)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(SRC), "TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-m", "diva", "status"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    screen = _read_all(leader)
    stdout = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, screen
    assert stdout.startswith("stage: stage 2 (small-scale modeling)\n")
    assert "\x1b" not in stdout
    assert "diva: asking MLflow for the runs of project demo ..." in screen
    assert "\x1b[?25l" in screen  # rich's live display, not plain lines
    assert _rendered(screen) == []  # when it stops it clears its line: nothing is left


def _read_all(leader: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


#: The control sequences rich's live display writes: erase line, cursor up, hide/show
#: the cursor, colours.
_CSI = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])")


def _rendered(screen: str) -> list[str]:
    """The non-blank lines a terminal shows after ``screen``: a small terminal that
    knows what rich writes (any other sequence fails the test)."""
    lines, row, column = [""], 0, 0
    at = 0
    while at < len(screen):
        control = _CSI.match(screen, at)
        if control:
            private, number, code = control.groups()
            if code == "K":
                lines[row] = ""
                column = 0 if number == "2" else column
            elif code == "A":
                row = max(0, row - int(number or 1))
            else:
                assert (private, code) in {("?", "l"), ("?", "h"), ("", "m")}, control[0]
            at = control.end()
            continue
        char, at = screen[at], at + 1
        if char == "\r":
            column = 0
        elif char == "\n":
            row += 1
            column = 0
            lines += [""] * (row + 1 - len(lines))
        else:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + char + line[column + 1 :]
            column += 1
    return [line for line in lines if line.strip()]
