"""Progress of the slow steps: what diva is asking, said as each step starts.

Library code that asks a store (git history, the DVC remote, MLflow, an image registry,
GitHub) takes a :data:`Notify` and calls it with a short phrase before each such step,
e.g. ``asking MLflow for the runs of project demo``. The CLI decides where that goes: a
spinner on a terminal, one plain line each on stderr otherwise, nowhere with --quiet.
Nothing here writes; the default, :func:`silent`, tells no one. Imports nothing.
"""

from __future__ import annotations

from collections.abc import Callable

#: Told the step about to start, in a phrase without a trailing full stop.
Notify = Callable[[str], None]


def silent(step: str) -> None:
    """Progress told to no one (library use, tests, --quiet)."""
