"""URLs as diva shows them: without the credentials they may carry.

A message or report that names a URL may end up in a CI log or a pull-request comment,
which anybody who can read the repository reads. The spec refuses credentials in its
URLs (``compiler/spec/types.py``), but URLs also come from elsewhere: a spec on an older
branch, DVC's configuration (``config.local`` holds credentials), a command-line option,
and the error messages of tools, which repeat the URL they were given. Everything here
is plain text work: no URL library that could split a URL differently from the tool
that reads it, and nothing is resolved.
"""

from __future__ import annotations

import re

#: Query parameters that carry a credential: redis-py and libpq read ``password`` (and
#: ``user``) from the query, HTTP APIs a token or key.
CREDENTIAL_PARAMETERS = (
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "auth_token",
    "secret",
    "api_key",
    "apikey",
)

#: ``scheme://`` and the userinfo after it: RFC 3986's authority ends at the first '/',
#: '?' or '#', and its userinfo at the last '@' inside it.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
_CREDENTIAL_QUERY = re.compile(
    r"(?P<name>[?&](?:" + "|".join(CREDENTIAL_PARAMETERS) + r"))=[^&#\s]*", re.IGNORECASE
)
_QUERY = re.compile(r"\?[^#]*")
_SCHEME_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def has_userinfo(url: str) -> bool:
    """Whether ``url`` names a user, a password or a token before its host."""
    return _SCHEME_START.match(url) is not None and _USERINFO.match(url) is not None


def has_credential_query(url: str) -> bool:
    """Whether the query of ``url`` carries a credential (``?password=…``, ``&token=…``)."""
    query = _QUERY.search(url)
    return query is not None and _CREDENTIAL_QUERY.search(query.group()) is not None


def strip_userinfo(url: str) -> str:
    """``url`` without its userinfo (``https://kim:pw@host/x`` → ``https://host/x``),
    the values of credential query parameters replaced by ``***``."""
    return _masked_queries(_USERINFO.sub(r"\g<scheme>", url, count=1) if has_userinfo(url) else url)


def redact(text: str) -> str:
    """``text`` (a tool's error message, say) with every URL in it stripped as by
    :func:`strip_userinfo`."""
    return _masked_queries(_USERINFO.sub(r"\g<scheme>", text))


def _masked_queries(text: str) -> str:
    return _CREDENTIAL_QUERY.sub(r"\g<name>=***", text)
