"""A throwaway PostgreSQL server for the store's tests (session fixture ``pg_server``,
function fixture ``pg_url``: a new empty database per test).

The server is Debian's ``postgresql`` (``initdb``, ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``
or PATH), started in a temporary directory on a free 127.0.0.1 port with
``fsync=off`` (the tests check meaning, not durability) and stopped at the end of the
session. PostgreSQL refuses to run as root: as root, the binaries run as the
``postgres`` user (or ``nobody``) through ``runuser`` and the directory is given to it.
Connections over TCP need a password (``scram-sha-256``), so the tests also cover
passing one without a command line (``PGPASSWORD``). Without the binaries the tests
are skipped with the package to install.
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
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "pollchat"
PASSWORD = "test-secret-pw"


@dataclass(frozen=True)
class PgServer:
    """A running test server: ``url`` names the maintenance database ``postgres``,
    without the password (it is in :data:`PASSWORD`)."""

    host: str
    port: int
    directory: Path
    bin_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={USER} password={PASSWORD} dbname={database}"

    def pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl`` on this server's data directory (as its owner), e.g.
        ``stop -m immediate`` (a crash) or ``start`` (with the session's options)."""
        prefix, _ = _as_owner()
        extra = ["-l", str(self.directory / "log"), "-o", _options(self.port, self.directory)] if args[0] == "start" else []
        subprocess.run(
            [*prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"), *extra, "-w", *args],
            check=True, capture_output=True, timeout=120, cwd=self.directory,
        )


def _options(port: int, directory: Path) -> str:
    return f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def _as_owner() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs PostgreSQL's binaries as an unprivileged user when we
    are root, and that user."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], user
    pytest.skip("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]' (or the test extra)")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries not found: apt-get install postgresql")
    prefix, owner = _as_owner()
    directory = Path(tempfile.mkdtemp(prefix="pollchat-pg-"))
    data = directory / "data"
    pwfile = directory / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    run = dict(check=True, capture_output=True, timeout=120, cwd=directory)
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
         "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
        **run,  # type: ignore[arg-type]
    )
    options = _options(port, directory)
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-o", options, "-w", "start"],
        **run,  # type: ignore[arg-type]
    )
    try:
        yield PgServer("127.0.0.1", port, directory, bin_dir)
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], **run)  # type: ignore[arg-type]
        shutil.rmtree(directory, ignore_errors=True)


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
