"""Allow ``python -m diva``."""

from __future__ import annotations

from diva.cli import main

main()
