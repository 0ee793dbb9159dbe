"""The generated workflows under act, step by step, and `diva gate` in CI mode inside them.

Runs the tests that run workflows under act (``tests/act`` and the team-services walk,
``tests/e2e/test_team_services.py``) with ``DIVA_ACT_TIMES`` set, so that every act run
they make is recorded with act's own time for each step (``tests/support/act_times.py``);
then prints, per workflow file and event, the runs that passed and failed, act's wall time
(median, min-max), and the ratio to the floor: the harness's one-step workflow
(``ci.yml`` of ``tests/act/test_act_harness.py``: act starting a job container, the
checkout, setup-python and one shell step). A second table gives each step of each
workflow; the gate's step "Gate the pull request" is `diva gate` in CI mode, and its own
line at the end says what share of the gate workflow it is.

The tests run as CI runs them (``DIVA_NO_SKIP=1``): the Docker engine, the runner image
(``.ci/docker-setup``), act, PostgreSQL and the WebDAV server must be there. About 25 to
30 minutes on 2 cores.
Usage: ``nox -s bench_workflows`` or ``python bench/workflows.py [--times FILE] [TEST ...]``
(``--times`` keeps the records; ``--from FILE`` prints the tables of an earlier run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from timing import table

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/act", "tests/e2e/test_team_services.py"]
FLOOR = "ci.yml (verdict)"  # the harness's one-step workflow
GATE_STEP = "Gate the pull request"
GATE = ("diva-gate.yml (diva gate)", "pull_request")


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f} - {max(values):,.1f})"


def run_tests(tests: list[str], times: Path) -> int:
    env = {**os.environ, "DIVA_ACT_TIMES": str(times), "DIVA_NO_SKIP": "1"}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    print("$", " ".join(argv[2:]), flush=True)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, check=False)
    print(f"pytest exited {result.returncode} after {time.perf_counter() - start:,.0f} s\n")
    return result.returncode


def report(entries: list[dict]) -> str:
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in entries:
        runs[entry["workflow"], entry["event"]].append(entry)
    floor = [
        entry["seconds"]
        for entry in runs.get((FLOOR, "pull_request"), [])
        if entry["returncode"] == 0
    ]
    floor_median = statistics.median(floor) if floor else None

    rows = []
    for (workflow, event), group in sorted(runs.items()):
        walls = [entry["seconds"] for entry in group]
        passed = sum(entry["returncode"] == 0 for entry in group)
        ratio = f"{statistics.median(walls) / floor_median:.1f}x" if floor_median else "-"
        rows.append([workflow, event, str(passed), str(len(group) - passed), seconds(walls), ratio])
    lines = [
        "act runs, whole: wall seconds, median (min - max); ratio to the floor"
        f" ({FLOOR}, the harness's one-step workflow)",
        table(["workflow", "event", "passed", "failed", "act wall s", "x floor"], rows),
        "",
        "steps (act's own times, Main and Post stages; seconds, median (min - max))",
    ]
    steps: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for (workflow, _event), group in runs.items():
        for entry in group:
            for step in entry["steps"]:
                job = str(step["job"]).split("/", 1)[-1].split(":", 1)[0]  # its id's name
                steps[workflow.split(" ", 1)[0], job, f"{step['stage']} {step['step']}"].append(
                    step["seconds"]
                )
    step_rows = [
        [workflow, job, name, str(len(values)), seconds(values)]
        for (workflow, job, name), values in sorted(steps.items())
        if statistics.median(values) >= 0.5 or name.endswith(GATE_STEP)
    ]
    lines.append(table(["workflow", "job", "step", "runs", "seconds"], step_rows))
    lines += gate_summary(runs)
    return "\n".join(lines)


def gate_summary(runs: dict[tuple[str, str], list[dict]]) -> list[str]:
    """`diva gate` in CI mode: the gate step of every gate run, passed and refused apart
    (a refusal often stops at the first failing check)."""
    lines = []
    for event in ("pull_request", "pull_request_review"):
        group = runs.get((GATE[0], event), [])
        for verdict, ok in (("passed", True), ("refused", False)):
            steps = [
                (entry, step)
                for entry in group
                for step in entry["steps"]
                if step["stage"] == "Main" and step["step"] == GATE_STEP and step["ok"] is ok
            ]
            if not steps:
                continue
            gate = [float(step["seconds"]) for _, step in steps]
            share = statistics.median(
                float(step["seconds"]) / entry["seconds"] for entry, step in steps
            )
            lines.append(
                f"`diva gate` in CI mode ({event}, {verdict}): {seconds(gate)} s over"
                f" {len(gate)} runs, {share:.0%} of its act run"
            )
    return ["", *lines] if lines else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="*", default=TESTS, help=f"default: {' '.join(TESTS)}")
    parser.add_argument("--times", type=Path, help="keep the act records in this file")
    parser.add_argument("--from", dest="source", type=Path, help="print an earlier run's tables")
    args = parser.parse_args()
    returncode = 0
    if args.source is not None:
        times = args.source
    else:
        times = args.times or Path(tempfile.mkdtemp(prefix="diva-bench-")) / "act-times.jsonl"
        times.unlink(missing_ok=True)
        returncode = run_tests(args.tests, times)
    entries = [json.loads(line) for line in times.read_text().splitlines() if line.strip()]
    if not entries:
        print(f"no act runs were recorded in {times}", file=sys.stderr)
        return 1
    print(report(entries))
    print(f"\nrecords: {times}")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
