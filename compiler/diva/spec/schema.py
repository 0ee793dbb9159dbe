"""JSON Schema (draft 2020-12) of diva.yaml, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from diva.spec.model import Spec

SCHEMA_ID = "https://diva-ml.github.io/diva/schemas/diva.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: GitHub evaluates ``${{ ... }}`` in workflows; no spec string may contain it.
EXPRESSION_PATTERN = r"\$\{\{"


class _DivaSchema(GenerateJsonSchema):
    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        result = super().generate(schema, mode=mode)
        return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **result}

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        result = super().str_schema(schema)
        result["not"] = {"pattern": EXPRESSION_PATTERN}
        return result


def json_schema() -> dict[str, Any]:
    """The JSON Schema of diva.yaml as data."""
    return Spec.model_json_schema(schema_generator=_DivaSchema)


def render_schema() -> str:
    """The JSON Schema as the exact text committed to specs/diva.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
