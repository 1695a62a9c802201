"""A throwaway PostgreSQL server for the store's tests (session fixture ``pg_server``,
function fixture ``pg_url``: a new empty database per test).

The server is Debian's ``postgresql`` (``initdb``, ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``
or PATH), started in a temporary directory on a free 127.0.0.1 port with
``fsync=off`` (the tests check meaning, not durability) and stopped at the end of the
session. PostgreSQL refuses to run as root: as root, the binaries run as the
``postgres`` user (or ``nobody``) through ``runuser`` and the directory is given to it.
Connections over TCP need a password (``scram-sha-256``), so the tests also cover
passing one without a command line (``PGPASSWORD``). Without the binaries the tests
are skipped with the package to install. The starting and stopping is
:mod:`bench.pg`'s, shared with the benchmarks.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.pg import USER, LocalPostgres, bin_dir, local_postgres

PASSWORD = "test-secret-pw"

__all__ = ["PASSWORD", "USER", "PgServer", "pg_server", "pg_url"]


@dataclass(frozen=True)
class PgServer:
    """A running test server: ``url`` names the maintenance database ``postgres``,
    without the password (it is in :data:`PASSWORD`)."""

    host: str
    port: int
    directory: Path
    bin_dir: Path
    local: LocalPostgres

    def url(self, database: str = "postgres") -> str:
        return self.local.url(database)

    def conninfo(self, database: str = "postgres") -> str:
        return self.local.conninfo(database)

    def pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl`` on this server's data directory (as its owner), e.g.
        ``stop -m immediate`` (a crash) or ``start`` (with the session's options)."""
        self.local.pg_ctl(*args)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole session (see the module docstring; started by
    :func:`bench.pg.local_postgres`, which the benchmarks share)."""
    pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]' (or the test extra)")
    if bin_dir() is None:
        pytest.skip("PostgreSQL binaries not found: apt-get install postgresql")
    try:
        with local_postgres(password=PASSWORD, durable=False, prefix="pollchat-pg-") as pg:
            yield PgServer("127.0.0.1", pg.port, pg.directory, pg.bin_dir, pg)
    except LookupError as exc:  # root without an unprivileged user
        pytest.skip(str(exc))


_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database on the session's server; its URL without the password
    (``PGPASSWORD`` is set for the test). Dropped afterwards."""
    import psycopg

    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    old = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        yield pg_server.url(name)
    finally:
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
