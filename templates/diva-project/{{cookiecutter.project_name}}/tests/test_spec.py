"""diva.yaml is valid and the compiled files are up to date (what the gate also checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def diva(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diva", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_spec_is_valid() -> None:
    result = diva("validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_files_are_up_to_date() -> None:
    result = diva("compile", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
