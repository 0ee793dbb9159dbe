"""``diva smoke``: start the serving image, wait for health, send requests, judge them.

Requests are built from the model's declared inputs (``idea.inputs``: one column per
input, seeded random values of its type) in MLflow's scoring format, or read from a
file for inputs that cannot be made up (images, tensors). The verdict is about
correctness — the server became healthy, every answer is a prediction per row, the
error rate is within ``slos.error_rate``. Latency percentiles are *reported* against
``slos.latency_p95_ms``: one machine's timing is a measurement, not a test.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from diva.compiler.backends.docker import SERVING_PORT
from diva.errors import UsageError
from diva.images import ImageError
from diva.images.engine import Engine

#: Input types a sample value can be made up for.
_SAMPLERS: dict[str, Callable[[random.Random], Any]] = {
    "float": lambda rng: round(rng.uniform(-1, 1), 6),
    "integer": lambda rng: rng.randint(0, 10),
    "boolean": lambda rng: rng.random() < 0.5,
    "category": lambda rng: rng.choice(["a", "b", "c"]),
    "text": lambda rng: rng.choice(["sample text", "another sample"]),
}
_NUMERIC = {"float", "integer"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str


@dataclass
class Report:
    image: str
    digest: str | None
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    sample: list[Any] = field(default_factory=list)
    slo_latency_p95_ms: float | None = None
    slo_error_rate: float | None = None

    @property
    def error_rate(self) -> float:
        return len(self.errors) / self.requests if self.requests else 1.0

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else math.nan
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    @property
    def passed(self) -> bool:
        allowed = self.slo_error_rate or 0.0
        return self.requests > 0 and self.error_rate <= allowed

    @property
    def latency_within_slo(self) -> bool | None:
        if self.slo_latency_p95_ms is None or not self.latencies_ms:
            return None
        return self.percentile(95) <= self.slo_latency_p95_ms

    def as_evidence(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": self.digest,
            "passed": self.passed,
            "requests": self.requests,
            "errors": len(self.errors),
            "latency_ms": {f"p{q}": round(self.percentile(q), 2) for q in (50, 95, 99)},
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything: the evidence, the error messages, every latency, the SLOs."""
        details = asdict(self)
        return {
            **self.as_evidence(),
            "error_messages": details.pop("errors"),
            **details,
            "latency_within_slo": self.latency_within_slo,
        }


def sample_body(inputs: Sequence[Field], rows: int, seed: int) -> dict[str, Any]:
    """A request in MLflow's ``dataframe_split`` format with ``rows`` made-up rows."""
    unknown = [f"{f.name} ({f.type})" for f in inputs if f.type not in _SAMPLERS]
    if not inputs or unknown:
        what = ", ".join(unknown) if unknown else "no idea.inputs declared"
        raise UsageError(
            f"cannot make up sample requests: {what}; pass --request FILE with a request "
            "body in MLflow's scoring format"
        )
    rng = random.Random(seed)  # noqa: S311 — sample data, not secrets
    data = [[_SAMPLERS[f.type](rng) for f in inputs] for _ in range(rows)]
    return {"dataframe_split": {"columns": [f.name for f in inputs], "data": data}}


def _rows(body: dict[str, Any]) -> int | None:
    for key in ("dataframe_split", "inputs", "instances", "dataframe_records"):
        value = body.get(key)
        if isinstance(value, dict) and isinstance(value.get("data"), list):
            return len(value["data"])
        if isinstance(value, list):
            return len(value)
    return None


def judge(answer: Any, rows: int | None, outputs: Sequence[Field]) -> str | None:
    """What is wrong with a scoring server's answer, or None."""
    if not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
        return f"no 'predictions' list in the answer: {str(answer)[:200]}"
    predictions = answer["predictions"]
    if rows is not None and len(predictions) != rows:
        return f"{len(predictions)} predictions for {rows} rows"
    if outputs and outputs[0].type in _NUMERIC:
        bad = [p for p in predictions if not _finite_number(p)]
        if bad:
            return f"{outputs[0].name} should be a number, got {bad[0]!r}"
    return None


def _finite_number(value: Any) -> bool:
    if isinstance(value, dict) and len(value) == 1:  # {"output": x} for named outputs
        value = next(iter(value.values()))
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _post(url: str, body: dict[str, Any], timeout: float) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 — http://127.0.0.1, built here
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def wait_healthy(engine: Engine, container: str, url: str, timeout: float) -> float:
    """Seconds until ``url`` answered 200; :class:`ImageError` if the container died
    or the time ran out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = engine.state(container)
        if state != "running":
            raise ImageError(
                f"the serving container stopped ({state}) before it became healthy:\n"
                + engine.logs(container)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise ImageError(
        f"the serving container was not healthy within {timeout:g} s:\n" + engine.logs(container)
    )


def probe(
    base_url: str,
    report: Report,
    bodies: Sequence[dict[str, Any]],
    outputs: Sequence[Field],
    timeout: float = 30,
) -> None:
    """Send every body to ``/invocations``, timing and judging each answer."""
    for body in bodies:
        report.requests += 1
        started = time.perf_counter()
        try:
            answer = _post(f"{base_url}/invocations", body, timeout)
        except urllib.error.HTTPError as err:
            report.errors.append(f"HTTP {err.code}: {err.read()[:200]!r}")
            continue
        except (urllib.error.URLError, OSError, ValueError) as err:
            report.errors.append(str(err))
            continue
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        problem = judge(answer, _rows(body), outputs)
        if problem:
            report.errors.append(problem)
        elif not report.sample:
            report.sample = answer["predictions"][:5]


def smoke(
    engine: Engine,
    image: str,
    digest: str | None,
    bodies: Sequence[dict[str, Any]],
    outputs: Sequence[Field],
    *,
    slos: tuple[float | None, float | None] = (None, None),
    health_timeout: float = 180,
    say: Callable[[str], None] = print,
) -> Report:
    """Run ``image``, wait for ``/ping``, probe it; the container is always removed."""
    report = Report(image, digest, slo_latency_p95_ms=slos[0], slo_error_rate=slos[1])
    name = f"diva-smoke-{uuid.uuid4().hex[:8]}"
    # read-only like a hardened pod; the scoring server only writes to /tmp
    options = ["--name", name, "--publish", f"127.0.0.1::{SERVING_PORT}", "--read-only"]
    container = engine.start(image, [*options, "--tmpfs", "/tmp"])  # noqa: S108
    try:
        port = engine.published_port(container, SERVING_PORT)
        base_url = f"http://127.0.0.1:{port}"
        say(f"started {image} as {name} on {base_url}; waiting for /ping")
        took = wait_healthy(engine, container, f"{base_url}/ping", health_timeout)
        say(f"healthy after {took:.1f} s; sending {len(bodies)} requests")
        probe(base_url, report, bodies, outputs)
    finally:
        engine.remove(container)
    return report


def load_request(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: not a readable JSON request: {err}") from err
    if not isinstance(body, dict):
        raise UsageError(f"{path}: a request body is a JSON object")
    return body


def render(report: Report) -> str:
    """The report for people."""
    lines = [f"image:     {report.image}" + (f"@{report.digest}" if report.digest else "")]
    lines.append(f"requests:  {report.requests}, failed {len(report.errors)}")
    lines += [f"  error:   {error}" for error in report.errors[:5]]
    if report.latencies_ms:
        p50, p95, p99 = (report.percentile(q) for q in (50, 95, 99))
        lines.append(f"latency:   p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
    within = report.latency_within_slo
    if within is not None:
        word = "within" if within else "OVER"
        lines.append(
            f"slo:       p95 {report.percentile(95):.1f} ms is {word} latency_p95_ms "
            f"{report.slo_latency_p95_ms:g} (measured on this machine: a report, not a verdict)"
        )
    if report.slo_error_rate is not None:
        lines.append(
            f"slo:       error rate {report.error_rate:.3f} (allowed {report.slo_error_rate:g})"
        )
    lines.append(f"sample:    {json.dumps(report.sample)}")
    lines.append(f"smoke:     {'passed' if report.passed else 'FAILED'}")
    return "\n".join(lines)


#: The tag that marks an MLflow run as a smoke test (not a training run).
SMOKE_KIND = "smoke"


def log_run(report: Report, tracking_uri: str, root: Path, project: str) -> str:
    """Log ``report`` as an MLflow run of ``project`` (tags ``diva.kind: smoke`` and the
    image's digest): where the gate finds the smoke test, in the store the policy names.
    The run's id; :class:`~diva.images.ImageError` when MLflow cannot take it."""
    from diva.lifecycle.evidence.mlflow import resolve_uri

    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=resolve_uri(root, tracking_uri))
        found = client.get_experiment_by_name(project)
        experiment = found.experiment_id if found else client.create_experiment(project)
        tags = {
            "diva.project": project,
            "diva.kind": SMOKE_KIND,
            "diva.image.reference": report.image,
            "diva.image.digest": report.digest or "",
            "diva.smoke.passed": str(report.passed).lower(),
        }
        run = client.create_run(experiment, tags=tags, run_name=f"smoke {report.image}")
        metrics = {
            "smoke.requests": float(report.requests),
            "smoke.errors": float(len(report.errors)),
        }
        if report.latencies_ms:
            metrics["smoke.latency_p95_ms"] = report.percentile(95)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
    except Exception as err:  # MLflow raises many kinds; each means "not logged"
        raise ImageError(f"the smoke test was not logged to MLflow: {err}") from err
    return str(run.info.run_id)
