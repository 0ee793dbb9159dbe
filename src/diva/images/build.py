"""``diva build train|serve [--push]``: build the compiled Dockerfiles, push, record.

The build context is the project root (``.dockerignore`` cuts it down). The serving
build first fetches the chosen MLflow model version into ``.diva/serve/model``. A push
is confirmed by asking the registry's API for the digest, which is recorded in
``diva.evidence.json`` under ``images.<kind>`` for the gates.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diva.compiler.backends import docker
from diva.compiler.backends.install import serving_requirements
from diva.compiler.ir import Project
from diva.compiler.pipeline import load_project
from diva.contract import REQUIREMENTS_FILE, SERVING_MODEL_DIR, SERVING_REQUIREMENTS_FILE
from diva.errors import UsageError
from diva.images import ImageError, RegistryError
from diva.images.engine import Engine, Progress
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.evidence.registry import manifest_digest

KINDS = {"train": docker.TRAIN_DOCKERFILE, "serve": docker.SERVE_DOCKERFILE}
FIRST_STAGES = {"train": 3, "serve": 4}
#: The evidence key of each kind of image.
EVIDENCE_KEYS = {"train": "training", "serve": "serving"}
#: Aliases ``diva build serve`` looks for, in order, when no version is named.
DEFAULT_ALIASES = ("champion", "candidate")


@dataclass(frozen=True)
class Built:
    kind: str
    reference: str
    image_id: str
    #: The manifest digest the registry serves, once pushed.
    digest: str | None = None
    #: The MLflow model version a serving image packages.
    model_version: str | None = None


def _dockerfile(root: Path, project: Project, kind: str) -> Path:
    """The compiled Dockerfile of ``kind``, refused when missing or not what the spec
    compiles to (edited by hand, or the spec changed since `diva compile`)."""
    first = FIRST_STAGES[kind]
    wanted = {a.path: a.text for a in docker.emit(project)} if project.stage >= first else {}
    relative = KINDS[kind]
    if relative not in wanted:
        raise UsageError(
            f"no {kind} image at {project.spec_file}'s stage {project.stage}: "
            f"the {kind} image comes with stage {first}"
        )
    path = root / relative
    if not path.is_file():
        raise UsageError(f"{relative} does not exist: run `diva compile`")
    if path.read_text(encoding="utf-8") != wanted[relative]:
        raise UsageError(
            f"{relative} is not what {project.spec_file} compiles to: run `diva compile` "
            "(or `diva compile --diff` to see why)"
        )
    return path


def default_tag(root: Path, kind: str, model_version: str | None) -> str:
    """``v<N>`` for a serving image of model version N; for a training image, a hash of
    what goes into it (Dockerfile and requirements), so the same environment keeps its
    tag."""
    if kind == "serve":
        return f"v{model_version}"
    digest = hashlib.sha256()
    for relative in (KINDS["train"], REQUIREMENTS_FILE):
        digest.update((root / relative).read_bytes())
    return f"env-{digest.hexdigest()[:12]}"


def build_image(
    root: Path,
    spec_name: str,
    kind: str,
    *,
    base: str | None = None,
    tag: str | None = None,
    model_version: str | None = None,
    alias: str | None = None,
    push: bool = False,
    progress: Progress = None,
    say: Callable[[str], None] = print,
) -> Built:
    """Build the ``kind`` image of the project at ``root``; push and record it."""
    _, project = load_project(root, spec_name)
    dockerfile = _dockerfile(root, project, kind)
    if push and project.image_registry is None:
        raise UsageError("--push needs platform.image_registry in the spec")
    if kind == "train" and not (root / REQUIREMENTS_FILE).is_file():
        raise UsageError(
            f"{REQUIREMENTS_FILE} does not exist: the training image installs the project's "
            "requirements from it (the model's framework and libraries)"
        )
    engine = Engine()
    engine.check()
    build_args = {"BASE_IMAGE": base} if base else {}
    if kind == "serve":
        model_version = fetch_model(root, project, model_version, alias, say)
        write_serving_requirements(root)
        build_args["MODEL_VERSION"] = model_version
    reference = f"{project.image_repository(kind)}:{tag or default_tag(root, kind, model_version)}"
    say(f"building {reference} from {KINDS[kind]}")
    image_id = engine.build(
        root,
        dockerfile,
        reference,
        build_args=build_args,
        base=base or str(project.base_image),
        progress=progress,
    )
    built = Built(kind, reference, image_id, model_version=model_version)
    if push:
        built = _push(root, engine, built, progress, say)
    return built


def _push(
    root: Path, engine: Engine, built: Built, progress: Progress, say: Callable[[str], None]
) -> Built:

    say(f"pushing {built.reference}")
    reported = engine.push(built.reference, progress)
    try:
        served = manifest_digest(built.reference)
    except UnreachableError as err:
        raise RegistryError(f"pushed, but the registry API cannot confirm it: {err}") from err
    if served != reported:
        raise RegistryError(
            f"the push of {built.reference} reported {reported}, the registry serves {served}"
        )
    pushed = Built(built.kind, built.reference, built.image_id, served, built.model_version)
    _record(root, pushed)
    say(f"pushed {built.reference}@{served}; recorded in {record.EVIDENCE_FILE}")
    return pushed


def _record(root: Path, built: Built) -> None:
    entry: dict[str, Any] = {"reference": built.reference, "digest": built.digest}
    if built.model_version is not None:
        entry["model_version"] = built.model_version
    record.merge(root, {"images": {EVIDENCE_KEYS[built.kind]: entry}})


def fetch_model(
    root: Path,
    project: Project,
    version: str | None,
    alias: str | None,
    say: Callable[[str], None],
    *,
    target_dir: str = SERVING_MODEL_DIR,
) -> str:
    """Download the chosen registered version into ``target_dir`` (relative to
    ``root``; the serving image's ``.diva/serve/model`` by default); its number."""

    assert project.model is not None
    name = project.model.registered_name
    try:
        live = Mlflow(root, project.mlflow.tracking_uri)
        version = version or _by_alias(live, name, alias)
    except UnreachableError as err:
        raise ImageError(f"cannot read the model registry: {err}") from err
    say(f"fetching model {name} version {version} from MLflow")
    target = root / target_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as temp:
        try:
            downloaded = live.download_model(name, version, Path(temp))
        except UnreachableError as err:
            raise ImageError(f"cannot fetch model {name} version {version}: {err}") from err
        if target.exists():
            shutil.rmtree(target)
        downloaded.rename(target)
    if not (target / "requirements.txt").is_file():
        raise ImageError(f"model {name} version {version} has no requirements.txt")
    return version


def write_serving_requirements(root: Path) -> Path:
    """What the serving image installs (``.diva/serve/requirements.txt``): the fetched
    model's requirements with MLflow's client for full MLflow, and what its saved
    format needs (:func:`~diva.compiler.backends.install.serving_requirements`)."""
    model = root / SERVING_MODEL_DIR
    text = serving_requirements((model / "requirements.txt").read_text("utf-8"), _formats(model))
    target = root / SERVING_REQUIREMENTS_FILE
    target.write_text(text, "utf-8")
    return target


def _formats(model: Path) -> dict[str, str]:
    """Flavor -> ``serialization_format`` from the model's MLmodel file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load((model / "MLmodel").read_text("utf-8"))
    except (OSError, YAMLError) as err:
        raise ImageError(f"cannot read the model's MLmodel file: {err}") from err
    flavors = document.get("flavors") if isinstance(document, dict) else None
    return {
        str(name): str(flavor["serialization_format"])
        for name, flavor in (flavors or {}).items()
        if isinstance(flavor, dict) and "serialization_format" in flavor
    }


def _by_alias(live: Any, name: str, alias: str | None) -> str:
    for candidate in (alias,) if alias else DEFAULT_ALIASES:
        found = live.alias(name, candidate)
        if found is not None:
            return str(found)
    wanted = alias or " or ".join(DEFAULT_ALIASES)
    raise UsageError(f"no version of model {name} has alias {wanted}; pass --model-version N")
