"""The pull request template of the ``github`` backend: the next stage's checklist.

The items are the gate's own entry criteria (:data:`diva.stages.CRITERIA`), so the
template and ``diva gate`` cannot disagree about what a promotion needs; each item is
made concrete with this project's datasets, targets, model and budgets. Everything
written here from the spec is a validated name or a number, shown as code.
"""

from __future__ import annotations

from collections.abc import Callable

from diva.compiler.ir import Project, Target
from diva.contract import SPEC_FILE
from diva.stages import LAST_STAGE, STAGE_KEYS, criteria_for, stage

MANAGEMENT_ITEMS = (
    "Every alias move (the champion, the challengers) names the model version and the "
    "evidence behind it (MLflow run, monitoring report)",
    "The serving manifests reference the image digest and the model version that carry "
    "the champion alias",
    "A smoke test of the serving image passed",
    "Changes of `slos` are agreed with the app developers",
    "Going back a stage? Say why: it starts a new cycle of that stage",
)


def pr_template(project: Project) -> str:
    lines = ["## What this pull request changes", "", "<!-- a few sentences for the reviewers -->"]
    if project.stage >= LAST_STAGE:
        lines += _management(project)
    else:
        lines += _promotion(project, project.stage + 1)
    return "\n".join(lines)


def _promotion(project: Project, target: int) -> list[str]:
    return [
        "",
        f"## Checklist for {stage(target)}",
        "",
        f"This project is at {stage(project.stage)}. A pull request that promotes it "
        f"(`stage: {target}` in `{SPEC_FILE}`) must meet the entry criteria of {stage(target)}:",
        "",
        *[
            f"- [ ] {checkpoint.wording}{_detail(project, checkpoint.id)}"
            for checkpoint in criteria_for(target)
        ],
        *_skipping(project, target),
        "",
        "The required check **diva gate** evaluates them against the evidence (git, DVC, "
        "MLflow or the committed evidence file) on every pull request and writes its report "
        "to the job summary. Without a stage change it checks that the spec is valid and the "
        "generated files are up to date.",
    ]


def _skipping(project: Project, target: int) -> list[str]:
    """The one allowed jump, 0 -> 2, needs the criteria of stage 2 as well."""
    if project.stage != 0:
        return []
    return [
        "",
        f"Moving straight to {stage(target + 1)} is allowed when the idea is already "
        f"registered; then the entry criteria of stage {target + 1} apply as well.",
    ]


def _management(project: Project) -> list[str]:
    return [
        "",
        "## Checklist for model management changes",
        "",
        *[f"- [ ] {item}" for item in MANAGEMENT_ITEMS],
        "",
        "The required check **diva gate** validates the spec, checks that the generated "
        "files are up to date and applies the movement rules to stage changes.",
    ]


def _detail(project: Project, checkpoint_id: str) -> str:
    """Project specifics for a checkpoint, as ``: ...``; empty when there are none."""
    kind, _, scale = checkpoint_id.partition(".")
    detail = _DETAILS.get(kind, _nothing)(project, scale)
    return f": {detail}" if detail else ""


def _nothing(project: Project, scale: str) -> str:
    return ""


def _data(project: Project, scale: str) -> str:
    names = [f"`{d.name}`" for d in project.datasets if d.scale == scale]
    remote = project.dvc_remote[0]
    return f"{', '.join(names)} (DVC remote `{remote}`)" if names else ""


def _runs(project: Project, scale: str) -> str:
    return f"MLflow experiment `{project.mlflow.experiment}`"


def _targets(project: Project, scale: str) -> str:
    return "; ".join(_target(t) for t in project.targets if t.scale == scale)


def _target(target: Target) -> str:
    relation = "≤" if target.goal == "minimize" else "≥"
    return f"`{target.metric}` {relation} {target.threshold:g} on `{target.dataset}`"


def _model(project: Project, scale: str) -> str:
    return f"registered model `{project.model.registered_name}`" if project.model else ""


def _cycles(project: Project, key: str) -> str:
    if key not in STAGE_KEYS:
        return ""
    budget = project.cycle_budgets.get(STAGE_KEYS.index(key))
    return f"budget {budget} cycle{'s' if budget != 1 else ''}" if budget else ""


_DETAILS: dict[str, Callable[[Project, str], str]] = {
    "data": _data,
    "runs": _runs,
    "targets": _targets,
    "model": _model,
    "cycles": _cycles,
}
