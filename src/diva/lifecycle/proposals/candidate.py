"""The stage-4 ``candidate`` alias, set by ``diva release candidate`` (docs/release.md).

The checkpoint ``model.candidate`` wants the alias on the model version registered by
the best run in the standardized image on the large dataset (:func:`runs_on`,
:func:`best_run`: fewest missed large-scale targets, then the first target's value).
:func:`candidate` finds that version (or takes the one named), says why, and points
the alias at it. Nothing moves when no run qualifies, nor in a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diva.compiler.ir import Project, Target
from diva.compiler.pipeline import load_project
from diva.errors import UsageError
from diva.lifecycle.checkpoints import best_run, missed_targets, runs_on
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.mlflow import Run
from diva.lifecycle.proposals.aliases import Registry, ReleaseUnavailable
from diva.lifecycle.releases import ReleaseError

ALIAS = "candidate"


class CandidateError(ReleaseError):
    """No run qualifies as the candidate, or the version named does not exist."""


@dataclass(frozen=True)
class Choice:
    """The version to carry ``candidate``: ``run`` and ``targets`` say why (``run`` is
    None for a version named by hand); ``before`` is where the alias is now;
    ``expected`` the version the gate expects, when it differs from ``version``."""

    model: str
    version: str
    before: str | None
    run: Run | None
    targets: tuple[Target, ...]
    expected: str | None = None

    def judged(self) -> list[str]:
        """One line per target: the run's value against the threshold, met or missed."""
        assert self.run is not None
        return [_judged(self.run, target) for target in self.targets]


def _judged(run: Run, target: Target) -> str:
    value = run.metrics.get(target.metric)
    sign = "<=" if target.goal == "minimize" else ">="
    verdict = "missed" if missed_targets(run, [target]) else "met"
    return f"{target.metric} = {value} (target {sign} {target.threshold}): {verdict}"


def candidate(
    root: Path, spec_file: str, version: int | None = None, *, dry_run: bool = False
) -> Choice:
    """Point ``candidate`` at ``version`` once MLflow confirms it exists, else at the
    version the best qualifying run registered; with ``dry_run`` only say which. Raises
    :class:`CandidateError` saying why none qualifies (nothing moved),
    :class:`ReleaseUnavailable` when MLflow cannot be read."""
    _, project = load_project(root, spec_file)
    if project.model is None:
        raise UsageError("the spec has no model section: there is no registered model")
    try:
        registry = Registry(root, project.mlflow.tracking_uri)
        choice = _choose(registry, project, root, version)
        if not dry_run and choice.before != choice.version:
            registry.set_alias(choice.model, ALIAS, choice.version)
    except UnreachableError as err:
        raise ReleaseUnavailable(str(err)) from err
    return choice


def _choose(registry: Registry, project: Project, root: Path, version: int | None) -> Choice:
    assert project.model is not None
    model = project.model.registered_name
    targets = tuple(t for t in project.targets if t.scale == "large")
    before = registry.alias(model, ALIAS)
    if version is not None:
        if registry.run_of_version(model, str(version)) is None:
            raise CandidateError(f"model {model} has no version {version} in MLflow")
        expected = _expected(registry, project, root, targets)
        shown = expected if expected != str(version) else None
        return Choice(model, str(version), before, None, targets, shown)
    run = _qualifying(registry, project, root, targets)
    registered = registry.version_of_run(model, run.run_id)
    if registered is None:
        raise CandidateError(
            f"the best run {run.run_id} registered no version of model {model}: "
            "register its model (log_model with registered_model_name)"
        )
    return Choice(model, registered, before, run, targets)


def _qualifying(
    registry: Registry, project: Project, root: Path, targets: tuple[Target, ...]
) -> Run:
    """The best in-image run on the large dataset, when it meets every target."""
    large = [d.name for d in project.datasets if d.scale == "large"]
    if not large:
        raise CandidateError("the spec declares no large dataset (datasets.*.scale: large)")
    runs = runs_on(project, root, registry, "large")
    if not runs:
        others = len(runs_on(project, root, registry, "large", standardized=False))
        where = f"the large dataset ({', '.join(large)}) as DVC tracks it now"
        if others:
            raise CandidateError(
                f"no run in the standardized image on {where}: {others} run(s) on it lack "
                "the tag diva.image.digest (make them with `diva train`)"
            )
        raise CandidateError(f"no run of project {project.name} on {where}")
    best = best_run(runs, targets)
    assert best is not None
    missed = missed_targets(best, targets)
    if missed:
        raise CandidateError(
            f"no run in the standardized image meets every large-scale target "
            f"({len(runs)} judged); the best, {best.run_id}, misses {', '.join(missed)}"
        )
    return best


def _expected(
    registry: Registry, project: Project, root: Path, targets: tuple[Target, ...]
) -> str | None:
    """The version the gate's ``model.candidate`` expects, if any run gives one."""
    assert project.model is not None
    best = best_run(runs_on(project, root, registry, "large"), targets)
    if best is None:
        return None
    return registry.version_of_run(project.model.registered_name, best.run_id)
