"""DVC through its command line, as the tests run it: ``sh(root, *DVC, "push")``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DVC = [sys.executable, "-m", "dvc"]


def sh(root: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(args, cwd=root, env=env, check=True, capture_output=True, timeout=120)
