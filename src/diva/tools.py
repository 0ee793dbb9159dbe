"""One runner for the external tools diva drives (git, dvc, gh, docker's client, pip).

A missing binary, a timeout or a failed command becomes the error class the caller names
(an :class:`~diva.errors.UnavailableError` unless told otherwise, e.g. the evidence
adapters' ``UnreachableError`` or a ``UsageError``), with the command and the tail of its
error output in the message; never an ``OSError`` traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, overload

from diva.errors import DivaError, UnavailableError

#: How much of a failed command's error output a message keeps.
STDERR_TAIL = 500
#: How much of the command line a message shows.
SHOWN = 200


@overload
def run(
    command: Sequence[str],
    *,
    cwd: Path,
    error: type[DivaError] = ...,
    check: bool = ...,
    text: Literal[True] = ...,
    input: str | None = ...,
    env: Mapping[str, str] | None = ...,
    timeout: float | None = ...,
) -> subprocess.CompletedProcess[str]: ...


@overload
def run(
    command: Sequence[str],
    *,
    cwd: Path,
    error: type[DivaError] = ...,
    check: bool = ...,
    text: Literal[False],
    input: bytes | None = ...,
    env: Mapping[str, str] | None = ...,
    timeout: float | None = ...,
) -> subprocess.CompletedProcess[bytes]: ...


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    error: type[DivaError] = UnavailableError,
    check: bool = True,
    text: bool = True,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]:
    """Run ``command`` in ``cwd`` with its output captured; ``error`` when the tool is
    missing, gives no answer within ``timeout`` seconds, or (with ``check``) fails."""
    shown = " ".join(command)
    shown = shown if len(shown) <= SHOWN else shown[: SHOWN - 1] + "…"
    try:
        result = subprocess.run(
            list(command),
            cwd=cwd,
            input=input,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=text,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        raise error(f"{shown} gave no answer in {timeout:g} s") from err
    except OSError as err:
        raise error(f"{command[0]} is not available: {err}") from err
    if check and result.returncode != 0:
        raise error(f"{shown}: {failure(result)}")
    return result


def failure(result: subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]) -> str:
    """The tail of a failed command's error output (or its exit code when it said nothing)."""
    stderr = result.stderr
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    text = (stderr or "").strip()
    return text[-STDERR_TAIL:] if text else f"exit {result.returncode}"
