"""Generated Dockerfiles pass hadolint and checkov; the .dockerignore lets in only what
the images copy.

The files linted are the committed ones: every example's under ``generated/`` and every
golden case's ``expected/`` tree (``nox -s schema`` and tests/golden/ keep them equal to
what the compiler writes). Both linters run without any configuration of this machine or
repository (no config file, no ``HADOLINT_*``/``CKV_*`` variables, no ignore pragmas) and
must report nothing. checkov lives in a venv of its own (``DIVA_CHECKOV``, set by
``nox -s tests``) because its pins conflict with the test extra's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from diva.compiler.ir import build
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from tests.support.linters import checkov, run, tool
from tests.support.paths import EXAMPLES, ROOT

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*/diva.yaml"))
#: case name -> (its spec, the folder compiled from it)
CASES = {
    f"example-{spec.parent.name}": (spec, ROOT / "generated" / spec.parent.name)
    for spec in EXAMPLES
} | {f"golden-{spec.parent.name}": (spec, spec.parent / "expected") for spec in GOLDEN}
DOCKERFILES = sorted(
    path for _, folder in CASES.values() for path in (folder / "docker").glob("*.Dockerfile")
)
#: each image and the stage it is generated from
FIRST_STAGE = {"train": 3, "serve": 4}
#: what the images COPY, and so all that the build context needs
CONTEXT = {"requirements.txt": 3, ".diva/serve/model/": 4, ".diva/serve/requirements.txt": 4}
#: the labels every image carries (hadolint checks their presence)
REQUIRED_LABELS = ("org.opencontainers.image.title", "org.opencontainers.image.description")
#: a Dockerfile both linters must object to: root user, unpinned apt packages
PLANTED_FLAWS = {"USER 10001:10001\n": "", "HEALTHCHECK NONE": "RUN apt-get install curl"}


def stage_of(spec: Path) -> int:
    raw = spec.read_bytes()
    return build(validate_document(load_bytes(raw)), raw).stage


def name_of(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def on_demand(directory: Path) -> Path:
    """The serving Dockerfile of the model-on-demand pattern, which no example or golden
    case has: it installs diva's broker consumer too."""
    from diva.compiler.backends import docker
    from tests.support.backends import pattern_data, project_of

    (text,) = [
        artifact.text
        for artifact in docker.emit(project_of(pattern_data("on-demand")))
        if artifact.path == docker.SERVE_DOCKERFILE
    ]
    assert "diva-lifecycle[consumer]" in text
    path = directory / "on-demand.Dockerfile"
    path.write_text(text)
    return path


def planted(directory: Path) -> Path:
    """The demand-forecast training Dockerfile with ``PLANTED_FLAWS``."""
    text = (ROOT / "generated" / "demand-forecast" / "docker" / "train.Dockerfile").read_text()
    for old, new in PLANTED_FLAWS.items():
        assert old in text
        text = text.replace(old, new)
    path = directory / "planted.Dockerfile"
    path.write_text(text)
    return path


# --- the files linted ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_has_the_dockerfiles_of_its_stage(case: str) -> None:
    spec, folder = CASES[case]
    expected = {kind for kind, first in FIRST_STAGE.items() if stage_of(spec) >= first}
    found = {path.name.removesuffix(".Dockerfile") for path in (folder / "docker").glob("*")}
    assert found == expected


def test_every_kind_of_dockerfile_is_linted() -> None:
    """The linter tests cannot pass by finding nothing to lint."""
    kinds = [path.name.removesuffix(".Dockerfile") for path in DOCKERFILES]
    assert set(kinds) == set(FIRST_STAGE)
    assert any(name_of(path).startswith("generated/") for path in DOCKERFILES)
    assert any(name_of(path).startswith("tests/golden/") for path in DOCKERFILES)


# --- hadolint ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hadolint_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration that ignores nothing (hadolint refuses an empty file)."""
    path = tmp_path_factory.mktemp("hadolint") / "hadolint.yaml"
    path.write_text("ignored: []\n")
    return path


def hadolint(path: Path, config: Path) -> list[dict[str, Any]]:
    command = [tool("hadolint"), "--config", str(config), "--disable-ignore-pragma"]
    command += ["--no-color", "--format", "json", "--failure-threshold", "style"]
    for label in REQUIRED_LABELS:
        command += ["--require-label", f"{label}:text"]
    findings: list[dict[str, Any]] = json.loads(run(*command, str(path), unset=("HADOLINT_",)))
    return findings


@pytest.mark.parametrize("path", DOCKERFILES, ids=name_of)
def test_hadolint_finds_nothing(path: Path, hadolint_config: Path) -> None:
    assert hadolint(path, hadolint_config) == []


def test_hadolint_finds_nothing_in_the_on_demand_image(
    hadolint_config: Path, tmp_path: Path
) -> None:
    assert hadolint(on_demand(tmp_path), hadolint_config) == []


def test_hadolint_does_catch_planted_flaws(hadolint_config: Path, tmp_path: Path) -> None:
    """The zero-findings test means something: unpinned apt packages are found."""
    codes = {finding["code"] for finding in hadolint(planted(tmp_path), hadolint_config)}
    assert "DL3008" in codes


# --- checkov -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckovReport:
    summary: dict[str, Any]
    #: the IDs of the failed checks, by file path
    failed: dict[str, list[str]]
    planted: Path
    on_demand: Path


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> CheckovReport:
    """One checkov run (~4 s) over every Dockerfile, the on-demand one and a planted one."""
    work = tmp_path_factory.mktemp("checkov")  # the working directory has no .checkov.yaml
    flawed, consumer = planted(work), on_demand(work)
    command = [checkov(), "--skip-download", "--quiet", "--compact", "--framework", "dockerfile"]
    for path in [*DOCKERFILES, flawed, consumer]:
        command += ["--file", str(path)]
    output = run(*command, "--output", "json", unset=("CKV_", "BC_"), cwd=work)
    report = json.loads(output)
    failed: dict[str, list[str]] = {}
    for check in report["results"]["failed_checks"]:
        failed.setdefault(check["file_path"], []).append(check["check_id"])
    return CheckovReport(report["summary"], failed, flawed, consumer)


def test_checkov_parses_every_dockerfile(checkov_report: CheckovReport) -> None:
    assert checkov_report.summary["parsing_errors"] == 0
    assert checkov_report.summary["resource_count"] == len(DOCKERFILES) + 2


def test_checkov_fails_no_check_of_the_on_demand_image(checkov_report: CheckovReport) -> None:
    assert checkov_report.failed.get(str(checkov_report.on_demand), []) == []


@pytest.mark.parametrize("path", DOCKERFILES, ids=name_of)
def test_checkov_fails_no_check(path: Path, checkov_report: CheckovReport) -> None:
    assert checkov_report.failed.get(str(path), []) == []


def test_checkov_does_catch_planted_flaws(checkov_report: CheckovReport) -> None:
    """The zero-failures test means something: an image without a USER is found, under
    the path the other tests look up."""
    assert "CKV_DOCKER_3" in checkov_report.failed[str(checkov_report.planted)]


# --- .dockerignore -------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_dockerignore_excludes_all_but_what_the_images_copy(case: str) -> None:
    spec, folder = CASES[case]
    stage = stage_of(spec)
    path = folder / ".dockerignore"
    if stage < min(FIRST_STAGE.values()):
        assert not path.exists()
        return
    rules = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    assert rules == ["*", *(f"!{name}" for name, first in CONTEXT.items() if stage >= first)]
