"""Strict, position-keeping YAML loading of spec files.

A spec comes from a repository that anybody may send a pull request to, so loading it
must be safe against hostile YAML. Before anything is built, a streaming pass over the
parser's events refuses what a spec never needs and an attacker loves: anchors and
aliases (alias bombs), explicit tags (object construction), multiple documents, deep
nesting (stack exhaustion) and huge node counts. Only then is the node tree composed
and turned into plain Python data, keeping the line and column of every key and value
so that later errors can point into the file.

Parsing uses libyaml through ``ruamel.yaml.clib`` (a dependency): 10-25 times faster
than ruamel's pure-Python parser, with YAML 1.2 resolution all the same. Messages and
positions of syntax errors are libyaml's.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    NodeEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from diva.errors import Issue, SpecError, UsageError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000

_MERGE = "tag:yaml.org,2002:merge"
#: Scalars built as typed values; everything else (timestamps, YAML 1.1 leftovers such
#: as ``=``) stays the text it is written as.
_TYPED = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str"))

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """A loaded spec: plain data plus where each key and value stands in the file."""

    file: str
    data: dict[str, Any]
    values: Mapping[PathKey, Position]
    keys: Mapping[PathKey, Position]
    #: The bytes it was loaded from: hashed into the lock file, so that nothing reads
    #: the file a second time (it may have changed, or be a FIFO).
    raw: bytes = b""

    def locate(self, path: PathKey) -> Position:
        """Line and column for ``path``: its key if it has one, else its value.

        Walks up the path when a location has no position of its own (for example
        a missing key), as the nearest existing ancestor is the best place to look.
        """
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def locate_value(self, path: PathKey) -> Position:
        """Line and column of the value at ``path`` (or the nearest ancestor)."""
        if path in self.values:
            return self.values[path]
        return self.locate(path)

    def issue(self, path: PathKey, message: str, *, at_value: bool = False) -> Issue:
        line, column = self.locate_value(path) if at_value else self.locate(path)
        return Issue(self.file, line, column, path, message)


def read_spec(path: Path, display: str | None = None) -> Document:
    """Read and strictly load the spec file at ``path`` (a regular file, or a symlink
    to one; anything else is a :class:`UsageError`)."""
    name = display if display is not None else str(path)
    return load_bytes(read_regular(path, name), name)


#: What a path may be instead of a regular file, in words.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
#: Never wait for a FIFO's writer, never adopt a terminal, never leak into a child.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def check_regular(path: Path, name: str) -> None:
    """:class:`UsageError`, naming ``name``, unless ``path`` is a regular file (or a
    symlink to one)."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        raise _unreadable(err, name) from err
    _require_regular(mode, name)


def read_regular(path: Path, name: str, limit: int = MAX_BYTES + 1) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path``; :class:`UsageError` for
    anything else, named ``name``.

    Opening a FIFO for reading waits for a writer, and a device may never end
    (``/dev/zero``). So the path is checked before it is opened (a device is never
    opened), opened without blocking, and the open file checked again (the path may
    have been swapped in between).
    """
    check_regular(path, name)
    try:
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as stream:
            _require_regular(os.fstat(stream.fileno()).st_mode, name)
            return stream.read(limit)
    except OSError as err:
        raise _unreadable(err, name) from err


def _unreadable(err: OSError, name: str) -> UsageError:
    if isinstance(err, FileNotFoundError):
        return UsageError(f"{name}: no such file")
    return UsageError(f"{name}: cannot read: {err.strerror}")


def _require_regular(mode: int, name: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise UsageError(f"{name}: is a directory, not a spec file")
    kind = next((kind for test, kind in _KINDS if test(mode)), "a special file")
    raise UsageError(f"{name}: not a regular file ({kind}); a spec is a file")


def load_bytes(raw: bytes, file: str = "diva.yaml") -> Document:
    """Strictly load spec bytes; raise :class:`SpecError` with one issue on refusal."""
    text = _decode(raw, file)
    yaml = YAML(typ="safe")  # libyaml's C parser when ruamel.yaml.clib is installed
    try:
        _prescan(yaml, text, file)
        root = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as err:
        raise SpecError([_yaml_issue(err, text, file)]) from err
    except YAMLError as err:  # unmarked parser errors are rare but possible
        raise SpecError([Issue(file, 1, 1, (), f"not valid YAML: {err}")]) from err
    if root is None:
        raise SpecError([Issue(file, 1, 1, (), _EMPTY)])
    if not isinstance(root, MappingNode):
        line, column = _mark(root)
        raise SpecError([Issue(file, line, column, (), "the top level must be a mapping of keys")])
    builder = _Builder(yaml, file)
    data = builder.build(root, ())
    assert isinstance(data, dict)
    return Document(file, data, builder.values, builder.keys, raw)


_EMPTY = "the file is empty (nothing but comments or blank lines); a spec is a YAML mapping"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decode(raw: bytes, file: str) -> str:
    if len(raw) > MAX_BYTES:
        raise SpecError([Issue(file, 1, 1, (), f"the file is larger than {MAX_BYTES // 1024} KiB")])
    if raw.startswith(_UTF16_BOMS) or (len(raw) > 1 and b"\x00" in raw[:2]):
        raise SpecError([Issue(file, 1, 1, (), "the file is UTF-16; save it as UTF-8")])
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _offset_position(raw, nul)
        raise SpecError([Issue(file, line, column, (), "the file contains a NUL byte")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line, column = _offset_position(raw, err.start)
        raise SpecError(
            [Issue(file, line, column, (), "the file is not valid UTF-8 text")]
        ) from err


def _offset_position(raw: bytes, offset: int) -> Position:
    """Line and column (in characters, like the parser's) of a byte offset."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    prefix = raw[line_start:offset].decode("utf-8", errors="replace")
    return raw.count(b"\n", 0, offset) + 1, len(prefix) + 1


def _prescan(yaml: YAML, text: str, file: str) -> None:
    """Refuse hazards from the event stream, before any node is built."""
    depth = nodes = documents = 0
    for event in _events(yaml, text):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            _check_document(event, documents, file)
        if isinstance(event, AliasEvent):
            _refuse(event, file, f"aliases (*{event.anchor}) are not allowed in a spec")
        if isinstance(event, NodeEvent):
            nodes += 1
            _check_node(event, nodes, file)
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                _refuse(event, file, f"nesting is deeper than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _events(yaml: YAML, text: str) -> Iterator[Event]:
    yield from yaml.parse(io.StringIO(text))


def _check_document(event: DocumentStartEvent, count: int, file: str) -> None:
    if count > 1:
        _refuse(event, file, "only one YAML document is allowed (found a second '---')")
    version = getattr(event, "version", None)
    if version is not None and tuple(version) != (1, 2):
        shown = ".".join(str(part) for part in version)
        _refuse(event, file, f"only YAML 1.2 is supported (found %YAML {shown})")


def _check_node(event: NodeEvent, count: int, file: str) -> None:
    if count > MAX_NODES:
        _refuse(event, file, f"the file has more than {MAX_NODES} nodes")
    if event.anchor is not None:
        _refuse(event, file, f"anchors (&{event.anchor}) are not allowed in a spec")
    tag = getattr(event, "tag", None)
    if tag is not None:
        _refuse(event, file, f"explicit tags ({_tag_text(tag)}) are not allowed in a spec")


def _tag_text(tag: object) -> str:
    text = str(getattr(tag, "value", tag))
    return text.replace("tag:yaml.org,2002:", "!!")


def _refuse(event: Event, file: str, message: str) -> None:
    mark = event.start_mark
    raise SpecError([Issue(file, mark.line + 1, mark.column + 1, (), message)])


def _yaml_issue(err: MarkedYAMLError, text: str, file: str) -> Issue:
    mark = err.problem_mark or err.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = err.problem or err.context or "invalid YAML"
    context = f" ({err.context})" if err.context and err.problem else ""
    return Issue(file, line, column, (), f"not valid YAML: {problem}{context}{_hint(err, text)}")


def _hint(err: MarkedYAMLError, text: str) -> str:
    """The likely cause of the two syntax errors people meet most in specs."""
    mark = err.problem_mark
    here = text[mark.index : mark.index + 1] if mark is not None else ""
    if here == "\t":
        return "; indent with spaces, YAML does not allow tabs there"
    if "alias" in f"{err.context} {err.problem}":
        return "; a value starting with '*' (e.g. a cron schedule) must be quoted"
    return ""


def _mark(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turn composed nodes into plain data, recording positions and refusing dupes."""

    def __init__(self, yaml: YAML, file: str) -> None:
        self._constructor = yaml.constructor
        self._file = file
        self.values: dict[PathKey, Position] = {}
        self.keys: dict[PathKey, Position] = {}

    def build(self, node: Node, path: PathKey) -> Any:
        self.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag not in _TYPED:
            return str(node.value)  # dates stay text: a spec has no datetime fields
        try:
            return self._constructor.construct_object(node, deep=True)
        except ValueError as err:  # e.g. an integer past Python's 4300-digit limit
            raise SpecError([self._issue(node, path, f"unreadable value: {err}")]) from err

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            where = (*path, key)
            if key in result:
                first_line = self.keys[where][0]
                raise SpecError(
                    [
                        self._issue(
                            key_node, where, f"duplicate key (first defined on line {first_line})"
                        )
                    ]
                )
            self.keys[where] = _mark(key_node)
            result[key] = self.build(value_node, where)
        return result

    def _key(self, node: Node, path: PathKey) -> str:
        if not isinstance(node, ScalarNode):
            raise SpecError([self._issue(node, path, "keys must be plain scalars")])
        if node.tag == _MERGE:
            raise SpecError([self._issue(node, path, "merge keys (<<) are not allowed in a spec")])
        return str(node.value)

    def _issue(self, node: Node, path: PathKey, message: str) -> Issue:
        line, column = _mark(node)
        return Issue(self._file, line, column, path, message)
