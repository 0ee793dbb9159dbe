"""The reference page of diva.yaml, rendered from its JSON Schema.

The schema is the text of specs/diva.schema.json (:func:`diva.compiler.spec.schema.render_schema`),
so the page lists exactly what the models accept. Each top-level key gets a section in
document order, and every key whose values are mappings (directly, as list items or as
the values of a named mapping) a subsection with a table of its keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from diva.compiler.spec.schema import render_schema
from diva.docgen.markdown import COMMAND, NOTICE, anchor, code, heading, inline, paragraph, table

Schema = dict[str, Any]


@dataclass(frozen=True)
class _Key:
    """One key of the spec, where it stands, and the mapping its values are (if any)."""

    path: str
    depth: int
    field: Schema
    required: bool
    shape: str  # "mapping", "list" (of mappings), "map" (name -> mapping) or ""
    target: Schema | None

    @property
    def inner(self) -> str:
        """The path prefix of the keys inside it."""
        return f"{self.path}.<name>" if self.shape == "map" else self.path


def spec_reference() -> str:
    """Markdown reference of every key of diva.yaml, from its JSON Schema."""
    schema: Schema = json.loads(render_schema())
    defs: Schema = schema.get("$defs", {})
    keys = list(_keys(defs, schema, "", 0, frozenset()))
    lines = [NOTICE.format(source="the JSON Schema of diva.yaml"), *_SPEC_INTRO, ""]
    lines += ["## Top level", "", *_field_table(defs, schema, ""), ""]
    for key in keys:
        if key.depth == 0 or key.target is not None:
            lines += _key_section(defs, key)
    return "\n".join(lines).rstrip() + "\n"


_SPEC_INTRO = (
    "# `diva.yaml` reference",
    "",
    "Every key of `diva.yaml`, generated from its JSON Schema "
    "([specs/diva.schema.json](../../specs/diva.schema.json), written by `diva schema`), "
    "which diva generates from the models `diva validate` checks specs against. "
    f"Regenerate this page with `{COMMAND}`; CI fails when it differs from the schema. "
    "The rules a schema cannot express (cross-field rules, stage rules, YAML restrictions) "
    "and examples are in the guide, [spec.md](../spec.md).",
    "",
    "* **required** keys must be present. The others may be left out and then take the "
    "default shown; a default of *none* means the key may also be set to null.",
    "* Unknown keys are errors, and no string or key anywhere may contain `${{`.",
    "* `<name>` in a path stands for a key of your choosing, such as a dataset's name.",
)


def _keys(
    defs: Schema, obj: Schema, prefix: str, depth: int, seen: frozenset[int]
) -> Iterator[_Key]:
    """Every key under ``obj``, depth first, in document order."""
    required = set(obj.get("required", []))
    for name, field in obj.get("properties", {}).items():
        shape, target = _object_of(defs, field)
        path = f"{prefix}.{name}" if prefix else name
        key = _Key(path, depth, field, name in required, shape, target)
        yield key
        if target is not None and id(target) not in seen:  # a recursive schema stops here
            yield from _keys(defs, target, key.inner, depth + 1, seen | {id(target)})


def _object_of(defs: Schema, field: Schema) -> tuple[str, Schema | None]:
    """Whether the field's values are a mapping of keys, or a list or map of them."""
    node = _deref(defs, _non_null(field))
    if node.get("type") == "array":
        item = _deref(defs, node.get("items", {}))
        # a list of a mapping, or of a name or a mapping (``approvals``): the mapping
        forms = [item, *(_deref(defs, form) for form in _alternatives(item))]
        return "list", next((form for form in forms if "properties" in form), None)
    values = node.get("additionalProperties")
    if "properties" not in node and isinstance(values, dict):
        value = _deref(defs, values)
        return "map", value if "properties" in value else None
    return ("mapping", node) if "properties" in node else ("", None)


def _non_null(node: Schema) -> Schema:
    alternatives = _alternatives(node)
    return alternatives[0] if len(alternatives) == 1 else node


def _alternatives(node: Schema) -> list[Schema]:
    options = node.get("anyOf") or node.get("oneOf") or []
    return [option for option in options if option.get("type") != "null"]


def _deref(defs: Schema, node: Schema) -> Schema:
    reference = node.get("$ref")
    if not isinstance(reference, str):
        return node
    resolved: Schema = defs[reference.rsplit("/", 1)[-1]]
    return resolved


def _key_section(defs: Schema, key: _Key) -> list[str]:
    lines = heading(2 + key.depth, key.path, code(key.path))
    default = "**required**" if key.required else f"**Default:** {_default(key)}"
    facts = f"**Type:** {type_text(defs, key.field)} · {default}"
    lines += [facts, ""]
    own = _description(defs, key.field)
    lines += [paragraph(own), ""] if own else []
    if key.target is None:
        return lines
    about = key.target.get("description", "")
    lines += [paragraph(about), ""] if about and about != own else []
    lead = {"list": "Each item of the list:", "map": "Each value of the mapping:"}
    lines += [lead[key.shape], ""] if key.shape in lead else []
    return [*lines, *_field_table(defs, key.target, key.inner), ""]


def _field_table(defs: Schema, obj: Schema, inner: str) -> list[str]:
    """One row per key of ``obj``; a key with a section of its own links to it."""
    required = set(obj.get("required", []))
    rows = []
    for name, field in obj.get("properties", {}).items():
        path = f"{inner}.{name}" if inner else name
        key = _Key(path, 0, field, name in required, *_object_of(defs, field))
        linked = key.target is not None or not inner
        cell = f"[{code(name)}](#{anchor(path)})" if linked else code(name)
        rows.append([cell, type_text(defs, field), _default(key), _details(defs, field)])
    return table(["key", "type", "default", "description"], rows)


def type_text(defs: Schema, node: Schema) -> str:
    """A readable type: ``string``, ``integer ≥ 1``, ``list of mapping``, ..."""
    alternatives = _alternatives(node)
    if alternatives:
        return " or ".join(type_text(defs, option) for option in alternatives)
    node = _deref(defs, node)
    if "const" in node:
        return f"constant {code(json.dumps(node['const']))}"
    if "enum" in node:
        return "one of: " + ", ".join(code(str(value)) for value in node["enum"])
    kind = node.get("type")
    if kind == "array":
        least = node.get("minItems")
        more = f" (at least {least})" if least else ""
        return f"list of {type_text(defs, node.get('items', {}))}{more}"
    if kind == "object":
        return _object_type(defs, node)
    if kind in ("integer", "number"):
        return " ".join([str(kind), *_bounds(node, integer=kind == "integer")])
    return str(kind) if kind else "any value"


def _object_type(defs: Schema, node: Schema) -> str:
    values = node.get("additionalProperties")
    if "properties" in node or not isinstance(values, dict):
        return "mapping"
    names = node.get("propertyNames", {}).get("enum")
    keys = f"({', '.join(code(str(name)) for name in names)})" if names else "name"
    return f"mapping {keys} → {type_text(defs, values)}"


def _bounds(node: Schema, *, integer: bool) -> list[str]:
    """The limits of a number, e.g. ``["≥ 1"]``; integers turn ``> n`` into ``≥ n+1``."""
    found = []
    if "minimum" in node:
        found.append(f"≥ {node['minimum']}")
    if "exclusiveMinimum" in node:
        low = node["exclusiveMinimum"]
        found.append(f"≥ {low + 1}" if integer else f"> {low}")
    if "maximum" in node:
        found.append(f"≤ {node['maximum']}")
    if "exclusiveMaximum" in node:
        high = node["exclusiveMaximum"]
        found.append(f"≤ {high - 1}" if integer else f"< {high}")
    return [", ".join(found)] if found else []


def _default(key: _Key) -> str:
    if key.required:
        return "**required**"
    if "default" not in key.field:
        return "optional"
    value = key.field["default"]
    if value is None:
        return "*none*"
    if key.target is not None and key.shape == "mapping" and value == _defaults(key.target):
        return "each key's default"
    return code(json.dumps(value, ensure_ascii=False))


def _defaults(obj: Schema) -> Schema:
    properties: Schema = obj.get("properties", {})
    return {name: field["default"] for name, field in properties.items() if "default" in field}


def _description(defs: Schema, field: Schema) -> str:
    return str(field.get("description") or _deref(defs, field).get("description") or "")


def _details(defs: Schema, field: Schema) -> str:
    """The description, and the format a value (its items, keys, values) must have."""
    parts = [inline(_description(defs, field)), *map(inline, _formats(defs, field))]
    return " ".join(part for part in parts if part)


def _formats(defs: Schema, field: Schema) -> list[str]:
    node = _deref(defs, _non_null(field))
    found = []
    for prefix, part in (
        ("", node),
        ("each item ", node.get("items")),
        ("each key ", node.get("propertyNames")),
        ("each value ", node.get("additionalProperties")),
    ):
        message = part.get("patternErrorMessage") if isinstance(part, dict) else None
        if message:
            sentence = f"{prefix}{message}."
            found.append(sentence[:1].upper() + sentence[1:])
    return found
