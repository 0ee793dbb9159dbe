"""Make the rendered project work: git init, dvc init, the local DVC remote, diva compile."""

import sys
from pathlib import Path

from diva.errors import DivaError
from diva.scaffold import finish

try:
    finish(Path.cwd())
except DivaError as err:
    sys.exit(f"error: {err}")
