"""Evaluate a pull request: movement rules, policy, checkpoints, spec validity, drift.

The base branch is the policy, the head is data, and evidence is what the gate reads
itself. Both commits are read from git objects (:mod:`diva.lifecycle.evidence.tree`),
never from the working tree; the head's regular files are written into a temporary
folder, the only place the drift check and DVC look. The base's spec sets the policy
(:mod:`diva.lifecycle.policy`): a pull request that changes it may not also move the
stage or a release, and the checkpoints read the head's spec with the base's policy
fields, against the stores the base names (:mod:`diva.lifecycle.sources`).

Every pull request is gated: without a stage change the gate still validates the spec,
checks the generated files and the workflows; with one it applies the movement rules
and evaluates the entry criteria of the target stage. A pull request that pins a new
release of an environment (``serving.releases``) gets the release checks of
:mod:`diva.lifecycle.release_checks` too. ``next_stage`` is ``diva status``: the
working tree, locally.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diva.compiler import policy as compiler_policy
from diva.compiler.backends import dvc_config
from diva.compiler.ir import Project, build
from diva.compiler.source import Document, load_bytes
from diva.compiler.validate import validate_document
from diva.errors import SpecError
from diva.lifecycle import approvals, checkpoints, head_checks, policy, protection, release_checks
from diva.lifecycle import releases as release
from diva.lifecycle.approvals import PullSource
from diva.lifecycle.checkpoints import Context, RunSource, Verdict
from diva.lifecycle.evidence import UnreachableError, record
from diva.lifecycle.evidence import dvc as dvc_evidence
from diva.lifecycle.evidence import git as git_evidence
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.evidence.tree import CommitTree, NotRegularError
from diva.lifecycle.report import RENDERERS, Report, Row, as_json, as_markdown, as_text
from diva.lifecycle.sources import gather
from diva.progress import Notify, silent
from diva.stages import stage
from diva.urls import strip_userinfo


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


def _runs(root: Path, project_uri: str, notify: Notify) -> tuple[RunSource | None, str]:
    """For ``diva status`` (the working tree, locally): the live MLflow when reachable,
    else what the evidence file recorded, said as such."""
    try:
        live = Mlflow(root, project_uri, notify)
        return live, f"verified against MLflow at {strip_userinfo(project_uri)}"
    except UnreachableError as err:
        problem = str(err)
    recorded = record.read(root)
    if recorded is not None:
        return recorded, f"MLflow unreachable ({problem}); used {record.EVIDENCE_FILE}"
    return None, f"MLflow unreachable ({problem}) and no {record.EVIDENCE_FILE}"


def next_stage(
    root: Path, spec_file: str = "diva.yaml", notify: Notify = silent
) -> tuple[Report, dict[int, int]]:
    """The next stage's checkpoints for the working tree, and cycles used per stage;
    ``notify`` is told each slow step (git history, MLflow, the DVC remote, ...)."""
    raw = (root / spec_file).read_bytes()
    spec = validate_document(load_bytes(raw, spec_file))
    notify("reading the stage history from git")
    cycles = git_evidence.cycles(git_evidence.stage_history(root, "HEAD", spec_file))
    report = Report(spec.stage, min(spec.stage + 1, 5), f"at {stage(spec.stage)}")
    if spec.stage >= 5:
        return report, cycles
    project = build(spec, raw, spec_file)
    runs, report.evidence = _runs(root, spec.platform.mlflow.tracking_uri, notify)
    following = dict(cycles)
    following[spec.stage + 1] = following.get(spec.stage + 1, 0) + 1
    context = Context(spec, project, root, following, runs, report.evidence, notify=notify)
    report.rows = _evaluate(context, [spec.stage + 1])
    return report, cycles


def _evaluate(context: Context, stages: list[int]) -> list[Row]:
    return [
        Row(checkpoint.id, checkpoint.wording, verdict.status, verdict.detail)
        for number in stages
        for checkpoint in checkpoints.for_stage(number)
        if (verdict := checkpoint.evaluate(context))
    ]


@dataclass(frozen=True)
class _Base:
    """The base branch's side: its spec, read from git objects, and the policy it sets."""

    raw: bytes | None
    stage: int | None
    project: Project | None
    problem: str = ""
    data: dict[str, Any] | None = None


def _base(tree: CommitTree | None, spec_file: str) -> _Base:
    if tree is None:
        return _Base(None, None, None)
    try:
        raw = tree.read(spec_file)
    except NotRegularError as err:
        return _Base(None, None, None, f"on the base: {err}")
    if raw is None:
        return _Base(None, None, None)
    number = git_evidence.stage_of(raw)
    try:
        document = load_bytes(raw, spec_file)
        project = build(validate_document(document), raw, spec_file)
        return _Base(raw, number, project, data=document.data)
    except SpecError as err:
        first = err.issues[0].render() if err.issues else "invalid"
        return _Base(raw, number, None, f"the base's spec is invalid: {first}")


def evaluate(
    root: Path,
    base: str | None,
    spec_file: str = "diva.yaml",
    head: str = "HEAD",
    pull: PullSource | None = None,
    notify: Notify = silent,
) -> Report:
    """The gate report for commit ``head`` against ``base`` (git refs), both read from
    git objects: the base's spec is the policy, the head is data. ``pull``: the pull
    request whose reviews the approvals are counted from (none: not checked here).
    ``notify`` is told each slow step (git, GitHub, the stores the policy names)."""
    notify("reading the head commit" + (f" and the base {base}" if base else "") + " from git")
    head_tree = CommitTree(root, head)
    base_tree = CommitTree(root, base) if base else None
    before = _base(base_tree, spec_file)
    try:
        raw = head_tree.read(spec_file)
        if raw is None:
            return _invalid(before, [f"no {spec_file} in commit {head_tree.commit[:12]}"])
        document = load_bytes(raw, spec_file)
        spec = validate_document(document)
    except SpecError as err:
        return _invalid(before, [issue.render() for issue in err.issues])
    except NotRegularError as err:
        return _invalid(before, [str(err)])
    trees = [head_tree, *([base_tree] if base_tree else [])]
    head_project = build(spec, raw, spec_file)
    with tempfile.TemporaryDirectory(prefix="diva-gate-") as folder:
        judged = Path(folder)
        # DVC's own files are the policy's (sources.gather), but the two diva generates
        # are judged for drift like every generated file
        head_tree.materialize(judged, skip=(".dvc",), keep=dvc_config.GENERATED)
        context = Context(spec, head_project, judged, {}, None, notify=notify)
        if before.project is not None and before.data is not None:
            context = _by_the_base(context, document, before, raw)
        return _judge(root, trees, before, head_project, context, pull)


def _by_the_base(context: Context, document: Document, before: _Base, raw: bytes) -> Context:
    """The head's spec with the base's policy fields: what the checkpoints judge by.
    Unchanged when the policy is (the usual case), or when the two do not combine into
    a valid spec (the policy row fails such a pull request anyway)."""
    assert before.project is not None
    assert before.data is not None
    if not policy.changed(before.project, context.project):
        return context
    data = compiler_policy.overlay(document.data, before.data)
    try:
        spec = validate_document(Document(document.file, data, document.values, document.keys))
    except SpecError:
        return context
    project = build(spec, raw, document.file)
    return Context(spec, project, context.root, {}, None, notify=context.notify)


def resolve_commit(root: Path, ref: str) -> str:
    """The commit ``ref`` names."""
    return CommitTree(root, ref).commit


def uncommitted(root: Path) -> bool:
    """Whether the project folder has changes the gate will not see (it judges commits)."""
    return bool(git_evidence.git(root, "status", "--porcelain", "--", ".").strip())


def _invalid(before: _Base, problems: list[str]) -> Report:
    report = Report(before.stage, None, "spec invalid")
    report.rows = [Row("spec.valid", "the spec is valid", "fail", text) for text in problems]
    return report


def _judge(
    root: Path,
    trees: list[CommitTree],
    before: _Base,
    project: Project,
    context: Context,
    pull: PullSource | None = None,
) -> Report:
    """Judge the head (``project``, written out at ``context.root``) by the policy of
    the base (the head's own when the project is new): ``context`` holds the spec the
    checkpoints read, the head's with the base's policy fields."""
    after = project.stage
    stages_to_check, moved = movement(before.stage, after)
    report = Report(before.stage, after, moved.detail)
    released = _released(project, before.raw)
    if released:
        report.movement += f"; release of {', '.join(released)}"
    moves = before.stage != after or bool(released)
    report.rows += [
        Row("spec.valid", "the spec is valid", "pass", "valid"),
        head_checks.files(trees[0], project),
        Row("movement", "forward one stage, or back", moved.status, moved.detail),
        _policy(before, project, moves),
    ]
    wanted = _wanted(before, project, stages_to_check, released)
    counted, rows = _approved(root, trees[0], before.project or project, wanted, pull, context)
    report.rows += rows
    report.facts |= _facts(counted, trees, project, context.root)
    context.notify("checking the generated files")
    drift, generated = head_checks.drift(context.root, project.spec_file)
    report.rows += [drift, head_checks.workflows(trees, generated)]
    if len(trees) > 1:  # stage cycles along the base branch
        context.notify("reading the stage history from git")
        history = git_evidence.stage_history(root, trees[-1].commit, project.spec_file)
        context.cycles = git_evidence.cycles(history)
    if before.stage != after:
        context.cycles[after] = context.cycles.get(after, 0) + 1
    if released or _STORES & _evidence_of(stages_to_check):  # else nothing to look up
        found = gather(before.project or project, root, context.root, trees, context.notify)
        report.evidence = found.summary
        context.runs, context.runs_problem = found.runs, found.problem
        context.runs_status, context.data = found.status, found.data
        context.attested = found.attested
    report.rows += _evaluate(context, stages_to_check)
    if released:
        report.rows += _release_rows(context, released)
    if before.stage is not None and after < before.stage:  # a new cycle: in budget?
        verdict = checkpoints.budget(after)(context)
        key = f"cycles.{stage(after).key}"
        report.rows.append(Row(key, "cycle budget kept", verdict.status, verdict.detail))
    return report


def _wanted(before: _Base, project: Project, stages: list[int], released: list[str]) -> list[str]:
    """The kinds of approval the pull request needs, by the base's rules."""
    judge = before.project or project  # whose approvals and team apply
    back = before.stage is not None and project.stage < before.stage
    wanted = approvals.kinds(judge, stages, back, released)
    if before.project is not None and policy.changed(before.project, project):
        wanted.append("policy")
    return wanted


def _approved(
    root: Path,
    head: CommitTree,
    judge: Project,
    wanted: list[str],
    pull: PullSource | None,
    context: Context,
) -> tuple[approvals.Counted, list[Row]]:
    """The approvals counted by ``judge``'s rules from ``pull``'s reviews, their rows,
    and in CI whether the target branch requires the gate."""
    parents = git_evidence.git(root, "rev-list", "--parents", "-n1", head.commit).strip()
    if pull is not None:
        context.notify(f"asking GitHub for the reviews of pull request #{pull.number}")
    counted = approvals.count(judge, wanted, pull, parents)
    rows = list(counted.rows)
    if pull is not None and counted.pull is not None:  # in CI: is the gate enforced?
        context.notify(f"asking GitHub for the rules of branch {counted.pull.base_ref}")
        rows.append(protection.gate_row(pull.github, counted.pull.base_ref))
    return counted, rows


def _facts(
    counted: approvals.Counted, trees: list[CommitTree], project: Project, judged: Path
) -> dict[str, Any]:
    """What a verdict record keeps besides the rows: the commits, the pull request, who
    approved, and the digests of the evidence the head names."""
    datasets = {}
    for dataset in project.datasets:
        found = dvc_evidence.tracked_hash(judged, dataset.path)
        if found:
            datasets[dataset.name] = found
    releases = project.serving.releases if project.serving else {}
    return {
        "commit": trees[0].commit,
        "base": trees[-1].commit if len(trees) > 1 else None,
        "pull_request": counted.pull.number if counted.pull else None,
        "author": counted.pull.author if counted.pull else None,
        "approvals": [
            {"login": who, "roles": roles} for who, roles in sorted(counted.approvers.items())
        ],
        "evidence": {
            "datasets": datasets,
            "releases": {
                env: {"model_version": r.model_version, "image_digest": r.image_digest}
                for env, r in releases.items()
            },
        },
    }


#: The evidence sources that are stores the policy names (the rest: the spec and git).
_STORES = frozenset({"mlflow", "dvc", "registry"})


def _evidence_of(stages: list[int]) -> set[str]:
    """The evidence the entry criteria of ``stages`` read."""
    return {
        kind
        for n in stages
        for checkpoint in checkpoints.for_stage(n)
        for kind in checkpoint.evidence
    }


def _policy(before: _Base, head: Project, moves: bool) -> Row:
    """Whether the pull request changes the rules it is judged by."""
    wording = "judged by the base branch's policy"
    if before.project is None:
        if before.raw is None and not before.problem:
            return Row("policy", wording, "pass", "a new project: its first spec is its policy")
        problem = before.problem or "no policy"
        if moves:
            return Row("policy", wording, "fail", f"{problem}: no stage or release may move")
        return Row("policy", wording, "pass", f"{problem}; this pull request moves nothing")
    fields = policy.changed(before.project, head)
    if not fields:
        return Row("policy", wording, "pass", "unchanged")
    who = ", ".join(policy.reviewers(before.project)) or "the code owners of the spec"
    detail = f"policy change ({', '.join(fields)}): review by {who}"
    if not moves:
        return Row("policy", wording, "pass", detail)
    return Row(
        "policy",
        wording,
        "fail",
        f"{detail}; a policy change may not also move the stage or a release: "
        "land it in a pull request of its own first",
    )


def _released(project: Project, base_raw: bytes | None) -> list[str]:
    """Environments whose release the pull request pins anew."""
    serving = project.serving
    if serving is None:
        return []
    return release.changed(release.releases_in(base_raw), serving.releases)


def _release_rows(context: Context, environments: list[str]) -> list[Row]:
    return [
        Row(checked.id, checked.wording, checked.verdict.status, checked.verdict.detail)
        for checked in release_checks.check(context, environments)
    ]


__all__ = ["RENDERERS", "Report", "Row", "as_json", "as_markdown", "as_text", "evaluate"]
