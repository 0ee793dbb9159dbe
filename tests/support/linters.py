"""The external linters of tests/lint/: where they are installed, and how they run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def tool(name: str) -> str:
    """The tool installed next to this Python (the `test` extra), else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def run(*command: str, unset: tuple[str, ...], cwd: Path | None = None) -> str:
    """Run a linter without the variables that configure it (names starting with
    ``unset``); its standard output."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(unset)}
    result = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: findings
    return result.stdout


def checkov() -> str:
    """``DIVA_CHECKOV`` (set by ``nox -s tests``), else checkov on PATH."""
    configured = os.environ.get("DIVA_CHECKOV")
    if configured is not None:
        if not Path(configured).is_file():
            pytest.skip(f"DIVA_CHECKOV={configured} does not exist (run `nox -s tests`)")
        return configured
    found = shutil.which("checkov")
    if found is None:
        pytest.skip("checkov is not installed (`nox -s tests` installs it; or set DIVA_CHECKOV)")
    return found
