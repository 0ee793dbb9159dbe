"""`diva history` over M merges, each with its verdict note.

A git repository whose default branch holds M merge commits, each merging a pull request
that changes diva.yaml: every 10th moves the stage, the others pin a new release of
staging or production (``serving.releases``), in the 120-line demand-forecast
example spec, whose every version differs elsewhere too; each merge carries a verdict note under
``refs/notes/diva`` as the record workflow keeps it. All made in one `git fast-import`.
Per M: `diva history --format json` and `diva history --at T --env production` (whole
processes), next to the floor of reading the same facts in git itself: `git log`,
`git notes list` and one `git cat-file --batch` for the specs and the notes.
Usage: `nox -s bench` or `python bench/history.py [--merges 100 300 1000] [--runs 5]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import Measure, checked, interleaved, run_child, scale_table

HISTORY = "`diva history --format json`"
AT = "`diva history --at T --env production`"
FLOOR = "floor: git log + notes list + cat-file"
START = 1_700_000_000
DIGEST = "sha256:" + "0" * 60
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "specs" / "examples" / "demand-forecast" / "diva.yaml").read_text()


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=True)
    return result.stdout


def spec(index: int) -> bytes:
    """The demand-forecast example at merge ``index``: its stage, its two pins, and a
    line that makes every version's text distinct."""
    stage = ("deploy", "manage")[(index // 10) % 2]  # the stage moves every 10th merge
    staging, production = index // 2 + 1, (index + 1) // 2 + 1
    pins = "".join(
        f"    {env}: {{model_version: {version}, image_digest: '{DIGEST}{version:04d}'}}\n"
        for env, version in (("staging", staging), ("production", production))
    )
    text = EXAMPLE.replace("\nstage: manage\n", f"\nstage: {stage}\n")
    start = text.index("    staging: {")
    end = text.index("\n\n", start)
    return (text[:start] + pins.rstrip("\n") + text[end:] + f"# revision {index}\n").encode()


def note(index: int) -> bytes:
    record = {
        "diva": 1,
        "pull_request": index + 1,
        "passed": True,
        "approvals": [{"login": "quinn", "roles": ["quality_managers"]}],
        "evidence": {"datasets": {"sales": f"md5-{index}"}, "releases": {}},
        "rows": [{"id": "approvals.release", "status": "pass", "detail": "approved"}] * 12,
    }
    return json.dumps(record, indent=2).encode()


def _data(blob: bytes) -> bytes:
    return f"data {len(blob)}\n".encode() + blob + b"\n"


def fast_import_stream(merges: int) -> bytes:
    """main: a first commit, then per merge a branch commit and the merge (marks 2i+2,
    2i+3); then one notes commit with a note on every merge."""
    chunks = [b"commit refs/heads/main\nmark :1\n", f"committer b <b@x> {START} +0000\n".encode()]
    chunks += [_data(b"start"), b"M 100644 inline diva.yaml\n", _data(spec(0))]
    for index in range(merges):
        branch, merge, when = 2 * index + 2, 2 * index + 3, START + (index + 1) * 3600
        parent = 1 if index == 0 else merge - 2
        text = _data(spec(index + 1))
        chunks += [f"commit refs/heads/pr\nmark :{branch}\n".encode()]
        chunks += [f"committer b <b@x> {when} +0000\n".encode(), _data(b"change")]
        chunks += [f"from :{parent}\n".encode(), b"M 100644 inline diva.yaml\n", text]
        chunks += [f"commit refs/heads/main\nmark :{merge}\n".encode()]
        chunks += [f"committer b <b@x> {when} +0000\n".encode(), _data(b"merge")]
        chunks += [f"from :{parent}\nmerge :{branch}\n".encode()]
        chunks += [b"M 100644 inline diva.yaml\n", text]
    chunks += [b"commit refs/notes/diva\n", f"committer b <b@x> {START} +0000\n".encode()]
    chunks += [_data(b"verdicts")]
    for index in range(merges):
        chunks += [f"N inline :{2 * index + 3}\n".encode(), _data(note(index))]
    return b"".join(chunks)


def build_repository(root: Path, merges: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "fast-import", "--quiet", stdin=fast_import_stream(merges))
    git(root, "reset", "-q", "--hard", "main")


def _diva() -> list[str]:
    script = shutil.which("diva")
    return [script] if script else [sys.executable, "-m", "diva"]


def read_floor(root: Path) -> None:
    log = git(root, "log", "--first-parent", "--format=%H%x1f%cI%x1f%an", "HEAD", "--", "diva.yaml")
    listing = git(root, "notes", "--ref=refs/notes/diva", "list")
    requests = [line.split(b"\x1f")[0] + b":diva.yaml\n" for line in log.splitlines()]
    requests += [line.split()[0] + b"\n" for line in listing.splitlines()]
    git(root, "cat-file", "--batch", stdin=b"".join(requests))


def bench(merges: int, runs: int) -> dict[str, Measure]:
    with tempfile.TemporaryDirectory(prefix="diva-bench-history-") as temp:
        root = Path(temp) / "repo"
        build_repository(root, merges)
        middle = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(START + merges * 1800))
        every = [*_diva(), "history", "--format", "json"]
        one = [*_diva(), "history", "--at", middle, "--env", "production"]

        def history(measure: Measure) -> None:
            child = checked(run_child(every, cwd=root), every)
            if len(json.loads(child.output)["entries"]) != merges + 1:
                raise RuntimeError(child.output[:2000])
            measure.add_child(child)

        def at(measure: Measure) -> None:
            child = checked(run_child(one, cwd=root), one)
            if "production: model version" not in child.output:
                raise RuntimeError(child.output)
            measure.add_child(child)

        def floor(measure: Measure) -> None:
            start = time.perf_counter()
            read_floor(root)
            measure.seconds.append(time.perf_counter() - start)

        return interleaved({HISTORY: history, AT: at, FLOOR: floor}, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merges", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"diva history over M merges, each with a verdict note, {args.runs} runs each")
    print("(wall time: median (min - max); per merge; peak memory: max RSS of the process)")
    results = [bench(merges, args.runs) for merges in args.merges]
    print(scale_table((HISTORY, AT, FLOOR), args.merges, results, "M", "merge"))
    for merges, result in zip(args.merges, results, strict=True):
        ratio = result[HISTORY].median / result[FLOOR].median
        print(f"  M={merges}: diva history / git floor = {ratio:.1f}")


if __name__ == "__main__":
    main()
