"""Shared fixtures: paths of the repository and a way to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*/diva.yaml"))

RunDiva = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_diva() -> RunDiva:
    """Run ``python -m diva ARGS`` in a subprocess, as users do."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
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
