"""Reusable constrained string types of the spec.

Each type is a plain ``str`` checked by a small function that says what is wrong in
words (not as a regular expression), plus a JSON Schema ``pattern`` (ECMA-262) so that
editors reject the same values. ``tests/unit/test_types.py`` keeps both in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from diva.urls import CREDENTIAL_PARAMETERS, has_credential_query, has_userinfo


@dataclass(frozen=True)
class SchemaPattern:
    """Adds a ``pattern`` to the JSON Schema of a string type.

    ``message`` becomes ``patternErrorMessage``, which yaml-language-server shows in
    editors instead of the raw regular expression.
    """

    pattern: str
    message: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        schema["patternErrorMessage"] = self.message
        return schema


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to users as it is."""
    return PydanticCustomError("diva", message)


#: Says in words what is wrong with a value (or ``None``), before the pattern is tried.
Problem = Callable[[str], str | None]


def _matcher(pattern: str, message: str, problems: tuple[Problem, ...]) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        for problem in problems:
            if reason := problem(value):
                raise invalid(reason)
        if not compiled.fullmatch(value):
            raise invalid(message)
        return value

    return check


def _constrained(pattern: str, message: str, *problems: Problem) -> Any:
    """A ``str`` type whose Python check and JSON Schema use the same pattern; the
    ``problems`` give a more precise message for values the pattern refuses."""
    return Annotated[
        str, AfterValidator(_matcher(pattern, message, problems)), SchemaPattern(pattern, message)
    ]


# --- names ------------------------------------------------------------------------

DNS_LABEL = r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
DnsLabel = _constrained(
    DNS_LABEL,
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, "
    "not ending with '-', at most 63 characters",
)

NAME = r"^[a-z](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
Name = _constrained(
    NAME,
    "must be a name: lowercase letters, digits, '_' and '-', starting with a letter, "
    "not ending with '-', at most 63 characters",
)

KEY = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
Key = _constrained(
    KEY,
    "must be an identifier: letters, digits and '_', not starting with a digit, "
    "at most 64 characters",
)

TOPIC = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,248}$"
Topic = _constrained(TOPIC, "must be a topic name: letters, digits, '.', '_' and '-'")

RUNNER_LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
RunnerLabel = _constrained(
    RUNNER_LABEL, "must be a runner label: letters, digits, '.', '_' and '-'"
)

VERSION = r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$"
Version = _constrained(
    VERSION, "must be a version: letters, digits, '.', '_', ':', '+' and '-', no spaces"
)

PYTHON_VERSION = r"^3\.[0-9]{1,2}$"
PythonVersion = _constrained(PYTHON_VERSION, "must be a Python version like '3.11'")

HANDLE = r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$"
Handle = _constrained(HANDLE, "must be a GitHub handle: '@user' or '@org/team'")

# --- text -------------------------------------------------------------------------

LINE = r"^[^\x00-\x1f\x7f]+$"
Line = _constrained(LINE, "must be non-empty text on a single line (no control characters)")

TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b-\x1f\x7f]*$"
Text = _constrained(
    TEXT, "must be non-empty text (no control characters other than newlines and tabs)"
)

# --- paths ------------------------------------------------------------------------

REL_PATH = (
    r"^(?!(?:.*/)?(?:\.git|\.dvc|\.diva)(?:/|$))(?!.*(?:^|/)\.{0,2}/)(?!(?:.*/)?\.{1,2}$)"
    r"[A-Za-z0-9_.][A-Za-z0-9_./-]*$"
)
_PATH_CHARS = re.compile(r"[A-Za-z0-9_./-]+")
#: Folders owned by git, DVC and diva themselves.
RESERVED_DIRS = (".git", ".dvc", ".diva")
#: git, DVC and the shell would read such a path as an option (``-rf``, ``--force``).
_LEADING_DASH = "must not start with '-' (a command would read it as an option)"


def check_relative_path(value: str) -> str:
    """A path relative to the project folder that cannot leave it."""
    if not value:
        raise invalid("must not be empty")
    if value.startswith("/"):
        raise invalid("must be relative to the project folder (no leading '/')")
    if value.startswith("~"):
        raise invalid("must be relative to the project folder (no '~')")
    if value.startswith("-"):
        raise invalid(_LEADING_DASH)
    if "\\" in value:
        raise invalid("must use '/' as separator (no backslashes)")
    parts = value.rstrip("/").split("/")
    if ".." in parts:
        raise invalid("must stay inside the project folder (no '..')")
    if "." in parts or "" in parts:
        raise invalid("must be written without '.' or empty segments (no './' and no '//')")
    reserved = [part for part in parts if part in RESERVED_DIRS]
    if reserved:
        raise invalid(f"must not point into {reserved[0]}/ (owned by the tool of that name)")
    if not _PATH_CHARS.fullmatch(value):
        raise invalid("may only contain letters, digits, '.', '_', '-' and '/'")
    return value


def check_script(value: str) -> str:
    check_relative_path(value)
    if not value.endswith(".py"):
        raise invalid("must be a Python file (ending in '.py')")
    return value


RelPath = Annotated[
    str,
    AfterValidator(check_relative_path),
    SchemaPattern(REL_PATH, "must be a relative path inside the project folder, using '/'"),
]
SCRIPT = REL_PATH[:-1] + r"\.py$"
Script = Annotated[
    str,
    AfterValidator(check_script),
    SchemaPattern(SCRIPT, "must be a Python file relative to the project folder"),
]

# --- URIs -------------------------------------------------------------------------

#: Credentials never stand in the spec, which is committed, shown in pull requests and
#: compiled into generated files: no userinfo (``user:password@``, ``token@``) and no
#: credential in the query (``?password=``, which redis-py and libpq both read).
_FROM_SECRETS = "credentials come from the environment or a secret, never from the spec"
_USERINFO_MESSAGE = (
    "must not hold a user name, password or token before '@' (USER:PASSWORD@HOST or "
    f"TOKEN@HOST): {_FROM_SECRETS}"
)
_QUERY_MESSAGE = (
    "must not carry a credential in its query ('?password=', '?token=', '?api_key=' ...): "
    + _FROM_SECRETS
)
_NO_USERINFO = r"(?![A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@)"


def _any_case(word: str) -> str:
    """``word`` matched in any case by an ECMA-262 pattern, which has no inline flags."""
    return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else char for char in word)


_NO_CREDENTIAL_QUERY = (
    r"(?![^?#\s]*\?(?:[^#\s]*&)?(?:"
    + "|".join(_any_case(name) for name in CREDENTIAL_PARAMETERS)
    + r")=)"
)
_NO_CREDENTIALS = _NO_USERINFO + _NO_CREDENTIAL_QUERY
_CREDENTIALS_HINT = ", without credentials (they come from the environment or a secret)"


def _credentials_problem(value: str) -> str | None:
    if has_userinfo(value):
        return _USERINFO_MESSAGE
    if has_credential_query(value):
        return _QUERY_MESSAGE
    return None


def _leading_dash_problem(value: str) -> str | None:
    return _LEADING_DASH if value.startswith("-") else None


HTTP_URL = r"^" + _NO_CREDENTIALS + r"https?://[^\s/$.?#][^\s]*$"
HttpUrl = _constrained(
    HTTP_URL,
    "must be an http:// or https:// URL without spaces" + _CREDENTIALS_HINT,
    _credentials_problem,
)

#: Characters of a package index or wheel URL: no quote, backslash, ``$`` or backtick,
#: so that the URL is one word for pip, the shell and a Dockerfile alike.
_URL_CHARS = r"[A-Za-z0-9._~:/?#@!&*+,;=%-]"
#: Plain http only on the machine itself (a test index, a local mirror): anything else
#: would let the network between CI and the index swap diva for another package.
_INDEX_HOST = (
    r"(?:https://[A-Za-z0-9._-]+(?::[0-9]{1,5})?"
    r"|http://(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?)"
)


def _plain_http_problem(value: str) -> str | None:
    loopback = r"http://(?:127\.0\.0\.1|localhost|\[::1\])(?:[:/]|$)"
    if value.startswith("http://") and not re.match(loopback, value):
        return "must use https:// (plain http only on the loopback: 127.0.0.1, localhost, [::1])"
    return None


INDEX_URL = r"^" + _NO_CREDENTIALS + _INDEX_HOST + r"(?:/" + _URL_CHARS + r"*)?$"
IndexUrl = _constrained(
    INDEX_URL,
    "must be a package index URL such as https://pypi.example.org/simple (http:// only on "
    "the loopback; no quotes, spaces or '$')" + _CREDENTIALS_HINT,
    _credentials_problem,
    _plain_http_problem,
)

WHEEL_URL = r"^" + _NO_CREDENTIALS + _INDEX_HOST + r"/" + _URL_CHARS + r"*\.whl$"
WheelUrl = _constrained(
    WHEEL_URL,
    "must be the https:// URL of a wheel (ending in '.whl'; http:// only on the loopback; "
    "no quotes, spaces or '$')" + _CREDENTIALS_HINT,
    _credentials_problem,
    _plain_http_problem,
)

SHA256 = r"^[a-f0-9]{64}$"
Sha256 = _constrained(SHA256, "must be a sha256 digest: 64 lowercase hex digits")

TRACKING_URI = (
    r"^" + _NO_CREDENTIALS + r"(?:(?:sqlite|postgresql|mysql|mssql)(?:\+[a-z0-9]+)?://[^\s]*"
    r"|https?://[^\s]+|file:[^\s]+|databricks(?:://[^\s]*)?)$"
)
TrackingUri = _constrained(
    TRACKING_URI,
    "must be an MLflow tracking URI: sqlite:///PATH, postgresql://..., mysql://..., "
    "http(s)://HOST, file:PATH or databricks" + _CREDENTIALS_HINT,
    _credentials_problem,
)

REMOTE_URL = (
    r"^" + _NO_CREDENTIALS + r"(?:(?:s3|gs|azure|ssh|https?|webdavs?|hdfs|oss)://[^\s]+"
    r"|[A-Za-z0-9_./][A-Za-z0-9_./-]*)$"
)
RemoteUrl = _constrained(
    REMOTE_URL,
    "must be a DVC remote: a local folder or an s3://, gs://, azure://, ssh://, "
    "http(s)://, webdav(s)://, hdfs:// or oss:// URL" + _CREDENTIALS_HINT,
    _credentials_problem,
    _leading_dash_problem,
)

BROKER_URL = r"^" + _NO_CREDENTIALS + r"[a-z][a-z0-9+.-]*://[^\s]+$"
BrokerUrl = _constrained(
    BROKER_URL,
    "must be a broker URL such as redis://HOST:6379/0" + _CREDENTIALS_HINT,
    _credentials_problem,
)

# --- images -----------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"  # docker refuses upper case anywhere
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"

PINNED_IMAGE = rf"^{_NAME}(?::{_TAG})?@{_DIGEST}$"
PinnedImage = _constrained(
    PINNED_IMAGE,
    "must be an image reference pinned by digest: NAME[:TAG]@sha256:<64 hex digits>",
)

DIGEST = rf"^{_DIGEST}$"
Digest = _constrained(DIGEST, "must be an image digest: sha256:<64 lowercase hex digits>")

REGISTRY = rf"^{_DOMAIN}(?:/{_COMPONENT})*$"


def _registry_userinfo_problem(value: str) -> str | None:
    """``USER@`` or ``TOKEN@`` before the host (an '@' after it starts a digest)."""
    return _USERINFO_MESSAGE if "@" in value.split("/", 1)[0] else None


Registry = _constrained(
    REGISTRY,
    "must be an image registry (and optional namespace) such as 'ghcr.io/acme' or "
    "'127.0.0.1:5000', without tag or digest",
    _registry_userinfo_problem,
)

# --- Kubernetes quantities --------------------------------------------------------

CPU = r"^(?:[1-9][0-9]*m|[0-9]+(?:\.[0-9]{1,3})?)$"
Cpu = _constrained(CPU, "must be a CPU quantity such as '500m' or '2'")

MEMORY = r"^[1-9][0-9]*(?:Ki|Mi|Gi|Ti|k|M|G|T)?$"
Memory = _constrained(MEMORY, "must be a memory quantity such as '512Mi' or '2Gi'")

# --- cron -------------------------------------------------------------------------

CRON = r"^[0-9A-Za-z*/,-]+(?: [0-9A-Za-z*/,-]+){4}$"
_UNPORTABLE = re.compile(r"[LW#?]")
_NAMES = re.compile(r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|MON|TUE|WED|THU|FRI|SAT|SUN")


def check_cron(value: str) -> str:
    """Five-field cron as GitHub Actions and Kubernetes CronJobs both read it."""
    fields = value.split(" ")
    if len(fields) != 5 or not all(fields):
        raise invalid(
            "must be a cron expression of five fields separated by single spaces "
            "(minute hour day-of-month month day-of-week)"
        )
    if any(_UNPORTABLE.search(_NAMES.sub("", field.upper())) for field in fields):
        raise invalid("must not use L, W, # or ? (GitHub Actions does not support them)")
    try:
        CronSim(value, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as err:
        reason = str(err).lower().removeprefix("bad ")
        raise invalid(
            f"is not a valid cron expression (bad {reason}; ranges: minute 0-59, hour 0-23, "
            "day of month 1-31, month 1-12, day of week 0-7)"
        ) from err
    return value


Cron = Annotated[
    str,
    AfterValidator(check_cron),
    SchemaPattern(CRON, "must be a cron expression of five fields separated by single spaces"),
]
