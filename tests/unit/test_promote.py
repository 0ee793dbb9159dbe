"""``diva promote``'s in-place stage edit; promotion end to end on real git repos is in
tests/integration/test_promote.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.compiler.source import load_bytes
from diva.lifecycle.proposals.promote import set_stage
from diva.lifecycle.proposals.pull_request import Outcome, next_steps
from diva.stages import stage

COMMENTED = """\
# yaml-language-server: $schema=../diva.schema.json
# Everything but the stage value must survive a promotion byte for byte.

diva: 1   # spec format
project: {name: demo, title: "Quoted: a title"}    # a flow mapping


stage: {value}   # owned by @quality/ml-review

idea:
  problem: 'single quoted, with a # that is not a comment'
  expected_effect: >
    Folded text
    on two lines.
  inputs: [{name: temp_c, type: float}, {name: flow, type: float}]
  outputs:
    - {name: thickness_um, type: float}   # trailing comment
"""


def commented(value: str) -> str:
    return COMMENTED.replace("{value}", value)


# --- set_stage ---------------------------------------------------------------------------


def test_set_stage_keeps_every_other_byte() -> None:
    assert set_stage(commented("1"), stage(2)) == commented("2")


def test_set_stage_changes_only_the_stage_line() -> None:
    before = commented("1").splitlines(keepends=True)
    after = set_stage(commented("1"), stage(2)).splitlines(keepends=True)
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        ("stage: 1   # owned by @quality/ml-review\n", "stage: 2   # owned by @quality/ml-review\n")
    ]


def test_a_stage_number_stays_a_number() -> None:
    edited = set_stage(commented("1"), stage(2))
    assert load_bytes(edited.encode()).data["stage"] == 2


def test_a_stage_name_stays_a_name() -> None:
    edited = set_stage(commented("plan"), stage(2))
    assert edited == commented("small")
    assert load_bytes(edited.encode()).data["stage"] == "small"


@pytest.mark.parametrize("quote", ["'", '"'])
def test_a_quoted_stage_name_stays_a_name_and_nothing_else_changes(quote: str) -> None:
    edited = set_stage(commented(f"{quote}plan{quote}"), stage(2))
    assert load_bytes(edited.encode()).data["stage"] == "small"
    # The quotes may be kept or dropped (today they are dropped); nothing else may change.
    assert edited in {commented(f"{quote}small{quote}"), commented("small")}


def test_set_stage_keeps_crlf_line_endings() -> None:
    text = commented("1").replace("\n", "\r\n")
    assert set_stage(text, stage(2)) == commented("2").replace("\n", "\r\n")


def test_set_stage_in_a_flow_mapping() -> None:
    text = "{diva: 1, stage: 1, project: {name: demo, title: t}}  # one line\n"
    assert set_stage(text, stage(2)) == text.replace("stage: 1", "stage: 2")


# --- next_steps: what the user is told to run --------------------------------------------


def test_the_printed_commands_quote_the_body_file() -> None:
    body_file = Path("/tmp/my project/.git/diva/diva-stage-2-small.md")
    outcome = Outcome("diva/stage-2-small", "Promote", "## body\n", None, True, body_file=body_file)
    lines = next_steps(outcome, "origin")
    assert lines[2] == (
        "  gh pr create --draft --base main --head diva/stage-2-small --title Promote"
        " --body-file '/tmp/my project/.git/diva/diva-stage-2-small.md'"
    )


def test_a_rebuilt_branch_is_told_how_to_refresh_its_pull_request() -> None:
    outcome = Outcome("diva/stage-2-small", "Promote", "## body\n", None, replaced="ab" * 20)
    lines = next_steps(outcome, "origin")
    assert lines[1] == (
        "rebuilt diva/stage-2-small on main and pushed it to origin with a lease"
        " (it was at abababababab)"
    )
    assert lines[3] == "  gh pr edit diva/stage-2-small --title Promote --body-file PR.md"
