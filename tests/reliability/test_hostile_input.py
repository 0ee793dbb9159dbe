"""Hostile specs, each checked by a real ``diva validate`` under a memory and a time limit.

The hazards of a YAML file anybody may send in a pull request: bombs that explode when
expanded, nesting that exhausts parser stacks, huge node counts, oversized files and
lines, tags that construct objects, several documents, broken encodings, NUL bytes,
control and bidirectional characters, workflow expressions, keys that are not text,
numbers too long for Python, and floods of problems. The cases are generated here (some
are megabytes) rather than committed; ``tests/acceptance/invalid/`` holds the committed
cases with their exact messages, and all of those run here too, under the same limits.

Every case must end in exit 1 with every problem located (``diva.yaml:LINE:COLUMN: ...``),
the count on standard error, and no traceback, within ``TIMEOUT`` seconds and an address
space of ``MEMORY`` bytes (``RLIMIT_AS``): a crash, a hang or a memory blow-up fails.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.monorepo import env

MEMORY = 512 * 1024 * 1024
TIMEOUT = 60
LOCATED = re.compile(r"^(?P<file>[^:]+\.yaml):\d+:\d+: \S")
BASE = "diva: 1\nproject: {name: demo, title: Demo}\nstage: 0\n"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def validate(folder: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diva", "validate", *paths],
        cwd=folder,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limits,  # safe: the child runs no threads before exec
        check=False,
    )


def _alias_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return (BASE + "\n".join(lines) + "\n").encode()


def _block_nesting(depth: int) -> bytes:
    lines = [f"{'  ' * level}k{level}:" for level in range(depth)]
    return (BASE + "\n".join(lines) + " 1\n").encode()


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    says: str  # a part of the first problem's message


CASES = (
    Case("alias-bomb", _alias_bomb, "anchors (&a) are not allowed"),
    Case("flow-sequences-30000-deep", lambda: b"x: " + b"[" * 30000 + b"]" * 30000, "nesting"),
    Case("flow-mappings-30000-deep", lambda: b"x: " + b"{a: " * 30000 + b"}" * 30000, "nesting"),
    Case("block-mappings-900-deep", lambda: _block_nesting(900), "nesting is deeper than 64"),
    Case(
        "100001-item-list",
        lambda: (BASE + "x: [" + ",".join(["0"] * 100_001) + "]\n").encode(),
        "more than 100000 nodes",
    ),
    Case(
        "60000-keys",
        lambda: (BASE + "x: {" + ", ".join(f"k{i}: 0" for i in range(60_000)) + "}\n").encode(),
        "more than 100000 nodes",
    ),
    Case("file-of-1-mib-and-1-byte", lambda: b"#" * (1024 * 1024 + 1), "larger than 1024 KiB"),
    Case(
        "one-line-of-1-mib",
        lambda: (BASE + "x: '" + "y" * (1024 * 1024 - 60) + "'\n").encode(),
        "x: unknown key",
    ),
    Case("unclosed-quote-to-the-end", lambda: (BASE + 'x: "' + "y" * 900_000).encode(), "YAML"),
    Case("key-of-900-kb", lambda: (BASE + "k" * 900_000 + ": 1\n").encode(), "not valid YAML"),
    Case(
        "20000-duplicate-keys",
        lambda: (BASE + "dup: 1\n" * 20_000).encode(),
        "duplicate key (first defined on line 4)",
    ),
    Case(
        "20000-unknown-keys",
        lambda: (BASE + "".join(f"key{i}: {i}\n" for i in range(20_000))).encode(),
        "key0: unknown key",
    ),
    Case(
        "python-object-tag",
        lambda: (BASE + "x: !!python/object/apply:os.system [echo owned]\n").encode(),
        "explicit tags",
    ),
    Case("binary-tag", lambda: (BASE + "x: !!binary aGVsbG8=\n").encode(), "explicit tags"),
    Case(
        "verbatim-tag",
        lambda: (BASE + "x: !<tag:yaml.org,2002:python/object> {}\n").encode(),
        "explicit tags",
    ),
    Case(
        "tag-directive",
        lambda: ("%TAG !e! tag:example.com,2000:\n---\n" + BASE + "x: !e!y 1\n").encode(),
        "explicit tags",
    ),
    Case("three-documents", lambda: (BASE + "---\n" + BASE + "---\n" + BASE).encode(), "one YAML"),
    Case("document-end-marker", lambda: (BASE + "...\n" + BASE).encode(), "not valid YAML"),
    Case("yaml-1-3-directive", lambda: ("%YAML 1.3\n---\n" + BASE).encode(), "YAML"),
    Case("unknown-directive", lambda: ("%FOO bar\n---\n" + BASE).encode(), "not valid YAML"),
    Case("latin-1-bytes", lambda: BASE.encode() + b"title2: caf\xe9\n", "not valid UTF-8"),
    Case("utf-32-bom", lambda: "\ufeff".encode("utf-32-le") + BASE.encode("utf-32-le"), "UTF"),
    Case("overlong-utf-8", lambda: BASE.encode() + b"x: \xc0\xaf\n", "not valid UTF-8"),
    Case("nul-byte-in-a-value", lambda: BASE.encode() + b"x: a\x00b\n", "NUL"),
    Case(
        "nul-escape-in-the-title",
        lambda: BASE.replace("title: Demo", 'title: "a\\0b"').encode(),
        "project -> title",
    ),
    Case("lone-surrogate-escape", lambda: (BASE + 'x: "\\ud800"\n').encode(), "not valid YAML"),
    Case("bidi-override-key", lambda: (BASE + "\u202eevil: 1\n").encode(), "\\u202eevil"),
    Case("escape-sequence-key", lambda: (BASE + '"\\e[2J": 1\n').encode(), "\\x1b[2J"),
    Case(
        "workflow-expression-in-the-name",
        lambda: BASE.replace("name: demo", "name: '${{ secrets.X }}'").encode(),
        "project -> name",
    ),
    Case(
        "workflow-command-in-a-key",
        lambda: (BASE + '"a\\n::error::owned": 1\n').encode(),
        "a\\n::error::owned",
    ),
    Case("sequence-as-key", lambda: (BASE + "? [a, b]\n: c\n").encode(), "plain scalars"),
    Case("mapping-as-key", lambda: (BASE + "? {a: 1}\n: c\n").encode(), "plain scalars"),
    Case("number-and-null-keys", lambda: (BASE + "1: x\ntrue: y\n~: z\n").encode(), "unknown"),
    Case("carriage-returns-only", lambda: (BASE.replace("\n", "\r") + "x: [\r").encode(), "YAML"),
    Case("float-of-a-million-digits", lambda: (BASE + "y: 1e999999\n").encode(), "unknown key"),
    Case(
        "int-of-5000-digits",
        lambda: BASE.replace("stage: 0", "stage: " + "1" * 5000).encode(),
        "stage",
    ),
)


def _check(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines, "at least one problem is reported"
    assert all(LOCATED.match(line) for line in lines), result.stdout[:2000]
    assert says in lines[0], lines[0][:500]
    noun = "problem" if len(lines) == 1 else "problems"
    assert result.stderr.endswith(f"diva.yaml: {len(lines)} {noun}\n"), result.stderr[-500:]


def _run_case(case: Case, folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "diva.yaml").write_bytes(case.build())
    return validate(folder, "diva.yaml")


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case's run, two at a time (the processes are independent)."""
    root = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case.name: pool.submit(_run_case, case, root / case.name) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_spec_is_refused_with_a_located_problem_within_limits(
    case: Case, results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    _check(results[case.name], case.says)
