"""Evaluate a stage transition: movement rules, checkpoints, spec validity, drift.

Every pull request is gated: without a stage change the gate still validates the spec
and checks the generated files; with one it applies the movement rules and evaluates
the entry criteria of the target stage against the evidence. A pull request that pins
a new release of an environment (``serving.releases``) gets the release checks of
:mod:`diva.lifecycle.release_checks` too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from diva.compiler.ir import build
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.contract import LOCK_FILE
from diva.errors import SpecError
from diva.lifecycle import checkpoints, release_checks
from diva.lifecycle import releases as release
from diva.lifecycle.checkpoints import Context, RunSource, Verdict
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence import git as git_evidence
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.stages import stage


@dataclass(frozen=True)
class Row:
    id: str
    wording: str
    status: str
    detail: str


@dataclass
class Report:
    base_stage: int | None
    head_stage: int | None
    movement: str
    rows: list[Row] = field(default_factory=list)
    evidence: str = ""

    @property
    def passed(self) -> bool:
        return all(row.status == "pass" for row in self.rows)


def movement(before: int | None, after: int) -> tuple[list[int], Verdict]:
    """Stages whose checkpoints a move from ``before`` to ``after`` must meet."""
    if before is None:  # a new project starts at 0, or at 1 with its idea registered
        if after <= 1:
            return list(range(1, after + 1)), Verdict("pass", f"new project at {stage(after)}")
        return [], Verdict("fail", f"a new project starts at stage 0 or 1, not {after}")
    if after == before:
        return [], Verdict("pass", f"no stage change ({stage(after)})")
    if after < before:
        return [], Verdict("pass", f"back to {stage(after)}: a new cycle of that stage")
    if after == before + 1:
        return [after], Verdict("pass", f"promotion {before} -> {after}")
    if (before, after) == (0, 2):
        return [1, 2], Verdict("pass", "promotion 0 -> 2 (the idea must already be registered)")
    return [], Verdict("fail", f"{before} -> {after}: promote one stage at a time")


def _runs(root: Path, project_uri: str) -> tuple[RunSource | None, str]:
    """Live MLflow when reachable, else the committed evidence file, else nothing."""
    try:
        return Mlflow(root, project_uri), "re-verified against the live MLflow"
    except UnreachableError as err:
        problem = str(err)
    recorded = record.read(root)
    if recorded is not None:
        return recorded, f"MLflow unreachable ({problem}); used {record.EVIDENCE_FILE}"
    return None, f"MLflow unreachable ({problem}) and no {record.EVIDENCE_FILE}"


def next_stage(root: Path, spec_file: str = "diva.yaml") -> tuple[Report, dict[int, int]]:
    """The next stage's checkpoints for the working tree, and cycles used per stage."""
    raw = (root / spec_file).read_bytes()
    spec = validate_document(load_bytes(raw, spec_file))
    cycles = git_evidence.cycles(git_evidence.stage_history(root, "HEAD", spec_file))
    report = Report(spec.stage, min(spec.stage + 1, 5), f"at {stage(spec.stage)}")
    if spec.stage >= 5:
        return report, cycles
    project = build(spec, raw, spec_file)
    runs, report.evidence = _runs(root, spec.platform.mlflow.tracking_uri)
    following = dict(cycles)
    following[spec.stage + 1] = following.get(spec.stage + 1, 0) + 1
    context = Context(spec, project, root, following, runs, report.evidence)
    report.rows = _evaluate(context, [spec.stage + 1])
    return report, cycles


def _evaluate(context: Context, stages: list[int]) -> list[Row]:
    return [
        Row(checkpoint.id, checkpoint.wording, verdict.status, verdict.detail)
        for number in stages
        for checkpoint in checkpoints.for_stage(number)
        if (verdict := checkpoint.evaluate(context))
    ]


def evaluate(root: Path, base: str | None, spec_file: str = "diva.yaml") -> Report:
    """The gate report for the working tree at ``root`` against ``base`` (a git ref)."""
    base_raw = git_evidence.spec_bytes_at(root, base, spec_file) if base else None
    before = git_evidence.stage_of(base_raw)
    raw = (root / spec_file).read_bytes()
    try:
        spec = validate_document(load_bytes(raw, spec_file))
    except SpecError as err:
        report = Report(before, None, "spec invalid")
        report.rows = [
            Row("spec.valid", "the spec is valid", "fail", issue.render()) for issue in err.issues
        ]
        return report
    stages_to_check, moved = movement(before, spec.stage)
    report = Report(before, spec.stage, moved.detail)
    report.rows.append(Row("spec.valid", "the spec is valid", "pass", "valid"))
    report.rows.append(Row("movement", "forward one stage, or back", moved.status, moved.detail))
    report.rows.append(_drift(root, spec_file))
    history = git_evidence.stage_history(root, base or "HEAD", spec_file)
    cycles = git_evidence.cycles(history)
    if before != spec.stage:
        cycles[spec.stage] = cycles.get(spec.stage, 0) + 1
    project = build(spec, raw, spec_file)
    runs, report.evidence = _runs(root, spec.platform.mlflow.tracking_uri)
    context = Context(spec, project, root, cycles, runs, report.evidence)
    report.rows += _evaluate(context, stages_to_check)
    released = _released(context, base_raw)
    if released:
        report.movement += f"; release of {', '.join(released)}"
        report.rows += _release_rows(context, released)
    if before is not None and spec.stage < before:  # a new cycle: within its budget?
        verdict = checkpoints.budget(spec.stage)(context)
        report.rows.append(
            Row(
                f"cycles.{stage(spec.stage).key}",
                "cycle budget kept",
                verdict.status,
                verdict.detail,
            )
        )
    return report


def _released(context: Context, base_raw: bytes | None) -> list[str]:
    """Environments whose release the pull request pins anew."""
    serving = context.project.serving
    if serving is None:
        return []
    return release.changed(release.releases_in(base_raw), serving.releases)


def _release_rows(context: Context, environments: list[str]) -> list[Row]:
    return [
        Row(checked.id, checked.wording, checked.verdict.status, checked.verdict.detail)
        for checked in release_checks.check(context, environments)
    ]


def _drift(root: Path, spec_file: str) -> Row:

    plan = plan_job(Job(root / spec_file, root))
    if plan.drifted:
        drifted = [change.path for change in plan.pending] or [LOCK_FILE]
        return Row(
            "generated", "generated files up to date", "fail", f"run `diva compile`: {drifted}"
        )
    return Row("generated", "generated files up to date", "pass", "no drift")


# --- rendering -----------------------------------------------------------------

_MARK = {"pass": "✅", "fail": "❌", "unreachable": "⚠️"}


def as_text(report: Report) -> str:
    width = max((len(row.id) for row in report.rows), default=10)
    lines = [f"diva gate: {report.movement}"]
    lines += [
        f"  {row.status:<11} {row.id:<{width}}  {row.wording}: {row.detail}" for row in report.rows
    ]
    if report.evidence:
        lines.append(f"  evidence: {report.evidence}")
    lines.append(f"gate {'passed' if report.passed else 'FAILED'}")
    return "\n".join(lines)


def as_markdown(report: Report) -> str:
    verdict = "passed" if report.passed else "failed"
    lines = [
        f"## diva gate {verdict}: {report.movement}",
        "",
        "| | checkpoint | | detail |",
        "|---|---|---|---|",
    ]
    for row in report.rows:
        detail = row.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {_MARK.get(row.status, '')} | `{row.id}` | {row.wording} | {detail} |")
    if report.evidence:
        lines += ["", f"Evidence: {report.evidence}"]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    document = {
        "passed": report.passed,
        "base_stage": report.base_stage,
        "head_stage": report.head_stage,
        "movement": report.movement,
        "evidence": report.evidence,
        "checkpoints": [asdict(row) for row in report.rows],
    }
    return json.dumps(document, indent=2) + "\n"


RENDERERS = {"text": as_text, "markdown": as_markdown, "json": as_json}
