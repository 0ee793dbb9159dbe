"""Hostile text planted in every free-text field of a spec (test_github_backend.py and the
backends after it check that it reaches no workflow and no ``run:`` script)."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from typing import Any

from diva.compiler.backends import emit_all
from tests.support.backends import base_data, project_of

HOSTILE_LINE = (
    "- & * ! | > ' \" % @ ` #x: y {a} [b] $(id) `id` ; a && b || c > /tmp/x < /etc/passwd "
    "${HOME} $HOME {{ z }} }} ${ { } ü 中文 🚀 \u202e\u00a0\x85\u2028 \\ ~ ? ---"
)
HOSTILE_TEXT = f"|\n{HOSTILE_LINE}\n  key: value\n\t- item\n---\n...\nEOF'\"\n# not a comment\n"
#: Line fields hold one line; Text fields (and params) may hold newlines too.
LINE_FIELDS: tuple[tuple[str | int, ...], ...] = (
    ("project", "title"),
    ("idea", "inputs", 2, "description"),
    ("idea", "outputs", 0, "description"),
    ("plan", "references", 0, "title"),
    ("plan", "techniques", 0),
    ("datasets", "sales-pilot", "existing", "source"),
    ("serving", "broker", "url"),
)
TEXT_FIELDS: tuple[tuple[str | int, ...], ...] = (
    ("project", "description"),
    ("idea", "problem"),
    ("idea", "expected_effect"),
    ("idea", "value", "researchers"),
    ("idea", "value", "users"),
    ("plan", "summary"),
    ("datasets", "sales-all", "description"),
    ("model", "params", "objective"),
    ("model", "params", "note"),
    ("model", "params", "nested", "list", 1),
)
#: Fields of either kind, in planting order; a field's index names its marker.
#: The model-on-demand consumer's ConfigMap, which carries the broker URL (stage 4+).
BROKER_CONFIG = "deploy/base/configmap.yaml"
FIELDS = (*LINE_FIELDS, ("model", "params", "nested", "list", 0), *TEXT_FIELDS)
TITLE = ("project", "title")
ON_DEMAND = {
    "pattern": "model-on-demand",
    "scheme": "forecast",
    "broker": {
        "kind": "redis",
        "url": "redis://broker:6379/0",
        "input_topic": "in",
        "output_topic": "o",
    },
}


def marker(index: int) -> str:
    return f"«field-{index}»"


def planted(value_of: Any) -> dict[str, Any]:
    """The example at the model-on-demand pattern (so it has a broker URL), with every
    free-text field (params nested in a list too) set to ``value_of(index, field)``."""
    data = base_data()
    data["serving"] = deepcopy(ON_DEMAND)
    data["model"]["params"]["nested"] = {"list": ["", ""]}
    for index, field in enumerate(FIELDS):
        *parents, last = field
        node = data
        for key in parents:
            node = node[key]
        node[last] = value_of(index, field)
    return data


#: URL fields hold no whitespace: the hostile line without it, after a valid scheme and host.
URL_FIELDS = {("serving", "broker", "url")}
HOSTILE_URL = "redis://broker:6379/" + "".join(HOSTILE_LINE.split()).replace("${{", "$!{{")


def hostile(index: int, field: tuple[str | int, ...]) -> str:
    if field in URL_FIELDS:
        return f"{HOSTILE_URL}{marker(index)}"
    text = HOSTILE_TEXT if field in TEXT_FIELDS else HOSTILE_LINE
    return f"{text[: len(text) // 2]}{marker(index)}{text[len(text) // 2 :]}"


def benign(index: int, field: tuple[str | int, ...]) -> str:
    return f"redis://plain-{index}:6379/0" if field in URL_FIELDS else f"plain text {index}"


def outputs(data: dict[str, Any], stage: int) -> dict[str, str]:
    data = {**data, "stage": stage}
    return {artifact.path: artifact.text for artifact in emit_all(project_of(data))}


def run_scripts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run":
                yield str(value)
            yield from run_scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from run_scripts(item)
