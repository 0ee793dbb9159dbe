"""Shared pieces of the spec models: the section base class and common types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from diva.compiler.spec.types import invalid
from diva.stages import LAST_STAGE, STAGE_KEYS, parse_stage

SPEC_VERSION = 1

Framework = Literal["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "custom"]
Scale = Literal["small", "large"]
DatasetRole = Literal["training", "monitoring"]
DataType = Literal[
    "float",
    "integer",
    "boolean",
    "category",
    "text",
    "image",
    "audio",
    "video",
    "timeseries",
    "tensor",
    "json",
]
Task = Literal[
    "regression",
    "classification",
    "forecasting",
    "ranking",
    "clustering",
    "anomaly-detection",
    "object-detection",
    "segmentation",
    "generation",
    "other",
]
PositiveInt = Annotated[int, Field(gt=0)]


def _stage_number(value: Any) -> int:
    try:
        return parse_stage(value).number
    except ValueError as err:
        raise invalid(str(err)) from err


def _spec_version(value: Any) -> int:
    if type(value) is not int:
        raise invalid(f"must be the integer {SPEC_VERSION}, the spec format version")
    if value != SPEC_VERSION:
        raise invalid(f"unsupported spec format {value}; this diva reads format {SPEC_VERSION}")
    return SPEC_VERSION


StageNumber = Annotated[
    int,
    PlainValidator(_stage_number),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 0, "maximum": LAST_STAGE},
                {"type": "string", "enum": list(STAGE_KEYS)},
            ]
        }
    ),
]
SpecVersion = Annotated[int, PlainValidator(_spec_version), WithJsonSchema({"const": SPEC_VERSION})]


class Section(BaseModel):
    """Base of every spec section: strict types, unknown keys refused, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )
