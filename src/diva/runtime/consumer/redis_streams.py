"""Redis streams as the broker of ``diva consume`` (the ``redis`` PyPI client).

Why streams and not lists: a stream read through a consumer group keeps every
delivered entry in the group's pending list until it is acknowledged (``XACK``), so a
consumer that dies between reading and answering loses nothing; a list's ``BRPOP``
removes the request at the moment it is read. The layout:

* requests are entries of the stream ``input_topic`` with the fields ``body`` (the JSON
  for ``/invocations``) and, optionally, ``id`` (the request id; the entry id when
  absent);
* every replica reads as one consumer (``name``, the pod's host name) of one group
  (``group``, created at the start of the stream if missing, so requests sent before
  the first deployment are answered too);
* answers are entries of the stream ``output_topic`` with the fields ``id`` and
  ``body`` (``{"id": ..., "predictions": [...]}`` or ``{"id": ..., "error": "..."}``);
  the answer and the acknowledgement go in one MULTI/EXEC transaction;
* after a restart, a consumer first answers its own pending entries; entries left
  pending by another consumer for ``claim_after`` seconds are taken over (``XAUTOCLAIM``).
"""

from __future__ import annotations

import json
from typing import Any

from diva.errors import UnavailableError, UsageError
from diva.runtime.consumer.broker import Answer, Request, Settings

#: Seconds to wait for a TCP connection to the broker.
CONNECT_SECONDS = 5.0
#: Seconds any one command may take, beyond the blocking read's own wait.
COMMAND_SECONDS = 30.0

Entry = tuple[bytes, dict[bytes, bytes] | None]


class RedisStreams:
    """The input stream read through a consumer group, the output stream written."""

    def __init__(self, settings: Settings) -> None:
        import redis

        self.settings = settings
        self._errors: tuple[type[Exception], ...] = (redis.exceptions.RedisError,)
        self._backlog = True  # this consumer's own pending entries come first
        self._client: Any = self._guarded(lambda: self._connect(redis))

    def _guarded(self, call: Any) -> Any:
        """``call()``, with the client's errors turned into :class:`UnavailableError`."""
        try:
            return call()
        except self._errors as err:
            raise UnavailableError(
                f"the redis broker at {_public(self.settings.url)} is unavailable: {err}"
            ) from err

    def _connect(self, redis: Any) -> Any:
        settings = self.settings
        try:
            client = redis.Redis.from_url(
                settings.url,
                username=settings.credential("username"),
                password=settings.credential("password"),
                socket_connect_timeout=CONNECT_SECONDS,
                socket_timeout=COMMAND_SECONDS,
            )
        except ValueError as err:  # not a redis:// (rediss://, unix://) URL
            raise UsageError(f"the broker URL is not a redis URL: {err}") from err
        client.ping()
        try:
            client.xgroup_create(settings.input_topic, settings.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as err:
            if "BUSYGROUP" not in str(err):  # the group exists: another replica made it
                raise
        return client

    def receive(self, seconds: float) -> list[Request]:
        return [self._request(entry) for entry in self._guarded(lambda: self._entries(seconds))]

    def _entries(self, seconds: float) -> list[Entry]:
        settings = self.settings
        if self._backlog:
            entries = self._read("0", None)
            if entries:
                return entries
            self._backlog = False
        if settings.claim_after > 0:
            _, claimed, *_ = self._client.xautoclaim(
                settings.input_topic,
                settings.group,
                settings.name,
                min_idle_time=int(settings.claim_after * 1000),
                count=1,
            )
            if claimed:
                return list(claimed)
        return self._read(">", int(seconds * 1000))

    def _read(self, start: str, block: int | None) -> list[Entry]:
        settings = self.settings
        streams = self._client.xreadgroup(
            settings.group, settings.name, {settings.input_topic: start}, count=1, block=block
        )
        return [entry for _, entries in streams or [] for entry in entries]

    def _request(self, entry: Entry) -> Request:
        tag, fields = entry
        fields = fields or {}  # an entry deleted while pending has no fields
        request_id = fields.get(b"id", tag).decode("utf-8", errors="replace")
        return Request(tag.decode("ascii"), request_id, fields.get(b"body"))

    def answer(self, request: Request, answer: Answer) -> None:
        settings = self.settings
        fields = {"id": request.request_id, "body": json.dumps(answer, ensure_ascii=False)}

        def write() -> None:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.xadd(settings.output_topic, fields)
                pipe.xack(settings.input_topic, settings.group, request.tag)
                pipe.execute()

        self._guarded(write)

    def close(self) -> None:
        self._client.close()


def _public(url: str) -> str:
    """``url`` without the password it may hold, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
