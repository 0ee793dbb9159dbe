"""Validate a loaded spec: pydantic errors and diva's rules, as located issues.

Every problem is collected and reported at once, each pointing at a line and column
of the file, the way DVC reports its own YAML errors.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from diva.compiler import reachability, rules
from diva.compiler.source import Document, PathKey, read_spec
from diva.compiler.spec.model import Spec
from diva.compiler.spec.schema import EXPRESSION_PATTERN
from diva.errors import Issue, SpecError, did_you_mean
from diva.urls import redact

_EXPRESSION = re.compile(EXPRESSION_PATTERN)
_QUOTED = re.compile(r"'([^']*)'")
_EXPECTED_TYPE = {
    "string_type": "text",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "model_type": "a mapping",
    "dict_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def load_spec(path: Path, display: str | None = None) -> Spec:
    """Read, strictly load and validate the spec at ``path``."""
    return validate_document(read_spec(path, display))


def check_spec(path: Path, display: str | None = None) -> tuple[Spec, list[Issue]]:
    """The valid spec at ``path`` and its warnings (:mod:`.reachability`); raises
    :class:`SpecError` like :func:`load_spec`."""
    doc = read_spec(path, display)
    spec = validate_document(doc)
    return spec, reachability.warnings(spec, doc)


def validate_document(doc: Document) -> Spec:
    """The validated spec; :class:`SpecError` with every issue when it is invalid."""
    issues = list(_string_issues(doc, doc.data, ()))
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as err:
        errors = err.errors()
        issues.extend(_translate(doc, error) for error in errors)
        issues.extend(_rules_on_intact_sections(doc, errors))
        raise SpecError(issues) from None
    issues.extend(rules.check(spec, doc))
    if issues:
        raise SpecError(issues)
    return spec


#: Stand-ins for required sections that failed, so the other sections can be checked.
_PLACEHOLDERS: dict[str, object] = {
    "diva": 1,
    "project": {"name": "placeholder", "title": "placeholder"},
    "stage": 0,
}


def _rules_on_intact_sections(doc: Document, errors: list[ErrorDetails]) -> list[Issue]:
    """Run the rules whose sections passed the models, with broken sections left out."""
    broken = frozenset(str(error["loc"][0]) if error["loc"] else "" for error in errors)
    if "" in broken:  # the whole document is unusable, e.g. not a mapping
        return []
    intact = {key: value for key, value in doc.data.items() if key not in broken}
    try:
        spec = Spec.model_validate({**_PLACEHOLDERS, **intact})
    except ValidationError:
        return []
    return rules.check(spec, doc, broken)


_EXPRESSION_MESSAGE = (
    "must not contain '${{' (GitHub Actions would evaluate it in generated workflows)"
)


def _string_problem(text: str) -> str | None:
    if _EXPRESSION.search(text):
        return _EXPRESSION_MESSAGE
    if "\x00" in text:
        return "must not contain a NUL character"
    return None


def _string_issues(doc: Document, node: Any, path: PathKey) -> Iterator[Issue]:
    """Refuse what no spec string may hold, wherever it stands (params included)."""
    if isinstance(node, str) and (problem := _string_problem(node)):
        yield doc.issue(path, problem, at_value=True)
    elif isinstance(node, dict):
        for key, value in node.items():
            if problem := _string_problem(key):
                yield doc.issue((*path, key), f"key {problem}")
            yield from _string_issues(doc, value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _string_issues(doc, item, (*path, index))


def _translate(doc: Document, error: ErrorDetails) -> Issue:
    loc: PathKey = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return doc.issue(loc[:-1], f"missing required key '{loc[-1]}'")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return doc.issue(loc, f"unknown key '{key}'{did_you_mean(key, _allowed_keys(loc[:-1]))}")
    if loc and loc[-1] == "[key]":
        return doc.issue(loc[:-1], f"invalid key: {_message(error)}")
    return doc.issue(loc, _message(error), at_value=True)


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    value = error["input"]
    if kind in _EXPECTED_TYPE:
        hint = " (put it in quotes)" if kind == "string_type" and _is_number(value) else ""
        return f"expected {_EXPECTED_TYPE[kind]}, got {_describe(value)}{hint}"
    if kind == "literal_error":
        choices = _QUOTED.findall(str(error.get("ctx", {}).get("expected", "")))
        shown = ", ".join(choices)
        return f"must be one of: {shown}{did_you_mean(str(value), choices)}"
    message = error["msg"]
    for prefix in ("Input should be ", "Value should be "):
        if message.startswith(prefix):
            message = "must be " + message[len(prefix) :]
    if kind in ("too_short", "too_long"):
        message = message.replace("List should", "must").split(" after validation")[0]
    return message


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = redact(value)  # a URL in the wrong place keeps its credentials out of logs
        return f"text ({shown!r})" if len(shown) <= 40 else "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _allowed_keys(path: PathKey) -> list[str]:
    """Field names of the section at ``path``, for "did you mean" hints."""
    annotation: Any = Spec
    for part in path:
        annotation = _descend(_unwrap(annotation), part)
        if annotation is None:
            return []
    model = _unwrap(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _descend(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the one interesting type."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, _UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation


_UnionType = type(int | None)
