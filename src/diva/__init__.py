"""diva: the DIVA model lifecycle as code."""

from __future__ import annotations

__version__ = "0.1.0"
