"""Paths of the repository the tests read from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the package source: PYTHONPATH of every ``python -m diva`` the tests start
SRC = ROOT / "src"
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*/diva.yaml"))
