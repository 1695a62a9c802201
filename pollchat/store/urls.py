"""PostgreSQL URLs as pollchat takes them on a command line, without importing psycopg
(which costs most of a second to import; SQLite users never pay it)."""

from __future__ import annotations

URL_SCHEMES = ("postgresql://", "postgres://")
INSTALL_HINT = "pip install 'pollchat[postgres]'"
"""How to get the optional PostgreSQL engine (the ``postgres`` extra: psycopg 3)."""


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` (a ``--database`` or ``--to`` value) names a PostgreSQL database."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, host = rest.partition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
