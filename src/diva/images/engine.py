"""The Docker engine, through the ``docker`` command line client.

The client is what users have and trust (contexts, ``DOCKER_HOST``, credential helpers
all work as in their shell); its progress output is shown as it comes. Every failure
becomes an :class:`~diva.images.ImageError` subclass with the client's own last words.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from diva.images import BaseImageError, EngineError, ImageError, RegistryError

#: Where build and push progress goes (one line at a time); None: nowhere.
Progress = Callable[[str], None] | None

_TAIL = 12  # lines of the client's output an error message quotes


def _tail(lines: Sequence[str]) -> str:
    return "\n".join(f"  | {line}" for line in lines[-_TAIL:])


def stream(command: Sequence[str], progress: Progress, timeout: float) -> tuple[int, list[str]]:
    """Run ``command``, passing each output line to ``progress``; the exit code and the
    last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=200)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if progress is not None:
                progress(line)
        code = process.wait(timeout=timeout)
    return code, list(tail)


class Engine:
    """One Docker engine, as the ``docker`` client on PATH reaches it."""

    def __init__(self, binary: str = "docker", timeout: float = 1800) -> None:
        found = shutil.which(binary)
        if found is None:
            raise EngineError(
                f"no `{binary}` client on PATH: install Docker "
                "(https://docs.docker.com/engine/install/)"
            )
        self.binary = found
        self.timeout = timeout

    def _call(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as err:
            raise EngineError(f"`docker {args[0]}` did not answer within {timeout:g} s") from err

    def _stream(self, args: Sequence[str], progress: Progress) -> tuple[int, list[str]]:
        return stream([self.binary, *args], progress, self.timeout)

    def check(self) -> str:
        """The engine's version; :class:`EngineError` when no engine answers."""
        result = self._call("version", "--format", "{{.Server.Version}}", timeout=30)
        if result.returncode != 0 or not result.stdout.strip():
            reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            raise EngineError(
                f"no Docker engine is reachable: {reason}\n"
                "Start it (`dockerd`, Docker Desktop, `systemctl start docker`) "
                "or point DOCKER_HOST at one."
            )
        return result.stdout.strip()

    def has_image(self, reference: str) -> bool:
        return self._call("image", "inspect", reference).returncode == 0

    def inspect(self, reference: str) -> dict[str, object]:
        result = self._call("image", "inspect", reference)
        if result.returncode != 0:
            raise ImageError(f"no image {reference} in the engine")
        document: list[dict[str, object]] = json.loads(result.stdout)
        return document[0]

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        *,
        build_args: Mapping[str, str],
        base: str,
        progress: Progress = None,
    ) -> str:
        """Build ``tag`` and return its image ID. ``base`` is the base image the build
        starts from, named in the error when the build fails for want of it."""
        args = ["build", "--file", str(dockerfile), "--tag", tag]
        for key, value in sorted(build_args.items()):
            args += ["--build-arg", f"{key}={value}"]
        code, tail = self._stream([*args, str(context)], progress)
        if code != 0:
            if not self.has_image(base):
                raise BaseImageError(
                    f"the base image {base} is not in the engine and could not be pulled:\n"
                    f"{_tail(tail)}\n"
                    "Publish the standardized base image (docs/images.md) or pass a local "
                    "one with --base IMAGE."
                )
            raise ImageError(f"`docker build` of {tag} failed (exit {code}):\n{_tail(tail)}")
        return str(self.inspect(tag)["Id"])

    def push(self, reference: str, progress: Progress = None) -> str:
        """Push ``reference``; the manifest digest the push reported."""
        code, tail = self._stream(["push", reference], progress)
        if code != 0:
            raise RegistryError(f"the registry refused the push of {reference}:\n{_tail(tail)}")
        for line in reversed(tail):
            if "digest: sha256:" in line:
                return line.split("digest: ", 1)[1].split()[0]
        raise RegistryError(f"`docker push {reference}` reported no digest:\n{_tail(tail)}")

    def pull(self, reference: str, progress: Progress = None) -> None:
        """Pull ``reference`` from its registry."""
        code, tail = self._stream(["pull", reference], progress)
        if code != 0:
            raise RegistryError(f"could not pull {reference}:\n{_tail(tail)}")

    def run(
        self,
        image: str,
        args: Sequence[str] = (),
        *,
        options: Sequence[str] = (),
        progress: Progress = None,
    ) -> tuple[int, str]:
        """Run ``image`` in the foreground (removed afterwards); its exit code and the
        last lines of its output, quoted for an error message."""
        code, tail = self._stream(["run", "--rm", *options, image, *args], progress)
        if code == 125:  # the engine could not start the container at all
            raise ImageError(f"`docker run {image}` failed:\n{_tail(tail)}")
        return code, _tail(tail)

    def start(self, image: str, options: Sequence[str] = ()) -> str:
        """Start ``image`` in the background; the container ID."""
        result = self._call("run", "--detach", *options, image, timeout=120)
        if result.returncode != 0:
            raise ImageError(f"`docker run {image}` failed:\n{_tail(result.stderr.splitlines())}")
        return result.stdout.strip()

    def published_port(self, container: str, port: int) -> int:
        result = self._call("port", container, f"{port}/tcp")
        first = (result.stdout.strip().splitlines() or [""])[0]
        if result.returncode != 0 or ":" not in first:
            raise ImageError(f"container {container[:12]} publishes no port {port}")
        return int(first.rsplit(":", 1)[1])

    def state(self, container: str) -> str:
        """``running``, ``exited``, ... of the container."""
        result = self._call("inspect", "--format", "{{.State.Status}}", container)
        return result.stdout.strip() or "gone"

    def logs(self, container: str, lines: int = 30) -> str:
        result = self._call("logs", "--tail", str(lines), container)
        return (result.stdout + result.stderr).strip()

    def remove(self, container: str) -> None:
        self._call("rm", "--force", container)
