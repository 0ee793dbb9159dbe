"""Where a store named in the spec lives, as CI sees it: inside the project folder (an
SQLite file, a file store, a relative DVC remote folder) or elsewhere.

A store inside the project folder is on the machine of whoever ran the pipeline: git
ignores it, so CI's checkout never has it, and a copy committed to git is no evidence
(the pull request could have written it). The gate (``lifecycle/sources.py``) and
``diva validate``'s warnings (``compiler/reachability.py``) decide it with this one rule.
"""

from __future__ import annotations

import urllib.parse
from pathlib import PurePosixPath


def project_path(uri: str) -> str | None:
    """The project-relative path of a store or remote inside the project folder, if the
    URI names one (an SQLite file, a file store, a relative folder)."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///")
    elif uri.startswith("file:"):
        path = urllib.parse.urlsplit(uri).path
    elif "://" in uri or uri.startswith(("http:", "https:", "databricks")):
        return None
    else:
        path = uri
    if not path or path.startswith("/"):
        return None  # absolute: outside any checkout
    return str(PurePosixPath(path))


def on_disk(uri: str) -> bool:
    """Whether ``uri`` names a store on a file system rather than a server: CI reaches
    it only where its runners mount the same path."""
    if uri.startswith(("sqlite:", "file:")):
        return True
    return "://" not in uri and not uri.startswith(("http:", "https:", "databricks"))
