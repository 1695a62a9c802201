"""A throwaway Redis for the cluster's tests (session fixture ``redis_server``, function
fixture ``redis_url``: the server emptied with ``FLUSHALL`` for each test).

The server is Debian's ``redis-server`` (``apt-get install redis-server``), started in
a temporary directory on a free 127.0.0.1 port with no persistence (``--save ''
--appendonly no``: a restart loses everything, which the fault tests want) and
stopped at the end of the session. :meth:`RedisServer.restart` kills it and starts it
again on the same port (an engine restart). Without the binary, or without ``hiredis``,
the tests are skipped saying what to install.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command(port: int, *args: str | bytes | int) -> object:
    """Send one command on a short blocking connection and return its parsed reply
    (for test set-up and checks only; the server's own links are non-blocking)."""
    import hiredis

    reader = hiredis.Reader()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(hiredis.pack_command(args))  # type: ignore[arg-type]
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            reader.feed(data)
            reply = reader.gets()
            if reply is not False:
                return reply


class RedisServer:
    """A running test Redis: ``url`` is ``redis://127.0.0.1:PORT/0``."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if redis_command(self.port, "PING") == b"PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        """``kill -9`` the server (its data is gone: no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def command(self, *args: str | bytes | int) -> object:
        return redis_command(self.port, *args)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole session (see the module docstring)."""
    pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]' (or the test extra)")
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if binary is None:
        pytest.skip("redis-server not found: apt-get install redis-server")
    directory = Path(tempfile.mkdtemp(prefix="pollchat-redis-"))
    server = RedisServer(binary, directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied (and running: a test may have killed it)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    redis_server.command("FLUSHALL")
    return redis_server.url
