"""Pydantic models of ``diva.yaml`` — the boundary of diva.

Every field carries a docstring: pydantic turns it into the JSON Schema ``description``
that editors show on hover. Models are strict (no silent type coercion) and forbid
unknown keys; cross-field and stage rules live in :mod:`diva.rules`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PlainValidator, WithJsonSchema

from diva.spec.types import (
    Cpu,
    Cron,
    DnsLabel,
    Handle,
    HttpUrl,
    Key,
    Line,
    Memory,
    Name,
    PinnedImage,
    PythonVersion,
    Registry,
    RelPath,
    RemoteUrl,
    RunnerLabel,
    Script,
    Text,
    Topic,
    TrackingUri,
    Version,
    invalid,
)
from diva.stages import LAST_STAGE, STAGE_KEYS, parse_stage

SPEC_VERSION = 1

Framework = Literal["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "custom"]
Scale = Literal["small", "large"]
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

    scale: Scale
    """small (stage 2 experiments) or large (stage 3 experiments)."""
    path: RelPath
    """Folder or file relative to the repository root, e.g. data/small."""
    description: Text | None = None
    """What the data is."""
    existing: Existing | None = None
    """Set when the dataset exists already instead of being produced here."""


class Entrypoints(Section):
    """Python scripts of the pipeline stages, relative to the repository root."""

    prepare: Script | None = None
    """Optional preparation step (features, splits)."""
    train: Script
    """Training step; logs an MLflow run."""
    evaluate: Script
    """Evaluation step; writes metrics."""


class Model(Section):
    """The model: framework, task, pipeline entry points and hyper-parameters."""

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


class Slos(Section):
    """Service level objectives; turned into alert rules and checked by smoke tests."""

    latency_p95_ms: Annotated[float, Field(gt=0)]
    """95th percentile request latency in milliseconds."""
    error_rate: Annotated[float, Field(ge=0, lt=1)]
    """Largest acceptable fraction of failed requests, e.g. 0.01."""
    availability: Annotated[float, Field(gt=0, le=1)] | None = None
    """Fraction of time the service is up, e.g. 0.995."""
    throughput_rps: Annotated[float, Field(gt=0)] | None = None
    """Requests per second the service must sustain."""


class Resources(Section):
    """Resources of one serving or training replica."""

    cpu: Cpu = "500m"
    """CPU request and limit (Kubernetes quantity)."""
    memory: Memory = "1Gi"
    """Memory request and limit (Kubernetes quantity)."""
    gpu: Annotated[int, Field(ge=0)] = 0
    """Number of GPUs."""


class Replicas(Section):
    """Replica bounds for autoscaling."""

    min: PositiveInt = 1
    """Fewest replicas."""
    max: PositiveInt = 3
    """Most replicas."""


class Broker(Section):
    """Message broker for the model-on-demand pattern."""

    kind: Literal["kafka", "rabbitmq", "redis", "nats"]
    """Broker technology."""
    url: Line
    """Connection URL (credentials come from a Kubernetes secret, never from here)."""
    input_topic: Topic
    """Topic or queue the requests arrive on."""
    output_topic: Topic
    """Topic or queue the predictions are written to."""


class Serving(Section):
    """How the model is served (from stage 4)."""

    pattern: Literal["model-as-service", "precompute", "model-on-demand", "model-as-dependency"]
    """Serving pattern."""
    scheme: Literal["forecast", "web-service", "online-learning", "automl"] = "web-service"
    """Deployment scheme; selects the retraining trigger."""
    runtime: Literal["kubernetes", "kserve"] = "kubernetes"
    """Plain Kubernetes objects or a KServe InferenceService (model-as-service only)."""
    resources: Resources = Resources()
    """Resources per replica."""
    replicas: Replicas = Replicas()
    """Autoscaling bounds."""
    schedule: Cron | None = None
    """Cron schedule of the batch job (precompute only)."""
    broker: Broker | None = None
    """Message broker (model-on-demand only)."""


class MlflowSettings(Section):
    """MLflow tracking."""

    tracking_uri: TrackingUri = "sqlite:///.diva/mlflow.db"
    """Tracking server or store; the default is an embedded SQLite store."""


class DvcRemote(Section):
    """The DVC remote that datasets are pushed to."""

    name: Name = "local"
    """Remote name."""
    url: RemoteUrl = ".diva/dvc-remote"
    """Remote URL or local folder."""


class DvcSettings(Section):
    """DVC settings."""

    remote: DvcRemote = DvcRemote()
    """Default remote."""


class CiSettings(Section):
    """GitHub Actions runners."""

    runner: RunnerLabel = "ubuntu-latest"
    """Runner label for ordinary jobs."""
    gpu_runner: RunnerLabel | None = None
    """Runner label for GPU training jobs."""


class Platform(Section):
    """The organisation's platform: registries, base images, tracking, CI."""

    python: PythonVersion = "3.11"
    """Python version of the project."""
    image_registry: Registry | None = None
    """Registry (and namespace) images are pushed to, e.g. ghcr.io/acme."""
    base_images: dict[Framework, PinnedImage] = {}
    """Standardized base image per framework, pinned by digest."""
    mlflow: MlflowSettings = MlflowSettings()
    """MLflow settings."""
    dvc: DvcSettings = DvcSettings()
    """DVC settings: where datasets are pushed."""
    ci: CiSettings = CiSettings()
    """CI settings."""
    environments: Annotated[list[Name], Field(min_length=1)] = ["staging", "production"]
    """Deployment environments, in promotion order."""


class Drift(Section):
    """Feature drift detection."""

    method: Literal["psi", "ks"] = "psi"
    """Population stability index or Kolmogorov-Smirnov test."""
    threshold: Annotated[float, Field(gt=0)] = 0.2
    """Drift above this value fails the monitoring job."""


class Monitoring(Section):
    """Stage 5: regular comparison of the champion with challengers."""

    schedule: Cron
    """Cron schedule of the monitoring workflow."""
    reference_dataset: Name
    """Dataset (a key of `datasets`) drift is measured against."""
    drift: Drift = Drift()
    """Drift detection."""
    champion: Name = "champion"
    """MLflow alias of the production model version."""
    challengers: list[Name] = ["challenger"]
    """MLflow aliases of versions compared with the champion."""
    margin: Annotated[float, Field(ge=0)] = 0.0
    """Relative improvement a challenger needs on every target to be proposed."""


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
