"""Golden files: each case's spec compiles to exactly the tree in its ``expected/``.

``tests/golden/<case>/`` holds one case:

* ``diva.yaml``: the spec;
* ``expected/``: every file ``diva compile`` writes for it (``diva.lock`` included),
  byte for byte, when the spec sits in the output folder as ``diva.yaml``.

The spec itself is the input, not an output, so it is left out of the comparison.
After an intended change of the generated files, or to add a case (create its folder
with a ``diva.yaml``), regenerate every ``expected/`` tree with::

    DIVA_REGEN=1 python -m pytest tests/golden/test_golden.py

and review ``git diff tests/golden/`` before committing. Never edit ``expected/`` by
hand: regeneration replaces the whole tree, so stale files disappear with it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply
from tests.support.trees import tree

CASES_DIR = Path(__file__).parent
CASES = sorted(path.parent for path in CASES_DIR.glob("*/diva.yaml"))
REGEN = os.environ.get("DIVA_REGEN") == "1"
SPEC = "diva.yaml"
#: A case's input beside its spec: the hash lock its platform.install.lock names.
LOCK = "diva-lock.txt"


def compile_case(case: Path, tmp_path: Path) -> Path:
    """Compile ``case`` the way a project does: the spec in the output folder."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(case / SPEC, out / SPEC)
    if (case / LOCK).is_file():
        shutil.copyfile(case / LOCK, out / LOCK)
    apply(plan_job(Job(out / SPEC, out)))
    return out


def _regenerate(expected: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(expected, ignore_errors=True)
    for name, data in files.items():
        target = expected / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_compiles_to_its_expected_tree(case: Path, tmp_path: Path) -> None:
    actual = tree(compile_case(case, tmp_path), skip=frozenset({SPEC, LOCK}))
    expected = case / "expected"
    if REGEN:
        _regenerate(expected, actual)
    assert sorted(actual) == sorted(tree(expected)), "the set of generated files differs"
    for name, data in tree(expected).items():
        assert actual[name].decode() == data.decode(), f"{name} differs from the golden file"


def test_every_case_has_an_expected_tree() -> None:
    missing = [case.name for case in CASES if not (case / "expected").is_dir()]
    assert missing == []
