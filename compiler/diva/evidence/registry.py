"""Image registry evidence: the digest a registry serves for an image reference.

Asks the registry's HTTP API (``HEAD /v2/<name>/manifests/<tag>``) for the manifest
digest — what was pushed, not what a local engine remembers. Loopback registries are
spoken to over plain HTTP (as Docker does); every other host over HTTPS.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from diva.evidence import UnreachableError

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


def manifest_digest(reference: str, timeout: float = 10) -> str | None:
    """``sha256:...`` of ``host/name:tag`` (or ``host/name@digest``) in its registry;
    None when the registry answers that it has no such image."""
    match = _REFERENCE.match(reference)
    if match is None or ("." not in match["host"] and ":" not in match["host"]):
        raise UnreachableError(f"{reference}: not a reference with a registry host")
    scheme = "http" if match["host"].startswith(_LOOPBACK) else "https"
    wanted = match["digest"] or match["tag"] or "latest"
    url = f"{scheme}://{match['host']}/v2/{match['name']}/manifests/{wanted}"
    # the scheme is http or https, chosen above: never file: or another opener
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": _ACCEPT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            digest = response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise UnreachableError(
            f"{reference}: the registry answered {err.code} {err.reason}"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        raise UnreachableError(f"{reference}: registry unreachable ({err})") from err
    if not digest:
        raise UnreachableError(f"{reference}: the registry gave no digest")
    return str(digest)
