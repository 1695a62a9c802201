"""A throwaway local PostgreSQL for the benchmarks (``pollchat-pg`` in ``bench.suite``,
``bench.registrations``): Debian's ``initdb``/``pg_ctl`` in a temporary directory, on a
free 127.0.0.1 port, with the server's default durability (``fsync`` and
``synchronous_commit`` on: what a deployment runs). As root the binaries run as the
``postgres`` user. Each run gets a fresh database (:meth:`LocalPostgres.new_database`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "pollchat"


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or ``None``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why the PostgreSQL runs cannot be made (``None``: they can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    return None


class LocalPostgres:
    """A running server: ``url(name)`` of a database, ``new_database()`` for a run."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._count = 0

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its URL (trust authentication: no password)."""
        import psycopg

        self._count += 1
        name = f"bench{os.getpid()}_{self._count}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """Start the server; stop it and remove its directory afterwards."""
    binaries = bin_dir()
    assert binaries is not None, unavailable()
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    directory = Path(tempfile.mkdtemp(prefix="pollchat-bench-pg-"))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = directory / "data"
    run = dict(check=True, capture_output=True, timeout=120, cwd=directory)
    subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8"], **run)  # type: ignore[call-overload]
    options = f"-h 127.0.0.1 -p {port} -k {directory}"
    subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-o", options,
                    "-w", "start"], **run)  # type: ignore[call-overload]
    try:
        yield LocalPostgres(port)
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       **run)  # type: ignore[call-overload]
        shutil.rmtree(directory, ignore_errors=True)
