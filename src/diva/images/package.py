"""``diva build package``: the model-as-dependency wheel of a registered model version.

The package in ``deploy/package/`` is compiled by :mod:`diva.compiler.backends.package`; the model
files are not: this module fetches the chosen MLflow model version into the package's
``model/`` folder (git-ignored) and builds the wheel with ``pip wheel --no-deps``.

The wheel's version is the model version it bundles. That is the release the compiled
``pyproject.toml`` names, unless ``--model-version`` or ``--alias`` chose another one:
then the wheel is built from a staged copy whose version line says so, and the compiled
files stay as they are.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from diva.compiler.backends import package
from diva.compiler.ir import Project
from diva.compiler.pipeline import load_project
from diva.contract import PACKAGE_DIR
from diva.errors import UnavailableError, UsageError
from diva.images.build import fetch_model
from diva.images.engine import Progress, stream

#: How long a wheel build may take: pip installs hatchling into an isolated build env.
TIMEOUT = 600
_TAIL = 12  # lines of pip's output an error message quotes


class PackageError(UnavailableError):
    """The wheel could not be built (pip failed, or is missing)."""


@dataclass(frozen=True)
class BuiltPackage:
    wheel: Path
    #: The registered model version the wheel bundles (and its version).
    model_version: str


def build_package(
    root: Path,
    spec_name: str,
    *,
    model_version: str | None = None,
    alias: str | None = None,
    out: Path | None = None,
    progress: Progress = None,
    say: Callable[[str], None] = print,
) -> BuiltPackage:
    """Fetch the model version into the compiled package and build its wheel into
    ``out`` (default ``deploy/package/dist``); the wheel and the version."""
    check_options(model_version, alias)
    _, project = load_project(root, spec_name)
    compiled = _compiled(root, project)
    declared = _declared(project)
    wanted = model_version or (None if alias or declared == 0 else str(declared))
    fetched = fetch_model(root, project, wanted, alias, say, target_dir=package.model_dir(project))
    version = str(int(fetched))
    target = (out or root / package.DIST_DIR).resolve()
    say(f"building the wheel of {package.distribution_name(project)} {version}")
    with tempfile.TemporaryDirectory(prefix="diva-package-") as temp:
        staged = _staged(compiled, Path(temp) / "package", declared, version)
        wheel = _wheel(staged, target, project, version, progress)
    return BuiltPackage(wheel, version)


def check_options(model_version: str | None, alias: str | None) -> None:
    if model_version and alias:
        raise UsageError("--model-version and --alias exclude each other")
    if model_version is not None and not (model_version.isascii() and model_version.isdigit()):
        raise UsageError(f"--model-version must be a version number, not {model_version!r}")


def _declared(project: Project) -> int:
    release = package.released(project)
    return release[1] if release else 0


def _compiled(root: Path, project: Project) -> Path:
    """The compiled package folder, refused when the stage or pattern has none or when
    its files are not what the spec compiles to."""
    wanted = {artifact.path: artifact.text for artifact in package.emit(project)}
    if not wanted:
        pattern = project.serving.pattern if project.serving else "none"
        raise UsageError(
            "no Python package of the model: it comes with serving.pattern "
            f"model-as-dependency from stage 4 ({project.spec_file} has stage "
            f"{project.stage}, pattern {pattern})"
        )
    for relative, text in wanted.items():
        path = root / relative
        if not path.is_file():
            raise UsageError(f"{relative} does not exist: run `diva compile`")
        if path.read_text(encoding="utf-8") != text:
            raise UsageError(
                f"{relative} is not what {project.spec_file} compiles to: run `diva compile` "
                "(or `diva compile --diff` to see why)"
            )
    return root / PACKAGE_DIR


def _staged(compiled: Path, staged: Path, declared: int, version: str) -> Path:
    """A copy of the package (model included, earlier wheels not) whose pyproject
    names ``version``."""
    shutil.copytree(compiled, staged, ignore=shutil.ignore_patterns("dist", "build"))
    pyproject = staged / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    old, new = package.version_line(declared), package.version_line(version)
    if text.count(f"\n{old}\n") != 1:  # _compiled checked the file: a bug if not
        raise RuntimeError(f"no single {old!r} line in {pyproject}")
    pyproject.write_text(text.replace(f"\n{old}\n", f"\n{new}\n"), encoding="utf-8")
    return staged


def _wheel(staged: Path, target: Path, project: Project, version: str, progress: Progress) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(target)]
    code, tail = _run([*command, str(staged)], progress)
    if code != 0:
        lines = "\n".join(f"  | {line}" for line in tail[-_TAIL:])
        raise PackageError(f"`pip wheel` failed (exit {code}):\n{lines}")
    name = package.module_name(project)
    wheel = target / f"{name}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        raise PackageError(f"`pip wheel` succeeded but wrote no {wheel.name} into {target}")
    return wheel


def _run(command: Sequence[str], progress: Progress) -> tuple[int, list[str]]:
    try:
        return stream(command, progress, TIMEOUT)
    except OSError as err:
        raise PackageError(f"cannot run pip: {err}") from err
