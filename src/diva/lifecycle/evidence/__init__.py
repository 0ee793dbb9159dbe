"""Read-only evidence adapters: git, DVC, MLflow, the image registry, GitHub, the evidence file.

Each adapter reads one source and raises :class:`UnreachableError` — never guesses — when
the source cannot be reached, so that a gate reports "unreachable" instead of passing.
"""

from __future__ import annotations

from diva.errors import DivaError


class UnreachableError(DivaError):
    """An evidence source could not be read (not installed, no store, network error)."""
