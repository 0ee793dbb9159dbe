"""DVC evidence: which paths are tracked, their content hash, and whether they are pushed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from diva import tools
from diva.contract import DVC_PASSWORD_ENV, DVC_USER_ENV
from diva.lifecycle.evidence import UnreachableError


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path) if path.is_file() else None


def tracked_hash(root: Path, data_path: str) -> str | None:
    """The md5 DVC recorded for ``data_path`` in its ``.dvc`` file, or None."""
    document = _load_yaml(root / f"{data_path}.dvc") or {}
    for out in document.get("outs") or []:
        if str(out.get("path", "")).rstrip("/") == Path(data_path).name:
            return str(out.get("md5") or out.get("hash") or "") or None
    return None


def lock_hashes(root: Path) -> dict[str, str]:
    """Path -> md5 of every dependency recorded in dvc.lock (what the pipeline ran on)."""
    document = _load_yaml(root / "dvc.lock") or {}
    hashes: dict[str, str] = {}
    for stage in (document.get("stages") or {}).values():
        for dep in stage.get("deps") or []:
            if dep.get("md5"):
                hashes[str(dep["path"]).rstrip("/")] = str(dep["md5"])
    return hashes


def _dvc() -> list[str]:
    local = Path(sys.executable).parent / "dvc"
    if local.exists():
        return [str(local)]
    found = shutil.which("dvc")
    if found is None:
        raise UnreachableError("dvc is not installed, so the remote cannot be checked")
    return [found]


#: How long one DVC command may take before the remote counts as unreachable.
DVC_TIMEOUT = 300
#: How long the remote's HTTP server may take to answer a probe.
PROBE_TIMEOUT = 10
#: DVC's warning when an object is neither in the cache nor on the remote; for a
#: directory whose manifest (``.dir``) is missing it is the only sign: the JSON is ``{}``.
_MISSING_WARNING = "do not exist neither locally nor on remote"


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}  # a read-only check does not phone home
    command = [*_dvc(), *args]
    result = tools.run(
        command, cwd=root, env=env, error=UnreachableError, check=False, timeout=DVC_TIMEOUT
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        reason = " ".join(errors) or result.stderr.strip()
        raise UnreachableError(f"dvc {' '.join(args[:2])} failed: {reason[-300:]}")
    return result


def pushed(root: Path, data_path: str) -> bool:
    """Whether the default remote holds every object of ``data_path``.

    ``dvc status --cloud --json`` names the objects that differ between the local cache
    and the remote: ``new`` (only in the cache) and ``missing`` (in neither) are not
    pushed; ``deleted`` (only on the remote, as in a fresh clone in CI) is. ``{}`` means
    "in sync" only when DVC had something to compare: it also prints ``{}`` when a
    directory's manifest is in neither place (with a warning: not pushed) and, without a
    cache, when it cannot reach the remote at all (silently: unreachable). Before saying
    "not pushed", the remote is asked whether it answers (DVC takes an HTTP remote that
    does not answer for an empty one).
    """
    result = _status(root, data_path)
    try:
        status = json.loads(result.stdout or "{}")
    except ValueError as err:
        raise UnreachableError(f"dvc status --cloud gave no JSON: {result.stdout[:200]}") from err
    if not isinstance(status, dict):
        raise UnreachableError(f"dvc status --cloud gave no JSON object: {result.stdout[:200]}")
    missing = _MISSING_WARNING in " ".join(result.stderr.split())
    if missing or any(state != "deleted" for state in status.values()):
        _probe_remote(_config(root))
        return False
    if status or _cached(root, tracked_hash(root, data_path), None):
        return True
    config = _config(root)
    if _cached(root, tracked_hash(root, data_path), config.get("cache.dir")):
        return True
    raise UnreachableError(
        f"dvc status --cloud compared nothing: {data_path} is not in the cache and DVC could "
        f"not read it from {_remote(config)} (is it reachable, is its DVC plugin installed?)"
    )


def _status(root: Path, data_path: str) -> subprocess.CompletedProcess[str]:
    """``dvc status --cloud`` of ``data_path``; when DVC cannot read the remote, the
    error names the remote (a refused password is "unreachable", never "not pushed")."""
    try:
        return _run(root, "status", "--cloud", "--json", "--", f"{data_path}.dvc")
    except UnreachableError as err:
        try:
            remote = _remote(_config(root))
        except UnreachableError:
            raise err from None
        hint = ""
        if any(code in str(err) for code in ("401", "403", "Permission denied")):
            hint = f" (are {DVC_USER_ENV} and {DVC_PASSWORD_ENV} the remote's read credentials?)"
        raise UnreachableError(f"{remote} cannot be read{hint}: {err}") from err


def configure(folder: Path, name: str, url: str, env: Mapping[str, str] = os.environ) -> None:
    """Make ``folder`` (a commit written out by the gate) a DVC project whose one remote
    is ``name`` at ``url``: the policy's remote, never the commit's own ``.dvc/config``.
    No git (``core.no_scm``): DVC only compares the ``.dvc`` files with the remote.
    The remote's read-only credentials, from ``env`` (the gate job's own secrets), go
    into ``.dvc/config.local`` (owner-only), never into ``.dvc/config``."""
    config = folder / ".dvc" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    if '"' in url or "\n" in url:  # DVC's config format cannot quote them
        raise UnreachableError(f"the DVC remote URL {_shown(url)!r} cannot be written to a config")
    options = credentials(url, env)
    config.write_text(
        f"[core]\n    remote = {name}\n    no_scm = true\n['remote \"{name}\"']\n"
        f'    url = "{url}"\n',
        encoding="utf-8",
    )
    local = config.with_name("config.local")
    local.unlink(missing_ok=True)
    if options:
        lines = "".join(f'    {key} = "{value}"\n' for key, value in options.items())
        descriptor = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(f"['remote \"{name}\"']\n{lines}")


#: Remote kinds that take a ``user`` and ``password`` (HTTP also ``auth = basic``).
CREDENTIAL_SCHEMES = ("webdav", "webdavs", "http", "https", "ssh")


def credentials(url: str, env: Mapping[str, str]) -> dict[str, str]:
    """The remote options for the credentials in ``env`` (unset or empty: none), for a
    remote at ``url`` that takes them; a value DVC's config cannot hold is refused."""
    scheme = urllib.parse.urlsplit(url).scheme
    values = {"user": env.get(DVC_USER_ENV, ""), "password": env.get(DVC_PASSWORD_ENV, "")}
    options = {key: value for key, value in values.items() if value}
    if not options or scheme not in CREDENTIAL_SCHEMES:
        return {}
    for key, variable in (("user", DVC_USER_ENV), ("password", DVC_PASSWORD_ENV)):
        if any(character in options.get(key, "") for character in '"\r\n'):
            raise UnreachableError(
                f"{variable} holds a double quote or a line break, which DVC's config "
                "cannot hold: give the gate credentials without them"
            )
    return ({"auth": "basic"} if scheme in ("http", "https") else {}) | options


def _config(root: Path) -> dict[str, str]:
    """DVC's configuration, every level merged: ``section.key`` -> value."""
    lines = _run(root, "config", "--list").stdout.splitlines()
    return dict(line.partition("=")[::2] for line in lines)


def _cached(root: Path, md5: str | None, cache_dir: str | None) -> bool:
    """Whether the local cache holds the object ``md5`` (DVC 3's layout, or DVC 2's)."""
    if not md5:
        return False
    cache = root / ".dvc" / (cache_dir or "cache")  # a relative cache.dir is from .dvc/
    name = Path(md5[:2], md5[2:])
    return (cache / "files" / "md5" / name).is_file() or (cache / name).is_file()


def _remote(config: dict[str, str]) -> str:
    """The default remote, named with its URL (without credentials)."""
    name = config.get("core.remote", "")
    return f"the DVC remote {name!r} at {_shown(config.get(f'remote.{name}.url', ''))}"


def _shown(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc:
        return url
    hostname = f"[{parts.hostname}]" if ":" in str(parts.hostname) else str(parts.hostname)
    host = f"{hostname}:{parts.port}" if parts.port else hostname
    return parts._replace(netloc=host).geturl()


class _Unredirected(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: the credentials never follow it to another URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_Unredirected())
#: The HTTP scheme a remote of each kind is asked over (WebDAV is HTTP).
_OVER_HTTP = {"http": "http", "https": "https", "webdav": "http", "webdavs": "https"}


def _probe_remote(config: dict[str, str]) -> None:
    """Raise :class:`UnreachableError` when the default remote is an HTTP(S) or WebDAV
    server that does not answer or refuses the gate's credentials (DVC reports the
    objects it may not read as missing). A local folder that does not exist yet is an
    empty remote; other kinds fail in DVC itself when unreachable."""
    name = config.get("core.remote", "")
    url = urllib.parse.urlsplit(_shown(config.get(f"remote.{name}.url", "")))
    if url.scheme not in _OVER_HTTP:
        return
    asked = url._replace(scheme=_OVER_HTTP[url.scheme]).geturl()
    headers = _basic(config, name)
    request = urllib.request.Request(asked, method="HEAD", headers=headers)  # noqa: S310
    try:
        _NO_REDIRECTS.open(request, timeout=PROBE_TIMEOUT).close()
    except urllib.error.HTTPError as err:
        if err.code == 401:  # it answered: not to the gate's credentials
            refused = "refused the gate's credentials" if headers else "needs credentials"
            raise UnreachableError(
                f"{_remote(config)} {refused} (HTTP 401), so whether the data is pushed "
                f"cannot be told: {DVC_USER_ENV} and {DVC_PASSWORD_ENV} name its read-only user"
            ) from err
    except ValueError:  # not a URL urllib can ask; DVC's verdict stands
        return
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise UnreachableError(
            f"{_remote(config)} does not answer ({reason}), "
            "so whether the data is pushed cannot be told"
        ) from err


def _basic(config: dict[str, str], name: str) -> dict[str, str]:
    """The basic-auth header of the remote's credentials (the gate's, in config.local)."""
    user, password = config.get(f"remote.{name}.user"), config.get(f"remote.{name}.password")
    if not user and not password:
        return {}
    token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
