"""A throwaway local PostgreSQL: Debian's ``initdb``/``pg_ctl`` in a temporary directory,
on a free 127.0.0.1 port. The one place that knows how to start one: the tests'
fixtures (``tests/postgres.py``), the cluster benchmark (``bench.cluster``) and the
PostgreSQL runs of ``bench.suite`` and ``bench.registrations`` use it.

PostgreSQL refuses to run as root: as root, the binaries run as the ``postgres`` user
(or ``nobody``) through ``runuser`` and the directory is given to it. With a password,
TCP connections need it (``scram-sha-256``); without, they are trusted. ``durable``
keeps the server's default durability (``fsync`` and ``synchronous_commit`` on: what a
deployment runs); the tests and the cluster benchmark turn it off (they measure meaning
or the chat's own costs, not the disk).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "pollchat"
"""The superuser ``initdb`` makes."""

TIMEOUT = 120.0
"""Seconds an ``initdb`` or ``pg_ctl`` may take."""

_databases = itertools.count(1)


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are (PATH, then ``/usr/lib/postgresql/*/bin``,
    newest first), or ``None``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def as_owner() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs PostgreSQL's binaries as an unprivileged user when we
    are root, and that user (``[]``, ``None`` when we are not root).

    Raises:
        LookupError: we are root and neither ``postgres`` nor ``nobody`` exists."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], user
    raise LookupError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


def unavailable() -> str | None:
    """Why a local PostgreSQL cannot be made (``None``: it can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LocalPostgres:
    """A data directory under ``directory`` and its server on 127.0.0.1:``port``.

    Attributes:
        directory: the temporary directory (``data/``, ``log``, the socket).
        port: the TCP port.
        bin_dir: where the binaries are.
        prefix: the ``runuser`` prefix when we are root (see :func:`as_owner`).
        options: the server's ``-o`` options (port, socket directory, durability,
            connection count).
        password: the superuser's password, or ``None`` (trusted connections).
    """

    directory: Path
    port: int
    bin_dir: Path
    prefix: tuple[str, ...]
    options: str
    password: str | None = None

    def url(self, database: str = "postgres") -> str:
        """The database's URL, without the password."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string for ``database``, with the password if any."""
        password = f" password={self.password}" if self.password else ""
        return f"host=127.0.0.1 port={self.port} user={USER}{password} dbname={database}"

    def new_database(self, name: str | None = None) -> str:
        """Create the empty database ``name`` (default: a new ``benchPID_N``); its URL
        (:meth:`url`)."""
        import psycopg

        if name is None:
            name = f"bench{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl`` on the data directory (as its owner), e.g. ``start``, ``stop -m
        immediate`` (a crash), ``stop -m fast``.

        Raises:
            subprocess.CalledProcessError: it failed (its output is in the error)."""
        extra = ["-l", str(self.directory / "log"), "-o", self.options] if args and args[0] == "start" else []
        subprocess.run(
            [*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"), *extra, "-w", *args],
            check=True, capture_output=True, timeout=TIMEOUT, cwd=self.directory,
        )


def create(
    *, password: str | None = None, durable: bool = True, max_connections: int | None = None, prefix: str = "pollchat-pg-"
) -> LocalPostgres:
    """``initdb`` a new data directory in a new temporary directory (named ``prefix``...);
    not started. The caller removes ``directory`` when done.

    Raises:
        FileNotFoundError: no PostgreSQL binaries (see :func:`unavailable`).
        LookupError: as :func:`as_owner`.
        subprocess.CalledProcessError: ``initdb`` failed."""
    binaries = bin_dir()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL binaries not found: apt-get install postgresql")
    runner, owner = as_owner()
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        auth = ["--auth=trust"]
        if password is not None:
            pwfile = directory / "pw"
            pwfile.write_text(password + "\n")
            auth = [f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"]
        if owner is not None:
            for path in (directory, *directory.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [*runner, str(binaries / "initdb"), "-D", str(directory / "data"), "-U", USER, *auth, "-E", "UTF8",
             "--locale=C.UTF-8"],
            check=True, capture_output=True, timeout=TIMEOUT, cwd=directory,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {directory}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if max_connections is not None:
        options += f" -c max_connections={max_connections}"
    return LocalPostgres(directory, port, binaries, tuple(runner), options, password)


@contextmanager
def local_postgres(
    *, password: str | None = None, durable: bool = True, max_connections: int | None = None, prefix: str = "pollchat-bench-pg-"
) -> Iterator[LocalPostgres]:
    """A started server (:func:`create`); stopped and its directory removed afterwards,
    whatever happened."""
    pg = create(password=password, durable=durable, max_connections=max_connections, prefix=prefix)
    try:
        pg.pg_ctl("start")
        yield pg
    finally:
        try:
            pg.pg_ctl("stop", "-m", "fast")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass  # not running (a failed start, or a test stopped it)
        shutil.rmtree(pg.directory, ignore_errors=True)
