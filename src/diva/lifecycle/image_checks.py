"""The image checkpoints of stage 5: the serving image in the project's repository is
what the registry serves, and a smoke test of it passed.

``diva.evidence.json`` names the image (``images.serving``: reference and digest); the
registry and MLflow say whether it is there and whether it was tested. The file's own
smoke record counts only where the policy takes self-attested evidence.
"""

from __future__ import annotations

from diva.contract import repository_of
from diva.lifecycle.context import Context, Verdict
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence.record import recorded_serving
from diva.lifecycle.evidence.registry import manifest_digest


def _ok(condition: bool, passed: str, failed: str) -> Verdict:
    return Verdict("pass", passed) if condition else Verdict("fail", failed)


def serving_image(ctx: Context) -> Verdict:
    """The serving image recorded in the evidence file is what the registry serves."""

    image = recorded_serving(ctx.root)
    if not image:
        return Verdict("fail", "no serving image digest recorded (`diva build serve --push`)")
    reference, digest = str(image.get("reference")), str(image.get("digest"))
    expected = ctx.project.image_repository("serve")
    if repository_of(reference) != expected:
        return Verdict("fail", f"the recorded image {reference} is not in {expected}")
    ctx.notify(f"asking the image registry for {reference}")
    try:
        served = manifest_digest(reference)
    except UnreachableError as err:
        return Verdict("unreachable", str(err))
    if served is None:
        return Verdict("fail", f"{reference} is not in its registry")
    return _ok(
        served == digest, f"{reference} @ {digest}", f"{reference} is {served}, not {digest}"
    )


def smoke(ctx: Context) -> Verdict:
    """`diva smoke` passed against the serving image (same digest), as logged to MLflow;
    the evidence file's record counts only where the policy takes self-attested evidence."""

    if ctx.runs is None and not ctx.attested:
        return Verdict(ctx.runs_status, ctx.runs_problem or "no MLflow evidence")
    digest = recorded_serving(ctx.root).get("digest")
    if not digest:
        return Verdict("fail", "no serving image digest recorded (`diva build serve --push`)")
    if ctx.runs is not None:
        try:
            smokes = [
                run
                for run in ctx.runs.runs(ctx.project.name)
                if run.tags.get("diva.kind") == "smoke"
                and run.tags.get("diva.image.digest") == digest
            ]
        except UnreachableError as err:
            return Verdict("unreachable", str(err))
        if smokes:
            passed = [run for run in smokes if run.tags.get("diva.smoke.passed") == "true"]
            detail = f"{len(passed)} of {len(smokes)} smoke run(s) of {digest[:19]} passed"
            return _ok(bool(passed), f"{detail} ({ctx.runs.kind})", detail)
    if ctx.attested:
        return _recorded_smoke(ctx, digest)
    return Verdict("fail", f"no smoke test of {digest[:19]} logged to MLflow (`diva smoke`)")


def _recorded_smoke(ctx: Context, digest: str) -> Verdict:
    """The smoke test as the evidence file records it (self-attested evidence only)."""
    recorded = record.read(ctx.root)
    smoke = (recorded.document if recorded else {}).get("smoke") or {}
    if not smoke:
        return Verdict("fail", "no smoke test recorded (`diva smoke`)")
    if smoke.get("digest") != digest:
        return Verdict("fail", f"the smoke test ran {smoke.get('digest')}, not the serving image")
    latency = smoke.get("latency_ms") or {}
    return _ok(
        smoke.get("passed") is True,
        f"self-attested: {smoke.get('requests')} requests, p95 {latency.get('p95')} ms",
        f"{smoke.get('errors')} of {smoke.get('requests')} requests failed",
    )
