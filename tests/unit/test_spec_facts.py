"""The stage and release pins of a spec text, and the slice that ``diva history``
parses instead of the whole text: the same facts, or None where it cannot be sure."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.lifecycle.evidence.git import Pin, facts_of, facts_slice
from tests.support.paths import ROOT

SPECS = sorted((ROOT / "specs" / "examples").glob("*/diva.yaml")) + sorted(
    (ROOT / "tests" / "golden").glob("*/diva.yaml")
)
PINNED = b"""\
diva: 1
stage: manage   # a comment
idea:
  problem: |
    a block scalar
    stage: 1
serving:
  pattern: precompute

  releases:
    staging: {model_version: 7, image_digest: "sha256:aa"}
    production:
      model_version: 6
# a comment at column 0 inside the serving section
platform: {python: "3.11"}
"""


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.parent.name)
def test_the_slice_holds_the_same_facts(path: Path) -> None:
    raw = path.read_bytes()
    part = facts_slice(raw)
    assert part is not None
    assert facts_of(part) == facts_of(raw)


def test_pins_and_stage_are_read() -> None:
    assert facts_of(PINNED) == (5, {"staging": Pin(7, "sha256:aa"), "production": Pin(6, None)})
    part = facts_slice(PINNED)
    assert part is not None
    assert b"block scalar" not in part
    assert b"platform" not in part
    assert facts_of(part) == facts_of(PINNED)


@pytest.mark.parametrize(
    "text",
    [
        b"{diva: 1, stage: 2}\n",
        b"---\ndiva: 1\nstage: 2\n",
        b'"stage": 2\n',
        b"stage: 2\nstage: 3\n",
        b"stage:3\n",
        b"? stage\n: 2\n",
    ],
)
def test_what_is_not_plainly_block_style_is_read_whole(text: bytes) -> None:
    assert facts_slice(text) is None


@pytest.mark.parametrize(
    "text",
    [
        b"stage: [\n",  # not YAML
        b"stage: 9\n",  # no such stage
        b"serving: {releases: {production: {model_version: true}}}\n",
        b"serving: {releases: [1, 2]}\n",
        b"stage: small\nanchor: &a 1\nother: *a\n",  # refused hazard
    ],
)
def test_what_cannot_be_read_counts_as_nothing(text: bytes) -> None:
    assert facts_of(text) == (None, {})
