"""``diva train``: run the large-scale DVC pipeline inside the training image.

The project is mounted at its own absolute path (MLflow stores absolute artifact
locations, so host and container must agree on paths) and the container runs as the
owner of the project folder (its files stay the owner's). The image cannot know its own
digest, so it is passed in ``DIVA_IMAGE_DIGEST``: the registry digest when the image was
pushed, else the local image ID. :mod:`diva.runtime` tags every MLflow run with it.

The container runs on the host's network (a tracking server or DVC remote on the host's
loopback is reachable as from the host) and gets the credentials of the team's services
that are set in diva's environment (:data:`CREDENTIALS`: MLflow's own variables, the
PostgreSQL password of a database store, the DVC remote's user and password), passed by
name -- ``docker run --env NAME`` reads the value from diva's environment, so no value
is ever written on a command line or in diva's output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from diva.compiler.pipeline import load_project
from diva.contract import IMAGE_DIGEST_ENV, ROOT_ENV, repository_of
from diva.errors import DivaError, UsageError
from diva.images.build import default_tag
from diva.images.engine import Engine, Progress

#: Credentials passed into the training container when set (the training workflow sets
#: them from secrets and variables, docs/compile.md#the-training-workflow).
CREDENTIALS = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "PGPASSWORD",
    "DIVA_DVC_USER",
    "DIVA_DVC_PASSWORD",
)


class PipelineError(DivaError):
    """The pipeline ran in the image and failed (exit 1)."""


def image_digest(engine: Engine, reference: str) -> str:
    """The digest to tag runs with: the registry's manifest digest of ``reference``'s
    repository if it was pushed or pulled, else the local image ID."""
    info = engine.inspect(reference)
    repository = repository_of(reference)
    for entry in info.get("RepoDigests") or []:  # type: ignore[attr-defined]
        name, _, digest = str(entry).partition("@")
        if name == repository:
            return digest
    return str(info["Id"])


def passed_credentials(environ: Mapping[str, str]) -> list[str]:
    """``--env NAME`` for each credential set (and not empty) in ``environ``: by name
    only, so that docker takes the value from the environment it inherits."""
    return [flag for name in CREDENTIALS if environ.get(name) for flag in ("--env", name)]


def run_options(root: Path, digest: str, environ: Mapping[str, str] | None = None) -> list[str]:
    owner = root.stat()
    credentials = passed_credentials(os.environ if environ is None else environ)
    return [
        "--user",
        f"{owner.st_uid}:{owner.st_gid}",
        "--volume",
        f"{root}:{root}",
        "--workdir",
        str(root),
        # a tracking server or DVC remote on localhost is reachable as from the host
        "--network",
        "host",
        "--env",
        f"{IMAGE_DIGEST_ENV}={digest}",
        "--env",
        f"{ROOT_ENV}={root}",
        # the owner's UID may have no home in the image
        "--env",
        "HOME=/tmp",
        *credentials,
    ]


def run_training(
    root: Path,
    spec_name: str,
    *,
    image: str | None = None,
    force: bool = False,
    progress: Progress = None,
    say: Callable[[str], None] = print,
) -> str:
    """Run ``dvc repro`` of the large datasets in the training image; the digest the
    runs were tagged with."""
    _, project = load_project(root, spec_name)
    targets: Sequence[str] = [f"evaluate-{d.name}" for d in project.large_datasets]
    if not targets:
        raise UsageError("no large dataset in the pipeline: the training image runs stage 3+")
    engine = Engine()
    engine.check()
    reference = image or f"{project.image_repository('train')}:{default_tag(root, 'train', None)}"
    if not engine.has_image(reference):
        raise UsageError(f"no image {reference} in the engine: run `diva build train` first")
    digest = image_digest(engine, reference)
    say(f"running dvc repro {' '.join(targets)} in {reference} ({digest[:19]})")
    args = ["--force", *targets] if force else list(targets)
    code, tail = engine.run(
        reference, args, options=run_options(root.resolve(), digest), progress=progress
    )
    if code != 0:
        # with progress shown the output is on the screen already; quiet, quote its end
        shown = "" if progress is not None else f":\n{tail}"
        raise PipelineError(f"the pipeline failed in {reference} (exit {code}){shown}")
    return digest
