"""`diva gate` on a repository with a long history of its spec.

A git repository whose first-parent line holds C commits that each change diva.yaml
(the stage moves between `plan` and `small` every 10 commits, so the history has C/10
stage changes), made in one `git fast-import`, then compiled and committed. Per C:
`diva gate` (one process, base HEAD: no stage change, so the time is history, validation
and the drift check), next to the floor of reading the same history in git itself: one
`git log` and one `git cat-file --batch` printing every version of the spec.
Usage: `nox -s bench` or `python bench/gate.py [--commits 100 300 1000] [--runs 3]`;
`--profile C` prints where an in-process gate spends its time on C commits.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from timing import (  # noqa: E402
    Measure,
    checked,
    interleaved,
    run_child,
    scale_table,
)

EXAMPLE = ROOT / "specs" / "examples" / "epi-thickness" / "diva.yaml"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@diva.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@diva.invalid",
}
GATE = "`diva gate` (whole process)"
FLOOR = "floor: git log + git cat-file --batch"


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, input=stdin, capture_output=True, check=True
    )
    return result.stdout


def spec_at(text: str, index: int, commits: int) -> str:
    """The spec of commit ``index``: the last commit is at `small`, like the example."""
    stage = "small" if (commits - 1 - index) // 10 % 2 == 0 else "plan"
    return text.replace("\nstage: small\n", f"\nstage: {stage}\n") + f"# revision {index}\n"


def fast_import_stream(commits: int) -> bytes:
    text = EXAMPLE.read_text(encoding="utf-8")
    chunks = []
    for index in range(commits):
        spec = spec_at(text, index, commits).encode()
        message = f"spec revision {index}".encode()
        when = 1_700_000_000 + index * 3600
        chunks += [
            b"commit refs/heads/main\n",
            f"mark :{index + 1}\n".encode(),
            f"committer bench <bench@diva.invalid> {when} +0000\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
            f"from :{index}\n".encode() if index else b"",
            f"M 100644 inline diva.yaml\ndata {len(spec)}\n".encode() + spec + b"\n",
        ]
    return b"".join(chunks)


def build_repository(root: Path, commits: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "fast-import", "--quiet", stdin=fast_import_stream(commits))
    git(root, "reset", "-q", "--hard", "main")
    argv = [*_diva(), "compile"]
    checked(run_child(argv, cwd=root), argv)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "compile")


def _diva() -> list[str]:
    script = shutil.which("diva")
    return [script] if script else [sys.executable, "-m", "diva"]


def read_history(root: Path) -> None:
    """Every version of the spec along the first-parent line, in two git processes."""
    log = git(root, "log", "--first-parent", "--format=%H", "HEAD", "--", "diva.yaml")
    requests = b"".join(line + b":diva.yaml\n" for line in log.splitlines())
    git(root, "cat-file", "--batch", stdin=requests)


def bench_history(commits: int, runs: int) -> dict[str, Measure]:
    with tempfile.TemporaryDirectory(prefix="diva-bench-gate-") as temp:
        root = Path(temp) / "repo"
        build_repository(root, commits)
        argv = [*_diva(), "gate"]

        def gate(measure: Measure) -> None:
            child = checked(run_child(argv, cwd=root), argv)
            if not child.output.rstrip().endswith("gate passed"):
                raise RuntimeError(child.output)
            measure.add_child(child)

        def floor(measure: Measure) -> None:
            start = time.perf_counter()
            read_history(root)
            measure.seconds.append(time.perf_counter() - start)

        return interleaved({GATE: gate, FLOOR: floor}, runs)


def profile(commits: int) -> None:
    from diva.lifecycle.gate import evaluate

    with tempfile.TemporaryDirectory(prefix="diva-bench-gate-") as temp:
        root = Path(temp) / "repo"
        build_repository(root, commits)
        profiler = cProfile.Profile()
        profiler.runcall(evaluate, root, "HEAD")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="C", help="profile one gate instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    print(f"diva gate over a history of C commits to diva.yaml, {args.runs} runs each")
    print("(wall time: median (min - max); per commit; peak memory: max RSS of the process)")
    results = [bench_history(commits, args.runs) for commits in args.commits]
    print(scale_table((GATE, FLOOR), args.commits, results, "C", "commit"))
    for commits, result in zip(args.commits, results, strict=True):
        ratio = result[GATE].median / result[FLOOR].median
        print(f"  C={commits}: diva gate / git floor = {ratio:.1f}")


if __name__ == "__main__":
    main()
