"""The layered layout seen from outside: what importing a layer loads, and the methodology's
criteria matching the gate's evaluators. The import contract itself is `lint-imports`
(`nox -s lint`)."""

from __future__ import annotations

import json
import subprocess
import sys

from diva.lifecycle.checkpoints import CHECKPOINTS, EVALUATORS
from diva.stages import CRITERIA, criteria_for
from tests.support.paths import SRC

CORE = ("diva.stages", "diva.extras", "diva.tools", "diva.contract", "diva.errors", "diva.urls")


def _loaded_by(statement: str) -> list[str]:
    """The diva modules a fresh interpreter has loaded after ``statement``."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    return [name for name in json.loads(result.stdout) if name.split(".")[0] == "diva"]


def test_the_backends_load_only_the_compiler_and_the_core() -> None:
    loaded = _loaded_by("import diva.compiler.backends")
    outside = [
        name for name in loaded if name != "diva" and not name.startswith(("diva.compiler", *CORE))
    ]
    assert "diva.compiler.backends.github.checklist" in loaded
    assert outside == []


def test_the_runtime_loads_neither_the_compiler_nor_pydantic() -> None:
    script = "from diva import runtime\nimport sys\nprint(sorted(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    assert "diva.runtime" in result.stdout
    for heavy in ("'diva.compiler", "'pydantic'", "'click'", "'mlflow'", "'diva.lifecycle.gate'"):
        assert heavy not in result.stdout


def test_every_criterion_has_exactly_one_evaluator() -> None:
    assert set(EVALUATORS) == {criterion.id for criterion in CRITERIA}
    assert [c.id for c in CHECKPOINTS] == [c.id for c in CRITERIA]


def test_checkpoints_keep_the_methodologys_wording() -> None:
    by_id = {checkpoint.id: checkpoint for checkpoint in CHECKPOINTS}
    for stage in range(1, 6):
        for criterion in criteria_for(stage):
            checkpoint = by_id[criterion.id]
            assert (checkpoint.stage, checkpoint.wording, checkpoint.evidence) == (
                criterion.stage,
                criterion.wording,
                criterion.evidence,
            )
