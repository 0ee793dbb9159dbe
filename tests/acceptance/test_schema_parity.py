"""The published JSON Schema agrees with ``diva validate`` where a schema can agree.

Editors and CI check ``diva.yaml`` against ``specs/diva.schema.json`` without diva, so
the schema must accept every example and reject every invalid case that a JSON Schema
can express (types, patterns, enums, unknown and missing keys, ``${{``, stage, format
version). A case directory says so with a marker file:

* ``schema-rejects`` (empty): the schema must reject the case.
* ``schema-gap`` (one line, the reason): the schema could reject the case but does not
  yet; the test is a strict xfail, so it fails once the schema is fixed, and the marker
  is then renamed to ``schema-rejects``.

Cross-field, stage and YAML-level cases (anchors, duplicate keys, ...) carry no marker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from tests.support.paths import EXAMPLES, ROOT

SCHEMA = ROOT / "specs" / "diva.schema.json"
INVALID = Path(__file__).parent / "invalid"
CASES = sorted(path for path in INVALID.iterdir() if path.is_dir())
REJECTED = [case for case in CASES if (case / "schema-rejects").is_file()]
GAPS = [case for case in CASES if (case / "schema-gap").is_file()]


def _load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path)


def _errors(validator: Draft202012Validator, path: Path) -> list[str]:
    return [error.message for error in validator.iter_errors(_load(path))]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_schema_accepts_example(example: Path, validator: Draft202012Validator) -> None:
    assert _errors(validator, example) == []


@pytest.mark.parametrize(
    "case",
    [
        *(pytest.param(case, id=case.name) for case in REJECTED),
        *(
            pytest.param(
                case,
                id=case.name,
                marks=pytest.mark.xfail(
                    reason=(case / "schema-gap").read_text(encoding="utf-8").strip(),
                    strict=True,
                ),
            )
            for case in GAPS
        ),
    ],
)
def test_schema_rejects_invalid_case(case: Path, validator: Draft202012Validator) -> None:
    assert _errors(validator, case / "diva.yaml") != []


def test_parity_covers_the_expressible_cases() -> None:
    both = {case.name for case in REJECTED} & {case.name for case in GAPS}
    assert both == set()
    assert len(REJECTED) >= 20
