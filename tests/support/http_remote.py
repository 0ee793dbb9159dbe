"""A DVC remote over HTTP on loopback: a folder served read-only by Python's http.server.

DVC's HTTP remote needs no plugin (``dvc-http`` ships with DVC) and no credentials to
read, so a job container on the host network checks ``dvc status --cloud`` against it as
CI checks a team's remote. Tests push into the folder itself (a local remote of the same
layout), as a team member with write access would; the server only answers reads, and
remembers the paths it was asked for.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class HttpRemote:
    url: str
    folder: Path
    requests: list[str] = field(default_factory=list)


@contextmanager
def serving(folder: Path) -> Iterator[HttpRemote]:
    """Serve ``folder`` at ``http://127.0.0.1:PORT`` (a free port) until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    remote = HttpRemote("", folder)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            remote.requests.append(f"{self.command} {self.path}")

    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    remote.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield remote
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
