"""The image commands of ``diva``: ``build train|serve``, ``train``, ``smoke``.

Registered on the main group by :mod:`diva.cli`. Docker is driven through its client;
MLflow is imported only by the commands that read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from diva.cli.common import SPEC_OPTION, progress, project_root, say
from diva.errors import EXIT_INVALID

_QUIET_OPTION = click.option(
    "-q", "--quiet", is_flag=True, help="Hide Docker's progress output (errors still show)."
)


@click.group()
def build() -> None:
    """Build the project's training or serving image, or the model's Python package.

    Images are built from their compiled Dockerfile; the build context is the project
    root (cut down by the generated .dockerignore). With --push the image goes to
    platform.image_registry and the digest the registry serves is recorded in
    diva.evidence.json for the gates. Exit 0 built, 1 invalid spec, 2 usage error (e.g.
    a Dockerfile not compiled), 4 no engine, base image missing, registry or MLflow
    unavailable, wheel build failed.
    """


def _build_options(function: Callable[..., None]) -> Callable[..., None]:
    options = (
        SPEC_OPTION,
        click.option(
            "--base",
            metavar="IMAGE",
            help="Build on IMAGE instead of platform.base_images (a local or mirrored base).",
        ),
        click.option(
            "--tag", help="Image tag (default: train env-<environment hash>, serve v<version>)."
        ),
        click.option("--push", is_flag=True, help="Push to platform.image_registry and record."),
        _QUIET_OPTION,
    )
    for option in reversed(options):
        function = option(function)
    return function


@build.command(name="train")
@_build_options
def build_train(spec: Path, base: str | None, tag: str | None, push: bool, quiet: bool) -> None:
    """The training image: the standardized base, requirements.txt, diva and DVC.

    The default tag is env-<hash of the Dockerfile and requirements.txt>: one tag per
    environment. Run the pipeline in it with `diva train`.
    """
    from diva.images.build import build_image

    root, name = project_root(spec)
    built = build_image(
        root, name, "train", base=base, tag=tag, push=push, progress=progress(quiet), say=say
    )
    click.echo(built.reference + (f"@{built.digest}" if built.digest else ""))


@build.command(name="serve")
@_build_options
@click.option("--model-version", metavar="N", help="The registered model version to serve.")
@click.option(
    "--alias",
    metavar="NAME",
    help="Serve the version with this alias (default: champion, else candidate).",
)
def build_serve(
    spec: Path,
    base: str | None,
    tag: str | None,
    push: bool,
    quiet: bool,
    model_version: str | None,
    alias: str | None,
) -> None:
    """The serving image: a registered MLflow model version and its scoring server.

    The version is fetched from MLflow into .diva/serve/model first. The default tag is
    v<version>. Check it with `diva smoke`.
    """
    from diva.errors import UsageError
    from diva.images.build import build_image

    if model_version and alias:
        raise UsageError("--model-version and --alias exclude each other")
    root, name = project_root(spec)
    built = build_image(
        root,
        name,
        "serve",
        base=base,
        tag=tag,
        push=push,
        model_version=model_version,
        alias=alias,
        progress=progress(quiet),
        say=say,
    )
    click.echo(built.reference + (f"@{built.digest}" if built.digest else ""))


@build.command(name="package")
@SPEC_OPTION
@click.option("--model-version", metavar="N", help="The registered model version to bundle.")
@click.option(
    "--alias",
    metavar="NAME",
    help="Bundle the version with this alias (default: the release the package names, "
    "else champion, else candidate).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of the wheel (default: deploy/package/dist).",
)
@click.option("-q", "--quiet", is_flag=True, help="Hide pip's output (errors still show).")
def build_package(
    spec: Path, model_version: str | None, alias: str | None, out: Path | None, quiet: bool
) -> None:
    """The model-as-dependency wheel: a registered model version as a Python package.

    The version is fetched from MLflow into the compiled package's model/ folder, then
    `pip wheel` builds <project>-model, whose version is the model version it bundles.
    Prints the wheel's path.
    """
    from diva.images.package import build_package as build_wheel
    from diva.images.package import check_options

    check_options(model_version, alias)
    root, name = project_root(spec)
    built = build_wheel(
        root,
        name,
        model_version=model_version,
        alias=alias,
        out=out,
        progress=progress(quiet),
        say=say,
    )
    click.echo(str(built.wheel))


@click.command()
@SPEC_OPTION
@click.option(
    "--image", metavar="REF", help="Training image (default: the one `diva build train` tags)."
)
@click.option("--force", is_flag=True, help="Rerun every stage (`dvc repro --force`).")
@_QUIET_OPTION
def train(spec: Path, image: str | None, force: bool, quiet: bool) -> None:
    """Run the large-scale pipeline (dvc repro) inside the training image.

    The project is mounted at its own path and the container runs as the project
    folder's owner; MLflow runs are tagged with the image digest (diva.image.digest).
    Exit 0 done, 1 the pipeline failed, 2 usage error, 4 no engine.
    """
    from diva.images.train import run_training

    root, name = project_root(spec)
    digest = run_training(root, name, image=image, force=force, progress=progress(quiet), say=say)
    click.echo(digest)


@click.command()
@SPEC_OPTION
@click.option("--image", metavar="REF", help="Serving image (default: the recorded one).")
@click.option(
    "--requests",
    "count",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Requests to send.",
)
@click.option(
    "--request",
    "request_file",
    type=click.Path(path_type=Path),
    help="A JSON request body to send (default: made up from idea.inputs).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=180.0,
    show_default=True,
    help="Seconds to wait for the server's /ping.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The report's format.",
)
@_QUIET_OPTION
def smoke(
    spec: Path,
    image: str | None,
    count: int,
    request_file: Path | None,
    timeout: float,
    output: str,
    quiet: bool,
) -> None:
    """Run the serving image, wait for health, send requests, report latency.

    Requests are made up from idea.inputs (or read from --request) in MLflow's scoring
    format; every answer must hold one prediction per row. Latency percentiles are
    reported against slos.latency_p95_ms. The result is recorded in diva.evidence.json
    when the image is the recorded serving image. Exit 0 passed, 1 failed, 4 no engine.
    """
    import json

    from diva.images.smoke import render

    root, name = project_root(spec)
    report = _smoke(root, name, image, count, request_file, timeout, quiet)
    if output == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(render(report))
    if not report.passed:
        raise SystemExit(EXIT_INVALID)


def _smoke(
    root: Path,
    name: str,
    image: str | None,
    count: int,
    request_file: Path | None,
    timeout: float,
    quiet: bool,
) -> Any:
    from diva.compiler.validate import load_spec
    from diva.errors import UsageError
    from diva.images import ImageError
    from diva.images.engine import Engine
    from diva.images.smoke import Field, load_request, log_run, sample_body
    from diva.images.smoke import smoke as run_smoke
    from diva.images.train import image_digest
    from diva.lifecycle.evidence import record

    spec = load_spec(root / name)
    recorded = record.read(root)
    serving = ((recorded.document if recorded else {}).get("images") or {}).get("serving") or {}
    image = image or serving.get("reference")
    if not image:
        raise UsageError("no serving image recorded (`diva build serve --push`): pass --image")
    inputs = [Field(f.name, f.type) for f in (spec.idea.inputs if spec.idea else [])]
    outputs = [Field(f.name, f.type) for f in (spec.idea.outputs if spec.idea else [])]
    if request_file:
        bodies = [load_request(request_file)] * count
    else:
        bodies = [sample_body(inputs, 8, seed=0)]
        bodies += [sample_body(inputs, 1, seed=n) for n in range(1, count)]
    engine = Engine()
    engine.check()
    if not engine.has_image(image):
        say(f"pulling {image}")
        engine.pull(image, progress=None if quiet else progress(False))
    digest = image_digest(engine, image)
    slos = (spec.slos.latency_p95_ms, spec.slos.error_rate) if spec.slos else (None, None)
    report = run_smoke(
        engine, image, digest, bodies, outputs, slos=slos, health_timeout=timeout, say=say
    )
    if digest == serving.get("digest"):
        record.merge(root, {"smoke": report.as_evidence()})
        say(f"recorded in {record.EVIDENCE_FILE}")
    try:  # the gate reads the smoke test from MLflow; the evidence file is no proof
        run_id = log_run(report, spec.platform.mlflow.tracking_uri, root, spec.project.name)
        say(f"logged to MLflow as run {run_id[:8]}")
    except ImageError as err:
        say(str(err))
    return report


COMMANDS = (build, train, smoke)
