"""Invalid specs are refused by ``diva validate`` with their exact, located messages.

Every directory under ``invalid/`` is one case: a ``diva.yaml`` broken in one way (or
in several, when the case is about reporting many problems at once) and
``expected.txt``, the exact stdout of ``diva validate diva.yaml`` run inside that
directory. The CLI runs as a subprocess, so the cases check what users see.

Optional files in a case directory:

* ``pad-to-bytes`` holds a byte count: the copied ``diva.yaml`` is padded with comment
  lines to that size first, so that a file over 1 MiB need not be committed.
* ``schema-rejects`` / ``schema-gap``: see ``test_schema_parity.py``.

To add a case, create its directory with a ``diva.yaml`` and regenerate. After an
intended change of messages, regenerate the golden files with::

    DIVA_REGEN=1 python -m pytest tests/acceptance/test_invalid_specs.py

and review the diff of every ``expected.txt`` before committing; never edit them by
hand. Regeneration still fails on a crash, a wrong exit code or an unlocated line.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.process import RunDiva

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(path for path in INVALID.iterdir() if path.is_dir())
REGEN = os.environ.get("DIVA_REGEN") == "1"
LOCATED = re.compile(r"^diva\.yaml:(\d+):(\d+): ")
PADDING = b"# " + b"-" * 77 + b"\n"


def _prepare(case: Path, tmp_path: Path) -> Path:
    """A scratch copy of ``case``, its spec padded when the case asks for it."""
    work = tmp_path / case.name
    shutil.copytree(case, work)
    pad = work / "pad-to-bytes"
    if pad.is_file():
        spec = work / "diva.yaml"
        data = spec.read_bytes()
        missing = int(pad.read_text(encoding="utf-8")) - len(data)
        spec.write_bytes(data + PADDING * (max(missing, 0) // len(PADDING) + 1))
    return work


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_invalid_spec_is_refused_with_expected_message(
    case: Path, tmp_path: Path, run_diva: RunDiva
) -> None:
    result = run_diva("validate", "diva.yaml", cwd=_prepare(case, tmp_path))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines, "an invalid spec must report at least one problem"
    located = [LOCATED.match(line) for line in lines]
    assert all(located), result.stdout
    positions = [(int(match[1]), int(match[2])) for match in located if match]
    assert positions == sorted(positions), "problems are reported in file order"
    noun = "problem" if len(lines) == 1 else "problems"
    assert f"diva.yaml: {len(lines)} {noun}" in result.stderr
    expected = case / "expected.txt"
    if REGEN:
        expected.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_every_case_has_a_spec_and_expected_output() -> None:
    incomplete = [
        case.name
        for case in CASES
        if not (case / "diva.yaml").is_file() or not (case / "expected.txt").is_file()
    ]
    assert incomplete == []


def test_corpus_has_at_least_30_cases() -> None:
    assert len(CASES) >= 30
