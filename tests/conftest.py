"""Shared fixtures and hooks: a way to run the real CLI, and DIVA_NO_SKIP.

The paths of the repository live in tests/support/paths.py; ``ROOT`` and ``EXAMPLES``
are re-exported here for modules that still import them from conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import EXAMPLES, ROOT, SRC
from tests.support.process import RunDiva

__all__ = ["EXAMPLES", "ROOT", "RunDiva"]

#: CI sets DIVA_NO_SKIP=1: a test that would skip (a missing tool, a missing ../shared)
#: fails instead, so that CI never passes by not running something.
NO_SKIP = os.environ.get("DIVA_NO_SKIP") == "1"


def _forbid_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but DIVA_NO_SKIP=1 forbids skipping: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _forbid_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _forbid_skip(outcome.get_result())


@pytest.fixture
def run_diva() -> RunDiva:
    """Run ``python -m diva ARGS`` in a subprocess, as users do."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        return subprocess.run(
            [sys.executable, "-m", "diva", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
