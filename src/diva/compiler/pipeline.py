"""``diva compile``: spec -> normalized project -> backends -> writer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from diva import __version__
from diva.compiler.backends import emit_all
from diva.compiler.ir import Project, build
from diva.compiler.render import Artifact
from diva.compiler.source import read_spec
from diva.compiler.spec.model import Spec
from diva.compiler.validate import check_files, validate_document
from diva.compiler.writer import Plan, plan
from diva.errors import UsageError


def load_project(root: Path, spec_file: str) -> tuple[Spec, Project]:
    """The validated spec ``root/spec_file`` and its normalized project (SpecError when
    invalid, UsageError when unreadable): the one way commands load a project."""
    document = read_spec(root / spec_file)
    spec = validate_document(document)
    return spec, build(spec, document.raw, spec_file)


@dataclass(frozen=True)
class Job:
    """One spec and the folder its files are generated into."""

    spec: Path
    out: Path


def jobs_for(specs: list[Path], out: Path | None) -> list[Job]:
    """Each spec compiles next to itself, or into ``out`` (``out/<name>`` for several)."""
    if out is None:
        return [Job(spec, spec.parent) for spec in specs]
    if len(specs) == 1:
        return [Job(specs[0], out)]
    jobs = [Job(spec, out / spec.parent.resolve().name) for spec in specs]
    folders = [job.out for job in jobs]
    clashes = sorted({str(folder) for folder in folders if folders.count(folder) > 1})
    if clashes:
        raise UsageError(
            f"several specs would compile into {', '.join(clashes)}: their folders share a "
            "name; compile them one at a time with --out"
        )
    return jobs


@dataclass(frozen=True)
class Output:
    """What a spec compiles to: the files, and the lock's facts about the spec."""

    artifacts: list[Artifact]
    meta: dict[str, object]


def render_job(job: Job, *, check_lock: bool = False) -> Output:
    """Validate the spec and render its files; raises SpecError when it is invalid, and
    with ``check_lock`` (``diva compile``) when the hash lock it names does not fit.

    Reads the spec (and that lock) only, so it runs before the output folder is locked.
    The gate's drift check leaves the lock alone: the head's copy is data, never read as
    the project's policy."""
    document = read_spec(job.spec)
    spec = validate_document(document)
    if check_lock:
        check_files(spec, document, job.spec.parent)
    source = Path(os.path.relpath(job.spec.resolve(), job.out.resolve())).as_posix()
    project = build(spec, document.raw, source)
    meta: dict[str, object] = {
        "diva_version": __version__,
        "spec": {"path": source, "sha256": project.spec_sha256},
    }
    return Output(emit_all(project), meta)


def plan_output(job: Job, output: Output) -> Plan:
    """Compare ``output`` with the files under ``job.out``; touches nothing."""
    return plan(job.out, output.artifacts, output.meta)


def plan_job(job: Job) -> Plan:
    """Validate the spec and plan its outputs; raises SpecError when it is invalid."""
    return plan_output(job, render_job(job))
