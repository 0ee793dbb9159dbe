"""``python -m diva.docgen [--check] [--docs DIR]``: write or check the generated pages."""

from __future__ import annotations

import sys

from diva.docgen import main

sys.exit(main())
