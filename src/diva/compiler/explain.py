"""A readable summary of a valid spec: where the project is and what comes next."""

from __future__ import annotations

from diva.compiler import rules
from diva.compiler.source import Document
from diva.compiler.spec.model import Spec
from diva.stages import LAST_STAGE, stage


def explain_spec(spec: Spec) -> str:
    """Plain-text summary: project, stage, datasets, targets, next stage's needs."""
    lines = [
        f"{spec.project.title} ({spec.project.name})",
        f"  stage:    {stage(spec.stage)}",
    ]
    if spec.model is not None:
        lines.append(f"  model:    {spec.model.framework} {spec.model.task}")
    for name, dataset in sorted(spec.datasets.items()):
        lines.append(f"  dataset:  {name} ({dataset.scale}) at {dataset.path}")
    for target in spec.targets:
        sign = "<=" if target.goal == "minimize" else ">="
        lines.append(f"  target:   {target.metric} {sign} {target.threshold} on {target.dataset}")
    lines.extend(_next_stage(spec))
    return "\n".join(lines)


def _next_stage(spec: Spec) -> list[str]:
    if spec.stage == LAST_STAGE:
        return [f"  next:     none; {stage(LAST_STAGE)} is the last stage"]
    following = spec.model_copy(update={"stage": spec.stage + 1})
    empty = Document("diva.yaml", {}, {}, {})
    prefix = f"{stage(spec.stage + 1)} requires "
    needs = [
        issue.message.removeprefix(prefix) for issue in rules.stage_requirements(following, empty)
    ]
    lines = [f"  next:     {stage(spec.stage + 1)}, which requires:"]
    if not needs:
        return [f"  next:     {stage(spec.stage + 1)}; the spec has every section it needs"]
    return lines + [f"            - {need}" for need in needs]
