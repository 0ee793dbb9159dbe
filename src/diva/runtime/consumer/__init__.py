"""The consumer of the model-on-demand pattern: requests from a broker, answers back.

``diva consume`` runs next to MLflow's scoring server (the serving image's entry point,
in the same pod). For each request message on the input topic it posts the message's
JSON body to the server's ``/invocations`` and writes one answer to the output topic:
``{"id": ..., "predictions": [...]}`` or ``{"id": ..., "error": "..."}``. A request is
acknowledged only once its answer is written (at-least-once delivery), so a consumer
that dies before answering loses nothing. A bad message gets an error answer; it never
stops the consumer. SIGTERM (and SIGINT) stop it after the message in hand.

The broker is a :class:`~.broker.Broker` (:mod:`.broker`: the protocol and its types);
:mod:`.redis_streams` implements it with Redis streams. The broker client is imported
only there, when the consumer starts: nothing on the validate or compile path imports it.
See docs/serving/model-on-demand.md.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from diva.contract import BROKER_KINDS
from diva.errors import UnavailableError, UsageError
from diva.runtime.consumer.broker import Answer, Broker, Request, Settings
from diva.runtime.consumer.redis_streams import RedisStreams

if TYPE_CHECKING:
    from urllib.error import HTTPError

#: The broker kinds ``diva consume`` reads (:data:`diva.contract.BROKER_KINDS`).
SUPPORTED_KINDS = BROKER_KINDS
#: Seconds a receive waits for a message before the loop looks at the stop flag again.
POLL_SECONDS = 1.0
#: Seconds between two probes of ``/ping`` while waiting for the scoring server.
PING_INTERVAL = 0.5


# --- the scoring server ----------------------------------------------------------------


class Scorer:
    """MLflow's scoring server over HTTP (standard library only)."""

    def __init__(self, server: str, timeout: float) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout

    def ready(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.server}/ping", timeout=5) as response:  # noqa: S310 — http(s) URL of the local server
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait(self, seconds: float, stopping: Callable[[], bool], beat: Callable[[], None]) -> None:
        """Return once ``/ping`` answers; :class:`UnavailableError` after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self.ready():
            beat()
            if stopping():
                return
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"the scoring server at {self.server} did not answer /ping within {seconds:g} s"
                )
            time.sleep(PING_INTERVAL)

    def score(self, body: bytes) -> Answer:
        """The server's answer: ``{"predictions": ...}`` or ``{"error": ...}``.

        A refused connection is :class:`UnavailableError`: the request stays
        unacknowledged and is answered after the restart.
        """
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 — see ready()
            f"{self.server}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return _predictions(response.read())
        except urllib.error.HTTPError as err:
            return {"error": f"the model refused the request (HTTP {err.code}): {_reason(err)}"}
        except TimeoutError:
            return {"error": f"the scoring server did not answer within {self.timeout:g} s"}
        except (urllib.error.URLError, OSError) as err:
            raise UnavailableError(f"the scoring server at {self.server} failed: {err}") from err


def _predictions(raw: bytes) -> Answer:
    try:
        decoded = json.loads(raw)
    except ValueError:
        return {"error": "the scoring server's answer is not JSON"}
    if isinstance(decoded, dict) and "predictions" in decoded:
        return {"predictions": decoded["predictions"]}
    return {"predictions": decoded}


def _reason(err: HTTPError) -> str:
    """MLflow's error message (``{"error_code": ..., "message": ...}``), else the text."""
    text = err.read().decode("utf-8", errors="replace")
    try:
        decoded = json.loads(text)
    except ValueError:
        return text.strip()[:500] or str(err.reason)
    message = decoded.get("message") if isinstance(decoded, dict) else None
    return str(message or text)[:2000]


# --- the loop --------------------------------------------------------------------------


def answer_to(request: Request, scorer: Scorer) -> Answer:
    """The answer to one request; a malformed one gets an error, never an exception."""
    head: Answer = {"id": request.request_id}
    if request.body is None:
        return {**head, "error": "the message has no 'body'"}
    try:
        decoded = json.loads(request.body)
    except ValueError as err:
        return {**head, "error": f"the body is not JSON: {err}"}
    if not isinstance(decoded, dict):
        return {**head, "error": "the body is not a JSON object in MLflow's scoring format"}
    return {**head, **scorer.score(request.body)}


class Stop:
    """Set by SIGTERM or SIGINT; the loop finishes the message in hand, then returns."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._handle)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.requested = True


@dataclass
class Tally:
    answered: int = 0
    errors: int = 0


def serve(
    broker: Broker, scorer: Scorer, stop: Stop, say: Callable[[str], None], beat: Callable[[], None]
) -> Tally:
    """Answer requests until ``stop`` is set."""
    tally = Tally()
    while not stop():
        beat()
        for request in broker.receive(POLL_SECONDS):
            answer = answer_to(request, scorer)
            broker.answer(request, answer)
            tally.answered += 1
            if "error" in answer:
                tally.errors += 1
                say(f"request {json.dumps(request.request_id)}: {answer['error']}")
    return tally


def connect(settings: Settings) -> Broker:
    """The broker of ``settings.kind``, connected."""
    if settings.kind not in SUPPORTED_KINDS:
        raise UsageError(
            f"diva consume reads {', '.join(SUPPORTED_KINDS)} brokers; "
            f"'{settings.kind}' is not supported yet"
        )

    return RedisStreams(settings)


def consume(settings: Settings, say: Callable[[str], None]) -> Tally:
    """Connect, wait for the scoring server, answer until SIGTERM; the tally."""
    stop = Stop()
    stop.install()
    broker = connect(settings)
    try:
        scorer = Scorer(settings.server, settings.timeout)
        say(f"waiting for the scoring server at {settings.server}")
        scorer.wait(settings.wait, stop, settings.beat)
        say(
            f"answering {settings.kind} {settings.input_topic} -> {settings.output_topic} "
            f"(group {settings.group}, consumer {settings.name})"
        )
        return serve(broker, scorer, stop, say, settings.beat)
    finally:
        broker.close()
