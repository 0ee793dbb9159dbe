"""Round-trip edits of a spec's text: one scalar changed, or one key added, in place.

Commands that change ``diva.yaml`` for the user (``diva promote``, ``diva release pin``)
must leave every other byte alone: comments, quoting, flow or block style, line ends.
So nothing is re-serialized: the text is parsed for positions only (after the strict
loader has refused hazardous YAML), and the new characters are spliced in where the
node stands. A missing key is added to its mapping in that mapping's own style.
"""

from __future__ import annotations

import io

from ruamel.yaml import YAML
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode

from diva.compiler.source import PathKey, load_bytes
from diva.errors import UsageError


def _root(text: str) -> MappingNode:
    load_bytes(text.encode("utf-8"))  # the strict pre-pass: no aliases, tags, bombs
    root = YAML(typ="safe").compose(io.StringIO(text))
    assert isinstance(root, MappingNode)  # load_bytes accepts nothing else
    return root


def _child(mapping: MappingNode, key: str) -> Node | None:
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _walk(root: MappingNode, path: PathKey) -> tuple[Node, int]:
    """The deepest node on ``path`` and how many keys of ``path`` lead to it."""
    node: Node = root
    for depth, key in enumerate(path):
        if not isinstance(node, MappingNode):
            shown = " -> ".join(str(part) for part in path[:depth])
            raise UsageError(f"cannot edit {shown}: it is not a mapping")
        child = _child(node, str(key))
        if child is None:
            return node, depth
        node = child
    return node, len(path)


def scalar_text(text: str, path: PathKey) -> str | None:
    """The characters of the scalar at ``path`` as written (quotes included), or None."""
    node, depth = _walk(_root(text), path)
    if depth < len(path) or not isinstance(node, ScalarNode):
        return None
    return text[node.start_mark.index : node.end_mark.index]


def set_scalar(text: str, path: PathKey, value: str) -> str:
    """``text`` with the scalar at ``path`` written as ``value`` (YAML scalar text, e.g.
    ``7`` or ``"sha256:…"``); keys missing on the way are added."""
    node, depth = _walk(_root(text), path)
    if depth < len(path):
        assert isinstance(node, MappingNode)
        return _insert(text, node, [str(key) for key in path[depth:]], value)
    if not isinstance(node, ScalarNode):
        raise UsageError(f"cannot edit {' -> '.join(map(str, path))}: it is not a single value")
    start, end = node.start_mark.index, node.end_mark.index
    if start == end and text[start - 1 : start] == ":":  # an empty value right after `key:`
        value = f" {value}"
    return text[:start] + value + text[end:]


def _flow(keys: list[str], value: str) -> str:
    """``a: {b: {c: value}}`` for the keys ``a, b, c``."""
    entry = value
    for key in reversed(keys[1:]):
        entry = f"{{{key}: {entry}}}"
    return f"{keys[0]}: {entry}"


def _insert(text: str, mapping: MappingNode, keys: list[str], value: str) -> str:
    if mapping.flow_style:
        close = mapping.end_mark.index - 1  # the closing brace
        before = text[:close].rstrip()
        separator = "" if before.endswith("{") else ", "
        return before + separator + _flow(keys, value) + text[len(before) :]
    indent = " " * mapping.value[0][0].start_mark.column
    newline = "\r\n" if "\r\n" in text else "\n"
    if len(keys) > 2:  # `releases:` above, `production: {model_version: 7}` below it
        entry = f"{keys[0]}:{newline}{indent}  {_flow(keys[1:], value)}"
    else:
        entry = _flow(keys, value)
    at = _line_end(text, _last_end(mapping))
    return f"{text[:at]}{newline}{indent}{entry}{text[at:]}"


def _last_end(mapping: MappingNode) -> int:
    """Where the text of the mapping's last value ends (its last scalar, or the
    closing bracket of a flow collection)."""
    node: Node = mapping.value[-1][1]
    while isinstance(node, CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


def _line_end(text: str, index: int) -> int:
    """The index of the line break ending the line that holds ``index`` (after any
    trailing comment); a block scalar's end is already past its line break."""
    if index > 0 and text[index - 1] == "\n":
        index -= 1
    else:
        found = text.find("\n", index)
        index = len(text) if found < 0 else found
    return index - 1 if index > 0 and text[index - 1] == "\r" else index
