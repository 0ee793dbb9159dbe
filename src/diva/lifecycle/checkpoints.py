"""How each DIVA entry criterion is judged: :data:`diva.stages.CRITERIA` with evaluators.

Each :class:`Checkpoint` is a criterion (the stage it guards, the methodology's wording,
the evidence it needs) and a small evaluator returning a :class:`Verdict`. Evaluators never
guess: a source that cannot be read gives ``unreachable``, and evidence that only the
author's evidence file holds gives ``unverified``; both fail the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from diva.compiler.ir import Dataset, Project, Target
from diva.lifecycle import image_checks
from diva.lifecycle.context import Context, RunSource, Status, Verdict
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence import dvc as dvc_evidence
from diva.lifecycle.evidence.mlflow import Run
from diva.lifecycle.evidence.record import recorded_serving
from diva.lifecycle.releases import alias_for, production
from diva.stages import CRITERIA, DEFAULT_MIN_RUNS
from diva.stages import stage as stage_of

__all__ = [
    "CHECKPOINTS",
    "Checkpoint",
    "Context",
    "RunSource",
    "Status",
    "Verdict",
    "best_run",
    "for_stage",
    "missed_targets",
    "runs_on",
]

Evaluate = Callable[[Context], Verdict]


@dataclass(frozen=True)
class Checkpoint:
    id: str
    stage: int
    wording: str
    evidence: tuple[str, ...]
    evaluate: Evaluate


def _ok(condition: bool, passed: str, failed: str) -> Verdict:
    return Verdict("pass", passed) if condition else Verdict("fail", failed)


# --- stage 1: the idea ---------------------------------------------------------


def _problem(ctx: Context) -> Verdict:
    return _ok(bool(ctx.spec.idea.problem), "stated", "idea.problem is empty")


def _effect(ctx: Context) -> Verdict:
    return _ok(bool(ctx.spec.idea.expected_effect), "stated", "idea.expected_effect is empty")


def _value(ctx: Context) -> Verdict:
    value = ctx.spec.idea.value
    missing = [side for side in ("researchers", "users") if not (value and getattr(value, side))]
    return _ok(not missing, "stated for both", f"idea.value.{' and '.join(missing)} missing")


def _data_types(ctx: Context) -> Verdict:
    idea = ctx.spec.idea
    missing = [kind for kind in ("inputs", "outputs") if not getattr(idea, kind)]
    found = f"{len(idea.inputs)} inputs, {len(idea.outputs)} outputs"
    return _ok(not missing, found, f"no idea.{' or idea.'.join(missing)} declared")


# --- stage 2: the plan ---------------------------------------------------------


def _summary(ctx: Context) -> Verdict:
    return _ok(bool(ctx.spec.plan.summary), "stated", "plan.summary is empty")


def _references(ctx: Context) -> Verdict:
    plan = ctx.spec.plan
    count = len(plan.references) + len(plan.techniques)
    return _ok(count > 0, f"{count} listed", "no plan.references or plan.techniques")


def _pinned(ctx: Context) -> Verdict:
    loose = [
        name
        for name, dataset in sorted(ctx.spec.datasets.items())
        if dataset.existing is not None and not dataset.existing.version
    ]
    return _ok(not loose, "every existing dataset pins a version", f"no version: {loose}")


# --- stages 3 and 4: data, runs, targets, models -------------------------------


def _datasets(ctx: Context, scale: str) -> list[Dataset]:
    return [d for d in ctx.project.datasets if d.scale == scale]


def _registered(scale: str) -> Evaluate:
    def evaluate(ctx: Context) -> Verdict:
        root = ctx.root
        locked = dvc_evidence.lock_hashes(root)
        problems = []
        for dataset in _datasets(ctx, scale):
            tracked = dvc_evidence.tracked_hash(root, dataset.path)
            if tracked is None:
                problems.append(f"{dataset.name}: not tracked (no {dataset.path}.dvc)")
            elif locked.get(dataset.path) != tracked:
                problems.append(f"{dataset.name}: not in dvc.lock with hash {tracked}")
            elif ctx.data is not None:  # the remote cannot be asked: say why
                return Verdict(ctx.data.status, f"{dataset.name}: {ctx.data.detail}")
            else:
                ctx.notify(f"asking the DVC remote whether dataset {dataset.name} is pushed")
                try:
                    if dvc_evidence.pushed(root, dataset.path):
                        return Verdict("pass", f"{dataset.name} tracked, locked and pushed")
                    problems.append(f"{dataset.name}: not pushed to the DVC remote")
                except UnreachableError as err:
                    return Verdict("unreachable", f"{dataset.name}: {err}")
        return Verdict("fail", "; ".join(problems) or f"no {scale} dataset")

    return evaluate


def runs_on(
    project: Project, root: Path, source: RunSource, scale: str, *, standardized: bool = True
) -> list[Run]:
    """The project's runs on its ``scale`` dataset as DVC tracks it now; at the large
    scale only those made in the standardized image (tag ``diva.image.digest``), the
    runs stage 4 counts, judges against the targets and takes the candidate from —
    unless ``standardized`` is false."""
    hashes = {
        found
        for dataset in project.datasets
        if dataset.scale == scale
        and (found := dvc_evidence.tracked_hash(root, dataset.path)) is not None
    }
    return [
        run
        for run in source.runs(project.name)
        if run.tags.get("diva.dataset.scale") == scale
        and run.tags.get("diva.dataset.hash") in hashes
        and (scale != "large" or not standardized or run.tags.get("diva.image.digest"))
    ]


def _runs_on(ctx: Context, scale: str) -> list[Run]:
    assert ctx.runs is not None
    return runs_on(ctx.project, ctx.root, ctx.runs, scale)


def _needs_runs(evaluate: Evaluate) -> Evaluate:
    def guarded(ctx: Context) -> Verdict:
        if ctx.runs is None:
            return Verdict(ctx.runs_status, ctx.runs_problem or "no MLflow evidence")
        try:
            return evaluate(ctx)
        except UnreachableError as err:
            return Verdict("unreachable", str(err))

    return guarded


def _has_runs(scale: str, minimum: int) -> Evaluate:
    def evaluate(ctx: Context) -> Verdict:
        runs = _runs_on(ctx, scale)
        where = " in the standardized image" if scale == "large" else ""
        detail = f"{len(runs)} run(s) on the {scale} dataset{where} ({ctx.runs.kind})"  # type: ignore[union-attr]
        return _ok(len(runs) >= minimum, detail, f"{detail}; need {minimum}")

    return _needs_runs(evaluate)


def missed_targets(run: Run, targets: Sequence[Target]) -> list[str]:
    """The targets ``run`` misses, in words."""
    missed = []
    for target in targets:
        value = run.metrics.get(target.metric)
        ok = value is not None and (
            value <= target.threshold if target.goal == "minimize" else value >= target.threshold
        )
        if not ok:
            missed.append(f"{target.metric}={value} vs {target.threshold}")
    return missed


def best_run(runs: list[Run], targets: Sequence[Target]) -> Run | None:
    """The run missing the fewest targets; ties go to the best value of the first
    target's metric, then to the run id (so the choice is deterministic)."""
    if not runs:
        return None

    def first_metric(run: Run) -> float:
        if not targets or targets[0].metric not in run.metrics:
            return float("inf")
        value = run.metrics[targets[0].metric]
        return value if targets[0].goal == "minimize" else -value

    return min(
        runs, key=lambda run: (len(missed_targets(run, targets)), first_metric(run), run.run_id)
    )


def _targets_met(scale: str) -> Evaluate:
    def evaluate(ctx: Context) -> Verdict:
        targets = [t for t in ctx.project.targets if t.scale == scale]
        if not targets:
            return Verdict("pass", f"no {scale}-scale targets declared")
        run = best_run(_runs_on(ctx, scale), targets)
        if run is None:
            where = " in the standardized image" if scale == "large" else ""
            return Verdict("fail", f"no run on the {scale} dataset{where} to judge")
        missed = missed_targets(run, targets)
        return _ok(not missed, f"run {run.run_id[:8]} meets all", f"best run misses {missed}")

    return _needs_runs(evaluate)


#: What the refusal of ``model.candidate`` suggests.
SET_CANDIDATE = "set it with `diva release candidate`"


def _candidate(ctx: Context) -> Verdict:
    assert ctx.runs is not None
    assert ctx.project.model is not None
    targets = [t for t in ctx.project.targets if t.scale == "large"]
    run = best_run(_runs_on(ctx, "large"), targets)
    if run is None:
        return Verdict("fail", "no run on the large dataset in the standardized image")
    name = ctx.project.model.registered_name
    version = ctx.runs.version_of_run(name, run.run_id)
    alias = ctx.runs.alias(name, "candidate")
    detail = f"best run's version {version}, alias candidate -> {alias}"
    if version is None:
        return Verdict("fail", f"{detail}; the best run registered no model version")
    return _ok(alias == version, detail, f"{detail}; {SET_CANDIDATE}")


def budget(stage: int) -> Evaluate:
    """The cycle-budget check of ``stage`` (by its key in ``plan.cycles``)."""
    return _budget(stage, stage_of(stage).key)


def _budget(stage: int, key: str) -> Evaluate:
    def evaluate(ctx: Context) -> Verdict:
        cycles = ctx.spec.plan.cycles
        budget = getattr(cycles, key) if cycles else None
        used = ctx.cycles.get(stage, 0)
        if budget is None:
            return Verdict("pass", f"{used} cycle(s) of stage {stage}, no budget declared")
        detail = f"{used} of {budget} cycle(s) of stage {stage}"
        return _ok(used <= budget, detail, f"{detail} — decide: proceed or stop")

    return evaluate


# --- stage 5 -------------------------------------------------------------------


def _slos(ctx: Context) -> Verdict:
    return _ok(ctx.spec.slos is not None, "declared", "no slos section")


def _champion(ctx: Context) -> Verdict:
    assert ctx.runs is not None
    assert ctx.project.model is not None
    alias = ctx.spec.monitoring.champion if ctx.spec.monitoring else "champion"
    version = ctx.runs.alias(ctx.project.model.registered_name, alias)
    return _ok(version is not None, f"version {version}", f"no version has alias {alias}")


def _released(ctx: Context) -> Verdict:
    """The production release (which its overlay is rendered from, drift checked by the
    gate) pins the recorded serving image and the champion's version."""
    assert ctx.runs is not None
    assert ctx.project.model is not None
    environment = production(ctx.project)
    releases = ctx.project.serving.releases if ctx.project.serving else {}
    release = releases.get(environment)
    if release is None:
        return Verdict("fail", f"no release pinned for {environment} (`diva release pin`)")
    recorded = recorded_serving(ctx.root).get("digest")
    alias = alias_for(ctx.spec, environment)
    champion = ctx.runs.alias(ctx.project.model.registered_name, alias)
    problems = []
    if release.image_digest != recorded:
        problems.append(f"pins image {release.image_digest}, the recorded one is {recorded}")
    if str(release.model_version) != champion:
        problems.append(f"pins version {release.model_version}, {alias} is {champion}")
    detail = f"{environment}: version {release.model_version} @ {release.image_digest}"
    return _ok(not problems, detail, f"{environment} " + "; ".join(problems))


EVALUATORS: dict[str, Evaluate] = {
    "idea.problem": _problem,
    "idea.effect": _effect,
    "idea.value": _value,
    "idea.data": _data_types,
    "plan.summary": _summary,
    "plan.references": _references,
    "plan.pinned": _pinned,
    "data.small": _registered("small"),
    "runs.small": _has_runs("small", 1),
    "targets.small": _targets_met("small"),
    "cycles.small": _budget(2, "small"),
    "data.large": _registered("large"),
    "runs.large": _has_runs("large", DEFAULT_MIN_RUNS),
    "targets.large": _targets_met("large"),
    "model.candidate": _needs_runs(_candidate),
    "cycles.large": _budget(3, "large"),
    "image.serving": image_checks.serving_image,
    "image.smoke": image_checks.smoke,
    "model.champion": _needs_runs(_champion),
    "serving.release": _needs_runs(_released),
    "slos.declared": _slos,
}

#: The criteria of :data:`diva.stages.CRITERIA`, each with its evaluator.
CHECKPOINTS: tuple[Checkpoint, ...] = tuple(
    Checkpoint(c.id, c.stage, c.wording, c.evidence, EVALUATORS[c.id]) for c in CRITERIA
)


def for_stage(stage: int) -> list[Checkpoint]:
    """The entry criteria of ``stage``."""
    return [checkpoint for checkpoint in CHECKPOINTS if checkpoint.stage == stage]
