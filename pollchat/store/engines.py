"""Which engine a ``--database`` value means, and opening it.

``None`` (the default) is the SQLite file ``pollchat.db`` in the data directory; a
``postgresql://`` (or ``postgres://``) URL is a PostgreSQL database
(:mod:`pollchat.store.postgres`, needs ``pip install 'pollchat[postgres]'``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pollchat.errors import ConfigError, StoreError
from pollchat.store.database import DATABASE_NAME, Database
from pollchat.store.ports import Store
from pollchat.store.urls import INSTALL_HINT, is_postgres_url


def check_location(url: str | None) -> None:
    """Check a ``--database`` value before anything is started: a ``postgresql://``
    URL without a password in it (libpq's ``PGPASSWORD`` / ``PGPASSFILE`` carry that),
    and psycopg installed.

    Raises:
        ConfigError: one line saying what to do.
    """
    if url is None:
        return
    if not is_postgres_url(url):
        raise ConfigError(f"--database takes a postgresql://USER@HOST/DATABASE URL, not {url!r}")
    if urlsplit(url).password is not None:
        raise ConfigError(
            "do not put the password in the URL (every user can read a command line): "
            "set PGPASSWORD, or put it in PGPASSFILE or ~/.pgpass"
        )
    from pollchat.store import postgres  # psycopg is imported only now

    if postgres.psycopg is None:
        raise ConfigError(f"PostgreSQL needs psycopg: {INSTALL_HINT}")


def open_store(data_dir: Path, url: str | None) -> Store:
    """Open the store: SQLite in ``data_dir`` when ``url`` is ``None``, else the
    PostgreSQL database ``url`` (checked with :func:`check_location` first).

    Raises:
        ConfigError: a bad ``url``, psycopg missing, or the PostgreSQL database cannot
            be used (unreachable, refused login, another application's): one line.
        StoreError: the SQLite file cannot be used.
    """
    if url is None:
        return Database.open(data_dir / DATABASE_NAME)
    check_location(url)
    from pollchat.store.pgviews import open_pg_views

    try:
        return open_pg_views(url)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
