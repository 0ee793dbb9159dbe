"""A repository of several specs with two versions each, and how to compare its trees.

Version ``a`` of every spec is a stage-2 project; version ``b`` changes every generated
file of it (another name, dataset, parameter and Python), and for every second project
moves it back to stage 1, so that a compile from ``a`` to ``b`` creates, updates and
deletes files, and one from ``b`` to ``a`` the reverse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from diva.compiler.writer import read_lock, sha256
from diva.contract import LOCK_FILE
from tests.support.paths import SRC

SPEC = "diva.yaml"
#: mkstemp's temporary files of the writer: ``.NAME.XXXXXXXX.tmp``
TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")

_TEMPLATE = """\
diva: 1
project:
  name: {name}
  title: {title}
stage: {stage}
team:
  modelers: ["@lab/modelers"]
  quality_managers: ["@lab/quality"]
idea:
  problem: Lots are scrapped because thickness is measured too late.
  expected_effect: Every wafer gets an estimate within a minute.
plan:
  summary: Gradient-boosted trees on one month of runs.
datasets:
  {dataset}:
    scale: small
    path: data/{dataset}
model:
  framework: sklearn
  task: classification
  entrypoints:
    prepare: src/model/prepare.py
    train: src/model/train.py
    evaluate: src/model/evaluate.py
  params:
    learning_rate: {rate}
    depth: {depth}
targets:
  - {{metric: f1, goal: maximize, threshold: 0.8, dataset: {dataset}}}
platform:
  python: "{python}"
"""


def spec_text(index: int, version: str) -> str:
    if version == "a":
        return _TEMPLATE.format(
            name=f"proj-{index}",
            title=f"Project {index}",
            stage="small",
            dataset="month",
            rate="0.1",
            depth=index + 3,
            python="3.11",
        )
    return _TEMPLATE.format(
        name=f"proj-{index}-b",
        title=f"Project {index}, second version",
        stage="plan" if index % 2 == 1 else "small",
        dataset="year",
        rate="0.2",
        depth=index + 7,
        python="3.12",
    )


def projects(count: int) -> list[str]:
    return [f"p{index:02d}" for index in range(count)]


def write_specs(repo: Path, count: int, version: str) -> None:
    for index, name in enumerate(projects(count)):
        folder = repo / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SPEC).write_text(spec_text(index, version), encoding="utf-8")


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


def diva_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "diva", *args]


def compile_all(
    repo: Path, count: int, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``diva compile p00 p01 ...`` in ``repo``, each spec compiled next to itself."""
    return subprocess.run(
        diva_command("compile", *args, *projects(count)),
        cwd=repo,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the specs, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != SPEC
    }


def temp_files(root: Path) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix() for path in root.rglob("*") if TEMP.match(path.name)
    )


def without_temp_files(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if not TEMP.match(Path(path).name)}


def unaccepted(repo: Path, count: int, generated: set[str]) -> list[str]:
    """Generated files on disk that their folder's lock does not accept — each would be
    a conflict for the next compile (a hand edit, as far as diva can tell)."""
    problems = []
    for name in projects(count):
        lock = read_lock(repo / name)  # parses, or raises
        for path in sorted(generated):
            folder, _, relative = path.partition("/")
            target = repo / path
            if folder != name or relative == LOCK_FILE or not target.is_file():
                continue
            if sha256(target.read_text(encoding="utf-8")) not in lock.get(relative, ()):
                problems.append(path)
    return problems
