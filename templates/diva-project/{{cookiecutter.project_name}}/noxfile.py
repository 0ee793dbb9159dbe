"""Sessions of {{ cookiecutter.project_name }}: `nox -s tests`, `nox -s pipeline`, `nox -s lint`.

Each session installs requirements.txt and diva into its own virtualenv. Set
DIVA_REQUIREMENT to install diva from elsewhere (a path, a wheel or a git URL).
"""

from __future__ import annotations

import os

import nox

DIVA = os.environ.get("DIVA_REQUIREMENT", "diva-lifecycle[pipeline]=={{ cookiecutter._diva_version }}")
nox.options.sessions = ["lint", "tests"]


def _install(session: nox.Session, *extra: str) -> None:
    session.install("-r", "requirements.txt", DIVA, *extra)


@nox.session
def tests(session: nox.Session) -> None:
    """The unit tests of the modeling code and the spec's validity."""
    _install(session, "pytest")
    session.run("pytest", *session.posargs)


@nox.session
def pipeline(session: nox.Session) -> None:
    """Compile diva.yaml and run the DVC pipeline (MLflow runs land in .diva/)."""
    _install(session)
    session.run("diva", "compile")
    session.run("dvc", "repro", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the code, and diva's own checks of the spec."""
    session.install("ruff", DIVA)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("diva", "validate")
    session.run("diva", "compile", "--check")
