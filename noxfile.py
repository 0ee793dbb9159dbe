"""Developer and CI sessions: `nox -s lint tests schema bench`."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "schema", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
#: checkov's pins conflict with the test extra's: it lives in a venv of its own, kept
#: across runs like the sessions' venvs
CHECKOV_VENV = Path(__file__).resolve().parent / ".nox" / "_tools" / "checkov"


MONITOR_TYPES = ("numpy", "matplotlib", "pandas-stubs", "scipy-stubs")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, mypy --strict, and the import contract (lint-imports)."""
    # the consumer extra: mypy checks diva.runtime.consumer.redis_streams against the redis
    # client's types;
    # diva.monitor against numpy's, matplotlib's and the pandas and scipy stubs
    # (mlflow and scikit-learn ship no types: ignored in pyproject.toml)
    session.install("-e", ".[consumer]", "ruff", "mypy", "import-linter>=2.1", *MONITOR_TYPES)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    # the layered layout of docs/contributing/architecture.md ([tool.importlinter])
    session.run("lint-imports")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (pass extra pytest arguments after `--`)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs, env={"DIVA_CHECKOV": str(checkov(session))})


def checkov(session: nox.Session) -> Path:
    """The checkov of tests/lint/test_dockerfiles.py, installed on first use."""
    executable = CHECKOV_VENV / "bin" / "checkov"
    if not executable.exists():
        session.run_install("python", "-m", "venv", str(CHECKOV_VENV))
        pip = str(CHECKOV_VENV / "bin" / "pip")
        session.run_install(pip, "install", "checkov", external=True)
    return executable


@nox.session(python=PYTHON)
def schema(session: nox.Session) -> None:
    """Fail when derived files drift: specs/diva.schema.json and generated/<example>/."""
    session.install("-e", ".")
    session.run("diva", "schema", "--check")
    examples = sorted(str(path) for path in Path("specs/examples").iterdir() if path.is_dir())
    session.run("diva", "compile", "--check", "--out", "generated", *examples)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against peers, printed as tables: cold start, compile, gate, DVC layout,
    history.

    About 10 minutes on 2 cores; docs/contributing/performance.md has the numbers and how
    to read them.
    Nothing is asserted: the tables are for people.
    """
    session.install("-e", ".", "cookiecutter", "copier", "dvc")
    session.run("python", "bench/cold_start.py")
    session.run("python", "bench/compile.py")
    session.run("python", "bench/gate.py")
    session.run("python", "bench/dvc_layout.py")
    session.run("python", "bench/history.py")


@nox.session(python=PYTHON)
def bench_images(session: nox.Session) -> None:
    """Build time and size of the template project's training and serving images.

    `diva quickstart`, then `diva build train` and `diva build serve` with --no-cache and
    `diva smoke` on the real Docker engine (the stand-in base from `.ci/docker-setup`);
    about 10-20 minutes on 2 cores, mostly pip downloading into the images. Arguments go
    to bench/images.py (`--keep DIR` keeps the project).
    """
    session.install("-e", ".[quickstart]")
    session.run("python", "bench/images.py", *session.posargs)


@nox.session(python=PYTHON)
def bench_workflows(session: nox.Session) -> None:
    """The generated workflows under act, step by step, and `diva gate` in CI mode.

    Runs the act tests with their step times recorded (Docker engine, runner image, act,
    PostgreSQL and the WebDAV server as in CI: `.ci/docker-setup`); about 25-30 minutes
    on 2 cores. Arguments go to bench/workflows.py (`--from FILE` reprints a run).
    """
    session.install("-e", ".[test]")
    session.run(
        "python",
        "bench/workflows.py",
        *session.posargs,
        env={"DIVA_CHECKOV": str(checkov(session))},
    )
