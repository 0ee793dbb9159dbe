"""diva.tools.run: every way an external tool can fail is the caller's error, with a message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from diva import tools
from diva.errors import EXIT_UNAVAILABLE, UnavailableError, UsageError


def test_output_is_captured(tmp_path: Path) -> None:
    result = tools.run([sys.executable, "-c", "print('hello')"], cwd=tmp_path)
    assert result.stdout == "hello\n"


def test_a_missing_binary_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="no-such-tool-xyz is not available") as caught:
        tools.run(["no-such-tool-xyz", "--version"], cwd=tmp_path)
    assert caught.value.exit_code == EXIT_UNAVAILABLE


def test_a_failure_names_the_command_and_its_error_output(tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"
    with pytest.raises(UsageError, match=r"-c import sys.*: boom$"):
        tools.run([sys.executable, "-c", script], cwd=tmp_path, error=UsageError)


def test_a_silent_failure_gives_its_exit_code(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match=r"exit 5$"):
        tools.run([sys.executable, "-c", "raise SystemExit(5)"], cwd=tmp_path)


def test_unchecked_failures_are_returned(tmp_path: Path) -> None:
    result = tools.run([sys.executable, "-c", "raise SystemExit(5)"], cwd=tmp_path, check=False)
    assert result.returncode == 5


def test_a_command_that_hangs_times_out(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match=r"gave no answer in 0\.5 s"):
        tools.run([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, timeout=0.5)


def test_bytes_in_and_out(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"
    result = tools.run([sys.executable, "-c", script], cwd=tmp_path, text=False, input=b"\x00ab")
    assert result.stdout == b"ba\x00"
