"""The history of a project: every stage move and release pin, and the verdict on it.

What moved, and when, comes from git alone: the spec at each commit on the first-parent
line of the default branch (the merges, as they landed), read through one
``git cat-file --batch``. Who approved, the gate's verdict and the evidence digests it saw
come from the verdict the record job kept as a git note on the merge commit
(:mod:`diva.lifecycle.evidence.notes`); a move without a note says so (a direct push, a
merge before the record job existed, or a record job that failed).

:func:`at` answers "what ran in each environment at time T, and who approved it".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diva.errors import UsageError
from diva.lifecycle.evidence import notes
from diva.lifecycle.evidence.git import Pin, versions
from diva.lifecycle.report import Report


@dataclass(frozen=True)
class Entry:
    """A commit on the default branch that moved the stage or pinned a release."""

    commit: str
    #: when it landed (the committer date of the merge), in UTC
    date: datetime
    author: str
    before: int | None
    after: int | None
    #: the environments it pinned anew, and what
    released: dict[str, Pin] = field(default_factory=dict)
    #: the verdict the record job kept on it, None when there is none
    record: dict[str, Any] | None = None

    @property
    def moved_stage(self) -> bool:
        return self.before != self.after

    @property
    def pull_request(self) -> int | None:
        return self.record.get("pull_request") if self.record else None

    @property
    def approvers(self) -> list[str]:
        if not self.record:
            return []
        return [
            f"@{a.get('login')} ({', '.join(a.get('roles') or [])})"
            for a in self.record.get("approvals") or []
            if isinstance(a, dict)
        ]

    @property
    def verdict(self) -> str:
        if self.record is None:
            return "no record"
        return "passed" if self.record.get("passed") else "FAILED"


def entries(root: Path, ref: str = "HEAD", spec_file: str = "diva.yaml") -> list[Entry]:
    """Every stage move and release pin along the first-parent line of ``ref``, oldest
    first, each with its verdict record when there is one. A version whose stage cannot
    be read (an invalid spec in an old commit) moves nothing."""
    records = notes.read_all(root)
    found: list[Entry] = []
    stage: int | None = None
    pinned: dict[str, Pin] = {}
    for version in versions(root, ref, spec_file):
        if version.stage is None:
            continue
        new = {env: pin for env, pin in version.pins.items() if pinned.get(env) != pin}
        if version.stage != stage or new:
            when = datetime.fromisoformat(version.committed).astimezone(UTC)
            record = records.get(version.commit)
            found.append(
                Entry(version.commit, when, version.author, stage, version.stage, new, record)
            )
        stage, pinned = version.stage, version.pins
    return found


@dataclass(frozen=True)
class State:
    """What held at a time: the stage, and each environment's release with the entry
    that pinned it."""

    when: datetime
    stage: int | None
    staged_by: Entry | None
    releases: dict[str, tuple[Pin, Entry]]


def at(found: list[Entry], when: datetime) -> State:
    """The state at ``when``: the last stage move and the last pin of each environment
    that landed at or before it."""
    stage: int | None = None
    staged_by: Entry | None = None
    pinned: dict[str, tuple[Pin, Entry]] = {}
    for entry in found:
        if entry.date > when:
            break
        if entry.moved_stage:
            stage, staged_by = entry.after, entry
        for env, release in entry.released.items():
            pinned[env] = (release, entry)
    return State(when, stage, staged_by, pinned)


def parse_time(text: str) -> datetime:
    """``2026-05-01``, ``2026-05-01T12:00Z``, ``2026-05-01T12:00:00+02:00``; without a
    zone, UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as err:
        raise UsageError(
            f"--at {text!r}: not a time (ISO 8601, e.g. 2026-05-01T12:00Z or 2026-05-01)"
        ) from err
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def for_environment(found: list[Entry], environment: str) -> list[Entry]:
    """The pins of one environment only."""
    return [
        Entry(e.commit, e.date, e.author, e.after, e.after, {environment: r}, e.record)
        for e in found
        if (r := e.released.get(environment)) is not None
    ]


def _release_text(release: Pin) -> str:
    digest = release.image_digest or "no image yet"
    return f"model version {release.model_version}, image {digest}"


def describe(entry: Entry) -> list[str]:
    """What an entry moved, in words."""
    moves = []
    if entry.moved_stage:
        before = "new" if entry.before is None else str(entry.before)
        moves.append(f"stage {before} -> {entry.after}")
    moves += [f"{env}: {_release_text(r)}" for env, r in sorted(entry.released.items())]
    return moves


def as_table(found: list[Entry]) -> str:
    """One line per entry: when, commit, pull request, what moved, who approved, verdict."""
    if not found:
        return "no stage move or release recorded in git\n"
    lines = []
    for entry in found:
        number = f"#{entry.pull_request}" if entry.pull_request else "-"
        approved = ", ".join(entry.approvers) or "-"
        lines.append(
            f"{_stamp(entry.date)}  {entry.commit[:10]}  {number:<6}  "
            f"{'; '.join(describe(entry))}  approved by {approved}  [{entry.verdict}]"
        )
    return "\n".join(lines) + "\n"


def state_text(state: State, environment: str | None = None) -> str:
    """The answer to ``--at``, for people."""
    lines = [f"at {_stamp(state.when)}:"]
    if environment is None:
        stage = "none (before the first commit of the spec)" if state.stage is None else state.stage
        lines.append(f"  stage {stage}{_by(state.staged_by)}")
    shown = {environment: state.releases.get(environment)} if environment else state.releases
    if not shown:
        lines.append("  no release pinned yet")
    for env, pinned in sorted(shown.items()):
        if pinned is None:
            lines.append(f"  {env}: nothing pinned yet")
            continue
        release, entry = pinned
        lines.append(f"  {env}: {_release_text(release)}{_by(entry)}")
        evidence = ((entry.record or {}).get("evidence") or {}).get("datasets") or {}
        if evidence:
            seen = ", ".join(f"{name} {digest}" for name, digest in sorted(evidence.items()))
            lines.append(f"    evidence the gate saw: {seen}")
    return "\n".join(lines) + "\n"


def _by(entry: Entry | None) -> str:
    if entry is None:
        return ""
    number = f" (pull request #{entry.pull_request})" if entry.pull_request else ""
    approved = ", ".join(entry.approvers) or "nobody recorded"
    return (
        f" — since {_stamp(entry.date)}, commit {entry.commit[:10]}{number}; "
        f"approved by {approved}; gate {entry.verdict}"
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pin_json(pin: Pin) -> dict[str, Any]:
    return {"model_version": pin.model_version, "image_digest": pin.image_digest}


def entry_json(entry: Entry) -> dict[str, Any]:
    record = entry.record or {}
    return {
        "commit": entry.commit,
        "date": _stamp(entry.date),
        "author": entry.author,
        "from": entry.before,
        "to": entry.after,
        "releases": {env: _pin_json(pin) for env, pin in sorted(entry.released.items())},
        "pull_request": entry.pull_request,
        "approvals": record.get("approvals", []),
        "verdict": entry.verdict,
        "evidence": record.get("evidence"),
    }


def as_json_text(found: list[Entry], state: State | None = None) -> str:
    data: dict[str, Any] = {"entries": [entry_json(entry) for entry in found]}
    if state is not None:
        data["at"] = {
            "time": _stamp(state.when),
            "stage": state.stage,
            "staged_by": entry_json(state.staged_by) if state.staged_by else None,
            "releases": {
                env: _pin_json(pin) | {"pinned_by": entry_json(entry)}
                for env, (pin, entry) in sorted(state.releases.items())
            },
        }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def record_of(report: Report, commit: str, when: datetime) -> dict[str, Any]:
    """The verdict record kept as a git note: the facts (commits, pull request, who
    approved as what, evidence digests) and every row of the report."""
    return {
        "diva": 1,
        **report.facts,
        "commit": commit,
        "passed": report.passed,
        "from": report.base_stage,
        "to": report.head_stage,
        "movement": report.movement,
        "rows": [{"id": row.id, "status": row.status, "detail": row.detail} for row in report.rows],
        "evidence_summary": report.evidence,
        "recorded_at": _stamp(when),
    }


def keep(root: Path, report: Report, commit: str) -> None:
    """The verdict on ``commit`` as a git note on it (``refs/notes/diva``)."""
    notes.write(root, commit, record_of(report, commit, datetime.now(UTC)))
