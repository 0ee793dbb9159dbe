"""Where generated files install diva from (``platform.install``), as pure data.

The spec's values (an index URL, a wheel's URL and digest, the lock's path) never stand
in a script: a workflow passes them in a step's ``env:`` and a Dockerfile as an ``ARG``,
and the scripts name them as quoted variables. pip reads its index from
``PIP_INDEX_URL`` itself; a wheel is installed as ``diva-lifecycle @ URL#sha256=HEX``,
which pip checks against the digest before it installs it; a lock is installed with
``--require-hashes`` (docs/install-source.md).
"""

from __future__ import annotations

from diva.compiler.ir import Project

DIVA_DISTRIBUTION = "diva-lifecycle"
#: pip's own variable for its index: set, pip never asks the public one.
INDEX_ENV = "PIP_INDEX_URL"
#: The pinned wheel of diva, ``URL#sha256=HEX``.
WHEEL_ENV = "DIVA_WHEEL"
#: The lock's path in the repository.
LOCK_ENV = "DIVA_LOCK"
DVC_VERSIONS = ">=3.50,<4"
#: DVC's optional dependencies per remote URL scheme; local folders and HTTP need none.
DVC_EXTRAS = {
    "s3": "s3",
    "gs": "gs",
    "azure": "azure",
    "ssh": "ssh",
    "hdfs": "hdfs",
    "oss": "oss",
    "webdav": "webdav",
    "webdavs": "webdav",
}
#: What the gate reads MLflow with: the client alone (no server, no database drivers).
MLFLOW_READER = "mlflow-skinny>=2.16,<4"
PLAIN_INSTALL = "@plain-install@"
#: Where the gate puts the base branch's lock: the runner's scratch folder.
BASE_LOCK_FILE = "$RUNNER_TEMP/diva-lock.txt"
#: The gate's lock, read from the base branch (the head's copy is data, never policy).
#: A base branch without the lock has no hash policy yet: the plain install, put in for
#: :data:`PLAIN_INSTALL` by :func:`base_lock_script`.
BASE_LOCK_SCRIPT = f"""\
if git -C "$GITHUB_WORKSPACE" cat-file -e "origin/${{BASE_REF}}:${{{LOCK_ENV}}}"; then
  git -C "$GITHUB_WORKSPACE" show "origin/${{BASE_REF}}:${{{LOCK_ENV}}}" > "{BASE_LOCK_FILE}"
  python -m pip install --require-hashes -r "{BASE_LOCK_FILE}"
else
  echo "::warning::origin/${{BASE_REF}} has no ${{{LOCK_ENV}}} yet: installing without hashes"
  {PLAIN_INSTALL}
fi"""
#: The lock of the checkout: for jobs whose checkout is the default branch itself.
CHECKOUT_LOCK_SCRIPT = (
    f'python -m pip install --require-hashes -r "$GITHUB_WORKSPACE/${{{LOCK_ENV}}}"'
)


def base_lock_script(plain: str) -> str:
    """The gate's install from the base branch's lock; ``plain`` where it has none."""
    return BASE_LOCK_SCRIPT.replace(PLAIN_INSTALL, plain)


def is_diva(requirement: str) -> bool:
    """Whether ``requirement`` (``diva-lifecycle[extra]==V``) names diva itself."""
    name = requirement.partition("==")[0].partition("[")[0]
    return name == DIVA_DISTRIBUTION


def wheel_requirement(requirement: str) -> str:
    """diva's requirement from the pinned wheel: its name and extras ``@`` the variable."""
    return requirement.partition("==")[0] + f" @ ${{{WHEEL_ENV}}}"


def requirement_words(project: Project, requirements: list[str]) -> list[str]:
    """The requirements as double-quoted shell words; diva's from the wheel if pinned."""
    wheel = project.install.wheel is not None
    return [
        f'"{wheel_requirement(item) if wheel and is_diva(item) else item}"' for item in requirements
    ]


def wheel_value(project: Project) -> str | None:
    """``URL#sha256=HEX`` of the pinned wheel: the form pip checks the digest of."""
    wheel = project.install.wheel
    return f"{wheel[0]}#sha256={wheel[1]}" if wheel else None


def install_env(project: Project, *, locked: bool) -> dict[str, str]:
    """The variables an install step reads: the index, the wheel or the lock."""
    env: dict[str, str] = {}
    if project.install.index_url:
        env[INDEX_ENV] = project.install.index_url
    if (wheel := wheel_value(project)) is not None:
        env[WHEEL_ENV] = wheel
    if locked and project.install.lock:
        env[LOCK_ENV] = project.install.lock
    return env


def image_args(project: Project) -> dict[str, str]:
    """The ``ARG``s of an image that installs diva: its index and its wheel."""
    args: dict[str, str] = {}
    if project.install.index_url:
        args[INDEX_ENV] = project.install.index_url
    if (wheel := wheel_value(project)) is not None:
        args[WHEEL_ENV] = wheel
    return args


def diva_requirement(project: Project, extra: str | None = None) -> str:
    """Exactly the diva that compiled the files, with one of its extras if asked."""
    name = f"{DIVA_DISTRIBUTION}[{extra}]" if extra else DIVA_DISTRIBUTION
    return f"{name}=={project.diva_version}"


def gate_requirements(project: Project) -> list[str]:
    """What the gate and record jobs install (what ``diva lock`` resolves): diva, and from
    stage 2 DVC with its remote's extra and MLflow's client."""
    readers = [dvc_requirement(project), MLFLOW_READER] if project.stage >= 2 else []
    return [diva_requirement(project), *readers]


def lock_requirements(project: Project) -> list[str]:
    """What ``diva lock`` resolves for the gate: its requirements at stage 2 and later,
    whatever the stage, so that a promotion does not outdate the lock."""
    return [diva_requirement(project), dvc_requirement(project), MLFLOW_READER]


def dvc_requirement(project: Project) -> str:
    """DVC with the extra its remote's URL scheme needs."""
    scheme, separator, _ = project.dvc_remote[1].partition("://")
    extra = DVC_EXTRAS.get(scheme) if separator else None
    return f"dvc[{extra}]{DVC_VERSIONS}" if extra else f"dvc{DVC_VERSIONS}"


#: MLflow's distributions a logged model's requirements name (MLflow adds the full one).
_MLFLOW_NAMES = ("mlflow", "mlflow-skinny")
#: What the serving image installs for MLflow: the client, whose ``mlflow models serve``
#: runs the scoring server (uvicorn) — no tracking server, UI or database drivers.
MLFLOW_SERVING = "mlflow-skinny"
#: What the scoring server needs that the client does not bring: pandas parses requests.
SCORING_REQUIREMENTS = ("pandas<3",)
#: What a flavor's saved format needs that full MLflow brought and the client does not:
#: (flavor, ``serialization_format`` in MLmodel) -> requirement.
FORMAT_REQUIREMENTS = {("sklearn", "skops"): "skops<1"}


def _requirement_name(line: str) -> str:
    end = len(line)
    for mark in "[=<>!~;@ ":
        if mark in line:
            end = min(end, line.index(mark))
    return line[:end].strip().lower().replace("_", "-")


def serving_requirements(model_requirements: str, formats: dict[str, str]) -> str:
    """The serving image's requirements from a logged model's ``requirements.txt``:
    full ``mlflow`` becomes :data:`MLFLOW_SERVING` at the same version, and what serving
    needs besides is added (pandas, the saved ``formats``' libraries: flavor -> format).
    Every other line is kept as it is."""
    lines = [line.strip() for line in model_requirements.splitlines()]
    out = []
    for line in lines:
        name = _requirement_name(line)
        if name in _MLFLOW_NAMES:
            rest = line[len(name) :]
            rest = rest.split("]", 1)[1] if rest.startswith("[") else rest  # extras: the server's
            line = MLFLOW_SERVING + rest
        if line:
            out.append(line)
    named = {_requirement_name(line) for line in out}
    wanted = [*SCORING_REQUIREMENTS]
    wanted += [req for key, req in FORMAT_REQUIREMENTS.items() if formats.get(key[0]) == key[1]]
    out += [req for req in wanted if _requirement_name(req) not in named]
    return "\n".join(out) + "\n"
