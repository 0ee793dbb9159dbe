"""Specs for the backend tests: the demand-forecast example as data, built into a
``Project`` without diva's own YAML serializer, and one spec per serving pattern.

tests/lint/ runs the real linters and validators on the same specs.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML

from diva.compiler.backends import github
from diva.compiler.ir import Project, build
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from tests.support.paths import ROOT

CHECKOUT_SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
BASE_SPEC = ROOT / "specs" / "examples" / "demand-forecast" / "diva.yaml"


def base_data() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(BASE_SPEC.read_text(encoding="utf-8"))
    return data


def spec_bytes(data: dict[str, Any]) -> bytes:
    """JSON is YAML: the spec is written without diva's own YAML serializer.

    Characters that YAML reads as line breaks inside a quoted scalar are escaped.
    """
    text = json.dumps(data, ensure_ascii=False, indent=1)
    for char in ("\x85", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text.encode("utf-8")


def project_of(data: dict[str, Any]) -> Project:
    raw = spec_bytes(data)
    return build(validate_document(load_bytes(raw)), raw)


def with_stage(stage: int, **changes: Any) -> Project:
    data = base_data()
    data.update(stage=stage, **changes)
    return project_of(data)


def files(project: Project) -> dict[str, str]:
    """The files of the github backend."""
    return {artifact.path: artifact.text for artifact in github.emit(project)}


def load_yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


# --- one spec per serving pattern (the kubernetes backend's tests) ---------------------

DIGEST = "sha256:" + "5e" * 32
ENVIRONMENTS = ["dev", "staging", "production"]
RELEASES = {
    "staging": {"model_version": 4, "image_digest": DIGEST},
    "production": {"model_version": 3},
}
BROKER = {
    "kind": "redis",
    "url": "redis://broker.messaging:6379/0",
    "input_topic": "demand.requests",
    "output_topic": "demand.predictions",
}
#: one serving section per pattern (and runtime)
SERVINGS: dict[str, dict[str, Any]] = {
    "service": {
        "pattern": "model-as-service",
        "resources": {"cpu": "1", "memory": "2Gi", "gpu": 1},
        "replicas": {"min": 2, "max": 5},
    },
    "kserve": {
        "pattern": "model-as-service",
        "runtime": "kserve",
        "resources": {"cpu": "2", "memory": "4Gi"},
        "replicas": {"min": 1, "max": 4},
    },
    "precompute": {"pattern": "precompute", "schedule": "30 2 * * *"},
    "on-demand": {"pattern": "model-on-demand", "broker": BROKER},
    "dependency": {"pattern": "model-as-dependency"},
}


def pattern_data(pattern: str, stage: int = 4, **serving: Any) -> dict[str, Any]:
    data = base_data()
    data["stage"] = stage
    data["serving"] = {**SERVINGS[pattern], "releases": RELEASES, **serving}
    data["platform"]["environments"] = ENVIRONMENTS
    return data
