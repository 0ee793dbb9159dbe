"""`diva consume` end to end, with nothing mocked: a real redis-server (Debian's
``redis-server``, started on a free port) as the broker, and MLflow's real scoring
server (``mlflow models serve --env-manager local``) serving a tiny registered
scikit-learn model on the host.

Requests go into the input stream as a producer would write them; the answers in the
output stream must equal the predictions of the same model version loaded with
``mlflow.pyfunc`` on the host. Malformed messages get error answers; a consumer killed
before it answers loses nothing (at-least-once); an unreachable broker exits 4.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from diva.errors import EXIT_UNAVAILABLE
from tests.support.docker_harness import free_port
from tests.support.paths import SRC

MODEL = "tiny-regression"
ROWS = [[0.5, -1.0], [1.5, 2.0], [-0.25, 0.75]]
COLUMNS = ["x0", "x1"]
#: seconds to wait for an answer, a server, a process
PATIENCE = 60.0

if importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("sklearn") is None:
    pytest.skip(  # CI's DIVA_NO_SKIP=1 turns this into a failure
        "the consumer test needs mlflow and scikit-learn (installed by `nox -s tests`)",
        allow_module_level=True,
    )


def _env(**extra: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "PYTHONPATH": str(SRC), **extra}


def _until(check: Any, what: str, seconds: float = PATIENCE) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- the broker and the scoring server ----------------------------------------------


@dataclass(frozen=True)
class Redis:
    url: str
    port: int

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port, decode_responses=True)


def _start_redis(folder: Path, *options: str) -> tuple[subprocess.Popen[bytes], Redis]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs Debian's redis-server (installed by .ci/docker-setup)")
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = Redis(f"redis://127.0.0.1:{port}/0", port)
    _until(lambda: _answers_ping(broker), "redis-server", 20)
    return process, broker


def _answers_ping(broker: Redis) -> bool:
    import redis

    try:
        return bool(broker.client().ping())
    except redis.exceptions.AuthenticationError:
        return True  # a server with a password is up, too
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    process, found = _start_redis(tmp_path_factory.mktemp("redis"))
    yield found
    process.terminate()
    process.wait(timeout=20)


@dataclass(frozen=True)
class Served:
    url: str
    #: the registered version's predictions for ROWS, loaded on the host
    expected: list[float]


def _register(root: Path) -> str:
    import importlib.metadata

    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    tracking = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(MODEL, artifact_location=(root / "art").as_uri())
    )
    rows = pd.DataFrame(np.random.default_rng(3).normal(size=(40, 2)), columns=COLUMNS)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            Ridge(alpha=0.5).fit(rows, rows["x0"] * 2.0 - rows["x1"]),
            name="model",
            registered_model_name=MODEL,
            pip_requirements=[f"scikit-learn=={importlib.metadata.version('scikit-learn')}"],
        )
    return tracking


def _host_predictions(tracking: str) -> list[float]:
    import mlflow.pyfunc
    import pandas as pd

    mlflow.set_tracking_uri(tracking)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
    return [float(value) for value in model.predict(pd.DataFrame(ROWS, columns=COLUMNS))]


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("model")
    tracking = _register(root)
    port = free_port()
    log = (root / "serve.log").open("wb")
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command, env=_env(MLFLOW_TRACKING_URI=tracking), stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: process.poll() is not None or _pings(url), "the scoring server", 180)
        assert process.poll() is None, (root / "serve.log").read_text()
        yield Served(url, _host_predictions(tracking))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class _Hanging(BaseHTTPRequestHandler):
    """A scoring server that is healthy but never answers a prediction."""

    release = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        self.release.wait(PATIENCE)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hanging() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hanging)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Hanging.release.set()
    server.shutdown()
    server.server_close()


# --- the consumer ---------------------------------------------------------------------


@dataclass
class Consumer:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as Kubernetes stops a container; its exit code and messages."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=PATIENCE)
        return code, self.log.read_text()


@pytest.fixture
def start(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    started: list[Consumer] = []

    def run(broker: Redis, server: str, *options: str, name: str = "one") -> Consumer:
        topic = request.node.name
        log = tmp_path / f"consumer-{len(started)}.log"
        command = [sys.executable, "-m", "diva", "consume", "--broker-kind", "redis"]
        command += ["--broker-url", broker.url, "--input-topic", f"{topic}.in"]
        command += ["--output-topic", f"{topic}.out", "--server", server, "--consumer", name]
        with log.open("wb") as stream:
            process = subprocess.Popen(
                [*command, *options], env=_env(), stdout=stream, stderr=stream
            )
        consumer = Consumer(process, log)
        started.append(consumer)
        return consumer

    yield run
    for consumer in started:
        if consumer.process.poll() is None:
            consumer.process.kill()
            consumer.process.wait(timeout=PATIENCE)


def _topics(request: pytest.FixtureRequest) -> tuple[str, str]:
    return f"{request.node.name}.in", f"{request.node.name}.out"


def _body(rows: list[list[float]]) -> str:
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}})


def _answers(broker: Redis, output: str, count: int) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]] | None:
        entries = broker.client().xrange(output)
        return entries if len(entries) >= count else None

    entries = _until(read, f"{count} answers on {output}")
    answers = []
    for _, fields in entries:
        answer = json.loads(fields["body"])
        assert answer["id"] == fields["id"]
        answers.append(answer)
    return answers


def _pending(broker: Redis, stream: str) -> int | None:
    """How many requests are delivered but not acknowledged; None before the consumer
    made its group."""
    import redis

    try:
        return int(broker.client().xpending(stream, "diva")["pending"])
    except redis.exceptions.ResponseError:
        return None


# --- the tests --------------------------------------------------------------------------


def test_answers_equal_the_registered_model_on_the_host(
    broker: Redis, served: Served, start: Any, request: pytest.FixtureRequest
) -> None:
    requests, output = _topics(request)
    client = broker.client()
    client.xadd(requests, {"id": "all-rows", "body": _body(ROWS)})
    client.xadd(requests, {"id": "one-row", "body": _body(ROWS[1:2])})
    consumer = start(broker, served.url)
    first, second = _answers(broker, output, 2)
    assert first == {"id": "all-rows", "predictions": pytest.approx(served.expected)}
    assert second == {"id": "one-row", "predictions": pytest.approx(served.expected[1:2])}
    code, messages = consumer.stop()
    assert code == 0, messages
    assert "stopped: 2 requests answered, 0 with an error" in messages
    assert _pending(broker, requests) == 0


def test_a_request_without_id_is_answered_under_its_entry_id(
    broker: Redis, served: Served, start: Any, request: pytest.FixtureRequest
) -> None:
    requests, output = _topics(request)
    entry = broker.client().xadd(requests, {"body": _body(ROWS[:1])})
    start(broker, served.url)
    (answer,) = _answers(broker, output, 1)
    assert answer == {"id": entry, "predictions": pytest.approx(served.expected[:1])}


BAD_MESSAGES = {
    "not-json": ({"body": "{nope"}, "the body is not JSON"),
    "not-an-object": ({"body": "[1, 2]"}, "not a JSON object"),
    "no-body": ({"payload": "{}"}, "the message has no 'body'"),
    "refused-by-the-model": ({"body": '{"rows": [1]}'}, "the model refused the request (HTTP 4"),
}


def test_bad_messages_get_error_answers_and_the_consumer_goes_on(
    broker: Redis, served: Served, start: Any, request: pytest.FixtureRequest
) -> None:
    requests, output = _topics(request)
    client = broker.client()
    for request_id, (fields, _) in BAD_MESSAGES.items():
        client.xadd(requests, {"id": request_id, **fields})
    client.xadd(requests, {"id": "good", "body": _body(ROWS)})
    consumer = start(broker, served.url)
    answers = _answers(broker, output, len(BAD_MESSAGES) + 1)
    for answer, (request_id, (_, error)) in zip(answers[:-1], BAD_MESSAGES.items(), strict=True):
        assert answer["id"] == request_id
        assert set(answer) == {"id", "error"}
        assert error in answer["error"], answer
    assert answers[-1] == {"id": "good", "predictions": pytest.approx(served.expected)}
    code, messages = consumer.stop()
    assert code == 0, messages
    assert f"{len(BAD_MESSAGES)} with an error" in messages
    assert _pending(broker, requests) == 0


@pytest.mark.parametrize("restart", ["the-same-consumer-restarts", "another-consumer-takes-over"])
def test_a_consumer_killed_before_answering_loses_nothing(
    restart: str,
    broker: Redis,
    served: Served,
    hanging: str,
    start: Any,
    request: pytest.FixtureRequest,
) -> None:
    requests, output = _topics(request)
    client = broker.client()
    client.xadd(requests, {"id": "survivor", "body": _body(ROWS)})
    doomed = start(broker, hanging, name="doomed")
    # delivered to it, and stuck at the (hanging) scoring server: kill it there
    _until(lambda: _pending(broker, requests) == 1, "the delivery")
    doomed.process.kill()
    doomed.process.wait(timeout=PATIENCE)
    assert client.xlen(output) == 0
    if restart == "the-same-consumer-restarts":
        start(broker, served.url, "--claim-after", "0", name="doomed")
    else:
        start(broker, served.url, "--claim-after", "1", name="heir")
    (answer,) = _answers(broker, output, 1)
    assert answer == {"id": "survivor", "predictions": pytest.approx(served.expected)}
    _until(lambda: _pending(broker, requests) == 0, "the acknowledgement")


def test_credentials_come_from_the_secret_files(
    tmp_path: Path, start: Any, request: pytest.FixtureRequest
) -> None:
    process, locked = _start_redis(tmp_path, "--requirepass", "s3cret word")
    try:
        unauthorised = start(locked, "http://127.0.0.1:9", "--wait", "0")
        assert unauthorised.process.wait(timeout=PATIENCE) == EXIT_UNAVAILABLE
        assert "the redis broker at" in unauthorised.log.read_text()
        secrets = tmp_path / "secret"
        secrets.mkdir()
        (secrets / "password").write_text("s3cret word\n")
        authorised = start(
            locked, "http://127.0.0.1:9", "--wait", "0", "--credentials-dir", str(secrets)
        )
        # connected to the broker; then no scoring server answers: also exit 4, but later
        assert authorised.process.wait(timeout=PATIENCE) == EXIT_UNAVAILABLE
        messages = authorised.log.read_text()
        assert "did not answer /ping" in messages, messages
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_unreachable_broker_exits_4(run_diva: Any) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    result = run_diva(
        "consume", "--broker-kind", "redis", "--broker-url", url,
        "--input-topic", "in", "--output-topic", "out",
    )  # fmt: skip
    assert result.returncode == EXIT_UNAVAILABLE, result.stderr
    assert "diva: error: the redis broker at redis://:***@127.0.0.1:" in result.stderr
    assert "unavailable" in result.stderr
    assert "hunter2" not in result.stderr


def test_unsupported_broker_kind_is_a_usage_error(run_diva: Any) -> None:
    result = run_diva(
        "consume", "--broker-kind", "kafka", "--broker-url", "kafka://b:9092",
        "--input-topic", "in", "--output-topic", "out",
    )  # fmt: skip
    assert result.returncode == 2
    assert "diva consume reads redis brokers; 'kafka' is not supported yet" in result.stderr
