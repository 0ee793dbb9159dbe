"""Stage card backend: ``generated/stage.md``, where the project stands, for reviewers."""

from __future__ import annotations

from diva.compiler.ir import Project
from diva.compiler.render import Artifact, markdown_text
from diva.contract import GENERATED_DIR
from diva.stages import LAST_STAGE, STAGES, stage


def emit(project: Project) -> list[Artifact]:
    lines = [f"# {project.title}", "", f"`{project.name}` is at **{stage(project.stage)}**.", ""]
    lines += ["| stage | name | |", "|---|---|---|"]
    for entry in STAGES:
        mark = (
            "current"
            if entry.number == project.stage
            else ("done" if entry.number < project.stage else "")
        )
        lines.append(f"| {entry.number} | {entry.title} | {mark} |")
    if project.stage < LAST_STAGE:
        lines += ["", f"Next: {stage(project.stage + 1)} — promote with a pull request."]
    if project.datasets:
        lines += ["", "## Datasets", "", "| name | scale | path | version |", "|---|---|---|---|"]
        lines += [
            f"| {d.name} | {d.scale or d.role} | `{d.path}` | {d.version or '—'} |"
            for d in project.datasets
        ]
    if project.targets:
        lines += [
            "",
            "## Targets",
            "",
            "| metric | goal | threshold | dataset |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {t.metric} | {t.goal} | {t.threshold:g} | {t.dataset} |" for t in project.targets
        ]
    return [
        Artifact(f"{GENERATED_DIR}/stage.md", markdown_text("\n".join(lines), project.spec_file))
    ]
