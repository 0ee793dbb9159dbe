"""Policy changes: a pull request that changes the rules it would be judged by.

The fields are :data:`diva.compiler.policy.FIELDS`; the base branch's values are the
policy. A change of any of them is reviewed by the owners of the spec and may not also
move the stage or a release (the gate's ``policy`` row says so).
"""

from __future__ import annotations

from diva.compiler.ir import Project


def changed(base: Project, head: Project) -> list[str]:
    """The policy fields whose effective value differs between ``base`` and ``head``."""
    return [path for path, value in base.policy.items() if head.policy.get(path) != value]


def reviewers(base: Project) -> list[str]:
    """Who must review a policy change: the owners of the spec on the base branch (its
    quality managers, or its modelers while the team names none, as in CODEOWNERS)."""
    return list(base.team.quality_managers or base.team.modelers)
