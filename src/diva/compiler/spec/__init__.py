"""The diva.yaml spec: pydantic models and the JSON Schema exported from them."""

from __future__ import annotations

from diva.compiler.spec.model import SPEC_VERSION, Spec

__all__ = ["SPEC_VERSION", "Spec"]
