"""GitHub backend: CODEOWNERS, the pull request template, the ruleset and the workflows.

From stage 0 a project gets ``.github/CODEOWNERS`` (from the ``team`` roles), a pull
request template with the next stage's checklist, ``generated/ruleset.json`` and its
stricter alternative ``generated/ruleset-required-workflow.json`` (apply one of them
with ``gh api``: docs/compile.md) and the gate workflow; from stage 2 the pipeline
workflow too; from stage 3 the training workflow (in-image runs on the GPU runner);
from stage 4 the release workflow, and the production overlay is owned by
the model engineers; from stage 5 the monitoring workflow. The workflows themselves are
built in :mod:`.workflows`, :mod:`.train_workflow`, :mod:`.release_workflow` and
:mod:`.monitor_workflow`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from diva.compiler.backends.github import monitor_workflow, release_workflow, train_workflow
from diva.compiler.backends.github.checklist import pr_template
from diva.compiler.backends.github.workflows import (
    DEFAULT_BRANCH,
    GATE_CHECK,
    GATE_WORKFLOW,
    MONITOR_WORKFLOW,
    PIPELINE_WORKFLOW,
    RECORD_PERMISSIONS,
    RECORD_WORKFLOW,
    RELEASE_WORKFLOW,
    TRAIN_WORKFLOW,
    gate_workflow,
    pipeline_workflow,
    record_workflow,
    workflow_text,
)
from diva.compiler.ir import Project
from diva.compiler.render import Artifact, commented_text, json_text, markdown_text
from diva.contract import DEPLOY_DIR, GENERATED_DIR, SPEC_FILE

CODEOWNERS_FILE = ".github/CODEOWNERS"
PR_TEMPLATE_FILE = ".github/pull_request_template.md"
RULESET_FILE = f"{GENERATED_DIR}/ruleset.json"
REQUIRED_WORKFLOW_RULESET_FILE = f"{GENERATED_DIR}/ruleset-required-workflow.json"
#: Stands for the repository's id, which only GitHub knows: the documented ``gh api``
#: command puts the real one in (docs/compile.md).
REPOSITORY_ID_PLACEHOLDER = 0
#: The GitHub App id of GitHub Actions: only its check run named "diva gate" counts.
GITHUB_ACTIONS_APP_ID = 15368
#: Paths of packaging and serving files, owned by the model engineers.
SERVING_PATHS = ("/docker/", "/deploy/", "Dockerfile*")


def emit(project: Project) -> list[Artifact]:
    source = project.spec_file
    artifacts = [
        Artifact(CODEOWNERS_FILE, commented_text(codeowners(project), source)),
        Artifact(PR_TEMPLATE_FILE, markdown_text(pr_template(project), source)),
        Artifact(RULESET_FILE, json_text(ruleset(), source)),
        Artifact(REQUIRED_WORKFLOW_RULESET_FILE, json_text(required_workflow_ruleset(), source)),
        Artifact(GATE_WORKFLOW, workflow_text(gate_workflow(project), source)),
        Artifact(
            RECORD_WORKFLOW, workflow_text(record_workflow(project), source, RECORD_PERMISSIONS)
        ),
    ]
    pipeline = pipeline_workflow(project) if project.stage >= 2 else None
    if pipeline is not None:
        artifacts.append(Artifact(PIPELINE_WORKFLOW, workflow_text(pipeline, source)))
    if train_workflow.wanted(project):
        train = train_workflow.train_workflow(project)
        comments = train_workflow.runner_comment(project)
        artifacts.append(Artifact(TRAIN_WORKFLOW, workflow_text(train, source, comments=comments)))
    if release_workflow.wanted(project):
        release = workflow_text(release_workflow.release_workflow(project), source)
        artifacts.append(Artifact(RELEASE_WORKFLOW, release))
    if monitor_workflow.wanted(project):
        monitor = workflow_text(monitor_workflow.monitor_workflow(project), source)
        artifacts.append(Artifact(MONITOR_WORKFLOW, monitor))
    return artifacts


def codeowners(project: Project) -> str:
    """Owners per path; GitHub applies the last matching rule, so general rules come first."""
    team = project.team
    curated = [(pattern, team.data_curators) for pattern in _data_patterns(project)]
    serving = [(pattern, team.model_engineers) for pattern in SERVING_PATHS]
    rules: list[tuple[str, Iterable[str]]] = [
        ("*", team.modelers),
        *curated,
        # the stage field is promoted by quality managers alone (modelers own it only
        # while the team names no quality manager)
        (f"/{SPEC_FILE}", team.quality_managers or team.modelers),
        *serving,
        *_production(project),
        ("/.github/", (*team.quality_managers, *team.model_engineers)),
    ]
    lines = [
        "# The last matching pattern wins; an approval of any one owner of a path counts as",
        "# its code-owner review.",
    ]
    for pattern, owners in rules:
        unique = list(dict.fromkeys(owners))
        if unique:
            lines.append(" ".join([pattern, *unique]))
    return "\n".join(lines)


def _production(project: Project) -> list[tuple[str, Iterable[str]]]:
    """From stage 4, what production runs (its overlay) is the model engineers' to
    approve — the quality managers' while the team names no model engineer, so that
    it never falls back to the modelers' catch-all rule."""
    if project.stage < 4:
        return []
    team = project.team
    overlay = f"/{DEPLOY_DIR}/overlays/{project.environments[-1]}/"
    return [(overlay, team.model_engineers or team.quality_managers)]


def _data_patterns(project: Project) -> list[str]:
    """DVC pointer files anywhere, and every dataset's path (a folder or a file)."""
    return ["*.dvc", *(f"/{dataset.path}" for dataset in project.datasets)]


def ruleset() -> dict[str, Any]:
    """A repository ruleset for the default branch: the gate passes, code owners approve."""
    review = {
        "required_approving_review_count": 1,
        "require_code_owner_review": True,
        "dismiss_stale_reviews_on_push": True,
        "require_last_push_approval": False,
        "required_review_thread_resolution": False,
    }
    checks = {
        # the gate judged the pull request against the base it ran on: keep it up to date
        "strict_required_status_checks_policy": True,
        "required_status_checks": [
            {"context": GATE_CHECK, "integration_id": GITHUB_ACTIONS_APP_ID}
        ],
    }
    return {
        "name": "diva",
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": [
            {"type": "deletion"},
            {"type": "non_fast_forward"},
            {"type": "pull_request", "parameters": review},
            {"type": "required_status_checks", "parameters": checks},
        ],
    }


def required_workflow_ruleset() -> dict[str, Any]:
    """:func:`ruleset`, plus GitHub's "require workflows to pass" rule for the gate.

    GitHub then runs ``diva-gate.yml`` as it is on the default branch, not the pull
    request's copy, so a pull request cannot edit the gate that judges it. The status
    check stays for its up-to-date rule, which the workflows rule lacks.
    """
    gate = {
        "path": GATE_WORKFLOW,
        "repository_id": REPOSITORY_ID_PLACEHOLDER,
        "ref": f"refs/heads/{DEFAULT_BRANCH}",
    }
    rule = {
        "type": "workflows",
        "parameters": {"do_not_enforce_on_create": False, "workflows": [gate]},
    }
    base = ruleset()
    return {**base, "name": "diva (gate from main)", "rules": [*base["rules"], rule]}
