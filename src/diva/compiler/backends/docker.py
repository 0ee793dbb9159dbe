"""Docker backend: the training image (from stage 3) and the serving image (from stage 4).

Both images start ``FROM`` the organisation's standardized base image of the model's
framework (``platform.base_images``, pinned by digest) through ``ARG BASE_IMAGE``, so an
air-gapped site or a test passes a local base with ``--build-arg``. They install into a
virtual environment, run as an unprivileged user and use exec-form entry points.

* ``docker/train.Dockerfile`` — the project's requirements and diva; runs the DVC
  pipeline of the large datasets in the mounted project (``diva train``).
* ``docker/serve.Dockerfile`` — a registered MLflow model version, fetched into
  ``.diva/serve/model`` by ``diva build serve``, served by MLflow's scoring server
  (``/ping``, ``/health``, ``/invocations``) with a HEALTHCHECK; for the
  model-on-demand pattern also diva with its broker consumer (``diva consume``).
* ``.dockerignore`` — the build context is the project root, cut down to what the
  images copy in.

Every value written into a Dockerfile is quoted (:func:`_quoted` for words, JSON for
exec-form arrays) and refused if it holds a line break or another control character:
a spec value can never start an instruction or expand a variable.
"""

from __future__ import annotations

import json
import re

from diva.compiler.backends.install import DIVA_DISTRIBUTION, WHEEL_ENV, image_args
from diva.compiler.ir import Project
from diva.compiler.render import Artifact, commented_text
from diva.contract import (
    BASE_IMAGE_ENV,
    DOCKER_DIR,
    REQUIREMENTS_FILE,
    SERVING_MODEL_DIR,
    SERVING_REQUIREMENTS_FILE,
)

#: The unprivileged user of both images (a fixed UID: Kubernetes checks runAsNonRoot).
USER_ID = 10001
#: The port of the scoring server in the serving image.
SERVING_PORT = 8080
#: The virtual environment inside the images.
VENV = "/opt/venv"
#: Where the serving image keeps the model.
MODEL_PATH = "/opt/model"
#: The training image's working directory when no project is mounted at its own path.
PROJECT_PATH = "/project"

_REFERENCE = re.compile(r"[A-Za-z0-9._/:@-]+")

TRAIN_DOCKERFILE = f"{DOCKER_DIR}/train.Dockerfile"
SERVE_DOCKERFILE = f"{DOCKER_DIR}/serve.Dockerfile"


def emit(project: Project) -> list[Artifact]:
    if project.model is None or project.base_image is None:
        return []  # validation asks for both from stage 3; a partial spec gets nothing
    artifacts = [
        Artifact(".dockerignore", commented_text(_dockerignore(project), project.spec_file)),
        Artifact(TRAIN_DOCKERFILE, _dockerfile(_train(project), project.spec_file)),
    ]
    if project.stage >= 4:
        artifacts.append(
            Artifact(SERVE_DOCKERFILE, _dockerfile(_serve(project), project.spec_file))
        )
    return artifacts


#: Characters other parsers of Dockerfiles (linters, scanners) take for line breaks.
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]")


def _checked(value: str) -> str:
    # validation admits no control character in these values: one here is a bug
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value) or _OTHER_BREAKS.search(value):
        raise RuntimeError(f"line break or control character in a Dockerfile value: {value!r}")
    return value


def _prose(value: str) -> str:
    """Free text (a title) for a label: the Unicode line separators a one-line spec
    value may hold become spaces, so that no parser sees a new line."""
    return _OTHER_BREAKS.sub(" ", value)


def _quoted(value: str) -> str:
    """``value`` as a double-quoted Dockerfile word: quotes, backslashes and ``$``
    escaped (LABEL and ARG expand variables)."""
    escaped = _checked(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _reference(value: str) -> str:
    """An image reference written bare (FROM takes no quotes): validated by the spec's
    pattern, checked again here."""
    if not _REFERENCE.fullmatch(value):
        raise RuntimeError(f"not an image reference: {value!r}")
    return value


def _exec_form(*words: str) -> str:
    """A JSON array: exec form, no shell, no variable expansion."""
    return json.dumps([_checked(word) for word in words], ensure_ascii=False)


def _dockerfile(lines: list[str], source: str) -> str:
    return commented_text("\n".join(lines), source)


#: Where the build stage keeps what it installs from (never in the final image).
BUILD_PATH = "/opt/build"


def _head(project: Project, kind: str, description: str) -> list[str]:
    assert project.model is not None
    return [
        f"# The {kind} image of {project.name}: {description}",
        f"# Base: the standardized {project.model.framework} image of platform.base_images;",
        "# pass another with --build-arg BASE_IMAGE=... (air-gapped sites, tests).",
        "ARG BASE_IMAGE",
    ]


def _build_stage(
    project: Project, copy: str, install: list[str], note: tuple[str, ...] = ()
) -> list[str]:
    """The build stage: pip installs into the virtual environment, which is all the
    image takes from it (not pip's inputs, nor the index and wheel arguments)."""
    return [
        "",
        "# build stage: the requirements installed into a virtual environment",
        *note,
        f"FROM {_from(project)} AS build",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PIP_NO_CACHE_DIR=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        f"    VIRTUAL_ENV={VENV} \\",
        f"    PATH={VENV}/bin:$PATH",
        f"RUN python3 -m venv {VENV}",
        f"COPY {copy} {BUILD_PATH}/requirements.txt",
        *install,
    ]


def _from(project: Project) -> str:
    assert project.base_image is not None
    return f"${{BASE_IMAGE:-{_reference(project.base_image)}}}"


def _final_stage(project: Project, kind: str) -> list[str]:
    """The image: the base, its labels, the unprivileged user and the built environment."""
    assert project.base_image is not None
    return [
        "",
        "# the image: the base, one unprivileged user (a fixed UID) and the environment",
        f"FROM {_from(project)}",
        f"ARG BASE_IMAGE={_quoted(project.base_image)}",
        "",
        "LABEL org.opencontainers.image.title="
        + _quoted(f"{project.name}-{kind}")
        + " \\\n      org.opencontainers.image.description="
        + _quoted(_prose(project.title))
        + " \\\n      org.opencontainers.image.base.name=${BASE_IMAGE}"
        + " \\\n      io.diva.project="
        + _quoted(project.name)
        + " \\\n      io.diva.image="
        + _quoted(kind),
        "",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        f"    VIRTUAL_ENV={VENV} \\",
        f"    PATH={VENV}/bin:$PATH \\",
        f"    {BASE_IMAGE_ENV}=${{BASE_IMAGE}}",
        f"RUN useradd --uid {USER_ID} --user-group --create-home --shell /usr/sbin/nologin diva",
        f"COPY --from=build {VENV} {VENV}",
    ]


def _train(project: Project) -> list[str]:
    targets = [f"evaluate-{dataset.name}" for dataset in project.large_datasets]
    install = [
        *_install_args(project),
        f"RUN pip install --no-cache-dir -r {BUILD_PATH}/requirements.txt "
        + _diva(project, "pipeline"),
    ]
    return [
        *_head(project, "train", "the project's requirements, diva and DVC."),
        *_build_stage(project, REQUIREMENTS_FILE, install),
        *_final_stage(project, "train"),
        "",
        f"USER {USER_ID}:{USER_ID}",
        f"WORKDIR {PROJECT_PATH}",
        "# a batch job, not a service: nothing to probe",
        "HEALTHCHECK NONE",
        "# `diva train` mounts the project at its own path (its working directory) and",
        "# passes the image digest (DIVA_IMAGE_DIGEST) that the MLflow runs are tagged with",
        f"ENTRYPOINT {_exec_form('dvc', 'repro')}",
        f"CMD {_exec_form(*targets)}",
    ]


_SERVE_NOTE = (
    "# (`diva build serve` writes them: the model's own, MLflow's client mlflow-skinny",
    "# for full MLflow, pandas, and what the model's saved format needs)",
)


def _serve(project: Project) -> list[str]:
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{SERVING_PORT}/ping', timeout=4)"
    )
    return [
        *_head(project, "serve", "a registered model version and MLflow's scoring server."),
        *_build_stage(project, SERVING_REQUIREMENTS_FILE, _serve_install(project), _SERVE_NOTE),
        *_final_stage(project, "serve"),
        "",
        "ARG MODEL_VERSION=unknown",
        "LABEL io.diva.model.name="
        + _quoted(project.model.registered_name if project.model else project.name)
        + " \\\n      io.diva.model.version=${MODEL_VERSION}",
        "# the model last: a new version with the same requirements reuses every layer above",
        f"COPY {SERVING_MODEL_DIR} {MODEL_PATH}",
        "",
        f"USER {USER_ID}:{USER_ID}",
        f"EXPOSE {SERVING_PORT}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {_exec_form('python', '-c', probe)}",
        "ENTRYPOINT "
        + _exec_form(
            "mlflow",
            "models",
            "serve",
            "--model-uri",
            MODEL_PATH,
            "--env-manager",
            "local",
            "--host",
            "0.0.0.0",  # noqa: S104 — inside the container; the platform decides exposure
            "--port",
            str(SERVING_PORT),
        ),
    ]


def _serve_install(project: Project) -> list[str]:
    """The model's requirements; for model-on-demand also diva's broker consumer
    (``diva consume``, the Deployment's second container), resolved together with them."""
    install = f"RUN pip install --no-cache-dir -r {BUILD_PATH}/requirements.txt"
    if project.serving is None or project.serving.pattern != "model-on-demand":
        return [install]
    return [
        "# and diva's broker consumer (`diva consume`), the version that compiled this file",
        *_install_args(project),
        f"{install} \\",
        "    " + _diva(project, "consumer"),
    ]


def _install_args(project: Project) -> list[str]:
    """Where pip finds diva (platform.install): its index and its pinned wheel, as
    build arguments pip reads from the environment of the RUN that installs."""
    return [f"ARG {name}={_quoted(value)}" for name, value in image_args(project).items()]


def _diva(project: Project, extra: str) -> str:
    """diva's requirement, quoted: the version that compiled the file, or the pinned
    wheel (``URL#sha256=HEX``, checked by pip) named by its build argument."""
    if project.install.wheel is not None:
        return f'"{DIVA_DISTRIBUTION}[{extra}] @ ${{{WHEEL_ENV}}}"'
    return _quoted(f"{DIVA_DISTRIBUTION}[{extra}]=={project.diva_version}")


def _dockerignore(project: Project) -> str:
    lines = [
        "# The build context of the images is the project root; they copy in only these.",
        "*",
        f"!{REQUIREMENTS_FILE}",
    ]
    if project.stage >= 4:
        lines += [f"!{SERVING_MODEL_DIR}/", f"!{SERVING_REQUIREMENTS_FILE}"]
    return "\n".join(lines)
