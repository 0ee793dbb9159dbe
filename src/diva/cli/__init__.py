"""The ``diva`` command line: parse options, call the library, map errors to exit codes.

:mod:`.app` is the group and registers the commands of :mod:`.spec`, :mod:`.compile`,
:mod:`.lifecycle`, :mod:`.images`, :mod:`.release`, :mod:`.consume`, :mod:`.scaffold` and
:mod:`.monitor`; :mod:`.common` is what they share. ``diva = diva.cli:main``.
"""

from __future__ import annotations

from diva.cli.app import cli, main

__all__ = ["cli", "main"]
