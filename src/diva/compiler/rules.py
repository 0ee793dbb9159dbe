"""Cross-field and stage rules of the spec, run after the pydantic models accept it.

Each rule is a small generator of issues that names the top-level sections it reads;
:data:`RULES` lists them. When some sections fail the pydantic models, the rules that
read only intact sections still run (see :func:`diva.compiler.validate.validate_document`), so
that every problem is reported at once. Stage rules name the stage that asks for a
section, so that a promotion that forgot something says what and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from diva import __version__
from diva.compiler.source import Document, PathKey
from diva.compiler.spec.model import Spec
from diva.contract import BROKER_KINDS as SUPPORTED_KINDS
from diva.contract import PIPELINE_DIRS
from diva.errors import Issue, did_you_mean
from diva.stages import stage

Check = Callable[[Spec, Document], Iterator[Issue]]


@dataclass(frozen=True)
class Rule:
    check: Check
    sections: frozenset[str]


def check(spec: Spec, doc: Document, broken: frozenset[str] = frozenset()) -> list[Issue]:
    """Every issue found by the rules that read none of the ``broken`` sections."""
    return [
        issue for rule in RULES if not rule.sections & broken for issue in rule.check(spec, doc)
    ]


def _unknown_dataset(spec: Spec, name: str) -> str:
    declared = ", ".join(sorted(spec.datasets)) or "none"
    return f"unknown dataset '{name}' (declared: {declared}){did_you_mean(name, spec.datasets)}"


def dataset_references(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Targets and monitoring name datasets that are declared, of the right scale."""
    for index, target in enumerate(spec.targets):
        path: PathKey = ("targets", index, "dataset")
        dataset = spec.datasets.get(target.dataset)
        if dataset is None:
            yield doc.issue(path, _unknown_dataset(spec, target.dataset), at_value=True)
        elif dataset.role == "monitoring":
            yield doc.issue(
                path,
                f"'{target.dataset}' is a monitoring dataset: targets are met on the datasets"
                " the pipeline trains and evaluates on (role: training)",
                at_value=True,
            )
        elif target.scale is not None and target.scale != dataset.scale:
            yield doc.issue(
                ("targets", index, "scale"),
                f"is '{target.scale}' but dataset '{target.dataset}' has scale '{dataset.scale}'",
                at_value=True,
            )
    monitoring = spec.monitoring
    if monitoring is None:
        return
    for key in ("reference_dataset", "current_dataset"):
        name = getattr(monitoring, key)
        if name is not None and name not in spec.datasets:
            yield doc.issue(("monitoring", key), _unknown_dataset(spec, name), at_value=True)


def dataset_roles(spec: Spec, doc: Document) -> Iterator[Issue]:
    """A training dataset has a scale (its pipeline's); a monitoring dataset has none."""
    for name, dataset in spec.datasets.items():
        if dataset.role == "training" and dataset.scale is None:
            yield doc.issue(
                ("datasets", name),
                "a training dataset needs 'scale: small' or 'scale: large'; data that only"
                " `diva monitor` reads is 'role: monitoring'",
            )
        elif dataset.role == "monitoring" and dataset.scale is not None:
            yield doc.issue(
                ("datasets", name, "scale"),
                "a monitoring dataset has no scale: no pipeline runs on it",
            )


def _duplicates(values: Iterable[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index, value
        seen.add(value)


def unique_names(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Names that must be unique within their list are."""
    lists: list[tuple[PathKey, list[str], str]] = [
        (("idea", "inputs"), [field.name for field in spec.idea.inputs], "name"),
        (("idea", "outputs"), [field.name for field in spec.idea.outputs], "name"),
        (("platform", "environments"), list(spec.platform.environments), ""),
    ]
    targets = [f"metric '{t.metric}' on dataset '{t.dataset}'" for t in spec.targets]
    for index, target in _duplicates(targets):
        yield doc.issue(("targets", index), f"{target} has more than one target")
    if spec.monitoring is not None:
        aliases = [spec.monitoring.champion, *spec.monitoring.challengers]
        lists.append((("monitoring", "challengers"), aliases[1:], ""))
        for index, alias in enumerate(spec.monitoring.challengers):
            if alias == spec.monitoring.champion:
                yield doc.issue(
                    ("monitoring", "challengers", index),
                    f"'{alias}' is also the champion alias",
                    at_value=True,
                )
    for path, values, field in lists:
        for index, value in _duplicates(values):
            where = (*path, index, field) if field else (*path, index)
            yield doc.issue(where, f"'{value}' appears more than once", at_value=True)


def dataset_paths(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Dataset paths neither coincide nor nest (DVC tracks each output once)."""
    seen: list[tuple[str, str]] = []
    for name, dataset in spec.datasets.items():
        path = dataset.path.rstrip("/")
        for other_name, other in seen:
            relation = _overlap(path, other)
            if relation:
                yield doc.issue(
                    ("datasets", name, "path"),
                    f"{relation} the path of dataset '{other_name}' ({other})",
                    at_value=True,
                )
                break
        seen.append((name, path))


def pipeline_folders(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Datasets and entry points stay out of the folders the pipeline writes."""
    paths: list[tuple[PathKey, str]] = [
        (("datasets", name, "path"), dataset.path) for name, dataset in spec.datasets.items()
    ]
    if spec.model is not None:
        entrypoints = spec.model.entrypoints.model_dump(exclude_none=True)
        paths += [(("model", "entrypoints", step), path) for step, path in entrypoints.items()]
    for where, path in paths:
        top = path.split("/")[0]
        if top in PIPELINE_DIRS:
            yield doc.issue(
                where, f"must not be inside {top}/, where the pipeline writes", at_value=True
            )


def _overlap(path: str, other: str) -> str | None:
    if path == other:
        return "is the same as"
    if path.startswith(other + "/"):
        return "is inside"
    if other.startswith(path + "/"):
        return "contains"
    return None


def serving_settings(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Serving options fit the pattern they are used with."""
    serving = spec.serving
    if serving is None:
        return
    if serving.runtime == "kserve" and serving.pattern != "model-as-service":
        yield doc.issue(
            ("serving", "runtime"),
            f"kserve serves the model-as-service pattern only, not '{serving.pattern}'",
            at_value=True,
        )
    if serving.pattern == "precompute" and serving.schedule is None:
        yield doc.issue(("serving",), "the precompute pattern needs a 'schedule' (cron)")
    if serving.pattern == "model-on-demand" and serving.broker is None:
        yield doc.issue(("serving",), "the model-on-demand pattern needs a 'broker'")
    yield from _consumer_broker(spec, doc)
    if serving.schedule is not None and serving.pattern != "precompute":
        yield doc.issue(
            ("serving", "schedule"),
            f"is only used by the precompute pattern, not '{serving.pattern}'",
        )
    if serving.broker is not None and serving.pattern != "model-on-demand":
        yield doc.issue(
            ("serving", "broker"),
            f"is only used by the model-on-demand pattern, not '{serving.pattern}'",
        )
    environments = spec.platform.environments
    for environment in serving.releases:
        if environment not in environments:
            yield doc.issue(
                ("serving", "releases", environment),
                f"'{environment}' is not in platform.environments ({', '.join(environments)})",
            )
    if serving.replicas.min > serving.replicas.max:
        yield doc.issue(
            ("serving", "replicas", "min"),
            f"min ({serving.replicas.min}) is larger than max ({serving.replicas.max})",
            at_value=True,
        )


def _consumer_broker(spec: Spec, doc: Document) -> Iterator[Issue]:
    """From stage 4 the consumer Deployment runs ``diva consume``, which reads only the
    broker kinds it supports; earlier, a broker may still be a plan."""
    broker = spec.serving.broker if spec.serving else None
    if spec.stage < 4 or broker is None or broker.kind in SUPPORTED_KINDS:
        return
    yield doc.issue(
        ("serving", "broker", "kind"),
        f"diva's consumer (diva consume) reads {', '.join(SUPPORTED_KINDS)} only, not "
        f"'{broker.kind}'; from {stage(4)} the broker must be one it reads",
        at_value=True,
    )


def _stage_issue(spec: Spec, doc: Document, path: PathKey, what: str) -> Issue:
    """An issue located at ``path`` if it exists in the file, else at ``stage``."""
    located = path if any(path[:end] in doc.keys for end in range(len(path), 0, -1)) else None
    line, column = doc.locate(located) if located else doc.locate_value(("stage",))
    return Issue(doc.file, line, column, path, f"{stage(spec.stage)} requires {what}")


def stage_requirements(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Sections become required when the current stage needs them."""
    scales = {dataset.scale for dataset in spec.datasets.values()}
    if spec.stage >= 2 and spec.model is None:
        yield _stage_issue(spec, doc, ("model",), "the 'model' section")
    if spec.stage >= 2 and "small" not in scales:
        yield _stage_issue(spec, doc, ("datasets",), "a dataset with scale 'small'")
    if spec.stage >= 3 and "large" not in scales:
        yield _stage_issue(spec, doc, ("datasets",), "a dataset with scale 'large'")
    if spec.stage >= 3 and spec.model and spec.model.framework not in spec.platform.base_images:
        framework = spec.model.framework
        yield _stage_issue(
            spec,
            doc,
            ("platform", "base_images", framework),
            f"a standardized base image for framework '{framework}'",
        )
    for number, section, value in (
        (4, "serving", spec.serving),
        (4, "slos", spec.slos),
        (5, "monitoring", spec.monitoring),
    ):
        if spec.stage >= number and value is None:
            yield _stage_issue(spec, doc, (section,), f"the '{section}' section")
    if spec.stage >= 4 and spec.platform.image_registry is None:
        yield _stage_issue(
            spec, doc, ("platform", "image_registry"), "an image registry to push images to"
        )


def approval_roles(spec: Spec, doc: Document) -> Iterator[Issue]:
    """Every approval the spec declares can be given: its role names enough people, and
    a kind names each role once."""
    for kind in type(spec.approvals).model_fields:
        seen: set[str] = set()
        for index, need in enumerate(getattr(spec.approvals, kind) or ()):
            role, count = (need, 1) if isinstance(need, str) else (need.role, need.count)
            path: PathKey = ("approvals", kind, index)
            people = getattr(spec.team, role)
            if role in seen:
                yield doc.issue(
                    path,
                    f"'{role}' appears more than once: write {{role: {role}, count: N}}",
                )
            elif not people:
                yield doc.issue(path, f"'{role}' names nobody in team.{role}", at_value=True)
            elif count > len(people):
                listed = ", ".join(people)
                yield doc.issue(
                    path,
                    f"needs {count} approvals from {role} but team.{role} lists "
                    f"{len(people)} ({listed})",
                )
            seen.add(role)


def install_source(spec: Spec, doc: Document) -> Iterator[Issue]:
    """A pinned wheel is diva at the version that compiles the files (its file name says
    which: ``diva_lifecycle-<version>-...whl``)."""
    wheel = spec.platform.install.wheel
    if wheel is None:
        return
    expected = f"diva_lifecycle-{__version__}-"
    if not wheel.url.rpartition("/")[2].startswith(expected):
        yield doc.issue(
            ("platform", "install", "wheel", "url"),
            f"must be a wheel of diva {__version__}, the version compiling this spec "
            f"(a file name starting with '{expected}')",
            at_value=True,
        )


RULES: tuple[Rule, ...] = (
    Rule(dataset_references, frozenset({"targets", "datasets", "monitoring"})),
    Rule(dataset_roles, frozenset({"datasets"})),
    Rule(unique_names, frozenset({"idea", "platform", "targets", "monitoring"})),
    Rule(dataset_paths, frozenset({"datasets"})),
    Rule(pipeline_folders, frozenset({"datasets", "model"})),
    Rule(serving_settings, frozenset({"stage", "serving", "platform"})),
    Rule(approval_roles, frozenset({"approvals", "team"})),
    Rule(install_source, frozenset({"platform"})),
    Rule(
        stage_requirements,
        frozenset({"stage", "datasets", "model", "platform", "serving", "slos", "monitoring"}),
    ),
)
