"""The time of each act run and of each step in it, for `bench/workflows.py`.

With ``DIVA_ACT_TIMES=FILE`` in the environment, every `run_act` of the test harness
appends one JSON line to FILE: the workflow file, the event, act's wall time and exit
code, and each step's own time as act logs it (``✅  Success - Main <step> [2.07s]``).
Without the variable nothing is written; the tests never look at the times.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

#: where the records go (unset: nowhere)
TIMES_VARIABLE = "DIVA_ACT_TIMES"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: act's step result line: ``[workflow/job]   ✅  Success - Main Gate the pull request [2.07s]``
_STEP = re.compile(
    r"^\[(?P<job>[^\]]+)\]\s+\S+\s+(?P<result>Success|Failure) - "
    r"(?P<stage>Pre|Main|Post) (?P<step>.+) \[(?P<duration>[0-9.hmsµun]+)\]\s*$"
)
#: one term of a Go duration (`time.Duration.String()`: 1h2m3.5s, 345ms, 12.5µs)
_TERM = re.compile(r"([0-9.]+)(h|ms|m|s|µs|us|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def go_duration(text: str) -> float:
    """Seconds in a Go duration string; ValueError for anything else."""
    terms = _TERM.findall(text)
    if not terms or "".join(number + unit for number, unit in terms) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(number) * _UNIT[unit] for number, unit in terms)


def steps(log: str) -> list[dict[str, object]]:
    """Each step act ran, in order: job, stage (Pre/Main/Post), name, seconds, ok."""
    found: list[dict[str, object]] = []
    for line in _ANSI.sub("", log).splitlines():
        match = _STEP.match(line.strip())
        if match is None:
            continue
        found.append(
            {
                "job": match["job"],
                "stage": match["stage"],
                "step": match["step"],
                "seconds": go_duration(match["duration"]),
                "ok": match["result"] == "Success",
            }
        )
    return found


def record(args: Sequence[str], cwd: Path, seconds: float, returncode: int, log: str) -> None:
    """Append this act run to ``$DIVA_ACT_TIMES``, if it is set."""
    target = os.environ.get(TIMES_VARIABLE)
    if not target:
        return
    ran = steps(log)
    if "-W" in args:
        workflow = Path(args[args.index("-W") + 1]).name
    else:
        files = sorted((cwd / ".github" / "workflows").glob("*.y*ml"))
        workflow = files[0].name if len(files) == 1 else "(all workflows)"
    names = sorted({str(step["job"]).split("/", 1)[0] for step in ran})
    entry = {
        "workflow": f"{workflow} ({', '.join(names)})" if names else workflow,
        "event": args[1],
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
        "seconds": round(seconds, 3),
        "returncode": returncode,
        "steps": ran,
    }
    with open(target, "a", encoding="utf-8") as sink:
        sink.write(json.dumps(entry) + "\n")
