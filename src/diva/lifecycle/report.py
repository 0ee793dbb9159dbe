"""The gate's report: its rows, and the text, Markdown and JSON it is shown as.

Details quote what a pull request wrote (spec values, file names, messages of the tools
that read them), so every renderer escapes control characters, including ``\r``, C1
and bidirectional controls, and Markdown escapes what would render as markup. A report
whose evidence is self-attested says so first, in every format.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from diva.errors import escape_control as printable

#: Row statuses that let a gate pass: ``warn`` is a row that holds but says something a
#: reviewer should know (an approval not checked outside a pull request, say).
PASSING = frozenset({"pass", "warn"})
#: The prefix of the evidence summary of a gate that believed the evidence file.
SELF_ATTESTED = "SELF-ATTESTED"


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
    #: What a verdict record keeps besides the rows (commits, pull request, approvers).
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(row.status in PASSING for row in self.rows)

    @property
    def self_attested(self) -> bool:
        return self.evidence.startswith(SELF_ATTESTED)


_MARK = {"pass": "✅", "warn": "🔸", "fail": "❌", "unreachable": "⚠️", "unverified": "⛔"}
_BANNER = (
    "SELF-ATTESTED EVIDENCE: the MLflow evidence below is the author's own record "
    "(diva.evidence.json), not verified by this gate (platform.evidence: self-attested)"
)


_MARKUP = re.compile(r"([\\`*_\[\]|~#!])")


def _markdown(text: str) -> str:
    """Plain text for a Markdown table cell: escaped, no HTML tags, no markup."""
    no_tags = printable(text).replace("&", "&amp;").replace("<", "&lt;")
    return _MARKUP.sub(r"\\\1", no_tags)


def as_text(report: Report) -> str:
    width = max((len(row.id) for row in report.rows), default=10)
    lines = [f"diva gate: {printable(report.movement)}"]
    if report.self_attested:
        lines.append(f"  {_BANNER}")
    lines += [
        f"  {row.status:<11} {printable(row.id):<{width}}  {row.wording}: {printable(row.detail)}"
        for row in report.rows
    ]
    if report.evidence:
        lines.append(f"  evidence: {printable(report.evidence)}")
    lines.append(f"gate {'passed' if report.passed else 'FAILED'}")
    return "\n".join(lines)


def as_markdown(report: Report) -> str:
    verdict = "passed" if report.passed else "failed"
    lines = [f"## diva gate {verdict}: {_markdown(report.movement)}", ""]
    if report.self_attested:
        lines += [f"> [!WARNING]\n> {_BANNER}", ""]
    lines += ["| | checkpoint | | detail |", "|---|---|---|---|"]
    for row in report.rows:
        mark = _MARK.get(row.status, "")
        lines.append(
            f"| {mark} | `{printable(row.id)}` | {row.wording} | {_markdown(row.detail)} |"
        )
    if report.evidence:
        lines += ["", f"Evidence: {_markdown(report.evidence)}"]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    document = {
        "passed": report.passed,
        "self_attested": report.self_attested,
        "base_stage": report.base_stage,
        "head_stage": report.head_stage,
        "movement": report.movement,
        "evidence": report.evidence,
        "checkpoints": [asdict(row) for row in report.rows],
        "pull_request": report.facts.get("pull_request"),
        "approvals": report.facts.get("approvals", []),
    }
    return json.dumps(document, indent=2) + "\n"


RENDERERS = {"text": as_text, "markdown": as_markdown, "json": as_json}
