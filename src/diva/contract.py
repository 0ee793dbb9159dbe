"""Names shared by the generated files, the runtime, the images and the gate.

Where things live in a compiled project (relative to its root, docs/compile.md), and the
environment variables and broker kinds that generated files and :mod:`diva.runtime` agree
on. A module of its own, without imports, so that every layer may use it and
:mod:`diva.runtime` stays light.
"""

from __future__ import annotations

#: Pipeline outputs: build/<dataset>/{prepared,model}, metrics/<dataset>.json, plots/<dataset>/
BUILD_DIR = "build"
METRICS_DIR = "metrics"
PLOTS_DIR = "plots"
#: Generated files that no tool requires at the project root.
GENERATED_DIR = "generated"
#: The runtime configuration read by diva.runtime, the gates and CI.
RUNTIME_CONFIG = f"{GENERATED_DIR}/project.json"
#: Folders the pipeline writes; datasets and entry points may not live there.
PIPELINE_DIRS = (BUILD_DIR, METRICS_DIR, PLOTS_DIR, GENERATED_DIR)
#: Local state that is never committed: the embedded MLflow store, its artifacts.
LOCAL_STORE_DIR = ".diva"
#: The lock file of diva compile, at the output root.
LOCK_FILE = "diva.lock"
#: The spec, at the project root; CI workflows expect the project root to be the repository's.
SPEC_FILE = "diva.yaml"
#: Generated Dockerfiles of the training and serving images.
DOCKER_DIR = "docker"
#: The model version a serving image packages, fetched from MLflow by `diva build serve`.
SERVING_MODEL_DIR = f"{LOCAL_STORE_DIR}/serve/model"
#: What the serving image installs, derived by `diva build serve` from the model's own.
SERVING_REQUIREMENTS_FILE = f"{LOCAL_STORE_DIR}/serve/requirements.txt"
#: The project's Python requirements, installed into the images.
REQUIREMENTS_FILE = "requirements.txt"
#: Kubernetes manifests: deploy/base (kustomize base), deploy/overlays/<environment>,
#: deploy/training (the stage-3 training Job).
DEPLOY_DIR = "deploy"
#: The model-as-dependency pattern's Python package of the model.
PACKAGE_DIR = f"{DEPLOY_DIR}/package"

#: Environment variable `diva train` sets to the digest of the training image.
IMAGE_DIGEST_ENV = "DIVA_IMAGE_DIGEST"
#: Environment variable the generated Dockerfiles set to their base image reference.
BASE_IMAGE_ENV = "DIVA_BASE_IMAGE"
#: Environment variable that points at the project root (else: searched upwards).
ROOT_ENV = "DIVA_PROJECT_ROOT"
#: Environment variables the gate reads the DVC remote's read-only credentials from
#: (the gate job's own secrets); written to the judged folder's ``.dvc/config.local``.
DVC_USER_ENV = "DIVA_DVC_USER"
DVC_PASSWORD_ENV = "DIVA_DVC_PASSWORD"  # noqa: S105 (a variable name)
#: The broker kinds ``diva consume`` reads (``serving.broker.kind`` may name others; the
#: validation refuses them where a consumer is generated).
BROKER_KINDS = ("redis",)


def repository_of(reference: str) -> str:
    """An image ``reference`` without its tag or digest (a registry port is not a tag)."""
    name = reference.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.split(":", 1)[0]
