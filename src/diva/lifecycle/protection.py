"""Whether GitHub enforces what diva generated: read through the API, said plainly.

diva writes a ruleset (``generated/ruleset.json`` or ``ruleset-required-workflow.json``),
CODEOWNERS and, from stage 4, a release workflow whose secrets live in the ``release``
environment; none of it does anything until a repository admin applies it, and GitHub
does not warn when nobody did. :func:`check` reads the default branch's *effective* rules
(every active ruleset, the organization's too), the repository's rulesets, the
environment and CODEOWNERS' errors, and says what is missing and the ``gh api`` command
that applies it. :func:`gate_row` is the one check the gate makes on every pull request:
a red gate that nothing requires blocks nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from diva import tools
from diva.compiler.backends.github import RULESET_FILE, required_workflow_ruleset
from diva.compiler.backends.github import ruleset as generated_ruleset
from diva.compiler.backends.github.release_workflow import ENVIRONMENT as RELEASE_ENVIRONMENT
from diva.compiler.backends.github.workflows import GATE_CHECK, GATE_WORKFLOW
from diva.errors import DivaError, UsageError
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.git import git
from diva.lifecycle.evidence.github import (
    TOKEN_VARIABLES,
    GitHub,
    repository_of_remote,
)
from diva.lifecycle.report import Row

#: The names of the rulesets diva generates (``ruleset.json``, the required-workflow one).
RULESET_NAMES = (generated_ruleset()["name"], required_workflow_ruleset()["name"])
T = TypeVar("T")


class Rules(Protocol):
    """What the gate's row reads: :class:`diva.lifecycle.evidence.github.GitHub`."""

    def branch_rules(self, branch: str) -> list[dict[str, Any]]: ...


class Repository(Rules, Protocol):
    """What ``diva doctor`` reads: :class:`diva.lifecycle.evidence.github.GitHub`."""

    repository: str

    def rulesets(self) -> list[dict[str, Any]]: ...
    def environment(self, name: str) -> dict[str, Any] | None: ...
    def codeowners_errors(self, ref: str | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Finding:
    """One thing checked: ``ok`` True (enforced), False (missing), None (could not read)."""

    id: str
    ok: bool | None
    message: str
    fix: str = ""


def client(root: Path, environ: Mapping[str, str], repository: str | None) -> GitHub:
    """The API client of the project's repository: ``repository``, else
    ``$GITHUB_REPOSITORY``, else the github.com remote ``origin``; the token of
    :data:`~diva.lifecycle.evidence.github.TOKEN_VARIABLES`, else ``gh auth token``."""
    environ = dict(environ)
    if repository is None and not environ.get("GITHUB_REPOSITORY"):
        remote = git(root, "remote", "get-url", "origin", check=False).strip()
        repository = repository_of_remote(remote)
        if repository is None:
            where = f"the origin remote {remote} is not on github.com" if remote else "no origin"
            raise UsageError(
                f"which repository? pass --repo OWNER/NAME or set GITHUB_REPOSITORY ({where})"
            )
    if not any(environ.get(variable) for variable in TOKEN_VARIABLES):
        token = _gh_token(root)
        if token:
            environ["GH_TOKEN"] = token
    github = GitHub.from_environment(environ, repository)
    assert github is not None  # a repository is known
    return github


def _gh_token(root: Path) -> str | None:
    """The token `gh` is logged in with, when it is installed and logged in."""
    gh = shutil.which("gh")
    if gh is None:
        return None
    try:
        result = tools.run([gh, "auth", "token"], cwd=root, check=False, timeout=30)
    except DivaError:
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def gate_required(rules: list[dict[str, Any]]) -> bool:
    """Whether the rules require the gate: as a status check, or as a required workflow."""
    for rule in rules:
        parameters = rule.get("parameters") or {}
        if rule.get("type") == "required_status_checks":
            checks = parameters.get("required_status_checks") or []
            if any(check.get("context") == GATE_CHECK for check in checks):
                return True
        if rule.get("type") == "workflows":
            workflows = parameters.get("workflows") or []
            if any(flow.get("path") == GATE_WORKFLOW for flow in workflows):
                return True
    return False


def _code_owner_review(rules: list[dict[str, Any]]) -> bool:
    return any(
        rule.get("type") == "pull_request"
        and (rule.get("parameters") or {}).get("require_code_owner_review") is True
        for rule in rules
    )


def _read(what: str, read: Callable[[], T]) -> T | Finding:
    try:
        return read()
    except UnreachableError as err:
        return Finding(what, None, f"cannot read {what.replace('_', ' ')}: {err}")


def check(github: Repository, branch: str, stage: int) -> list[Finding]:
    """Everything that must hold for the gate and the release job to mean anything."""
    findings: list[Finding] = []
    rules = _read("branch_rules", lambda: github.branch_rules(branch))
    rulesets = _read("rulesets", github.rulesets)
    if isinstance(rules, Finding):
        findings.append(rules)
    else:
        findings += _rule_findings(github.repository, branch, rules, rulesets)
    if isinstance(rulesets, Finding):
        findings.append(rulesets)
    else:
        findings += _ruleset_findings(github.repository, rulesets)
    if stage >= 4:
        findings.append(_environment(github))
    findings += _codeowners(github)
    return findings


def _rule_findings(
    repository: str, branch: str, rules: list[dict[str, Any]], rulesets: object
) -> list[Finding]:
    apply = f"gh api --method POST repos/{repository}/rulesets --input {RULESET_FILE}"
    gate = gate_required(rules)
    findings = [
        Finding(
            "gate_required",
            gate,
            f"{branch} requires the check {GATE_CHECK!r}"
            if gate
            else f"{branch} does not require the check {GATE_CHECK!r}: a failing gate "
            "blocks no merge",
            "" if gate or _named(rulesets) else apply,
        )
    ]
    owners = _code_owner_review(rules)
    findings.append(
        Finding(
            "code_owner_review",
            owners,
            f"{branch} requires a code owner's review"
            if owners
            else f"{branch} does not require a code owner's review: CODEOWNERS asks nobody",
            "" if owners or _named(rulesets) else apply,
        )
    )
    return findings


def _named(rulesets: object) -> list[dict[str, Any]]:
    if not isinstance(rulesets, list):
        return []
    return [item for item in rulesets if item.get("name") in RULESET_NAMES]


def _ruleset_findings(repository: str, rulesets: list[dict[str, Any]]) -> list[Finding]:
    ours = _named(rulesets)
    if not ours:
        return [
            Finding(
                "ruleset",
                False,
                "diva's ruleset was never applied (no ruleset named "
                + " or ".join(repr(name) for name in RULESET_NAMES)
                + ")",
                f"gh api --method POST repos/{repository}/rulesets --input {RULESET_FILE}",
            )
        ]
    findings = []
    for ruleset in ours:
        name, enforcement = ruleset.get("name"), ruleset.get("enforcement")
        update = (
            f"gh api --method PUT repos/{repository}/rulesets/{ruleset.get('id')} "
            f"--input {RULESET_FILE}"
        )
        if enforcement == "active":
            findings.append(Finding("ruleset", True, f"ruleset {name!r} is active"))
        else:
            findings.append(
                Finding(
                    "ruleset",
                    False,
                    f"ruleset {name!r} is {enforcement!s}, not active: nothing is enforced",
                    update,
                )
            )
    return findings


def _environment(github: Repository) -> Finding:
    name = RELEASE_ENVIRONMENT
    found = _read("environment", lambda: github.environment(name))
    if isinstance(found, Finding):
        return found
    create = f"gh api --method PUT repos/{github.repository}/environments/{name}"
    if found is None:
        return Finding(
            "environment",
            False,
            f"no environment {name!r}: the release and monitor jobs have no secrets, or "
            "they are repository secrets that any branch's workflow can read",
            create + ' --field "deployment_branch_policy[protected_branches]=true"'
            ' --field "deployment_branch_policy[custom_branch_policies]=false"',
        )
    rules = found.get("protection_rules") or []
    reviewers = any(r.get("type") == "required_reviewers" and r.get("reviewers") for r in rules)
    # reviewers are the team's choice: they would hold every scheduled monitoring run
    who = "required reviewers" if reviewers else "no required reviewers"
    if not found.get("deployment_branch_policy"):
        return Finding(
            "environment",
            False,
            f"environment {name!r} has no branch policy: a workflow of any branch, a pull "
            f"request's too, gets the release's secrets ({who})",
            create + ' --field "deployment_branch_policy[protected_branches]=true"'
            ' --field "deployment_branch_policy[custom_branch_policies]=false"',
        )
    return Finding("environment", True, f"environment {name!r} has a branch policy ({who})")


def _codeowners(github: Repository) -> list[Finding]:
    try:
        errors = github.codeowners_errors()
    except UnreachableError as err:
        if getattr(err, "status", None) == 404:
            return [Finding("codeowners", False, "no CODEOWNERS on the default branch")]
        return [Finding("codeowners", None, f"cannot read CODEOWNERS' errors: {err}")]
    if not errors:
        return [Finding("codeowners", True, "CODEOWNERS has no errors")]
    return [
        Finding(
            "codeowners",
            False,
            f"{error.get('path', '.github/CODEOWNERS')}:{error.get('line')}:"
            f"{error.get('column', 1)}: {error.get('kind')}: {error.get('source', '')!s}"
            + (f" ({error['suggestion']})" if error.get("suggestion") else ""),
            "CODEOWNERS is generated from the team: fix it in diva.yaml, run `diva compile`",
        )
        for error in errors
    ]


def gate_row(github: Rules, branch: str) -> Row:
    """The gate's warning: does the branch the pull request targets require it?"""
    wording = f"{branch} requires the gate"
    try:
        rules = github.branch_rules(branch)
    except UnreachableError as err:
        return Row("protection", wording, "warn", f"cannot read the rules of {branch}: {err}")
    if gate_required(rules):
        return Row("protection", wording, "pass", f"{branch} requires the check {GATE_CHECK!r}")
    return Row(
        "protection",
        wording,
        "warn",
        f"{branch} does not require the check {GATE_CHECK!r}: this verdict blocks no merge "
        "(run `diva doctor`)",
    )
