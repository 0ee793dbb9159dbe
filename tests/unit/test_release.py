"""Releases in memory: the in-place pin of ``serving.releases``. The gate's release checks,
MLflow aliases and `diva release pin --pr` are in tests/integration/test_release.py."""

from __future__ import annotations

from diva.compiler.source import load_bytes
from diva.lifecycle.proposals.pin import Pinned, pin_text
from tests.support.release import DIGEST, OTHER

# --- the in-place edit -----------------------------------------------------------------

COMMENTED = """\
# the releases, edited by pull request
serving:
  pattern: model-as-service
  releases:   # what runs where
    staging: {model_version: 7, image_digest: "DIGEST"}   # built by CI
    # production waits for approval
  replicas: {min: 1, max: 2}
"""


def test_pin_changes_only_the_release_values() -> None:
    text = COMMENTED.replace("DIGEST", DIGEST)
    edited = pin_text(text, Pinned("staging", 8, OTHER))
    assert edited == text.replace("model_version: 7", "model_version: 8").replace(DIGEST, OTHER)


def test_pin_adds_an_environment_after_the_last_one() -> None:
    text = COMMENTED.replace("DIGEST", DIGEST)
    edited = pin_text(text, Pinned("production", 7, DIGEST))
    line = f'    production: {{model_version: 7, image_digest: "{DIGEST}"}}\n'
    assert edited == text.replace("   # built by CI\n", f"   # built by CI\n{line}")


def test_pin_adds_the_releases_mapping_to_serving() -> None:
    text = "serving:\n  pattern: precompute   # nightly\nplatform: {python: '3.11'}\n"
    edited = pin_text(text, Pinned("staging", 3, None))
    assert edited == text.replace(
        "# nightly\n", "# nightly\n  releases:\n    staging: {model_version: 3}\n"
    )


def test_pin_without_a_digest_clears_the_pinned_one() -> None:
    text = COMMENTED.replace("DIGEST", DIGEST)
    edited = pin_text(text, Pinned("staging", 9, None))
    assert load_bytes(edited.encode()).data["serving"]["releases"]["staging"] == {
        "model_version": 9,
        "image_digest": None,
    }


def test_pin_keeps_crlf_line_ends() -> None:
    text = COMMENTED.replace("DIGEST", DIGEST).replace("\n", "\r\n")
    edited = pin_text(text, Pinned("production", 7, None))
    assert "\n" not in edited.replace("\r\n", "")
    assert "    production: {model_version: 7}\r\n" in edited
