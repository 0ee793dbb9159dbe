"""Cold start of diva's commands next to peers, in-process validation, hostile input.

Prints tables: median and min-max over several runs, measured side by side in the same
run (interleaved) so that the ratios hold on a noisy machine, with the peak memory (max
RSS) of each process. Usage: `nox -s bench` or `python bench/cold_start.py [--runs N]`
with diva (and optionally cookiecutter, copier, dvc) installed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from timing import (
    Measure,
    checked,
    interleaved,
    mib,
    run_child,
    spread,
    table,
    timed,
    traced_peak,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*/diva.yaml"))
LARGEST = max(EXAMPLES, key=lambda path: path.stat().st_size)
BASE = "python -c pass"
PEER = "cookiecutter --version"


def _diva() -> list[str]:
    script = shutil.which("diva")
    return [script] if script else [sys.executable, "-m", "diva"]


def _commands(project: Path) -> dict[str, list[str]]:
    largest = LARGEST.relative_to(ROOT)
    commands = {
        BASE: [sys.executable, "-c", "pass"],
        "diva --version": [*_diva(), "--version"],
        f"diva validate {largest}": [*_diva(), "validate", str(LARGEST)],
        f"diva compile {largest.parent.name} (no-op)": [*_diva(), "compile", str(project)],
    }
    for peer in ("cookiecutter", "copier", "dvc"):
        if shutil.which(peer):
            commands[f"{peer} --version"] = [peer, "--version"]
        else:
            print(f"  ({peer} not installed: skipped)")
    return commands


def _step(argv: list[str]) -> Callable[[Measure], None]:
    def step(measure: Measure) -> None:
        measure.add_child(checked(run_child(argv), argv))

    return step


def cold_start(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="diva-bench-") as temp:
        project = Path(temp) / LARGEST.parent.name
        project.mkdir()
        shutil.copy(LARGEST, project / "diva.yaml")
        commands = _commands(project)
        compile_once = [*_diva(), "compile", str(project)]
        checked(run_child(compile_once), compile_once)  # so that the measured ones are no-ops
        results = interleaved({name: _step(argv) for name, argv in commands.items()}, runs)
    print(f"Cold start, {runs} runs each (interleaved; wall time, max RSS of the process)")
    base = results[BASE].median
    peer = results.get(PEER)
    rows = [
        [
            name,
            spread(measure.seconds),
            f"{measure.median / base:.1f}",
            f"{measure.median / peer.median:.2f}" if peer else "",
            mib(statistics.median(measure.memory)),
        ]
        for name, measure in results.items()
    ]
    headers = ["", "ms: median (min - max)", f"x {BASE}", f"x {PEER}", "max RSS MiB"]
    print(table(headers, rows))


def _row(name: str, samples: list[float]) -> list[str]:
    return [name, spread(samples)]


def in_process(runs: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from diva.compiler.source import load_bytes
    from diva.compiler.validate import load_spec, validate_document

    raw = LARGEST.read_bytes()
    print(f"\nIn-process validation of {LARGEST.relative_to(ROOT)} ({len(raw)} bytes), {runs} runs")
    load_spec(LARGEST)  # warm-up: imports, pydantic schema build
    doc = load_bytes(raw)
    actions = [
        ("load (strict YAML, positions)", lambda: load_bytes(raw)),
        ("validate (pydantic + rules)", lambda: validate_document(doc)),
        ("load_spec (read + load + validate)", lambda: load_spec(LARGEST)),
    ]
    rows = [_row(name, timed(action, runs)) for name, action in actions]
    print(table(["", "ms: median (min - max)"], rows))


def _hostile_inputs() -> dict[str, bytes]:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return {
        "alias bomb (9^10 nodes if expanded)": "\n".join(bomb).encode(),
        "nesting 30,000 deep": b"a: " + b"[" * 30_000 + b"]" * 30_000,
        "100,001 nodes": b"a: [" + b",".join([b"1"] * 100_001) + b"]\n",
        "file of 1 MiB + 1 byte": b"a: 1\n" + b"#" * (1 << 20),
        "!!python/object tag": b"a: !!python/object/apply:os.system [ls]\n",
        "NUL byte at the end of 1 MiB": b"#" * ((1 << 20) - 2) + b"\x00\n",
    }


def hostile(runs: int) -> None:
    from diva.compiler.source import load_bytes
    from diva.errors import SpecError

    print(f"\nRefusing hostile input in-process, {runs} runs (tracemalloc peak of one run)")
    rows = []
    for name, raw in _hostile_inputs().items():

        def refuse(raw: bytes = raw) -> None:
            try:
                load_bytes(raw)
            except SpecError:
                return
            raise AssertionError("not refused")

        rows.append([*_row(name, timed(refuse, runs)), mib(traced_peak(refuse))])
    print(table(["", "ms: median (min - max)", "peak MiB"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cold_start(args.runs)
    in_process(args.runs * 10)
    hostile(args.runs)


if __name__ == "__main__":
    main()
