"""Cold start of `diva validate` next to peers, and in-process validation time.

Prints a table: median and min-max over several runs, measured side by side in the same
run so that the ratios hold on a noisy machine. Usage: `nox -s bench` or
`python bench/cold_start.py [--runs N]` with diva (and optionally cookiecutter, dvc)
installed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from timing import timed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*/diva.yaml"))
LARGEST = max(EXAMPLES, key=lambda path: path.stat().st_size)


def _process(command: list[str]) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(command, check=True, capture_output=True)

    return run


def _row(name: str, samples: list[float], base: float | None) -> str:
    median = statistics.median(samples)
    ratio = f"{median / base:6.1f}x" if base else "      "
    return (
        f"{name:<58} {median * 1000:9.2f} ms  "
        f"({min(samples) * 1000:8.2f} - {max(samples) * 1000:8.2f})  {ratio}"
    )


def _diva() -> list[str]:
    script = shutil.which("diva")
    return [script] if script else [sys.executable, "-m", "diva"]


def cold_start(runs: int) -> None:
    print(f"Cold start, {runs} runs each (median, min - max, ratio to `python -c pass`)")
    commands: list[tuple[str, list[str]]] = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("diva --version", [*_diva(), "--version"]),
        (f"diva validate {LARGEST.relative_to(ROOT)}", [*_diva(), "validate", str(LARGEST)]),
    ]
    for peer in ("cookiecutter", "dvc"):
        if shutil.which(peer):
            commands.append((f"{peer} --version", [peer, "--version"]))
        else:
            print(f"  ({peer} not installed: skipped)")
    base = None
    results = {}
    # interleave the commands so that machine noise hits them alike
    for _ in range(runs):
        for name, command in commands:
            results.setdefault(name, []).extend(timed(_process(command), 1))
    base = statistics.median(results["python -c pass"])
    for name, samples in results.items():
        print("  " + _row(name, samples, base))
    if "cookiecutter --version" in results:
        ratio = statistics.median(results[commands[2][0]]) / statistics.median(
            results["cookiecutter --version"]
        )
        print(f"  diva validate / cookiecutter --version = {ratio:.2f}")


def in_process(runs: int) -> None:
    sys.path.insert(0, str(ROOT / "compiler"))
    from diva.source import load_bytes
    from diva.validate import load_spec, validate_document

    raw = LARGEST.read_bytes()
    print(f"\nIn-process validation of {LARGEST.relative_to(ROOT)} ({len(raw)} bytes), {runs} runs")
    load_spec(LARGEST)  # warm-up: imports, pydantic schema build
    doc = load_bytes(raw)
    rows = [
        ("load (strict YAML, positions)", lambda: load_bytes(raw)),
        ("validate (pydantic + rules)", lambda: validate_document(doc)),
        ("load_spec (read + load + validate)", lambda: load_spec(LARGEST)),
    ]
    for name, action in rows:
        print("  " + _row(name, timed(action, runs), None))


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
    import tracemalloc

    from diva.errors import SpecError
    from diva.source import load_bytes

    print(f"\nRefusing hostile input in-process, {runs} runs (median, min - max; peak memory)")
    for name, raw in _hostile_inputs().items():

        def refuse(raw: bytes = raw) -> None:
            try:
                load_bytes(raw)
            except SpecError:
                return
            raise AssertionError("not refused")

        samples = timed(refuse, runs)
        tracemalloc.start()
        refuse()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {_row(name, samples, None)} {peak / 1024 / 1024:6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cold_start(args.runs)
    in_process(args.runs * 10)
    hostile(args.runs)


if __name__ == "__main__":
    main()
