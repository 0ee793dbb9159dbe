"""Spec sections of deployment and operations: SLOs, serving, platform, monitoring."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from diva.compiler.spec.base import Framework, PositiveInt, Section
from diva.compiler.spec.types import (
    BrokerUrl,
    Cpu,
    Cron,
    Digest,
    IndexUrl,
    Memory,
    Name,
    PinnedImage,
    PythonVersion,
    Registry,
    RelPath,
    RemoteUrl,
    RunnerLabel,
    Sha256,
    Topic,
    TrackingUri,
    WheelUrl,
)


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
    url: BrokerUrl
    """Connection URL (credentials come from a Kubernetes secret, never from here)."""
    input_topic: Topic
    """Topic or queue the requests arrive on."""
    output_topic: Topic
    """Topic or queue the predictions are written to."""


class Release(Section):
    """What one environment runs. Changed by pull request: the release workflow opens one
    with the digest it pushed; the gate checks the version exists and meets the targets."""

    model_version: PositiveInt
    """The registered MLflow model version the environment serves."""
    image_digest: Digest | None = None
    """Digest of the serving image of that version in platform.image_registry; the
    environment's overlay references the image by it (by the tag v<version> until then)."""


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
    releases: dict[Name, Release] = {}
    """What each environment (a platform.environments entry) runs: model version and
    serving image digest. The production entry pins the production model version."""


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


class PinnedWheel(Section):
    """A wheel of diva at a fixed URL (a release asset of its repository, say), checked
    against its digest before pip installs it."""

    url: WheelUrl
    """URL of the wheel, e.g. https://github.com/acme/diva/releases/download/v0.1.0/
    diva_lifecycle-0.1.0-py3-none-any.whl; its file name names diva's version."""
    sha256: Sha256
    """sha256 of the wheel file (64 hex digits); pip refuses a file with another."""


class InstallSettings(Section):
    """Where the generated workflows and images install diva and its tools from
    (docs/install-source.md). The default is pip's: the public index."""

    index_url: IndexUrl | None = None
    """Package index to install from instead of the public one (pip's --index-url), e.g.
    https://pypi.example.org/simple. No credentials in it: the runner's pip
    configuration or keyring provides them."""
    wheel: PinnedWheel | None = None
    """diva itself from this wheel (its dependencies still come from the index)."""
    lock: RelPath | None = None
    """Hash lock of the gate's install written by `diva lock` (e.g. diva-lock.txt): the
    gate and record jobs then install with pip --require-hashes, the gate from the base
    branch's copy."""


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
    install: InstallSettings = InstallSettings()
    """Where CI and the images install diva and its tools from."""
    environments: Annotated[list[Name], Field(min_length=1)] = ["staging", "production"]
    """Deployment environments, in promotion order."""
    evidence: Literal["verified", "self-attested"] = "verified"
    """Where the gate's evidence comes from. `verified` (the default): the gate asks the
    MLflow, DVC remote and image registry of the base branch's spec itself, and
    diva.evidence.json only says what to look up. `self-attested`, for a project with no
    shared services: the gate believes diva.evidence.json where it cannot look, and every
    report says so."""


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
    current_dataset: Name | None = None
    """Dataset (a key of `datasets`) with the newest data: the versions are evaluated on
    it and its drift from the reference is measured (default: the reference dataset
    itself, so no drift is measured)."""
    drift: Drift = Drift()
    """Drift detection."""
    champion: Name = "champion"
    """MLflow alias of the production model version."""
    challengers: list[Name] = ["challenger"]
    """MLflow aliases of versions compared with the champion."""
    margin: Annotated[float, Field(ge=0)] = 0.0
    """Relative improvement a challenger needs on every target to be proposed."""
