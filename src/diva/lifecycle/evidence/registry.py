"""Image registry evidence: the digest a registry serves for an image reference.

Asks the registry's HTTP API (``HEAD /v2/<name>/manifests/<tag>``) for the manifest
digest — what was pushed, not what a local engine remembers — and, for releases, reads
an image's labels from its configuration blob. Loopback registries are
spoken to over plain HTTP (as Docker does); every other host over HTTPS.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from diva.lifecycle.evidence import UnreachableError

_REFERENCE = re.compile(
    r"^(?P<host>[^/]+)/(?P<name>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$"
)
_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_LOOPBACK = ("127.", "localhost", "[::1]")


def _split(reference: str) -> tuple[str, str, str]:
    """The registry's API root, the repository name and the tag or digest wanted."""
    match = _REFERENCE.match(reference)
    if match is None or ("." not in match["host"] and ":" not in match["host"]):
        raise UnreachableError(f"{reference}: not a reference with a registry host")
    scheme = "http" if match["host"].startswith(_LOOPBACK) else "https"
    wanted = match["digest"] or match["tag"] or "latest"
    return f"{scheme}://{match['host']}/v2", match["name"], wanted


def _open(reference: str, url: str, method: str, accept: str, timeout: float) -> Any:
    # the scheme is http or https, chosen by _split: never file: or another opener
    request = urllib.request.Request(url, method=method, headers={"Accept": accept})  # noqa: S310
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise UnreachableError(
            f"{reference}: the registry answered {err.code} {err.reason}"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        raise UnreachableError(f"{reference}: registry unreachable ({err})") from err


def manifest_digest(reference: str, timeout: float = 10) -> str | None:
    """``sha256:...`` of ``host/name:tag`` (or ``host/name@digest``) in its registry;
    None when the registry answers that it has no such image."""
    api, name, wanted = _split(reference)
    response = _open(reference, f"{api}/{name}/manifests/{wanted}", "HEAD", _ACCEPT, timeout)
    if response is None:
        return None
    with response:
        digest = response.headers.get("Docker-Content-Digest")
    if not digest:
        raise UnreachableError(f"{reference}: the registry gave no digest")
    return str(digest)


def image_labels(reference: str, timeout: float = 10) -> dict[str, str] | None:
    """The labels of the image's configuration (of its first platform image when the
    reference names an index); None when the registry has no such image."""
    api, name, wanted = _split(reference)
    manifest = _json(reference, f"{api}/{name}/manifests/{wanted}", _ACCEPT, timeout)
    if manifest is not None and "manifests" in manifest:  # an index of platform images
        images = [
            entry
            for entry in manifest["manifests"]
            if (entry.get("platform") or {}).get("os") != "unknown"  # not an attestation
        ]
        if not images:
            raise UnreachableError(f"{reference}: an index without a platform image")
        url = f"{api}/{name}/manifests/{images[0]['digest']}"
        manifest = _json(reference, url, _ACCEPT, timeout)
    if manifest is None:
        return None
    try:
        config_url = f"{api}/{name}/blobs/{manifest['config']['digest']}"
    except (KeyError, TypeError) as err:
        raise UnreachableError(f"{reference}: a manifest without a configuration") from err
    config = _json(reference, config_url, "*/*", timeout) or {}
    labels = (config.get("config") or {}).get("Labels") or {}
    return {str(key): str(value) for key, value in labels.items()}


def _json(reference: str, url: str, accept: str, timeout: float) -> Any:
    response = _open(reference, url, "GET", accept, timeout)
    if response is None:
        return None
    with response:
        try:
            return json.loads(response.read(4 * 1024 * 1024))
        except ValueError as err:
            raise UnreachableError(f"{reference}: the registry sent no JSON ({url})") from err
