"""New projects from the cookiecutter template: ``diva new`` and the template's hooks.

The template (``templates/diva-project`` in the repository, ``diva/templates`` in the
wheel) works with plain ``cookiecutter`` too; its hooks call :func:`check_answers`
before anything is rendered and :func:`finish` afterwards (git, DVC, schema, compile).
``diva new`` renders into a hidden folder next to the destination and moves the result
into place only when everything succeeded, so that a failure leaves nothing behind.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from diva import __version__
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.spec import types
from diva.compiler.spec.schema import render_schema
from diva.compiler.validate import load_spec
from diva.compiler.writer import apply, write_text_atomic
from diva.errors import DivaError, UsageError

TEMPLATE = "diva-project"
#: Answers that must be one line of printable text.
_TEXT_ANSWERS = ("project_title", "description")
_ROLE_ANSWERS = (
    "modelers",
    "data_curators",
    "quality_managers",
    "model_engineers",
    "app_developers",
    "ide_developers",
)
_CHOICES = {
    "framework": ("sklearn",),
    "task": ("regression", "classification"),
    "serving_pattern": (
        "model-as-service",
        "precompute",
        "model-on-demand",
        "model-as-dependency",
    ),
}
_JINJA = re.compile(r"\{[{%#]")
_PYTHON_MODULE = re.compile(r"[a-z_][a-z0-9_]{0,63}")


class AnswersRefused(DivaError):  # noqa: N818 - reads as what happened
    """Template answers that would not make a valid project; nothing was created."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"invalid answers, nothing was created:\n{lines}")


def template_dir() -> Path:
    """The template folder: shipped inside the package, or the repository's checkout."""
    package = Path(str(resources.files("diva")))  # a folder: diva is never imported from a zip
    packaged = package / "templates" / TEMPLATE
    if packaged.is_dir():
        return packaged
    return package.resolve().parent.parent / "templates" / TEMPLATE  # src/diva -> the checkout


def check_answers(answers: Mapping[str, Any]) -> list[str]:
    """Every problem of the template answers, as ``name: problem`` lines."""
    problems = [_check(name, str(answers.get(name, "")), rule) for name, rule in _RULES]
    problems += [
        f"{name}: must not contain '{{{{', '{{%' or '{{#' (cookiecutter would render it)"
        for name, value in answers.items()
        if not name.startswith("_") and _JINJA.search(str(value))
    ]
    for name in _ROLE_ANSWERS:
        problems.extend(_check_handles(name, str(answers.get(name, ""))))
    for name, allowed in _CHOICES.items():
        if answers.get(name) not in allowed:
            problems.append(f"{name}: {answers.get(name)!r} is not one of {', '.join(allowed)}")
    return [problem for problem in problems if problem]


def _check(name: str, value: str, rule: tuple[str, str]) -> str:
    pattern, message = rule
    return "" if re.fullmatch(pattern, value) else f"{name}: {value!r} {message}"


def _check_handles(name: str, value: str) -> list[str]:
    handles = [handle.strip() for handle in value.split(",") if handle.strip()]
    if not handles:
        return [f"{name}: give at least one GitHub handle ('@user' or '@org/team')"]
    return [
        f"{name}: {handle!r} must be a GitHub handle: '@user' or '@org/team'"
        for handle in handles
        if not re.fullmatch(types.HANDLE, handle)
    ]


_RULES: tuple[tuple[str, tuple[str, str]], ...] = (
    (
        "project_name",
        (
            types.DNS_LABEL,
            "must be lowercase letters, digits and '-', start with a letter, not end "
            "with '-', at most 63 characters (it names images, Kubernetes objects and "
            "the MLflow experiment)",
        ),
    ),
    ("module_name", (_PYTHON_MODULE.pattern, "must be a Python package name: a-z, 0-9, '_'")),
    ("python_version", (types.PYTHON_VERSION, "must be a Python version like '3.11'")),
    *((name, (types.LINE, "must be one line of text")) for name in _TEXT_ANSWERS),
)


# --- after rendering: the template's post-generation hook ------------------------------

Echo = Callable[[str], None]


def finish(root: Path, echo: Echo = print) -> None:
    """Make the rendered project work: git and DVC repositories, the spec's JSON Schema
    for editors, and the compiled files of stage 0 (``.dvc/config`` with the spec's DVC
    remote among them)."""

    spec = load_spec(root / "diva.yaml")
    if _run(root, echo, "git", "init", "-q", "-b", "main"):
        echo("initialized a git repository (branch main)")
    remote = spec.platform.dvc.remote
    if _run(root, echo, sys.executable, "-m", "dvc", "init", "-q"):
        echo("initialized DVC")
    write_text_atomic(root / "diva.schema.json", render_schema())
    apply(plan_job(Job(root / "diva.yaml", root)))
    echo(
        "compiled diva.yaml (stage 0): .github/, generated/, .dvc/config "
        f"(DVC remote {remote.name!r} at {remote.url})"
    )


def _run(root: Path, echo: Echo, *command: str) -> bool:
    """Run a setup command; a missing tool is a warning, not a failed scaffold."""
    if command[0] != sys.executable and shutil.which(command[0]) is None:
        echo(f"warning: {command[0]} is not installed; skipped `{' '.join(command)}`")
        return False
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode:
        problem = (result.stderr or result.stdout).strip().splitlines()
        echo(f"warning: `{' '.join(command[-3:])}` failed: {problem[-1] if problem else '?'}")
        return False
    return True


# --- diva new ----------------------------------------------------------------------------


def new_project(
    destination: Path | None,
    answers: Mapping[str, str],
    *,
    no_input: bool,
) -> Path:
    """Render the template into ``destination`` (default: ./PROJECT_NAME); returns it.

    Raises :class:`AnswersRefused` for invalid answers and :class:`UsageError` when the
    destination is taken; in both cases nothing is created.
    """
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    context = {"_diva_version": __version__, **answers}
    if destination is not None:
        _require_free(destination)
        context.setdefault("project_name", destination.name)
    if no_input and (problems := check_answers(_with_defaults(context))):
        raise AnswersRefused(problems)
    parent = (destination.parent if destination else Path.cwd()).resolve()
    if not parent.is_dir():
        raise UsageError(f"{parent}: no such directory")
    staging = Path(tempfile.mkdtemp(prefix=".diva-new-", dir=parent))
    try:
        rendered = Path(
            cookiecutter(
                str(template_dir()),
                no_input=no_input,
                extra_context=context,
                output_dir=str(staging),
            )
        )
        target = destination.resolve() if destination else parent / rendered.name
        _require_free(target)
        if target.exists():
            target.rmdir()  # empty (checked): replaced by the rendered project
        rendered.rename(target)
    except FailedHookException as err:
        raise DivaError(f"the template's hook failed ({err}); nothing was created") from err
    except CookiecutterException as err:
        raise DivaError(f"cookiecutter: {err}; nothing was created") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _with_defaults(context: Mapping[str, str]) -> dict[str, str]:
    """The answers ``--no-input`` renders with: the given ones over the template's."""
    import json

    defaults = json.loads((template_dir() / "cookiecutter.json").read_text("utf-8"))
    merged = {
        key: value[0] if isinstance(value, list) else value
        for key, value in defaults.items()
        if not key.startswith("_")
    }
    merged.update(context)
    if "module_name" not in context:
        merged["module_name"] = str(merged["project_name"]).replace("-", "_")
    return merged


def _require_free(path: Path) -> None:
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        raise UsageError(f"{path}: already exists and is not empty; nothing was created")
