"""The broker protocol of ``diva consume``: its settings, a request, an answer, a broker.

Below both the consumer loop (:mod:`diva.runtime.consumer`) and each broker client
(:mod:`diva.runtime.consumer.redis_streams`), so neither imports the other's module to
get them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Settings:
    """What ``diva consume`` is told, by options or the ConfigMap's environment."""

    kind: str
    url: str
    input_topic: str
    output_topic: str
    #: the Secret's files (``username``, ``password``); absent files are not used
    credentials_dir: Path | None = None
    #: the scoring server's base URL
    server: str = "http://127.0.0.1:8080"
    #: the consumer group all replicas share, and this replica's name in it
    group: str = "diva"
    name: str = "diva-consumer"
    #: seconds after which another replica's unanswered request is taken over
    claim_after: float = 120.0
    #: seconds one request may take at the scoring server
    timeout: float = 60.0
    #: seconds to wait for the scoring server's ``/ping`` at the start
    wait: float = 300.0
    #: a file touched at least every ``POLL_SECONDS`` of the consumer loop while idle
    #: (liveness probes read it)
    heartbeat: Path | None = None

    def beat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.touch()

    def credential(self, key: str) -> str | None:
        """The Secret's file ``key``, stripped of a final line break, if it exists."""
        if self.credentials_dir is None:
            return None
        path = self.credentials_dir / key
        return path.read_text(encoding="utf-8").rstrip("\r\n") if path.is_file() else None


@dataclass(frozen=True)
class Request:
    """One message of the input topic."""

    #: the broker's handle of the message, used to acknowledge it
    tag: str
    #: the producer's request id (the broker's message id when the producer gave none)
    request_id: str
    #: the JSON body for ``/invocations``; None when the message has none
    body: bytes | None


Answer = dict[str, Any]


class Broker(Protocol):
    def receive(self, seconds: float) -> list[Request]:
        """The next requests, waiting up to ``seconds`` for one."""

    def answer(self, request: Request, answer: Answer) -> None:
        """Write ``answer`` to the output topic, then acknowledge ``request``."""

    def close(self) -> None: ...
