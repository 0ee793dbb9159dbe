"""Pages generated from the code: the keys of diva.yaml, the diva commands, the module map.

``docs/reference/spec.md`` comes from the JSON Schema of diva.yaml
(:mod:`diva.docgen.spec_page`), ``docs/reference/cli.md`` from the click commands
(:mod:`diva.docgen.cli_page`), ``docs/contributing/module-map.md`` from the package's
docstrings and its import contract (:mod:`diva.docgen.module_map`). ``python -m diva.docgen``
writes the pages; with ``--check`` it writes nothing and exits 1 naming each page that
drifted (tests/unit/test_docgen.py compares them in CI too).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from diva.compiler.writer import write_text_atomic
from diva.docgen.cli_page import cli_reference
from diva.docgen.markdown import COMMAND
from diva.docgen.module_map import module_map
from diva.docgen.spec_page import spec_reference
from diva.errors import DivaError

__all__ = [
    "PAGES",
    "cli_reference",
    "main",
    "module_map",
    "render_pages",
    "spec_reference",
    "stale_pages",
]

DEFAULT_DOCS = Path("docs")

#: Each generated page, by its path in the docs folder, and the function that renders it.
PAGES: dict[str, Callable[[], str]] = {
    "reference/spec.md": spec_reference,
    "reference/cli.md": cli_reference,
    "contributing/module-map.md": module_map,
}


def render_pages(docs: Path) -> dict[Path, str]:
    """Each generated page under ``docs`` and its text."""
    return {docs / name: render() for name, render in PAGES.items()}


def stale_pages(pages: dict[Path, str]) -> list[Path]:
    """The pages whose file is missing or differs from their text."""
    return [path for path, text in pages.items() if _read(path) != text]


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Write (or --check) the generated pages: docs/reference/*.md and "
        "docs/contributing/module-map.md.",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    parser.add_argument(
        "--docs", type=Path, default=DEFAULT_DOCS, metavar="DIR", help="docs folder (docs)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated pages, or with ``--check`` exit 1 naming the stale ones."""
    options = _arguments(argv)
    pages = render_pages(options.docs)
    fix = COMMAND if options.docs == DEFAULT_DOCS else f"{COMMAND} --docs {options.docs}"
    stale = stale_pages(pages)
    for path in stale if options.check else []:
        state = "is out of date" if path.exists() else "does not exist"
        print(f"{path} {state}; run `{fix}`", file=sys.stderr)
    if options.check:
        return 1 if stale else 0
    try:
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, pages[path])
            print(f"wrote {path}")
    except (DivaError, OSError) as err:
        print(f"{COMMAND}: error: {err}", file=sys.stderr)
        return 1
    return 0
