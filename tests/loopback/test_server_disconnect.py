"""Loopback tests of disconnects (protocol step 6), slow consumers and shutdown."""

from __future__ import annotations

import socket

import pytest

from pollchat import texts
from tests.harness import Client, Harness

TOO_SLOW = "you are not reading your messages, closing the connection"


def _disconnect(client: Client, how: str) -> None:
    if how == "close":
        client.close()
    elif how == "half-close":
        client.half_close()
    elif how == "reset":
        client.reset_connection()
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["close", "half-close", "reset"])
def test_left_notice_exactly_once_and_seat_freed(harness: Harness, how: str) -> None:
    u1 = harness.login("user1", "123")
    bob = harness.register("bob", "pw")
    u2 = harness.login("user2", "345")
    _disconnect(bob, how)
    for other in (u1, u2):
        assert other.raw(len(b"bob has left the chat\n")) == b"bob has left the chat\n"
    if how == "half-close":
        assert bob.closed() == []  # and the server closes its side too
    for other in (u1, u2):
        other.expect_silence(0.1)
    assert harness.server.hub.online_names() == ("user1", "user2")
    harness.pump_until(lambda: len(harness.server.loop.connections) == 2, "bob's socket to be closed")
    harness.register("carol", "pw")  # the shared seat is free again
    late = harness.connect()
    late.send(b"login\nbob,pw\n")
    assert late.line() == "Max number of chat users"  # carol holds it now


def test_reset_with_unread_output_does_not_wedge_the_server(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    bob = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    for i in range(50):  # bob never reads these
        u1.send(f"line {i}\n".encode())
        assert u3.line() == f"user1: line {i}"
    bob.reset_connection()
    assert u1.line() == "user2 has left the chat"
    assert u3.line() == "user2 has left the chat"
    u1.send(b"still working\n")
    assert u3.line() == "user1: still working"
    u1.expect_silence(0.05)
    u3.expect_silence(0.05)


def test_reset_mid_broadcast_costs_only_that_client(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    victim = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    got: list[str] = []
    for i in range(200):
        u1.send(f"message {i:03d} ".encode() + b"." * 1000 + b"\n")
        if i == 100:
            victim.reset_connection()  # while the server is writing lines to it
        harness.pump()
        u3.drain()
        while (line := u3.take_line()) is not None:
            got.append(line)
    while len(got) < 201:
        got.append(u3.line())
    messages = [line for line in got if line.startswith("user1: ")]
    assert messages == [f"user1: message {i:03d} " + "." * 1000 for i in range(200)]
    assert got.count("user2 has left the chat") == 1
    assert len(got) == 201
    u3.expect_silence(0.05)
    assert u1.line() == "user2 has left the chat"
    u1.expect_silence(0.05)
    assert harness.server.hub.online_names() == ("user1", "user3")


def test_write_to_a_reset_peer_costs_only_that_client(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    victim = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    conn = harness.server_conn(victim)
    harness.server.loop.pause_reading(conn)  # the server will learn of the reset by writing
    victim.reset_connection()
    harness.pump(3)
    assert not conn.closing  # nothing noticed yet
    u1.send(b"one\n")
    assert u3.line() == "user1: one"
    harness.pump_until(lambda: conn.closed, "the write error to close the victim")
    assert "write error" in conn.close_reason
    for client in (u1, u3):
        assert client.line() == "user2 has left the chat"
    u1.send(b"two\n")
    assert u3.line() == "user1: two"
    u1.expect_silence(0.05)
    u3.expect_silence(0.05)


def test_left_notice_after_a_write_error_is_sent_before_the_loop_sleeps(harness: Harness) -> None:
    """The pass that learns of a vanished peer from a failed ``send()`` (in its final
    flush) must also write the left notices that this queues: in ``serve_forever`` the
    next pass may sleep in ``select()`` indefinitely."""
    u1 = harness.login("user1", "123")
    victim = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    conn = harness.server_conn(victim)
    harness.server.loop.pause_reading(conn)  # learn of the reset by writing, not reading
    victim.reset_connection()
    harness.pump(3)
    u1.send(b"one\n")
    harness.pump_until(lambda: conn.closing, "the write error to close the victim")
    # no further server pass from here on
    for client, expected in ((u3, b"user1: one\nuser2 has left the chat\n"), (u1, b"user2 has left the chat\n")):
        client.wait_readable(1.0)
        client.drain()
        assert bytes(client.buf) == expected, f"{client!r} got {bytes(client.buf)!r} before the server slept"
    assert harness.unflushed() == [], "output queued at the end of a pass without write interest"


def test_slow_consumer_is_dropped_and_nobody_else_is(make_harness) -> None:
    h = make_harness(max_output=64 * 1024, linger=5.0)
    slow = h.connect(rcvbuf=4096)
    h.register("bob", "pw", client=slow)  # never reads again after this
    observer = h.login("user2", "345")
    sender = h.login("user1", "123")
    h.forget_online(slow)
    payloads: list[str] = []
    bob_conn = h.server_conn(slow)
    chunk_lines = 8
    sent_bytes = 0
    received: list[str] = []
    while not bob_conn.closing:
        assert sent_bytes < 64 * 1024 * 1024, "bob was never dropped"
        batch = [f"{len(payloads) + j:07d} " + "p" * 992 for j in range(chunk_lines)]
        payloads += batch
        data = "".join(p + "\n" for p in batch).encode()
        sender.send(data)
        sent_bytes += len(data)
        h.pump()
        observer.drain()
    # the observer keeps receiving everything, in order, and hears of bob once
    sender.send(b"after bob\n")
    payloads.append("after bob")
    while True:
        line = observer.line()
        received.append(line)
        if line == "user1: after bob":
            break
    assert [line for line in received if line != "bob has left the chat"] == [f"user1: {p}" for p in payloads]
    assert received.count("bob has left the chat") == 1
    observer.expect_silence(0.05)
    sender.expect("bob has left the chat")
    sender.expect_silence(0.05)
    # bob, reading at last, sees whole lines only, in order, then the reason, then EOF
    bob_lines = slow.closed(timeout=10)
    assert bob_lines[-1] == TOO_SLOW
    middle = bob_lines[:-1]  # (the entered notices were read by h.login)
    assert middle == [f"user1: {p}" for p in payloads[: len(middle)]]
    assert len(middle) < len(payloads)
    # the seat is free
    slow.close()
    h.pump_until(lambda: bob_conn.closed, "bob's socket to be closed")
    h.register("carol", "pw")
    print(f"slow consumer dropped after {sent_bytes} bytes; it had received {len(middle)} lines")


def test_shutdown_tells_every_connection_and_closes_it(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    greeted = harness.connect()
    mid = harness.connect()
    mid.send(b"login\n")
    json_client = harness.connect()
    json_client.send(b"mode json\n")
    assert json_client.line().startswith('{"type":"mode"')
    harness.server.shutdown()
    for client in (greeted, mid):
        assert client.closed() == [texts.SHUTTING_DOWN]
    json_lines = json_client.closed()
    assert len(json_lines) == 1 and json_lines[0].startswith('{"type":"shutdown","ts":"')
    for client, other in ((u1, "user2"), (u2, "user1")):
        lines = client.closed()
        assert lines[-1] == texts.SHUTTING_DOWN, lines
        assert set(lines[:-1]) <= {f"{other} has left the chat"}, lines
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(harness.address, timeout=1).close()
    for client in (u1, u2, greeted, mid, json_client):
        client.close()
    harness.pump_until(lambda: harness.server.finished, "the server to finish")
    assert not harness.server.loop.connections


def test_linger_bounds_a_peer_that_never_reads_nor_closes(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"login\na,1\nlogin\nb,1\nlogin\nc,1\n")
    conn = harness.server_conn(client)
    harness.pump_until(lambda: conn.closing, "the third failure to close the connection")
    # the client neither reads nor closes: the server gives up after its linger time
    harness.pump_until(lambda: conn.closed, "the linger timer to close it", timeout=harness.config.linger + 3)
    assert conn not in harness.server.loop.connections
    assert client.closed() == ["Wrong Password"] * 3 + ["too many failed attempts, closing the connection"]


def test_shutdown_during_a_password_check(make_harness) -> None:
    h = make_harness(hash_workers=1)
    watcher = h.login("user1", "123")
    client = h.connect()
    with h.workers_held() as gate:
        client.send(b"register\ncarol,pw\n")
        conn = h.server_conn(client)
        h.pump_until(lambda: conn.session.phase.name == "AUTHENTICATING", "the registration to be hashing")
        h.server.shutdown()
        gate.set()
        h.pump(10)
    assert client.closed() == ["server is shutting down"]
    assert watcher.closed() == ["server is shutting down"]  # carol never entered
    assert h.find_account("carol") is None
    assert h.server.hub.online_names() == ()
