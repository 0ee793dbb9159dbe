"""Errors of diva: one root, structured subclasses that build their own message.

The CLI catches :class:`DivaError` only and maps each subclass to its exit code;
anything else escaping is a bug and is allowed to show a traceback.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: Documented exit codes (see docs/cli.md).
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
#: diva compile refused to overwrite a file edited by hand or not made by diva.
EXIT_CONFLICT = 3
#: A tool or service the command needs is unavailable or refused: the Docker engine, a
#: base image, the image registry, MLflow (3 is taken by compile conflicts).
EXIT_UNAVAILABLE = 4


#: Characters that can move a terminal's cursor, hide text or reorder a line: controls
#: (C0, C1), format characters (bidirectional overrides and isolates, zero-width ones)
#: and the Unicode line and paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    return char.encode("unicode_escape").decode("ascii")


def escape_control(text: str) -> str:
    """``text`` with control, format and bidirectional characters escaped (``\\n``,
    ``\\x85``, ``\\u202e``), for a terminal, a CI log or a pull-request comment."""
    return "".join(_escape(char) for char in text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True)
class Issue:
    """One problem in a spec file, located by line and column (both 1-based)."""

    file: str
    line: int
    column: int
    path: tuple[str | int, ...] = field(default=())
    message: str = ""
    #: ``error`` makes the spec invalid; a ``warning`` is shown and the spec stays valid.
    severity: Literal["error", "warning"] = "error"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.dotted, self.message)

    @property
    def dotted(self) -> str:
        """The path as users read it: ``datasets -> raw -> path``."""
        return " -> ".join(str(part) for part in self.path)

    def render(self) -> str:
        """One line for terminals and CI logs; control characters are escaped.

        Keys and values come from the spec, which anybody may send in a pull request:
        a raw newline could start a GitHub Actions workflow command (``::error``), an
        escape sequence could rewrite the terminal.
        """
        where = f"{self.file}:{self.line}:{self.column}"
        if self.severity == "warning":
            where += ": warning"
        text = (
            f"{where}: {self.dotted}: {self.message}" if self.path else f"{where}: {self.message}"
        )
        return escape_control(text)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": list(self.path),
            "message": self.message,
            "severity": self.severity,
        }


class DivaError(Exception):
    """Root of every error that is the user's to fix (bad input, bad usage)."""

    exit_code = EXIT_INVALID


class SpecError(DivaError):
    """A spec file is invalid; carries every issue found, sorted by position."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=Issue.sort_key)
        super().__init__("\n".join(issue.render() for issue in self.issues))


class UnavailableError(DivaError):
    """A tool or service the command needs is unavailable or refused (exit 4): the Docker
    engine, a base image, the image registry, MLflow, an optional package, a lock."""

    exit_code = EXIT_UNAVAILABLE


class UsageError(DivaError):
    """The command line asked for something impossible (missing file, bad option)."""

    exit_code = EXIT_USAGE


class WriteError(DivaError):
    """A file could not be written; the old content (if any) is untouched."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}")
