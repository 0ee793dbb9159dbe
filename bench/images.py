"""Build time and size of the training and serving images of the template project.

`diva quickstart` scaffolds the sklearn template project and walks it to stage 3 (a ridge
regression, registered as version 1 in a SQLite MLflow store). Then, with the real Docker
engine, ``diva build train`` and, after the spec is moved to stage 4 and recompiled,
``diva build serve --model-version 1`` build the compiled Dockerfiles with ``--no-cache``
(a ``docker`` shim on PATH adds it to every ``docker build`` diva runs, so that what is
timed is exactly `diva build`, on old and new diva alike); ``diva smoke`` then checks that
the served model answers. Printed: wall time of each build, the image's size, and what
it adds to the base.

The base is the image tests' stand-in (``diva-python:bookworm`` from ``.ci/docker-setup``
plus a wheel of this checkout, tests/support/docker_harness.py); pip installs from PyPI,
so the numbers include the downloads. About 10 to 20 minutes on 2 cores.
Usage: ``nox -s bench_images`` or ``python bench/images.py [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from timing import Child, checked, run_child, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.docker_harness import build_test_base, image_problem  # noqa: E402

DIVA = [sys.executable, "-m", "diva"]
PROJECT = "sensor-model"
#: What the quickstart's stage-3 spec needs at stage 4 (as tests/images does).
STAGE_4 = {
    "slos": "slos: {latency_p95_ms: 250, error_rate: 0.01}\n",
    "serving": "serving: {pattern: model-as-service}\n",
}
SHIM = """#!/bin/sh
if [ "$1" = build ]; then
  shift
  exec {docker} build --no-cache "$@"
fi
exec {docker} "$@"
"""


def _diva(root: Path, *args: str, env: dict[str, str] | None = None) -> Child:
    argv = [*DIVA, *args]
    return checked(run_child(argv, cwd=root, env=env), argv)


def _shimmed(folder: Path) -> dict[str, str]:
    """diva's environment with a ``docker`` first on PATH that builds with --no-cache."""
    real = shutil.which("docker")
    assert real is not None
    shim = folder / "docker"
    shim.write_text(SHIM.format(docker=real))
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _size(reference: str) -> int:
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", reference],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(found.stdout.strip())


def _smoke(root: Path, image: str) -> dict[str, object]:
    """`diva smoke`'s report on the serving image: the served model must answer."""
    argv = [*DIVA, "smoke", "--image", image, "--format", "json", "--quiet"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"diva smoke exited {done.returncode}:\n{done.stderr}")
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _to_stage_4(root: Path) -> None:
    spec = root / "diva.yaml"
    text = spec.read_text()
    if "stage: large" not in text:
        raise RuntimeError(f"the quickstart left no `stage: large` in {spec}")
    text = text.replace("stage: large", "stage: deploy")
    text = text.replace("\nplatform:\n", "\nplatform:\n  image_registry: localhost/diva-bench\n", 1)
    missing = [line for key, line in STAGE_4.items() if f"\n{key}:" not in text]
    spec.write_text(text + "".join(missing))


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f}"


def bench(work: Path) -> list[list[str]]:
    quickstart = checked(run_child([*DIVA, "quickstart", str(work / "qs")]), ["quickstart"])
    print(f"  quickstart (stage 0 to 3): {quickstart.seconds:.0f} s", flush=True)
    root = work / "qs" / PROJECT
    base = build_test_base(f"diva-bench-base:{uuid.uuid4().hex[:8]}", work)
    env = _shimmed(work)
    built = [base]
    rows = []
    try:
        base_size = _size(base)
        rows.append(["base (stand-in)", "", _mb(base_size), ""])
        for kind in ("train", "serve"):
            if kind == "serve":
                _to_stage_4(root)
                _diva(root, "compile")
            extra = ["--model-version", "1"] if kind == "serve" else []
            child = _diva(root, "build", kind, "--base", base, *extra, env=env)
            reference = child.output.strip().splitlines()[-1]
            built.append(reference)
            size = _size(reference)
            rows.append([kind, f"{child.seconds:.0f}", _mb(size), _mb(size - base_size)])
            print(f"  built {reference}: {child.seconds:.0f} s, {_mb(size)} MB", flush=True)
        smoke = _smoke(root, built[-1])
        verdict = "passed" if smoke["passed"] else "FAILED"
        print(f"  diva smoke: {verdict}, {smoke['requests']} requests, {smoke['errors']} errors")
    finally:
        subprocess.run(["docker", "rmi", "--force", *built], capture_output=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temp dir)")
    options = parser.parse_args()
    if (problem := image_problem()) is not None:
        sys.exit(f"bench/images.py: {problem}")
    print("Images of the template project (sklearn), built with --no-cache:", flush=True)
    if options.keep:
        options.keep.mkdir(parents=True)
        rows = bench(options.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="diva-bench-images-") as temp:
            rows = bench(Path(temp))
    print(table(["image", "build s", "size MB", "over base MB"], rows))


if __name__ == "__main__":
    main()
