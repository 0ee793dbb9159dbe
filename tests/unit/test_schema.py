"""The published JSON Schema: committed, documented, 2020-12, and in step with pydantic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from diva.compiler.spec.schema import SCHEMA_DIALECT, SCHEMA_ID, json_schema, render_schema
from tests.support.paths import ROOT


def test_committed_schema_matches_the_model() -> None:
    committed = (ROOT / "specs" / "diva.schema.json").read_text(encoding="utf-8")
    assert committed == render_schema(), "run `diva schema` and commit specs/diva.schema.json"


def test_schema_declares_dialect_and_id() -> None:
    schema = json_schema()
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"] == SCHEMA_ID
    assert schema["additionalProperties"] is False


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, definition in schema.get("$defs", {}).items():
        for key, prop in definition.get("properties", {}).items():
            yield f"{name}.{key}", prop
    for key, prop in schema["properties"].items():
        yield f"Spec.{key}", prop


def test_every_property_has_a_description_for_editors() -> None:
    undocumented = [
        name for name, prop in _properties(json_schema()) if not prop.get("description")
    ]
    assert undocumented == []


def test_every_section_has_a_description() -> None:
    schema = json_schema()
    ours = {name: d for name, d in schema["$defs"].items() if name != "JsonValue"}
    assert [name for name, definition in ours.items() if not definition.get("description")] == []


def test_rendering_is_deterministic_text() -> None:
    text = render_schema()
    assert text == render_schema()
    assert text.endswith("}\n")
    assert json.loads(text) == json_schema()
