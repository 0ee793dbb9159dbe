"""The normalized, frozen project that backends compile from.

Defaults are resolved and names derived here, once, so that backends stay small pure
functions: they never see pydantic models or ``None`` where a default exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from diva import __version__
from diva.compiler import policy
from diva.compiler.spec.model import Spec
from diva.contract import BUILD_DIR, LOCAL_STORE_DIR, METRICS_DIR, PLOTS_DIR
from diva.stages import STAGE_KEYS


@dataclass(frozen=True)
class Dataset:
    name: str
    #: small or large; None for a monitoring dataset
    scale: str | None
    path: str
    version: str | None
    #: training (a pipeline at its scale, from its stage) or monitoring (no pipeline)
    role: str = "training"

    @property
    def prepared(self) -> str:
        return f"{BUILD_DIR}/{self.name}/prepared"

    @property
    def model(self) -> str:
        return f"{BUILD_DIR}/{self.name}/model"

    @property
    def metrics(self) -> str:
        return f"{METRICS_DIR}/{self.name}.json"

    @property
    def plots(self) -> str:
        return f"{PLOTS_DIR}/{self.name}"


@dataclass(frozen=True)
class Model:
    registered_name: str
    framework: str
    task: str
    prepare: str | None
    train: str
    evaluate: str
    params: Mapping[str, Any]
    #: Resources of one training run: CPU and memory (Kubernetes quantities), GPUs.
    resources: tuple[str, str, int] = ("500m", "1Gi", 0)

    @property
    def code_deps(self) -> tuple[str, ...]:
        """What the steps' code is: the folders of the entry points (a change to any
        module there reruns the step), or the script itself when it sits at the root,
        whose folder also holds the pipeline's outputs."""
        scripts = [self.prepare, self.train, self.evaluate]
        return tuple(sorted({_parent(script) or script for script in scripts if script}))


@dataclass(frozen=True)
class Target:
    metric: str
    goal: str
    threshold: float
    dataset: str
    scale: str


@dataclass(frozen=True)
class Mlflow:
    tracking_uri: str
    experiment: str
    artifact_location: str | None


@dataclass(frozen=True)
class Broker:
    kind: str
    url: str
    input_topic: str
    output_topic: str


@dataclass(frozen=True)
class Release:
    """What one environment runs."""

    model_version: int
    #: ``sha256:...`` once the release workflow pushed the image, else None.
    image_digest: str | None


@dataclass(frozen=True)
class Serving:
    """How the model is served (stage 4+), defaults resolved."""

    pattern: str
    scheme: str
    runtime: str
    cpu: str
    memory: str
    gpu: int
    replicas_min: int
    replicas_max: int
    schedule: str | None
    broker: Broker | None
    #: Release per environment, for the environments that have one.
    releases: Mapping[str, Release]


@dataclass(frozen=True)
class Slos:
    latency_p95_ms: float
    error_rate: float
    availability: float | None
    throughput_rps: float | None


@dataclass(frozen=True)
class Monitoring:
    """Stage 5: when the monitor runs, and the datasets it reads."""

    schedule: str
    reference_dataset: str
    #: The dataset with the newest data; the reference dataset when the spec names none.
    current_dataset: str


@dataclass(frozen=True)
class Team:
    """GitHub handles per DIVA role, in the order the spec lists them."""

    modelers: tuple[str, ...]
    data_curators: tuple[str, ...]
    ide_developers: tuple[str, ...]
    quality_managers: tuple[str, ...]
    model_engineers: tuple[str, ...]
    app_developers: tuple[str, ...]


@dataclass(frozen=True)
class Install:
    """Where CI and the images install diva from (``platform.install``): pip's default
    index, or ``index_url``; diva itself from ``wheel`` (URL, sha256) when pinned; the
    gate's install from the hash lock at ``lock`` when there is one."""

    index_url: str | None = None
    wheel: tuple[str, str] | None = None
    lock: str | None = None


@dataclass(frozen=True)
class Project:
    """Everything a backend may read. Built by :func:`build` from a validated spec."""

    name: str
    title: str
    stage: int
    spec_file: str
    spec_sha256: str
    python: str
    datasets: tuple[Dataset, ...]
    model: Model | None
    targets: tuple[Target, ...]
    mlflow: Mlflow
    dvc_remote: tuple[str, str]
    team: Team
    ci_runner: str
    #: Cycle budget per stage number (``plan.cycles``), only the declared ones.
    cycle_budgets: Mapping[int, int]
    #: The version of diva that compiles the project; CI installs exactly this one.
    diva_version: str
    #: The standardized base image of the model's framework (pinned by digest), if named.
    base_image: str | None = None
    #: Registry (and namespace) images are pushed to, if declared.
    image_registry: str | None = None
    #: Deployment environments in promotion order (platform.environments).
    environments: tuple[str, ...] = ("staging", "production")
    #: Serving settings, from stage 4 (None before, or when the spec has none).
    serving: Serving | None = None
    #: Service level objectives, from stage 4.
    slos: Slos | None = None
    #: Runner label of GPU jobs (platform.ci.gpu_runner), if declared.
    gpu_runner: str | None = None
    #: Monitoring settings, from stage 5 (None before, or when the spec has none).
    monitoring: Monitoring | None = None
    #: Where the gate's evidence comes from: ``verified`` or ``self-attested``.
    evidence: str = "verified"
    #: Where CI and the images install diva and its tools from (``platform.install``).
    install: Install = Install()
    #: Whose approval each kind of pull request needs (``approvals``, defaults filled in).
    approvals: Mapping[str, tuple[policy.Approval, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The policy fields (:mod:`diva.compiler.policy`): dotted path -> effective value.
    policy: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def image_repository(self, kind: str) -> str:
        """Where the ``train`` or ``serve`` image of the project lives: in the image
        registry when one is declared, else a local name."""
        name = f"{self.name}-{kind}"
        return f"{self.image_registry}/{name}" if self.image_registry else name

    @property
    def large_datasets(self) -> tuple[Dataset, ...]:
        """Datasets of the large-scale pipeline, which runs in the training image."""
        return tuple(d for d in self.pipeline_datasets if d.scale == "large")

    @property
    def active_scales(self) -> tuple[str, ...]:
        """Scales the pipeline runs at this stage: small from 2, large too from 3."""
        return tuple(scale for scale, first in (("small", 2), ("large", 3)) if self.stage >= first)

    @property
    def pipeline_datasets(self) -> tuple[Dataset, ...]:
        """Datasets with a pipeline: small ones first, then by name."""
        active = [d for d in self.datasets if d.scale in self.active_scales]
        return tuple(sorted(active, key=lambda d: (d.scale != "small", d.name)))


def _parent(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return head


def _artifact_location(tracking_uri: str) -> str | None:
    """A local folder for local stores; a tracking server decides for itself."""
    local = tracking_uri.startswith(("sqlite:", "file:"))
    return f"{LOCAL_STORE_DIR}/mlartifacts" if local else None


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _team(spec: Spec) -> Team:
    team = spec.team
    return Team(
        modelers=tuple(team.modelers),
        data_curators=tuple(team.data_curators),
        ide_developers=tuple(team.ide_developers),
        quality_managers=tuple(team.quality_managers),
        model_engineers=tuple(team.model_engineers),
        app_developers=tuple(team.app_developers),
    )


def _cycle_budgets(spec: Spec) -> Mapping[int, int]:
    cycles = spec.plan.cycles
    if cycles is None:
        return MappingProxyType({})
    declared = {number: getattr(cycles, key) for number, key in enumerate(STAGE_KEYS)}
    return MappingProxyType({n: budget for n, budget in declared.items() if budget is not None})


def build(spec: Spec, spec_text: bytes, spec_file: str = "diva.yaml") -> Project:
    """Normalize a validated spec.

    ``spec_text`` is hashed into the lock file; ``spec_file`` is the spec's path as seen
    from the output root, named in every generated file's header.
    """
    datasets = tuple(
        Dataset(
            name, d.scale, d.path.rstrip("/"), d.existing.version if d.existing else None, d.role
        )
        for name, d in sorted(spec.datasets.items())
    )
    # a target is on a training dataset (rules.dataset_references), which has a scale
    scales = {d.name: d.scale or "" for d in datasets}
    model = None
    if spec.model is not None:
        m = spec.model
        model = Model(
            registered_name=m.name or spec.project.name,
            framework=m.framework,
            task=m.task,
            prepare=m.entrypoints.prepare,
            train=m.entrypoints.train,
            evaluate=m.entrypoints.evaluate,
            params=_freeze(dict(m.params)),
            resources=(m.resources.cpu, m.resources.memory, m.resources.gpu),
        )
    platform = spec.platform
    return Project(
        name=spec.project.name,
        title=spec.project.title,
        stage=spec.stage,
        spec_file=spec_file,
        spec_sha256=hashlib.sha256(spec_text).hexdigest(),
        python=platform.python,
        datasets=datasets,
        model=model,
        targets=tuple(
            Target(t.metric, t.goal, t.threshold, t.dataset, t.scale or scales[t.dataset])
            for t in spec.targets
        ),
        mlflow=Mlflow(
            tracking_uri=platform.mlflow.tracking_uri,
            experiment=spec.project.name,
            artifact_location=_artifact_location(platform.mlflow.tracking_uri),
        ),
        dvc_remote=(platform.dvc.remote.name, platform.dvc.remote.url),
        team=_team(spec),
        ci_runner=platform.ci.runner,
        cycle_budgets=_cycle_budgets(spec),
        diva_version=__version__,
        base_image=spec.platform.base_images.get(spec.model.framework) if spec.model else None,
        image_registry=platform.image_registry,
        environments=tuple(platform.environments),
        serving=_serving(spec),
        slos=Slos(
            spec.slos.latency_p95_ms,
            spec.slos.error_rate,
            spec.slos.availability,
            spec.slos.throughput_rps,
        )
        if spec.slos
        else None,
        gpu_runner=platform.ci.gpu_runner,
        monitoring=_monitoring(spec),
        evidence=platform.evidence,
        install=_install(spec),
        approvals=policy.approvals(spec),
        policy=policy.of(spec),
    )


def _install(spec: Spec) -> Install:
    install = spec.platform.install
    wheel = (install.wheel.url, install.wheel.sha256) if install.wheel else None
    return Install(install.index_url, wheel, install.lock)


def _monitoring(spec: Spec) -> Monitoring | None:
    monitoring = spec.monitoring
    if monitoring is None:
        return None
    reference = monitoring.reference_dataset
    return Monitoring(monitoring.schedule, reference, monitoring.current_dataset or reference)


def _serving(spec: Spec) -> Serving | None:
    serving = spec.serving
    if serving is None:
        return None
    broker = serving.broker
    return Serving(
        pattern=serving.pattern,
        scheme=serving.scheme,
        runtime=serving.runtime,
        cpu=serving.resources.cpu,
        memory=serving.resources.memory,
        gpu=serving.resources.gpu,
        replicas_min=serving.replicas.min,
        replicas_max=serving.replicas.max,
        schedule=serving.schedule,
        broker=Broker(broker.kind, broker.url, broker.input_topic, broker.output_topic)
        if broker
        else None,
        releases=MappingProxyType(
            {
                environment: Release(release.model_version, release.image_digest)
                for environment in spec.platform.environments
                if (release := serving.releases.get(environment)) is not None
            }
        ),
    )
