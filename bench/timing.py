"""Shared by the benchmark scripts: repeat, measure time and memory, print tables.

Every figure is a median over several runs with its min-max. Child processes are timed
with their peak memory (max RSS from ``wait4``, so per child and not the whole bench);
in-process actions with the Python heap peak from ``tracemalloc`` (C buffers excluded).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Action = Callable[[], object]


def timed(action: Action, runs: int, setup: Action | None = None) -> list[float]:
    """Seconds each of ``runs`` calls of ``action`` took (``setup`` runs untimed before)."""
    samples = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


@dataclass
class Child:
    """One child process: wall seconds, max RSS in bytes, exit code, captured output."""

    seconds: float
    max_rss: int
    returncode: int
    output: str


def run_child(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Child:
    """Run ``argv`` to completion; its own max RSS comes from ``wait4`` on its pid."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped: tell Popen
        log.seek(0)
        output = log.read().decode(errors="replace")
    return Child(seconds, usage.ru_maxrss * 1024, process.returncode, output)


def checked(child: Child, argv: Sequence[str], ok: tuple[int, ...] = (0,)) -> Child:
    if child.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{child.output}")
    return child


def traced_peak(action: Action) -> int:
    """Peak bytes of Python heap that one call of ``action`` allocated."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass
class Measure:
    """Samples of one row: seconds, and peak memory in bytes when known."""

    seconds: list[float] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def add_child(self, child: Child) -> None:
        self.seconds.append(child.seconds)
        self.memory.append(child.max_rss)


def interleaved(
    rows: Mapping[str, Callable[[Measure], None]], runs: int, once: Collection[str] = ()
) -> dict[str, Measure]:
    """Every row once per round, ``runs`` rounds, so that machine noise hits all alike.

    Rows named in ``once`` run in the first round only (the slow peers at large sizes).
    Dirty pages are flushed (``sync``, untimed) before each step, so that no row pays
    for the writes or deletions of the one before.
    """
    results = {name: Measure() for name in rows}
    for round_ in range(runs):
        for name, step in rows.items():
            if round_ and name in once:
                continue
            os.sync()
            step(results[name])
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def mib(size: float) -> str:
    return f"{size / (1 << 20):,.1f}"


def spread(seconds: list[float]) -> str:
    """``median ms (min - max)``."""
    return f"{ms(statistics.median(seconds)):>10} ({ms(min(seconds)):>9} - {ms(max(seconds)):>9})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned first column, right-aligned others, widths from the content."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for cells in [headers, *rows]:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)]
        lines.append(indent + "  ".join([first, *rest]).rstrip())
    return "\n".join(lines)


def scale_rows(sizes: Sequence[int], medians: Sequence[float]) -> tuple[list[str], str]:
    """Per-size cells ``per-item xSTEP`` (ms; step = ratio of totals) and a growth verdict.

    The verdict looks at the marginal cost: the exponent k of (t(N) - t(first)) ~ N^k
    between the two largest sizes, so that a fixed start-up cost does not pass for
    sub-linear growth. k up to 1.1 is linear; up to 1.3 near-linear (within what a noisy
    disk does to the same code); above 1.3 worse than linear.
    """
    cells = []
    for index, (size, median) in enumerate(zip(sizes, medians, strict=True)):
        step = "" if index == 0 else f" x{median / medians[index - 1]:.1f}"
        cells.append(f"{median / size * 1000:,.2f}{step}")
    return cells, verdict(sizes, medians)


def scale_table(
    names: Sequence[str],
    sizes: Sequence[int],
    results: Sequence[Mapping[str, Measure]],
    size: str,
    unit: str,
) -> str:
    """One row per name and size (time, per ``unit``, step ratio, peak memory), and the
    growth verdict of each name: the tables of the scale benchmarks."""
    rows = []
    for name in names:
        cells, growth = scale_rows(sizes, [result[name].median for result in results])
        for count, result, cell in zip(sizes, results, cells, strict=True):
            measure = result[name]
            memory = mib(max(measure.memory)) if measure.memory else ""
            per_item, _, step = cell.partition(" ")
            rows.append(
                [f"{name}, {size}={count}", spread(measure.seconds), per_item, step, memory, ""]
            )
        rows.append(["", "", "", "", "", growth])
    headers = ["", "ms: median (min - max)", f"ms/{unit}", "xstep", "peak MiB", "growth"]
    return table(headers, rows)


def verdict(sizes: Sequence[int], medians: Sequence[float]) -> str:
    if len(sizes) < 3:
        return "too few sizes"
    (n1, t1), (n2, t2) = (sizes[-2], medians[-2]), (sizes[-1], medians[-1])
    base_n, base_t = sizes[0], medians[0]
    grow_a, grow_b = t1 - base_t, t2 - base_t
    if grow_a <= 0 or grow_b <= 0:
        return "flat (fixed cost dominates)"
    exponent = math.log(grow_b / grow_a) / math.log((n2 - base_n) / (n1 - base_n))
    bands = ((1.1, "linear"), (1.3, "near-linear"), (math.inf, "WORSE than linear"))
    word = next(word for limit, word in bands if exponent <= limit)
    return f"{word} (marginal exponent {exponent:.2f})"
