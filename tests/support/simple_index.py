"""A PEP 503 "simple" package index of a wheelhouse, served on a free loopback port.

`SimpleIndex(wheels)` writes `simple/index.html` and `simple/<normalized-name>/index.html`
(one link per file, no hash fragment: what a file holds is checked by the client's lock,
not vouched for by the index) into a temporary folder that links to the wheels, and
serves it with python's `http.server` from a thread. Each GET is remembered in
`requests`, so a test can tell that pip really asked this index. Replacing a file in
`wheels` while the index runs serves the new bytes (a tampered release).
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


def normalized(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(wheel: Path) -> str:
    """The project a wheel (or sdist) file belongs to, normalized."""
    return normalized(wheel.name.split("-")[0])


class SimpleIndex:
    """`with SimpleIndex(wheels) as index:` pip's `--index-url index.url`."""

    def __init__(self, wheels: Path) -> None:
        self.wheels = wheels
        self.requests: list[str] = []
        self._root = Path(tempfile.mkdtemp(prefix="diva-index-"))
        self._write_pages()
        handler = partial(_Handler, self, directory=str(self._root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/simple"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _write_pages(self) -> None:
        simple = self._root / "simple"
        projects: dict[str, list[Path]] = {}
        for wheel in sorted(self.wheels.iterdir()):
            projects.setdefault(project_of(wheel), []).append(wheel)
        for project, files in projects.items():
            folder = simple / project
            folder.mkdir(parents=True)
            for file in files:
                (folder / file.name).symlink_to(file.resolve())
            (folder / "index.html").write_text(_page(file.name for file in files))
        (simple / "index.html").write_text(_page(f"{name}/" for name in sorted(projects)))

    def __enter__(self) -> SimpleIndex:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        shutil.rmtree(self._root, ignore_errors=True)


def _page(links: Iterable[str]) -> str:
    anchors = "".join(f'<a href="{html.escape(link)}">{html.escape(link)}</a>\n' for link in links)
    return f"<!DOCTYPE html><html><body>\n{anchors}</body></html>\n"


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, index: SimpleIndex, *args: Any, **kwargs: Any) -> None:
        self._index = index
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._index.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # pytest shows what matters; a log line per wheel is noise
