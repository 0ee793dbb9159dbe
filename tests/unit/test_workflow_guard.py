"""Impostor workflows: a pull request must not add a job that reports the gate's check.

Each case is a real workflow text at the base and the head commit; ``impostors`` parses
them as GitHub would read them and reports what could satisfy the required check.
"""

from __future__ import annotations

import pytest

from diva.compiler.backends.github.workflows import GATE_CHECK, GATE_WORKFLOW
from diva.lifecycle.workflow_guard import impostors

CI = ".github/workflows/ci.yml"
GENERATED = {GATE_WORKFLOW, ".github/workflows/diva-pipeline.yml"}

TESTS = b"""\
name: ci
on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest
"""

#: Always green, and named like the gate: satisfies the required check on its own.
IMPOSTOR = b"""\
name: ci
on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest
  fake:
    name: diva gate
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"""


def _found(head: bytes, base: bytes | None = TESTS, path: str = CI) -> list[str]:
    before = {} if base is None else {path: base}
    return impostors(before, {path: head}, GENERATED, GATE_CHECK)


def test_an_added_impostor_workflow_is_reported() -> None:
    [problem] = _found(IMPOSTOR, base=None)
    assert problem.startswith(f"{CI}: job 'fake' is named 'diva gate'")
    assert "must not report the check 'diva gate'" in problem


def test_a_job_renamed_to_the_gates_name_is_reported() -> None:
    head = TESTS.replace(b"  test:\n", b'  test:\n    name: " Diva  Gate "\n')
    [problem] = _found(head)
    assert f"{CI}: job 'test' is named ' Diva  Gate '" in problem


def test_an_unchanged_impostor_is_not_the_pull_requests_doing() -> None:
    assert _found(IMPOSTOR, base=IMPOSTOR) == []


def test_an_ordinary_workflow_change_is_no_problem() -> None:
    head = TESTS.replace(b"pytest", b"pytest -q")
    assert _found(head) == []


def test_a_removed_workflow_is_no_problem() -> None:
    assert impostors({CI: IMPOSTOR}, {}, GENERATED, GATE_CHECK) == []


def test_a_generated_workflow_is_left_to_drift() -> None:
    assert _found(IMPOSTOR, base=TESTS, path=GATE_WORKFLOW) == []


@pytest.mark.parametrize("job_id", ["diva-gate", "diva_gate", "DIVA_GATE", "'diva gate'"])
@pytest.mark.parametrize(
    "name", ["", '    name: ""\n', "    name:\n"], ids=["none", "empty", "null"]
)
def test_a_job_without_name_whose_id_looks_like_the_gate_is_reported(
    job_id: str, name: str
) -> None:
    head = TESTS.replace(b"  test:\n", f"  {job_id}:\n{name}".encode())
    [problem] = _found(head)
    assert "has no name, so its id is its check name" in problem


def test_a_matrix_name_that_can_be_the_gates_is_reported() -> None:
    head = b"""\
on: pull_request
jobs:
  checks:
    name: ${{ matrix.check }}
    strategy:
      matrix:
        check: [lint, "diva gate", types]
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"""
    [problem] = _found(head)
    assert "job 'checks' is named '${{ matrix.check }}', which can be 'diva gate'" in problem


def test_a_matrix_include_that_makes_the_gates_name_is_reported() -> None:
    head = b"""\
on: pull_request
jobs:
  checks:
    name: "diva ${{ matrix.what.word }}"
    strategy:
      matrix:
        python: ["3.11"]
        include:
          - {what: {word: GATE}}
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"""
    [problem] = _found(head)
    assert "which can be 'diva gate'" in problem


def test_a_matrix_name_that_cannot_be_the_gates_is_no_problem() -> None:
    head = b"""\
on: pull_request
jobs:
  test:
    name: test (${{ matrix.os }}, py${{ matrix.python }})
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
        python: ["3.11", "3.12"]
    runs-on: ${{ matrix.os }}
    steps:
      - run: pytest
"""
    assert _found(head) == []


@pytest.mark.parametrize(
    "name",
    [
        "${{ 'diva gate' }}",
        "diva ${{ 'gate' }}",
        "${{ format('{0} {1}', 'diva', 'gate') }}",
        "${{ 'Diva' }}-${{ 'Gate' }}",
    ],
)
def test_an_expression_that_spells_the_gates_name_is_reported(name: str) -> None:
    head = TESTS.replace(b"  test:\n", f'  test:\n    name: "{name}"\n'.encode())
    [problem] = _found(head)
    assert f"job 'test' is named '{name}'" in problem


def test_a_name_computed_from_the_pull_request_cannot_be_told() -> None:
    name = "${{ github.event.pull_request.title }}"
    head = TESTS.replace(b"  test:\n", f'  test:\n    name: "{name}"\n'.encode())
    [problem] = _found(head)
    assert "computed when it runs (${{github.event.pull_request.title}})" in problem
    assert "diva cannot tell whether that is the gate's check" in problem


def test_a_computed_matrix_cannot_be_told() -> None:
    head = b"""\
on: pull_request
jobs:
  checks:
    name: ${{ matrix.check }}
    strategy:
      matrix: ${{ fromJSON(vars.CHECKS) }}
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"""
    [problem] = _found(head)
    assert "whose matrix is computed when it runs" in problem


def test_a_reusable_workflow_job_named_like_the_gate_is_reported() -> None:
    head = b"""\
on: pull_request
jobs:
  gate:
    name: diva gate
    uses: acme/shared/.github/workflows/always-green.yml@main
"""
    [problem] = _found(head, base=None)
    assert f"{CI}: reusable-workflow job 'gate' is named 'diva gate'" in problem


def test_a_name_through_an_alias_is_reported() -> None:
    head = b"""\
on: pull_request
x-names: {gate: &gate diva gate}
jobs:
  fake:
    name: *gate
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"""
    [problem] = _found(head, base=None)
    assert "job 'fake' is named 'diva gate'" in problem


@pytest.mark.parametrize(
    "head",
    [
        b"jobs:\n  fake:\n    name: diva gate\n   runs-on: x\n",  # bad indentation
        b"jobs:\n  fake: {name: diva gate}\n  fake: {name: lint}\n",  # duplicate key
        b"\xff\xfejobs:\n",  # not UTF-8
        b"jobs: " + b"[" * 100_000 + b"]" * 100_000,  # crashed the composer
        b"jobs: [" + b"a, " * 100_001 + b"]",
        b"jobs: x\n" + b"#" * (1024 * 1024),
    ],
    ids=["syntax", "duplicate-key", "encoding", "deep", "many-nodes", "large"],
)
def test_an_unreadable_changed_workflow_is_reported(head: bytes) -> None:
    [problem] = _found(head)
    assert problem.startswith(f"{CI}: it ")
    assert problem.endswith("so diva cannot tell whether it imitates the gate's check 'diva gate'")


def test_an_unreadable_generated_workflow_is_left_to_drift() -> None:
    assert _found(b"jobs: [\n", path=GATE_WORKFLOW) == []


def test_only_workflows_github_runs_are_read() -> None:
    head = {
        ".github/workflows/sub/fake.yml": IMPOSTOR,
        ".github/fake.yml": IMPOSTOR,
        "docs/fake.yml": IMPOSTOR,
        ".github/workflows/fake.yaml": IMPOSTOR,
    }
    [problem] = impostors({}, head, GENERATED, GATE_CHECK)
    assert problem.startswith(".github/workflows/fake.yaml: ")


def test_problems_come_one_per_workflow_in_path_order() -> None:
    twice = IMPOSTOR + b"  fake2:\n    name: DIVA GATE\n    runs-on: x\n"
    head = {".github/workflows/b.yml": IMPOSTOR, ".github/workflows/a.yml": twice}
    problems = impostors({}, head, GENERATED, GATE_CHECK)
    assert [problem.split(":")[0] for problem in problems] == [
        ".github/workflows/a.yml",
        ".github/workflows/b.yml",
    ]
    assert "job 'fake' is named 'diva gate'; job 'fake2' is named 'DIVA GATE'" in problems[0]


def test_hostile_job_names_are_shown_escaped_and_short() -> None:
    name = "diva gate\\n::error::pwned" + "x" * 200
    head = TESTS.replace(
        b"  test:\n", f'  test:\n    name: "{name}"\n  fake:\n    name: "diva\\tgate"\n'.encode()
    )
    [problem] = _found(head)
    assert "\n" not in problem
    assert "\t" not in problem
    assert "job 'fake' is named 'diva\\tgate'" in problem


def test_an_alias_bomb_is_never_expanded() -> None:
    levels = ["a0: &a0 [gate, gate, gate, gate, gate, gate, gate, gate, gate, gate]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    head = (
        "on: pull_request\nx-bomb:\n"
        + "".join(f"  {level}\n" for level in levels)
        + "jobs:\n  fake:\n    name: diva ${{ matrix.w }}\n"
        + "    strategy: {matrix: {w: *a8}}\n    runs-on: x\n"
    ).encode()
    assert _found(head) == []  # 10**9 leaves if expanded; its values are lists, not names


def test_too_many_matrix_combinations_cannot_be_told() -> None:
    values = ", ".join(f"v{n}" for n in range(40))
    head = f"""\
on: pull_request
jobs:
  wide:
    name: ${{{{ matrix.a }}}}-${{{{ matrix.b }}}}
    strategy: {{matrix: {{a: [{values}], b: [{values}]}}}}
    runs-on: x
""".encode()
    [problem] = _found(head)
    assert "whose matrix has more than 1000 combinations" in problem
