"""Crash safety (issue 5): SIGKILL the server during a burst of registrations and chat
lines, start it again on the same data directory: it opens cleanly, and every account
whose client was told ``Access Provided`` logs in again.

A client counts as told if ``Access Provided`` is among the bytes it received, including
those read after the kill (the kernel delivers what the server sent before it died).
"""

from __future__ import annotations

import select
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.loopback.test_cli import server_args, start_server

FIRST_WAVE = 12
SECOND_WAVE = 40
LINES_EACH = 4
TIMEOUT = 10.0


class BurstClient:
    """A non-blocking client that pipelines a registration and a few chat lines."""

    def __init__(self, port: int, name: str) -> None:
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.sendall(
            f"register\n{name},pw-{name}\n".encode() + b"".join(b"%s says %d\n" % (name.encode(), i) for i in range(LINES_EACH))
        )
        self.sock.setblocking(False)
        self.data = b""
        self.done = False

    def read(self) -> None:
        """Take whatever has arrived; ``done`` at EOF or reset."""
        while not self.done:
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.done = True
                return
            if not chunk:
                self.done = True
                return
            self.data += chunk

    @property
    def told_success(self) -> bool:
        return b"\nAccess Provided\n" in b"\n" + self.data

    def close(self) -> None:
        self.sock.close()


def wait_for(clients: list[BurstClient], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        open_clients = [c for c in clients if not c.done]
        if time.monotonic() > deadline or not open_clients:
            raise AssertionError(f"timed out waiting for {what}")
        select.select([c.sock for c in open_clients], [], [], 0.1)
        for client in open_clients:
            client.read()


def login(port: int, name: str, password: str) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        reader = sock.makefile("rb")
        assert reader.readline() == b"type login or register and then give user,password\n"
        sock.sendall(f"login\n{name},{password}\n".encode())
        return [reader.readline().rstrip(b"\n"), reader.readline().rstrip(b"\n")]


def test_sigkill_during_a_burst_loses_no_acknowledged_registration(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = server_args(
        data_dir, "--max-users", "64", "--max-connections-per-address", "0", "--rate-limit", "0", "--login-timeout", "0",
        # slower hashing (still well under a second in all), so the kill lands mid-burst
        "--kdf-iterations", "20000",
    )
    clients: list[BurstClient] = []
    try:
        with start_server(args, tmp_path) as server:
            port = server.wait_listening()
            clients += [BurstClient(port, f"early{i}") for i in range(FIRST_WAVE)]
            wait_for(clients, lambda: sum(c.told_success for c in clients) >= FIRST_WAVE // 2, "some registrations")
            # the second wave is being served when the server dies
            late = [BurstClient(port, f"late{i}") for i in range(SECOND_WAVE)]
            clients += late
            wait_for(late, lambda: any(c.told_success for c in late), "a registration of the second wave")
            server.proc.send_signal(signal.SIGKILL)
            assert server.proc.wait(timeout=TIMEOUT) == -signal.SIGKILL
            wait_for(clients, lambda: all(c.done for c in clients), "every connection to end")
        told = [c.name for c in clients if c.told_success]
        assert len(told) >= FIRST_WAVE // 2
        print(f"{len(told)} of {len(clients)} registrations were acknowledged before the kill")

        with start_server(args, tmp_path) as server:
            port = server.wait_listening()  # the database opens cleanly
            for name in told:
                assert login(port, name, f"pw-{name}") == [b"Access Provided", f"active users are: {name}".encode()], name
            assert server.stop() == 0

        db = sqlite3.connect(data_dir / "pollchat.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            db.close()
    finally:
        for client in clients:
            client.close()
