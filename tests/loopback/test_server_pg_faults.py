"""The chat on PostgreSQL when the database fails (a real server process and the test
PostgreSQL of tests/postgres.py): lost and restarted, stalled, and the chat server
killed in the middle of a burst. The loop never waits for the database; nothing the
server acknowledged is lost."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.loopback.test_cli import Client, server_args, start_server
from tests.loopback.test_durability import _acknowledged, _session
from tests.postgres import PgServer

psycopg = pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")

TIMEOUT = 30.0
UNAVAILABLE = b"the account database is unavailable, try again shortly"


def _args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return server_args(
        tmp_path / "data", "--max-users", "8", "--max-connections-per-address", "0", "--rate-limit", "0",
        "--login-timeout", "0", "--database", url, *extra,
    )


def _login(port: int, verb: str, name: str) -> Client:
    client = Client(port)
    client.readline()  # the greeting
    client.send(f"{verb}\n{name},secret\n".encode())
    assert client.read_until(b"Access Provided")[-1] == b"Access Provided"
    return client


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _backends(url: str) -> list[int]:
    """The server processes serving the chat's connection to ``url``."""
    database = url.rsplit("/", 1)[1]
    rows = _rows(url, f"SELECT pid FROM pg_stat_activity WHERE application_name = 'pollchat' AND datname = '{database}'")
    return [pid for (pid,) in rows]


def test_lost_and_restarted_the_chat_goes_on_and_the_writes_come_later(
    tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    with start_server(_args(tmp_path, pg_url), tmp_path) as server:
        port = server.wait_listening()
        amy = _login(port, "register", "amy")
        bob = _login(port, "register", "bob")
        _login(port, "register", "carol").close()  # offline: private lines to her are mail
        # The test server runs with synchronous_commit=off: make what it acknowledged
        # durable first, as a production server (synchronous_commit=on) does at commit.
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")
        pg_server.pg_ctl("stop", "-m", "immediate")  # a crash of the database
        try:
            bob.send(b"still here\n")  # logged-in users keep chatting
            assert amy.read_until(b"bob: still here", limit=50)[-1] == b"bob: still here"
            newcomer = Client(port)
            newcomer.readline()
            newcomer.send(b"login\namy,secret\n")
            assert newcomer.readline() == UNAVAILABLE  # one clear line, not a hang
            newcomer.send(b"register\ndave,secret\n")
            assert newcomer.readline() == UNAVAILABLE
            newcomer.close()
            amy.send(b"/create #den\n")  # a group write waits in memory; amy's reply waits for it
        finally:
            pg_server.pg_ctl("start")
        # Back by itself (the back-off is at most a few seconds here); then logins work.
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert time.monotonic() < deadline, server.stderr()
            again = Client(port)
            again.readline()
            again.send(b"register\ndave,secret\n")
            if again.readline() == b"Access Provided":
                break
            again.close()
            time.sleep(0.2)
        amy.send(b"/msg carol written after the outage\n")
        replies = [amy.readline()]  # after the /create's reply, held until its commit
        while not replies[-1].startswith(b"carol is offline"):
            assert len(replies) < 50 and replies[-1], replies
            replies.append(amy.readline())
        assert any(b"#den" in line for line in replies), replies
        assert server.stop() == 0, server.stderr()
    log = server.stderr()
    assert "lost the database connection" in log and log.count("is back after") == 1, log
    assert "Traceback" not in log
    names = {name for (name,) in _rows(pg_url, "SELECT name FROM account")}
    assert names == {"amy", "bob", "carol", "dave"}
    assert _rows(pg_url, "SELECT name FROM chat_group") == [("den",)]  # the join made during the outage
    texts = {text for (text,) in _rows(pg_url, "SELECT text FROM message WHERE recipient_id IS NOT NULL")}
    assert "written after the outage" in texts


def test_a_stalled_backend_holds_only_the_echo_that_waits_for_it(tmp_path: Path, pg_url: str) -> None:
    with start_server(_args(tmp_path, pg_url), tmp_path) as server:
        port = server.wait_listening()
        amy = _login(port, "register", "amy")
        bob = _login(port, "register", "bob")
        carol = _login(port, "register", "carol")
        [pid] = _backends(pg_url)
        os.kill(pid, signal.SIGSTOP)  # the backend serving the chat stops answering
        try:
            amy.send(b"/msg bob are you there\n")
            assert bob.read_until(b"[private] amy: are you there", limit=50)  # delivered live
            carol.send(b"the loop goes on\n")
            assert bob.read_until(b"carol: the loop goes on", limit=50)  # the loop never waited
            early = _available(amy)  # amy's output is held until her line is committed
            assert b"[private to bob] are you there" not in early and b"carol: the loop goes on" not in early
        finally:
            os.kill(pid, signal.SIGCONT)
        after = amy.read_until(b"carol: the loop goes on", limit=50)
        assert b"[private to bob] are you there" in after  # the echo first, once committed
        assert server.stop() == 0, server.stderr()
    assert _rows(pg_url, "SELECT text FROM message WHERE recipient_id IS NOT NULL") == [("are you there",)]


def _available(client: Client) -> bytes:
    """What ``client`` can read within a short moment (nothing, for a held connection)."""
    import select

    data = b""
    if select.select([client.sock], [], [], 0.5)[0]:
        client.sock.setblocking(False)
        try:
            data += client.sock.recv(65536, socket.MSG_PEEK)
        except BlockingIOError:
            pass
        finally:
            client.sock.settimeout(TIMEOUT)
    return data


def test_sigkill_during_a_burst_loses_nothing_acknowledged(tmp_path: Path, pg_url: str) -> None:
    args = _args(tmp_path, pg_url, "--offline-quota", "0", "--register-rate", "0")
    registered: list[str] = []
    with start_server(args, tmp_path) as server:
        port = server.wait_listening()
        _session(port, "register", "bob").close()
        dave = _session(port, "register", "dave")
        alice = _session(port, "register", "alice")
        alice.sendall(b"".join(b"/msg %s m%d\n" % (b"bob" if i % 2 else b"dave", i) for i in range(2000)))
        newcomers = []
        for i in range(20):  # registrations in the same burst
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            sock.sendall(b"register\nnew%d,pw\n" % i)
            newcomers.append(sock)
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"[private to ") < 200:
            assert time.monotonic() < deadline, data[-500:]
            chunk = alice.recv(65536)
            assert chunk, data[-500:]
            data += chunk
        for i, sock in enumerate(newcomers):
            sock.setblocking(False)
            try:
                if b"Access Provided" in sock.recv(65536):
                    registered.append(f"new{i}")
            except BlockingIOError:
                pass
        server.proc.send_signal(signal.SIGKILL)
        assert server.proc.wait(timeout=TIMEOUT) == -signal.SIGKILL
        alice.settimeout(TIMEOUT)
        try:
            while chunk := alice.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        alice.close()
        dave.close()
    acknowledged = _acknowledged(data)
    assert len(acknowledged) >= 200
    stored = {text for (text,) in _rows(pg_url, "SELECT text FROM message WHERE recipient_id IS NOT NULL")}
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    names = {name for (name,) in _rows(pg_url, "SELECT name FROM account")}
    assert set(registered) <= names


def test_a_search_waits_for_a_stalled_backend_and_the_loop_does_not(tmp_path: Path, pg_url: str) -> None:
    with start_server(_args(tmp_path, pg_url), tmp_path) as server:
        port = server.wait_listening()
        amy = _login(port, "register", "amy")
        bob = _login(port, "register", "bob")
        bob.send(b"lunch at noon\n")
        assert amy.read_until(b"bob: lunch at noon", limit=50)
        [pid] = _backends(pg_url)
        os.kill(pid, signal.SIGSTOP)  # the backend serving the chat stops answering
        try:
            amy.send(b"/search lunch\n/older now\n")  # both queries wait for the database
            bob.send(b"the loop goes on\n")
            assert amy.read_until(b"bob: the loop goes on", limit=50)  # the loop never waited
            assert b"result(s)" not in _available(amy)
        finally:
            os.kill(pid, signal.SIGCONT)
        found = amy.read_until(b"--- start of the history ---", limit=50)
        assert found[0].startswith(b"--- 1 result(s) for 'lunch'") and found[1].endswith(b"bob: lunch at noon")
        assert found[3].startswith(b"--- 2 older message(s)"), found  # answered in the order asked
        assert server.stop() == 0, server.stderr()
    assert "Traceback" not in server.stderr()


def test_while_the_database_is_lost_history_reads_get_one_line(
    tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    with start_server(_args(tmp_path, pg_url), tmp_path) as server:
        port = server.wait_listening()
        amy = _login(port, "register", "amy")
        assert amy.readline() == b"active users are: amy"
        pg_server.pg_ctl("stop", "-m", "fast")  # the server's notice reaches the loop before our line
        try:
            amy.send(b"/search lunch\n/older now\n/ignore\n")
            assert amy.readline() == UNAVAILABLE  # at once: a read is not kept for later
            assert amy.readline() == UNAVAILABLE
            assert amy.readline().startswith(b"you ignore nobody")  # from memory, as ever
        finally:
            pg_server.pg_ctl("start")
        assert server.stop() == 0, server.stderr()
    assert "Traceback" not in server.stderr()
