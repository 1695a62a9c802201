"""``pollchat-server migrate --to postgresql://USER@HOST/DB [--data-dir DIR]``: copy the
data directory's SQLite database into an empty PostgreSQL database
(:func:`pollchat.store.migrate.migrate_to_postgres`).

Refused while a server uses the data directory (it holds the data-directory lock), into
a database that is not empty or belongs to another application, and with a password in
the URL: a command line is visible to every user of the machine (``ps``) and lands in
shell histories, so the password comes from libpq's own settings -- ``PGPASSWORD``,
``PGPASSFILE`` or ``~/.pgpass``. The SQLite file is left in place (migrated to the
current schema first, with its usual backup); nothing changes in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from pollchat.config import default_data_dir
from pollchat.errors import ConfigError
from pollchat.store.database import DATABASE_NAME
from pollchat.store.lock import DataDirInUse, DataDirLock
from pollchat.store.urls import is_postgres_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``migrate`` parser."""
    migrate = subparsers.add_parser(
        "migrate",
        help="copy the SQLite database into an empty PostgreSQL database (server stopped)",
        description=f"Copy {DATABASE_NAME} -- accounts with their password hashes, bans, history, groups, "
        "memberships, requests, offline changes -- into an empty PostgreSQL database in one transaction, "
        "and check the row counts. Refused while a server uses the data directory. The password comes from "
        "PGPASSWORD, PGPASSFILE or ~/.pgpass, never from the command line. Needs pip install 'pollchat[postgres]'.",
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://USER@HOST[:PORT]/DATABASE")
    migrate.add_argument(
        "--data-dir", metavar="DIR", type=Path,
        help=f"the server's data directory, holding {DATABASE_NAME} (default: $XDG_DATA_HOME/pollchat or ~/.local/share/pollchat)",
    )
    migrate.set_defaults(run=run_migrate)


def check_url(url: str) -> None:
    """Refuse what is not a ``postgresql://`` URL, or one with a password in it.

    Raises:
        ConfigError: one line saying what to do instead.
    """
    if not is_postgres_url(url):
        raise ConfigError(f"--to needs a postgresql://USER@HOST/DATABASE URL, not {url!r}")
    if urlsplit(url).password is not None:
        raise ConfigError(
            "do not put the password in the URL (every user can read a command line): "
            "set PGPASSWORD, or put it in PGPASSFILE or ~/.pgpass"
        )


def run_migrate(args: argparse.Namespace, stdin: TextIO) -> int:
    """Run the migration; one line per table on stderr, the summary on stdout."""
    from pollchat.store.migrate import migrate_to_postgres
    from pollchat.store.urls import redact

    check_url(args.to)
    data_dir = args.data_dir or default_data_dir()
    try:
        lock = DataDirLock.acquire(data_dir)
    except DataDirInUse as exc:
        raise ConfigError(f"{exc}; stop it before migrating") from None
    try:
        counts = migrate_to_postgres(
            data_dir / DATABASE_NAME, args.to, progress=lambda line: print(f"copied {line}", file=sys.stderr)
        )
    finally:
        lock.release()
    summary = ", ".join(f"{table} {n}" for table, n in counts.items())
    print(f"migrated {data_dir / DATABASE_NAME} to {redact(args.to)}: {summary}", flush=True)
    return 0
