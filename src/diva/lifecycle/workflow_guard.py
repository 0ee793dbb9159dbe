"""Workflows a pull request adds or changes that could pass for the gate's check.

The ruleset requires the status check ``diva gate`` from GitHub Actions. GitHub names a
job's check after its ``name:`` (its id when it has none), whichever workflow the job
is in, so a pull request that adds a workflow with a job named ``diva gate`` that
always succeeds satisfies the required check without diva's gate ever judging it.

:func:`impostors` compares the workflows at the base and head commits and reports each
workflow the pull request added or changed that diva does not generate (drift covers
those) and that defines a job whose check could be named like the gate's: by its name,
by its id, by an expression or matrix value in its name, or as a reusable-workflow
(``uses:``) job. A workflow it cannot read, or whose job name is computed from anything
but literals and the matrix, is a problem too: diva cannot tell whether it imitates the
gate. Workflows are parsed with ruamel's safe loader and never run; nothing here reads
files or starts processes.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent, NodeEvent

from diva.errors import escape_control

WORKFLOWS_DIR = ".github/workflows/"
#: Larger workflow files are not parsed: GitHub itself refuses them long before.
MAX_BYTES = 1024 * 1024
#: Deeper or larger documents are not built (a spec has the same limits).
MAX_DEPTH = 64
MAX_NODES = 100_000
#: How many matrix values and combinations are looked at before giving up.
MAX_VALUES = 1000
#: How much of a job name or id a problem shows.
SHOWN = 80

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STRING = re.compile(r"\s*'((?:[^']|'')*)'\s*")
_MATRIX = re.compile(r"\s*matrix((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)\s*")
_LITERAL = re.compile(r"\s*(true|false|null|-?[0-9]+(?:\.[0-9]+)?)\s*")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


class Unknown(Exception):  # noqa: N818 - a verdict, not a failure
    """The check name of a job cannot be told from the workflow text alone."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class _Wanted:
    """The check name, as compared: trimmed and case-folded, and without anything but
    letters and digits (``diva-gate``, ``DIVA_GATE`` and ``divagate`` look alike)."""

    shown: str
    exact: str
    loose: str

    @classmethod
    def of(cls, check: str) -> _Wanted:
        return cls(check, _exact(check), _loose(check))

    def named(self, name: str) -> bool:
        return _exact(name) == self.exact or _loose(name) == self.loose


def impostors(
    base: Mapping[str, bytes], head: Mapping[str, bytes], generated: Collection[str], check: str
) -> list[str]:
    """One problem per workflow the pull request added or changed (``head`` against
    ``base``, both mapping paths to bytes), that diva does not generate (``generated``),
    and that defines a job whose check could be named ``check``, or cannot be read."""
    wanted = _Wanted.of(check)
    problems: list[str] = []
    for path in sorted(head):
        if not _is_workflow(path) or path in generated or base.get(path) == head[path]:
            continue
        problem = _problem(path, head[path], wanted)
        if problem is not None:
            problems.append(problem)
    return problems


def _is_workflow(path: str) -> bool:
    """What GitHub runs: a YAML file right in .github/workflows/ (not in a subfolder)."""
    name = path.removeprefix(WORKFLOWS_DIR)
    return name != path and "/" not in name and name.endswith((".yml", ".yaml"))


def _problem(path: str, raw: bytes, wanted: _Wanted) -> str | None:
    shown = _shown(path)
    try:
        document = _parse(raw)
    except Unknown as err:
        return (
            f"{shown}: {err.reason}, so diva cannot tell whether it imitates the gate's "
            f"check '{wanted.shown}'"
        )
    found = [
        reason for job_id, job in _jobs(document) if (reason := _imitation(job_id, job, wanted))
    ]
    if not found:
        return None
    return (
        f"{shown}: {'; '.join(found)}. A workflow diva does not generate must not report "
        f"the check '{wanted.shown}' that the ruleset requires from the gate"
    )


def _parse(raw: bytes) -> Any:
    if len(raw) > MAX_BYTES:
        raise Unknown(f"it is larger than {MAX_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Unknown("it is not UTF-8 text") from err
    yaml = YAML(typ="safe")
    try:
        _check_size(yaml, text)
        return yaml.load(text)
    except Unknown:
        raise
    except Exception as err:  # any parser error, a duplicate key
        raise Unknown(f"it does not parse as YAML ({_first_line(err)})") from err


def _check_size(yaml: YAML, text: str) -> None:
    """Refuse, from the parser's events, what would exhaust the stack or the time of
    building the document (deep nesting crashes the composer outright)."""
    depth = nodes = 0
    for event in yaml.parse(io.StringIO(text)):
        if isinstance(event, NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise Unknown(f"it has more than {MAX_NODES} nodes")
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise Unknown(f"it nests deeper than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _jobs(document: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The jobs of a workflow; nothing when it is not shaped like one (GitHub refuses
    such a file, so none of its jobs can report a check)."""
    jobs = document.get("jobs") if isinstance(document, Mapping) else None
    if not isinstance(jobs, Mapping):
        return
    for job_id, job in jobs.items():
        if isinstance(job, Mapping):
            yield str(job_id), job


def _imitation(job_id: str, job: Mapping[str, Any], wanted: _Wanted) -> str | None:
    """Why the check of this job could be named like ``wanted`` (None: it cannot)."""
    kind = "reusable-workflow job" if "uses" in job else "job"
    name = job.get("name")
    if name is None or name == "":  # GitHub falls back to the id
        if wanted.named(job_id):
            return f"{kind} '{_shown(job_id)}' has no name, so its id is its check name"
        return None
    if not isinstance(name, str | int | float | bool):
        return None  # GitHub refuses a name that is not text
    text = str(name)
    if "${{" not in text:
        return (
            f"{kind} '{_shown(job_id)}' is named '{_shown(text)}'" if wanted.named(text) else None
        )
    try:
        if not _may_evaluate_to(text, job, wanted):
            return None
    except Unknown as err:
        return (
            f"{kind} '{_shown(job_id)}' is named '{_shown(text)}', {err.reason}: diva cannot "
            "tell whether that is the gate's check"
        )
    return f"{kind} '{_shown(job_id)}' is named '{_shown(text)}', which can be '{wanted.shown}'"


def _may_evaluate_to(template: str, job: Mapping[str, Any], wanted: _Wanted) -> bool:
    """Whether a templated name can come out as the check name: spelled across its
    literal text and the strings in its expressions, or for one matrix combination."""
    if wanted.loose in _loose(template):
        return True
    parts = _EXPRESSION.split(template)  # text, expression, text, expression, ...
    choices = [[part] if index % 2 == 0 else _values(part, job) for index, part in enumerate(parts)]
    combinations = itertools.islice(itertools.product(*choices), MAX_VALUES + 1)
    for count, combination in enumerate(combinations):
        if count == MAX_VALUES:
            raise Unknown(f"whose matrix has more than {MAX_VALUES} combinations")
        if wanted.named("".join(combination)):
            return True
    return False


def _values(expression: str, job: Mapping[str, Any]) -> list[str]:
    """What an expression in a name can evaluate to: a literal, or a matrix value."""
    if match := _STRING.fullmatch(expression):
        return [match.group(1).replace("''", "'")]
    if match := _LITERAL.fullmatch(expression):
        return [match.group(1)]
    if match := _MATRIX.fullmatch(expression):
        return _matrix_values(job, match.group(1).split(".")[1:])
    raise Unknown(f"computed when it runs (${{{{{_shown(expression.strip())}}}}})")


def _matrix_values(job: Mapping[str, Any], keys: list[str]) -> list[str]:
    strategy = job.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, Mapping) else None
    if not isinstance(matrix, Mapping):
        raise Unknown("whose matrix is computed when it runs")
    found = [*_leaves(matrix, keys), *_included(matrix.get("include"), keys)]
    return [*sorted(set(found)), ""]  # a missing key evaluates to ''


def _leaves(matrix: Mapping[str, Any], keys: list[str]) -> list[str]:
    values = matrix.get(keys[0])
    if isinstance(values, str) and "${{" in values:
        raise Unknown("whose matrix is computed when it runs")
    items = values if isinstance(values, list) else []
    return [leaf for item in items for leaf in _lookup(item, keys[1:])]


def _included(include: Any, keys: list[str]) -> list[str]:
    if isinstance(include, str) and "${{" in include:
        raise Unknown("whose matrix is computed when it runs")
    entries = include if isinstance(include, list) else []
    return [
        leaf for entry in entries if isinstance(entry, Mapping) for leaf in _lookup(entry, keys)
    ]


def _lookup(value: Any, keys: list[str]) -> list[str]:
    """``value`` followed down ``keys``, as a string when it is a scalar."""
    for key in keys:
        if not isinstance(value, Mapping):
            return []
        value = value.get(key)
    if isinstance(value, str) and "${{" in value:
        raise Unknown("whose matrix is computed when it runs")
    if isinstance(value, str | int | float | bool):
        return [str(value).lower() if isinstance(value, bool) else str(value)]
    return []


def _exact(text: str) -> str:
    return " ".join(text.split()).casefold()


def _loose(text: str) -> str:
    return _NOT_WORD.sub("", text.casefold())


def _shown(text: str) -> str:
    """``text`` for a message: control characters escaped, cut to :data:`SHOWN`."""
    text = escape_control(text)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return _shown(lines[0]) if lines else type(err).__name__
