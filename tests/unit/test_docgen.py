"""The generated pages: committed as generated, complete, and checked by --check.

docs/reference/spec.md comes from the JSON Schema of diva.yaml, docs/reference/cli.md
from the click commands and docs/contributing/module-map.md from the package's docstrings
and its import contract (``python -m diva.docgen``). The completeness tests walk the
schema, the click group and the package on their own, not with the generator's walkers,
so a key, an option or a module the generator skips shows up here. The docs as a whole
are checked here too: docs/index.md lists every page once, and no relative link is broken.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from diva.cli import cli
from diva.compiler.spec.schema import json_schema
from diva.docgen import PAGES, cli_reference, main, module_map, render_pages, spec_reference
from diva.docgen.markdown import inline, table
from diva.docgen.module_map import LAYERS, Layer
from diva.docgen.spec_page import type_text
from tests.conftest import ROOT

FIX = "python -m diva.docgen"
ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')


def sections(page: str) -> dict[str, str]:
    """The page cut at its anchors: anchor -> text up to the next one ("" for the head)."""
    parts = ANCHOR.split(page)
    found = {"": parts[0]}
    found.update(zip(parts[1::2], parts[2::2], strict=True))
    return found


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


# --- drift: what CI runs --------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_the_committed_page_is_what_the_generator_writes(name: str) -> None:
    path = ROOT / "docs" / name
    expected = render_pages(ROOT / "docs")[path]
    committed = path.read_text(encoding="utf-8") if path.is_file() else None
    assert committed == expected, f"{path} is out of date: run `{FIX}` and commit it"


def test_pages_do_not_depend_on_hash_seed_terminal_or_environment(tmp_path: Path) -> None:
    """A fresh interpreter, another hash seed, a narrow terminal, another working folder
    and an option's environment variable set: the same bytes."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "PYTHONHASHSEED": "12345",
        "COLUMNS": "30",
        "BROKER_KIND": "kafka",
    }
    result = subprocess.run(
        [sys.executable, "-m", "diva.docgen", "--docs", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for path, text in render_pages(ROOT / "docs").items():
        written = tmp_path / path.relative_to(ROOT / "docs")
        assert written.read_text(encoding="utf-8") == text


# --- completeness ---------------------------------------------------------------------


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    options = [o for o in node.get("anyOf", node.get("oneOf", [])) if o.get("type") != "null"]
    node = options[0] if len(options) == 1 else node
    if "$ref" in node:
        resolved: dict[str, Any] = defs[node["$ref"].split("/")[-1]]
        return resolved
    return node


def _mapping_of(field: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool] | None:
    """The mapping with keys that the field's values are, and whether under a name."""
    node = _resolve(field, defs)
    if node.get("type") == "array":
        items = node["items"]
        forms = [_resolve(form, defs) for form in items.get("oneOf", [])]  # a name or a mapping
        node = next((form for form in forms if "properties" in form), _resolve(items, defs))
    elif isinstance(node.get("additionalProperties"), dict):
        value = _resolve(node["additionalProperties"], defs)
        return (value, True) if "properties" in value else None
    return (node, False) if "properties" in node else None


def schema_keys() -> Iterator[tuple[str, str]]:
    """(path of the section that must list it, key) for every key of the schema."""
    schema = json_schema()
    defs = schema["$defs"]
    pending: list[tuple[dict[str, Any], str, str]] = [(schema, "", "")]
    while pending:
        obj, section, prefix = pending.pop()
        for key, field in obj["properties"].items():
            yield section, key
            found = _mapping_of(field, defs)
            if found is not None:
                path = f"{prefix}.{key}" if prefix else key
                pending.append((found[0], path, f"{path}.<name>" if found[1] else path))


def test_the_walk_reaches_every_mapping_of_the_schema() -> None:
    """So that the next test checks every key: each $defs mapping has a key listed."""
    defs = json_schema()["$defs"]
    keys = {key for _, key in schema_keys()}
    with_keys = [name for name, node in defs.items() if node.get("properties")]
    assert len(with_keys) > 20
    assert [name for name in with_keys if not set(defs[name]["properties"]) & keys] == []


def test_every_key_of_the_schema_has_a_row_in_its_section() -> None:
    found = sections(spec_reference())
    missing = []
    for section, key in schema_keys():
        text = found.get(slug(section)) if section else found[""]
        if text is None or not re.search(rf"^\| (\[)?`{key}`", text, re.MULTILINE):
            missing.append(f"{section or 'top level'} -> {key}")
    assert missing == []


def test_every_top_level_key_has_a_section_in_document_order() -> None:
    page = spec_reference()
    order = [slug(key) for key in json_schema()["properties"]]
    positions = [page.find(f'<a id="{anchor}"></a>\n\n## `') for anchor in order]
    assert -1 not in positions
    assert positions == sorted(positions)


def commands(
    command: click.Command = cli, path: str = "diva"
) -> Iterator[tuple[str, click.Command]]:
    """Every command registered in the group, subcommands of subgroups too."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, f"{path} {name}")


def test_every_command_has_a_section_with_its_usage() -> None:
    found = sections(cli_reference())
    assert len(list(commands())) > 15
    for path, _ in commands():
        assert f"```text\n{path} [OPTIONS]" in found.get(slug(path), ""), path


def test_every_option_and_argument_is_in_its_commands_table() -> None:
    found = sections(cli_reference())
    missing = []
    for path, command in commands():
        rows = [line for line in found[slug(path)].splitlines() if line.startswith("| `")]
        for param in command.params:
            names = param.opts if isinstance(param, click.Option) else [param.human_readable_name]
            missing += [f"{path} {name}" for name in names if not _in_rows(name, rows)]
    assert missing == []


def _in_rows(name: str, rows: list[str]) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", row) for row in rows)


# --- --check and writing --------------------------------------------------------------


def test_check_passes_on_fresh_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--docs", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["--check", "--docs", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_check_fails_naming_the_stale_page_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--docs", str(tmp_path)])
    page = tmp_path / "reference" / "cli.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--docs", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"{page} is out of date; run `{FIX} --docs {tmp_path}`\n"
    assert page.read_text(encoding="utf-8").endswith("edited\n"), "--check wrote"


def test_check_fails_on_missing_pages_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--docs", str(tmp_path)]) == 1
    assert capsys.readouterr().err.count("does not exist") == len(PAGES)
    assert list(tmp_path.iterdir()) == []


def test_writing_repairs_a_stale_page(tmp_path: Path) -> None:
    main(["--docs", str(tmp_path)])
    page = tmp_path / "reference" / "spec.md"
    page.write_text("stale\n", encoding="utf-8")
    assert main(["--docs", str(tmp_path)]) == 0
    assert page.read_text(encoding="utf-8") == spec_reference()


# --- the module map -------------------------------------------------------------------


def contract_layers() -> tuple[Layer, ...]:
    """The ``layers`` contract over ``diva`` in pyproject.toml, as module_map's data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["type"] == "layers" and c["containers"] == ["diva"]]
    return tuple(_layer(text) for text in contract["layers"])


def _layer(text: str) -> Layer:
    """importlinter's ``a : b`` (independent siblings) or ``a | b`` (they may import each
    other); the names are relative to the container, ``diva``."""
    separator = "|" if "|" in text else ":"
    names = tuple(name.strip() for name in text.split(separator))
    return Layer(names, independent=separator == ":")


def test_the_layers_are_the_import_contracts() -> None:
    assert contract_layers() == LAYERS, "make module_map.LAYERS the contract in pyproject.toml"


def _modules_in(folder: Path) -> list[str]:
    """The modules (but __init__) and subpackages of a package folder."""
    modules = [path.stem for path in folder.glob("*.py") if path.name != "__init__.py"]
    return sorted(modules + [path.parent.name for path in folder.glob("*/__init__.py")])


def test_every_top_level_module_is_in_exactly_one_layer() -> None:
    layered = [name for layer in LAYERS for name in layer.modules]
    assert sorted(layered) == _modules_in(ROOT / "src" / "diva")


def test_every_package_has_a_section_and_every_module_a_row_or_section() -> None:
    found = sections(module_map())
    missing = []
    for init in sorted((ROOT / "src" / "diva").rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(ROOT / "src").parts)
        text = found.get(slug(package), "") if package != "diva" else ""
        for name in _modules_in(init.parent):
            child = f"{package}.{name}"
            if package == "diva":
                missing += [] if f"### `{child}`" in found.get(slug(child), "") else [child]
            elif not re.search(rf"^\| (\[)?`{name}`", text, re.MULTILINE):
                missing.append(child)
        if package != "diva" and f"`{package}` (package)" not in text:
            missing.append(package)
    assert missing == []


def test_a_module_is_described_by_its_docstrings_first_paragraph() -> None:
    page = module_map()
    for path in [ROOT / "src" / "diva" / "errors.py", ROOT / "src" / "diva" / "cli" / "app.py"]:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(docstring.split("\n\n")[0].split()).replace("``", "`")
        assert first in page


def test_a_module_outside_the_layers_gets_a_section_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text('"""A package."""\n', encoding="utf-8")
    (tmp_path / "errors.py").write_text('"""The errors."""\n', encoding="utf-8")
    (tmp_path / "stray.py").write_text("X = 1\n", encoding="utf-8")
    found = sections(module_map(tmp_path))
    assert "## Not in a layer" in found["not-in-a-layer"]
    assert "### `diva.stray`\n\n*No docstring.*" in found["diva-stray"]
    assert "*Not in the package.*" in found["diva-cli"]
    assert "The errors." in found["diva-errors"]


# --- the docs as a whole --------------------------------------------------------------

DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def links(page: Path) -> list[str]:
    """The targets of a page's Markdown links, code blocks and code spans left out."""
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text)


def _external(target: str) -> bool:
    return re.match(r"[a-z][a-z0-9+.-]*:", target) is not None


def _relative(target: str) -> bool:
    return not target.startswith("#") and not _external(target)


def test_every_relative_link_points_to_an_existing_file() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in filter(_relative, links(page)):
            if not (page.parent / target.partition("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.MULTILINE)


def page_anchors(page: Path) -> set[str]:
    """The explicit ``<a id>`` anchors of a page and GitHub's slugs of its headings."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    found = set(ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for title in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_every_link_into_a_section_names_an_anchor_of_its_page() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in links(page):
            path, _, fragment = target.partition("#")
            linked = page.parent / path if path else page
            if not fragment or _external(target) or linked.suffix != ".md" or not linked.is_file():
                continue
            if fragment not in page_anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_index_links_every_page_exactly_once_and_only_pages() -> None:
    """A page's entry is a link to the page itself; a link into a section (``#...``) is
    a cross-reference and does not count."""
    index = DOCS / "index.md"
    pages = sorted(path.relative_to(DOCS) for path in DOCS.rglob("*.md") if path != index)
    targets = [target for target in links(index) if _relative(target) and "#" not in target]
    entries = [(index.parent / target).resolve().relative_to(DOCS.resolve()) for target in targets]
    assert {page: entries.count(page) for page in pages if entries.count(page) != 1} == {}
    assert [entry for entry in entries if entry not in pages] == []


# --- rendering details ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "text"),
    [
        ({"type": "integer", "exclusiveMinimum": 0}, "integer ≥ 1"),
        ({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, "number ≥ 0, < 1"),
        ({"type": "string", "enum": ["a", "b"]}, "one of: `a`, `b`"),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "string"),
        (
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "list of string (at least 1)",
        ),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "mapping name → integer"),
        ({"const": 1}, "constant `1`"),
        ({}, "any value"),
    ],
)
def test_types_are_readable(node: dict[str, Any], text: str) -> None:
    assert type_text({}, node) == text


def test_markup_is_escaped_outside_code_spans_only() -> None:
    assert inline("tag v<version>, *not* `a*b <c>`") == r"tag v\<version\>, \*not\* `a*b <c>`"


def test_a_pipe_in_a_cell_is_escaped_even_in_code() -> None:
    assert table(["a"], [["`x|y`"]])[-1] == r"| `x\|y` |"
