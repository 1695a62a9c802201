"""Loopback tests of the poll-server hazards: descriptor reuse and events of one select batch."""

from __future__ import annotations

import socket
import time

import pytest

from pollchat import texts
from pollchat.protocol.session import Phase
from tests.harness import Harness


@pytest.mark.parametrize("how", ["close", "reset"])
def test_reused_descriptor_starts_clean(harness: Harness, how: str) -> None:
    a = harness.login("user1", "123")
    b = harness.login("user2", "345")
    a_conn = harness.server_conn(a)
    a_fd = a_conn.sock.fileno()
    a.close() if how == "close" else a.reset_connection()
    # Hold the client-side descriptor A just freed, so that the lowest free descriptor
    # once the server has closed A's socket is A's server-side one.
    c_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    harness.pump_until(lambda: a_conn not in harness.server.loop.connections, "A's socket to be closed")
    assert a_conn.closed
    c = harness.connect(sock=c_sock, greet=False)
    c_conn = harness.server_conn(c)
    assert c_conn.sock.fileno() == a_fd, "precondition: the kernel reused A's descriptor"
    assert c_conn is not a_conn and c_conn.id != a_conn.id
    # C starts at the greeting with no trace of A's session
    assert c.line() == texts.GREETING
    c.expect_silence(0.05)
    assert c_conn.session is not None and c_conn.session.phase is Phase.AWAIT_VERB
    assert harness.server.hub.session_of(c_conn) is None
    assert harness.server.hub.online_names() == ("user2",)
    c.send(b"hello from c\n")  # not logged in: a greeting, not a chat line
    assert c.line() == texts.GREETING
    # B heard A leave exactly once, and nothing when C connected
    assert b.line() == "user1 has left the chat"
    b.expect_silence(0.05)
    # C may log in as A's account; B sees an entered notice, not a second left
    harness.login("user1", "123", client=c)
    c.send(b"i am new\n")
    assert b.line() == "user1: i am new"
    b.expect_silence(0.05)


def test_reset_chat_and_connect_in_one_select_batch(harness: Harness) -> None:
    a = harness.login("user1", "123")
    b = harness.login("user2", "345")
    b_conn = harness.server_conn(b)
    b_fd = b_conn.sock.fileno()
    b.reset_connection()
    a.send(b"line from a\n")
    c_sock = socket.create_connection(harness.address, timeout=5)
    time.sleep(0.05)  # let loopback deliver all three before the one pass (not asserted)
    harness.server.run_once(0.01)
    # all three events were handled in that single pass
    assert b_conn.closed
    conns = harness.server.loop.connections
    assert len(conns) == 2
    (c_conn,) = [conn for conn in conns if conn.peer == f"127.0.0.1:{c_sock.getsockname()[1]}"]
    assert c_conn.sock.fileno() != b_fd, "B's descriptor was freed in the middle of the batch"
    c = harness.adopt(c_sock)
    assert c.line() == texts.GREETING
    c.expect_silence(0.1)  # no chat line, no left notice, nothing of B's session
    assert a.line() == "user2 has left the chat"
    a.expect_silence(0.1)
    assert harness.server.hub.online_names() == ("user1",)
    harness.login("user2", "345", client=c)
    a.send(b"welcome back\n")
    assert c.line() == "user1: welcome back"
    c.expect_silence(0.05)


def test_many_short_lived_connections_leave_no_trace(harness: Harness) -> None:
    watcher = harness.login("user1", "123")
    for i in range(30):
        client = harness.connect()
        if i % 3 == 0:
            client.reset_connection()
        elif i % 3 == 1:
            client.send(b"login\nuser2,345\n")
            client.expect("Access Provided", "active users are: user1 user2")
            assert watcher.line() == "user2 has entered the chat"
            client.close()
            assert watcher.line() == "user2 has left the chat"
        else:
            client.send(b"register\n")
            client.close()
    harness.pump_until(lambda: len(harness.server.loop.connections) == 1, "every short-lived socket closed")
    watcher.expect_silence(0.05)
    assert harness.server.hub.online_names() == ("user1",)
    assert harness.server.hub.budget.total_online == 1


def test_password_result_for_a_closed_connection_does_not_reach_its_descriptors_new_owner(make_harness) -> None:
    h = make_harness(hash_workers=1)
    watcher = h.login("user2", "345")
    a = h.connect()
    with h.workers_held():
        a.send(b"login\nuser1,123\nhello from a\n")
        a_conn = h.server_conn(a)
        h.pump_until(lambda: a_conn.session.phase is Phase.AUTHENTICATING, "A's password check to be queued")
        a_fd = a_conn.sock.fileno()
        a.reset_connection()
        c_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # holds A's client descriptor
        h.pump_until(lambda: a_conn.closed, "A's socket to be closed")
        c = h.connect(sock=c_sock)
        c_conn = h.server_conn(c)
        assert c_conn.sock.fileno() == a_fd, "precondition: the kernel reused A's descriptor"
    h.pump(10)  # A's password check completes now
    c.expect_silence(0.1)  # no "Access Provided", no chat, for the descriptor's new owner
    watcher.expect_silence(0.05)  # user1 never entered
    assert h.server.hub.online_names() == ("user2",)
    assert c_conn.session.phase is Phase.AWAIT_VERB
    h.login("user1", "123", client=c)


def test_a_burst_of_connections_all_get_the_greeting(harness: Harness) -> None:
    # more than one accept burst (64), fewer than the listen backlog (128)
    socks = [socket.create_connection(harness.address, timeout=5) for _ in range(100)]
    clients = [harness.adopt(sock) for sock in socks]
    for client in clients:
        assert client.line() == texts.GREETING
    clients[-1].send(b"login\nuser1,123\n")
    clients[-1].expect("Access Provided", "active users are: user1")
    for client in clients[:-1]:
        client.drain()
        assert not client.buf
    assert len(harness.server.loop.connections) == 100
