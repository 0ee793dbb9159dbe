"""The repository's own generated/<example>/ is what the examples compile to today."""

from __future__ import annotations

import pytest

from diva.compiler.pipeline import jobs_for, plan_job
from tests.support.paths import EXAMPLES, ROOT


@pytest.mark.parametrize("job", jobs_for(EXAMPLES, ROOT / "generated"), ids=lambda j: j.out.name)
def test_generated_examples_are_up_to_date(job: object) -> None:
    plan = plan_job(job)  # type: ignore[arg-type]
    assert not plan.drifted, "run `diva compile specs/examples/* --out generated` and commit"
