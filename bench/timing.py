"""Shared by the benchmark scripts: repeat an action and collect wall-clock samples."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Seconds each of ``runs`` calls of ``action`` took."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples
