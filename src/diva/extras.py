"""Which optional packages a command needs, and a clear error when they are missing.

Commands that run the pipeline's tools (quickstart, monitor) import them lazily; before
they start, they check here, so that a missing package is a message naming the pip extra
to install and exit 4, never an ImportError traceback halfway through.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping

from diva.errors import UnavailableError


class ToolsMissing(UnavailableError):  # noqa: N818 - reads as what happened
    """The Python running diva lacks a package the command needs."""


def require(command: str, extra: str, modules: Mapping[str, str]) -> None:
    """Raise :class:`ToolsMissing` unless every module (import name -> PyPI name) is there."""
    missing = [package for module, package in modules.items() if not _importable(module)]
    if missing:
        raise ToolsMissing(
            f"{command} needs {', '.join(missing)}, which this Python lacks: "
            f"{sys.executable} -m pip install 'diva-lifecycle[{extra}]'"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
