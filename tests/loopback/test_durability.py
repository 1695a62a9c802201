"""Nothing acknowledged is lost (issue 20): SIGKILL the server right after a client has
read acknowledgements of private messages (to an online and to an offline account), start
it again on the same data directory: every acknowledged message is in the history.

A reply that promises delivery is sent only after the pass's history batch is committed
(as Redis writes its AOF before replying), so the kill can only lose messages whose
acknowledgement was never sent.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import time
from pathlib import Path

from tests.loopback.test_cli import server_args, start_server

TIMEOUT = 15.0
BURST = 2000
ACKS_BEFORE_KILL = 200


def _session(port: int, verb: str, name: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(f"{verb}\n{name},pw\n".encode())
    data = b""
    while b"Access Provided\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    while not data.endswith(b"\n") or b"active users are" not in data:
        data += sock.recv(65536)
    return sock


def _acknowledged(data: bytes) -> set[str]:
    """The texts of the private messages the server acknowledged in ``data``."""
    texts = set()
    for line in data.split(b"\n"):
        if line.startswith(b"[private to "):
            texts.add(line.decode().split("] ", 1)[1])
    return texts


def test_sigkill_right_after_acknowledgements_loses_no_private_message(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = server_args(
        data_dir, "--max-users", "8", "--max-connections-per-address", "0", "--rate-limit", "0",
        "--login-timeout", "0", "--offline-quota", "0",
    )
    with start_server(args, tmp_path) as server:
        port = server.wait_listening()
        _session(port, "register", "bob").close()  # bob exists, offline: his messages are mail
        dave = _session(port, "register", "dave")  # dave is online
        alice = _session(port, "register", "alice")
        burst = b"".join(
            b"/msg %s m%d\n" % (b"bob" if i % 2 else b"dave", i) for i in range(BURST)
        )
        alice.sendall(burst)
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"[private to ") < ACKS_BEFORE_KILL:
            assert time.monotonic() < deadline, data[-500:]
            chunk = alice.recv(65536)
            assert chunk, data[-500:]
            data += chunk
        server.proc.send_signal(signal.SIGKILL)  # right after reading acknowledgements
        assert server.proc.wait(timeout=TIMEOUT) == -signal.SIGKILL
        alice.settimeout(TIMEOUT)
        try:
            while chunk := alice.recv(65536):  # what the server sent before it died
                data += chunk
        except ConnectionResetError:
            pass
        alice.close()
        dave.close()
    acknowledged = _acknowledged(data)
    assert len(acknowledged) >= ACKS_BEFORE_KILL

    with start_server(args, tmp_path) as server:
        server.wait_listening()  # the database opens cleanly
        assert server.stop() == 0
    db = sqlite3.connect(data_dir / "pollchat.db")
    try:
        stored = {text for (text,) in db.execute("SELECT text FROM message WHERE recipient_id IS NOT NULL")}
    finally:
        db.close()
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
