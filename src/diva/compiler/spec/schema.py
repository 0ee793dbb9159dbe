"""JSON Schema (draft 2020-12) of diva.yaml, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from diva.compiler.spec.model import Spec

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

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """Mappings with constrained keys refuse every other key.

        pydantic expresses a key pattern as ``patternProperties``, which lets keys that
        do not match through unchecked; ``propertyNames`` plus ``additionalProperties``
        refuses them, as diva itself does.
        """
        result = super().dict_schema(schema)
        patterns = result.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            result["propertyNames"] = {**result.get("propertyNames", {}), "pattern": pattern}
            result["additionalProperties"] = values
        return result


def json_schema() -> dict[str, Any]:
    """The JSON Schema of diva.yaml as data."""
    return Spec.model_json_schema(schema_generator=_DivaSchema)


def render_schema() -> str:
    """The JSON Schema as the exact text committed to specs/diva.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
