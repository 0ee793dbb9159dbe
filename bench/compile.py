"""Compile speed: one spec, a monorepo of N specs, against cookiecutter and the disk floor.

Prints medians with min-max over several runs. Peers run in the same invocation:
cookiecutter rendering the same number of files (one process, its Python API in a loop),
and the physical floor of writing the same bytes atomically. Usage: `nox -s bench` or
`python bench/compile.py [--specs 200] [--runs 5]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))

from timing import timed  # noqa: E402

from diva.compile import Job, jobs_for, plan_job  # noqa: E402
from diva.writer import apply, write_text_atomic  # noqa: E402

EXAMPLE = ROOT / "specs" / "examples" / "epi-thickness" / "diva.yaml"


def _row(name: str, samples: list[float], files: int, base: float | None = None) -> str:
    median = statistics.median(samples)
    ratio = f"{median / base:7.2f}x" if base else "        "
    per_file = median / files * 1e6 if files else 0
    return (
        f"  {name:<46} {median * 1000:9.1f} ms ({min(samples) * 1000:8.1f} -"
        f" {max(samples) * 1000:8.1f})  {per_file:7.0f} us/file {ratio}"
    )


def _monorepo(base: Path, count: int) -> list[Path]:
    text = EXAMPLE.read_text(encoding="utf-8")
    specs = []
    for index in range(count):
        folder = base / f"p{index:04d}"
        folder.mkdir(parents=True)
        spec = folder / "diva.yaml"
        spec.write_text(text.replace("name: epi-thickness", f"name: epi-{index:04d}"))
        specs.append(spec)
    return specs


def _compile(jobs: list[Job]) -> int:
    written = 0
    for job in jobs:
        plan = plan_job(job)
        apply(plan)
        written += len(plan.changes) + 1
    return written


def _cookiecutter_template(base: Path, files: dict[str, str]) -> Path:
    template = base / "cc-template"
    project = template / "{{cookiecutter.name}}"
    for relative, text in files.items():
        target = project / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("epi-thickness", "{{cookiecutter.name}}"))
    (template / "cookiecutter.json").write_text(json.dumps({"name": "x"}))
    return template


def _cookiecutter_loop(template: Path, out: Path, count: int) -> None:
    code = (
        "import sys\nfrom cookiecutter.main import cookiecutter\n"
        f"for i in range({count}):\n"
        f"    cookiecutter({str(template)!r}, no_input=True, output_dir={str(out)!r},"
        " extra_context={'name': f'p{i:04d}'}, overwrite_if_exists=True)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def bench_size(count: int, runs: int) -> None:
    """One table block: compiling a monorepo of ``count`` specs, and its peers."""
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        specs = _monorepo(base / "repo", count)
        jobs = jobs_for(specs, None)
        files = _compile(jobs)  # warm-up; also the no-op state for the rows below
        first = base / "repo" / "p0000"
        outputs = {
            str(path.relative_to(first)): path.read_text()
            for path in first.rglob("*")
            if path.is_file() and path.name != "diva.yaml"
        }

        def fresh() -> None:
            for spec in specs:
                for child in spec.parent.iterdir():
                    if child.name != "diva.yaml":
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
            _compile(jobs)

        def floor() -> None:
            target = base / "floor"
            shutil.rmtree(target, ignore_errors=True)
            for index in range(count):
                for relative, text in outputs.items():
                    path = target / f"p{index:04d}" / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_text_atomic(path, text)

        env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
        command = [sys.executable, "-m", "diva", "compile", *map(str, specs)]
        check = [*command[:4], "--check", *command[4:]]

        def process(args: list[str]) -> Callable[[], object]:
            return lambda: subprocess.run(args, check=True, capture_output=True, env=env)

        print(f"{count} specs, {files} files")
        floor_samples = timed(floor, runs)
        floor_median = statistics.median(floor_samples)
        rows = [
            ("in-process compile, fresh tree", fresh),
            ("in-process compile, nothing changed", lambda: _compile(jobs)),
            ("whole process `diva compile` (no-op)", process(command)),
            ("whole process `diva compile --check`", process(check)),
        ]
        print(_row("floor: write the same bytes atomically", floor_samples, files))
        for name, action in rows:
            print(_row(name, timed(action, runs), files, floor_median))
        if shutil.which("cookiecutter") is None:
            print("  (cookiecutter not installed: skipped)")
            return
        template = _cookiecutter_template(base, outputs)
        out = base / "cc-out"
        samples = timed(lambda: _cookiecutter_loop(template, out, count), runs)
        print(_row("cookiecutter, same files, one process", samples, files, floor_median))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--specs", type=int, nargs="*", default=[1, 10, 100, 200])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"diva compile, {args.runs} runs each (median, min - max, per file, ratio to floor)")
    for count in args.specs:
        bench_size(count, args.runs)


if __name__ == "__main__":
    main()
