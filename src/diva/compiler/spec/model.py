"""Pydantic models of ``diva.yaml`` — the boundary of diva.

Every field carries a docstring: pydantic turns it into the JSON Schema ``description``
that editors show on hover. Models are strict (no silent type coercion) and forbid
unknown keys; cross-field and stage rules live in :mod:`diva.compiler.rules`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, JsonValue, Tag

from diva.compiler.spec.base import (
    SPEC_VERSION,
    DatasetRole,
    DataType,
    Framework,
    PositiveInt,
    Scale,
    Section,
    SpecVersion,
    StageNumber,
    Task,
)
from diva.compiler.spec.operations import Monitoring, Platform, Resources, Serving, Slos
from diva.compiler.spec.types import (
    DnsLabel,
    Handle,
    HttpUrl,
    Key,
    Line,
    Name,
    RelPath,
    Script,
    Text,
    Version,
)

__all__ = ["SPEC_VERSION", "Spec"]


class Project(Section):
    """Who this project is."""

    name: DnsLabel
    """Short name; becomes the image, Kubernetes and MLflow experiment/model name."""
    title: Line
    """Human-readable title."""
    description: Text | None = None
    """What the project is about, in a few sentences."""


class Team(Section):
    """GitHub users (`@user`) or teams (`@org/team`) per DIVA role; they become CODEOWNERS."""

    modelers: list[Handle] = []
    """Build and train the model."""
    data_curators: list[Handle] = []
    """Own the datasets."""
    ide_developers: list[Handle] = []
    """Maintain the standardized development environment and base images."""
    quality_managers: list[Handle] = []
    """Approve stage promotions (own the `stage` field)."""
    model_engineers: list[Handle] = []
    """Own packaging, serving and release."""
    app_developers: list[Handle] = []
    """Build the applications that consume the model."""


Role = Literal[
    "modelers",
    "data_curators",
    "ide_developers",
    "quality_managers",
    "model_engineers",
    "app_developers",
]


class Need(Section):
    """Approvals from more than one holder of a role."""

    role: Role
    """The role (a key of `team`)."""
    count: PositiveInt = 1
    """How many distinct people holding it must approve."""


def _need_kind(value: object) -> str:
    return "need" if isinstance(value, dict | Need) else "role"


#: A role name (one approval) or a :class:`Need`; an error names only the form written.
Requirement = Annotated[
    Annotated[Role, Tag("role")] | Annotated[Need, Tag("need")], Discriminator(_need_kind)
]


class Approvals(Section):
    """Who must approve each kind of pull request, by role; the gate checks the reviews.

    Each kind lists the roles whose approval it needs: a role name (one approval) or
    `{role: ..., count: N}`. Every entry is filled by a different person, the author
    never counts, and one person holding two roles fills one of them. A kind left out
    keeps its default: `plan`, `small`, `back` and `policy` need a quality manager;
    `large` a quality manager and a data curator; `deploy` a quality manager and a model
    engineer; `manage` and `production_release` a model engineer and a quality manager
    (two people); `release` a model engineer. A default whose role names nobody in
    `team` is not required (the gate warns); `[]` requires nothing.
    """

    plan: list[Requirement] | None = None
    """Promotion to stage 1 (plan)."""
    small: list[Requirement] | None = None
    """Promotion to stage 2 (small-scale modeling)."""
    large: list[Requirement] | None = None
    """Promotion to stage 3 (large-scale modeling)."""
    deploy: list[Requirement] | None = None
    """Promotion to stage 4 (deployment)."""
    manage: list[Requirement] | None = None
    """Promotion to stage 5 (management)."""
    back: list[Requirement] | None = None
    """A move back to an earlier stage (a new cycle)."""
    release: list[Requirement] | None = None
    """A release of an environment before production (`serving.releases`)."""
    production_release: list[Requirement] | None = None
    """A release of production, the last of `platform.environments`."""
    policy: list[Requirement] | None = None
    """A change of the policy the gate judges by (targets, budgets, stores, team, approvals)."""


class Value(Section):
    """The value of the idea, for both sides."""

    researchers: Text | None = None
    """What researchers gain (knowledge, reusable assets)."""
    users: Text | None = None
    """What the users of the service gain."""


class DataField(Section):
    """One input or output of the model."""

    name: Key
    """Column or field name."""
    type: DataType
    """Data type; smoke tests build sample requests from it."""
    description: Line | None = None
    """What the field means, with units."""
    shape: list[PositiveInt] | None = None
    """Shape for tensors and images, e.g. [224, 224, 3]."""


class Idea(Section):
    """Stage 0: the idea under discussion. The gate to stage 1 checks it is complete."""

    problem: Text | None = None
    """The problem and the intent of solving it."""
    expected_effect: Text | None = None
    """The effect expected when the model is in use."""
    value: Value | None = None
    """Value for researchers and for users."""
    inputs: list[DataField] = []
    """The model's input data."""
    outputs: list[DataField] = []
    """The model's output data."""


class Reference(Section):
    """A paper, technique or prior work the plan builds on."""

    title: Line
    """Title of the reference."""
    url: HttpUrl | None = None
    """Where to read it."""


class Cycles(Section):
    """Cycle budget per stage: how many times a stage may be entered before deciding."""

    idea: PositiveInt | None = None
    """Budget of stage 0."""
    plan: PositiveInt | None = None
    """Budget of stage 1."""
    small: PositiveInt | None = None
    """Budget of stage 2 (small-scale modeling)."""
    large: PositiveInt | None = None
    """Budget of stage 3 (large-scale modeling)."""
    deploy: PositiveInt | None = None
    """Budget of stage 4."""
    manage: PositiveInt | None = None
    """Budget of stage 5."""


class Plan(Section):
    """Stage 1: the research plan. The gate to stage 2 checks it is complete."""

    summary: Text | None = None
    """The research plan in a few sentences."""
    references: list[Reference] = []
    """Papers and techniques the plan builds on."""
    techniques: list[Line] = []
    """Techniques to try."""
    cycles: Cycles | None = None
    """Cycle budgets per stage."""


class Existing(Section):
    """Marks a dataset that already exists elsewhere."""

    source: Line | None = None
    """Where it comes from (a DVC repository, a data catalogue entry, ...)."""
    version: Version | None = None
    """The pinned version (a tag, a revision, a date); required by the gate to stage 2."""


class Dataset(Section):
    """A dataset tracked with DVC."""

    scale: Scale | None = None
    """small (stage 2 experiments) or large (stage 3 experiments); every training dataset
    has one, a monitoring dataset none."""
    role: DatasetRole = "training"
    """training (the pipeline runs on it at its scale) or monitoring (newer data that only
    `diva monitor` reads: tracked with DVC and pulled by the monitoring job, with no
    pipeline and no part in the training image)."""
    path: RelPath
    """Folder or file relative to the project folder, e.g. data/small."""
    description: Text | None = None
    """What the data is."""
    existing: Existing | None = None
    """Set when the dataset exists already instead of being produced here."""


class Entrypoints(Section):
    """Python scripts of the pipeline stages, relative to the project folder."""

    prepare: Script | None = None
    """Optional preparation step (features, splits)."""
    train: Script
    """Training step; logs an MLflow run."""
    evaluate: Script
    """Evaluation step; writes metrics."""


class Model(Section):
    """The model: framework, task, pipeline entry points and hyper-parameters."""

    # hyper-parameters may be NaN or infinite (params.yaml carries them as .nan / .inf)
    model_config = ConfigDict(**Section.model_config | {"allow_inf_nan": True})

    name: Name | None = None
    """Registered MLflow model name (default: the project name)."""
    framework: Framework
    """Framework; selects the standardized base image."""
    task: Task
    """Kind of task."""
    entrypoints: Entrypoints
    """Scripts run by the DVC pipeline."""
    params: dict[Key, JsonValue] = {}
    """Hyper-parameters; written to params.yaml."""
    resources: Resources = Resources()
    """Resources of one large-scale training run (the Kubernetes training Job, stage 3+)."""


class Target(Section):
    """An acceptance criterion evaluated by the gates."""

    metric: Name
    """Metric name as logged to MLflow."""
    goal: Literal["minimize", "maximize"]
    """Whether lower or higher is better."""
    threshold: float
    """Value the metric must reach (<= for minimize, >= for maximize)."""
    dataset: Name
    """Dataset (a key of `datasets`) the metric is measured on."""
    scale: Scale | None = None
    """Scale the target applies to (default: the dataset's scale)."""


class Spec(Section):
    """A diva project: the DIVA model lifecycle of one model, as code."""

    diva: SpecVersion
    """Spec format version."""
    project: Project
    """Project identity."""
    stage: StageNumber
    """Current DIVA stage: 0..5 or idea, plan, small, large, deploy, manage."""
    team: Team = Team()
    """People per role."""
    approvals: Approvals = Approvals()
    """Whose approval each kind of pull request needs, by role."""
    idea: Idea = Idea()
    """Stage 0: the idea."""
    plan: Plan = Plan()
    """Stage 1: the plan."""
    datasets: dict[Name, Dataset] = {}
    """Datasets by name."""
    model: Model | None = None
    """The model (required from stage 2)."""
    targets: list[Target] = []
    """Acceptance criteria."""
    slos: Slos | None = None
    """Service level objectives (required from stage 4)."""
    serving: Serving | None = None
    """Serving (required from stage 4)."""
    platform: Platform = Platform()
    """Platform settings; defaults work on one machine."""
    monitoring: Monitoring | None = None
    """Monitoring (required from stage 5)."""
