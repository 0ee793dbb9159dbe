"""DVC pipeline layout in a monorepo: one dvc.yaml per project (diva's) vs one for all.

DVC rewrites dvc.lock after every stage it runs, so the cost of `dvc repro` grows with
(stages run) x (size of the lock file): quadratic when every project's stages share one
dvc.yaml, linear when each project has its own small dvc.yaml, as diva compiles it.
This script builds a monorepo of P projects with diva, runs `dvc repro` both ways on
the same stages, and prints the times. Usage: `python bench/dvc_layout.py [--projects 5 10 20 40]`
(default 5 10 20).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
diva: 1
project: {{name: p{index:03d}, title: Project {index}}}
stage: small
datasets:
  d: {{scale: small, path: data/d}}
model:
  framework: sklearn
  task: regression
  entrypoints: {{prepare: src/step.py, train: src/step.py, evaluate: src/step.py}}
"""
# A step that only writes what DVC expects from it: the cost measured is DVC's.
STEP = """\
import json, pathlib, sys
name = sys.argv[sys.argv.index("--dataset") + 1]
for out in (f"build/{name}/prepared", f"build/{name}/model", f"plots/{name}"):
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    (pathlib.Path(out) / "x").write_text("x")
pathlib.Path("metrics").mkdir(exist_ok=True)
pathlib.Path(f"metrics/{name}.json").write_text(json.dumps({"m": 1}))
"""


def sh(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)


def build_monorepo(base: Path, projects: int) -> list[Path]:
    base.mkdir(parents=True)
    sh("git", "init", "-q", cwd=base)
    sh("dvc", "init", "-q", cwd=base)
    folders = []
    for index in range(projects):
        folder = base / f"p{index:03d}"
        (folder / "src").mkdir(parents=True)
        (folder / "data" / "d").mkdir(parents=True)
        (folder / "data" / "d" / "rows").write_text(str(index))
        (folder / "src" / "step.py").write_text(STEP)
        (folder / "diva.yaml").write_text(SPEC.format(index=index))
        folders.append(folder)
    sh(sys.executable, "-m", "diva", "compile", *map(str, folders), cwd=base)
    return folders


def merge_into_one(base: Path, folders: list[Path]) -> None:
    """The anti-pattern: every project's stages in the root dvc.yaml (with wdir)."""
    yaml = YAML(typ="safe", pure=True)
    stages = {}
    for folder in folders:
        pipeline = yaml.load(folder / "dvc.yaml")
        for name, stage in pipeline["stages"].items():
            stages[f"{folder.name}-{name}"] = {"wdir": folder.name, **stage}
        (folder / "dvc.yaml").unlink()
    with (base / "dvc.yaml").open("w") as stream:
        yaml.dump({"stages": stages}, stream)


def timed_repro(base: Path, *args: str) -> float:
    start = time.perf_counter()
    sh("dvc", "repro", "-q", *args, cwd=base)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, nargs="*", default=[5, 10, 20])
    args = parser.parse_args()
    print("dvc repro of P projects x 3 stages (one run each; seconds, and per stage)")
    print(f"  {'P':>4} {'stages':>7}  {'per-project dvc.yaml':>22}  {'one shared dvc.yaml':>22}")
    for projects in args.projects:
        with tempfile.TemporaryDirectory() as temp:
            split = Path(temp) / "split"
            folders = build_monorepo(split, projects)
            per_project = timed_repro(split, "-R", ".")
            shared_base = Path(temp) / "shared"
            shutil.copytree(split, shared_base, ignore=shutil.ignore_patterns("dvc.lock"))
            for folder in folders:
                shutil.rmtree(shared_base / folder.name / "build", ignore_errors=True)
            merge_into_one(shared_base, [shared_base / f.name for f in folders])
            shared = timed_repro(shared_base)
            stages = projects * 3
            split_ms = per_project / stages * 1000
            shared_ms = shared / stages * 1000
            print(
                f"  {projects:>4} {stages:>7}  {per_project:9.1f} s {split_ms:7.0f} ms"
                f"  {shared:9.1f} s {shared_ms:7.0f} ms"
            )


if __name__ == "__main__":
    main()
