"""Running commands from the slow end-to-end tests: the test venv's tools first on PATH,
output captured, a failure shown with everything the command printed.

``RunDiva`` is the type of conftest's ``run_diva`` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

RunDiva = Callable[..., subprocess.CompletedProcess[str]]


def env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def run(*args: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def sh(*args: str, cwd: Path) -> str:
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def diva(*args: str, cwd: Path) -> str:
    return sh(sys.executable, "-m", "diva", *args, cwd=cwd)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in a session of its own (``start_new_session``) with its
    whole process group (workers too): SIGTERM, then SIGKILL after 30 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
