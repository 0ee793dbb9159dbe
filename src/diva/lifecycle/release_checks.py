"""The checks of a release pull request: one that changes ``serving.releases``.

For every environment whose release is new or different from the base branch's, the
gate checks that the pinned model version is registered, that its run meets every
large-scale target, and — when an image digest is pinned — that the registry serves
that image for that version (or, where the registry cannot be asked and the policy
takes self-attested evidence, that the evidence file records it). Evaluators never
guess: a source that cannot be read is ``unreachable``, which fails the gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diva.compiler.ir import Release
from diva.lifecycle.checkpoints import Context, Verdict, missed_targets
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence.record import recorded_serving
from diva.lifecycle.evidence.registry import image_labels, manifest_digest

#: The label the serving Dockerfile gives the model version it packages.
MODEL_VERSION_LABEL = "io.diva.model.version"

Evaluate = Callable[[Context, Release], Verdict]


@dataclass(frozen=True)
class ReleaseCheck:
    key: str
    wording: str
    evidence: tuple[str, ...]
    evaluate: Evaluate


@dataclass(frozen=True)
class Checked:
    id: str
    wording: str
    verdict: Verdict


def _model(ctx: Context) -> str:
    assert ctx.project.model is not None  # required from stage 2, releases from 4
    return ctx.project.model.registered_name


def _with_runs(evaluate: Evaluate) -> Evaluate:
    def guarded(ctx: Context, release: Release) -> Verdict:
        if ctx.runs is None:
            return Verdict("unreachable", ctx.runs_problem or "no MLflow evidence")
        if ctx.project.model is None:
            return Verdict("fail", "the spec has no model section")
        try:
            return evaluate(ctx, release)
        except UnreachableError as err:
            return Verdict("unreachable", str(err))

    return guarded


def _registered(ctx: Context, release: Release) -> Verdict:
    assert ctx.runs is not None
    version = str(release.model_version)
    run_id = ctx.runs.run_of_version(_model(ctx), version)
    if run_id is None:
        return Verdict("fail", f"model {_model(ctx)} has no version {version} ({ctx.runs.kind})")
    origin = f", from run {run_id[:8]}" if run_id else ", registered from no run"
    return Verdict("pass", f"{_model(ctx)} version {version}{origin} ({ctx.runs.kind})")


def _targets(ctx: Context, release: Release) -> Verdict:
    assert ctx.runs is not None
    targets = [target for target in ctx.project.targets if target.scale == "large"]
    if not targets:
        return Verdict("pass", "no large-scale targets declared")
    version = str(release.model_version)
    run_id = ctx.runs.run_of_version(_model(ctx), version)
    if not run_id:
        what = "no such version" if run_id is None else "it was registered from no run"
        return Verdict("fail", f"version {version}: {what}, no metrics to judge")
    run = ctx.runs.run(run_id)
    if run is None:
        return Verdict("fail", f"version {version}: its run {run_id[:8]} is not in {ctx.runs.kind}")
    missed = missed_targets(run, targets)
    if missed:
        return Verdict("fail", f"version {version} (run {run_id[:8]}) misses {missed}")
    return Verdict("pass", f"version {version} (run {run_id[:8]}) meets all {len(targets)}")


def _image(ctx: Context, release: Release) -> Verdict:
    digest = release.image_digest
    if digest is None:
        return Verdict(
            "pass", f"no digest pinned: the overlay uses the tag v{release.model_version}"
        )
    reference = f"{ctx.project.image_repository('serve')}@{digest}"
    try:
        return _served(reference, release)
    except UnreachableError as err:
        return _recorded(ctx, release, str(err))


def _served(reference: str, release: Release) -> Verdict:

    if manifest_digest(reference) is None:
        return Verdict("fail", f"the registry has no image {reference}")
    labels = image_labels(reference) or {}
    packaged = labels.get(MODEL_VERSION_LABEL)
    if packaged != str(release.model_version):
        return Verdict(
            "fail", f"{reference} packages model version {packaged}, not {release.model_version}"
        )
    return Verdict("pass", f"the registry serves {reference} (model version {packaged})")


def _recorded(ctx: Context, release: Release, problem: str) -> Verdict:
    """Where the registry cannot be asked: the evidence file's word, if the policy takes
    it (``platform.evidence: self-attested``); else unreachable."""
    if not ctx.attested:
        return Verdict("unreachable", problem)
    serving = recorded_serving(ctx.root)
    same = serving.get("digest") == release.image_digest
    if same and str(serving.get("model_version")) == str(release.model_version):
        return Verdict(
            "pass",
            f"self-attested in {record.EVIDENCE_FILE} for version {release.model_version} "
            f"(registry not re-verified: {problem})",
        )
    return Verdict(
        "unreachable", f"{problem}; {record.EVIDENCE_FILE} does not record this image and version"
    )


CHECKS: tuple[ReleaseCheck, ...] = (
    ReleaseCheck(
        "version",
        "the pinned version is a registered model version",
        ("mlflow",),
        _with_runs(_registered),
    ),
    ReleaseCheck("targets", "it meets every large-scale target", ("mlflow",), _with_runs(_targets)),
    ReleaseCheck(
        "image",
        "the registry serves the pinned image of that version",
        ("registry", "evidence file"),
        _image,
    ),
)


def check(ctx: Context, environments: list[str]) -> list[Checked]:
    """The release checks of each of ``environments`` (as pinned in the spec)."""
    assert ctx.project.serving is not None
    releases = ctx.project.serving.releases
    return [
        Checked(f"release.{environment}.{item.key}", item.wording, item.evaluate(ctx, release))
        for environment in environments
        if (release := releases.get(environment)) is not None
        for item in CHECKS
    ]
