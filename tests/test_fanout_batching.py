"""Broadcasts once per loop pass (issue 13): every connection's bytes stay in per-line order.

The loop collects what goes to everyone logged in during a pass and appends it to each
connection once at the end of the pass; a line for one connection alone (a private
message, a group line, a reply) first gets that connection the broadcast bytes it has not
had yet. These tests check the result byte for byte against a model that applies every
line at once, as the server did before:

* a hypothesis state-machine-like test drives one :class:`EventLoop` over socket pairs
  with random interleavings of broadcasts (with and without an excluded sender, with
  members left out because they ignore the sender), group
  lines (batched per pass per group, :meth:`EventLoop.to_group`; members joining and
  leaving groups, the members tuple shared or a fresh equal one), lines to single
  connections and to lists of them, logins and logouts, mode switches and closes,
  within and across passes, and compares every peer's received bytes with the model's;
* a slow consumer is still dropped at a line boundary, ``too slow`` as its last line,
  whether its lines are broadcasts or group lines;
* over loopback, one pass that holds chat lines, a private message, a group line, a
  status change, an action, a mode switch, a login and a logout gives each client the
  exact per-line sequence;
* the cached list of online names renders exactly the bytes of the plain tuple.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.protocol.codec import LineCodec, encode_for_mode
from pollchat.protocol.events import (
    Emote,
    Entered,
    Left,
    Message,
    PrivateMessage,
    ServerEvent,
    StatusChanged,
    Typing,
    Welcome,
)
from pollchat.protocol.render import NameList, encode_json, encode_text
from pollchat.server.connection import Connection
from pollchat.server.loop import EventLoop
from pollchat.server.timers import Timers
from tests.harness import Client, Harness
from tests.strategies import valid_names

T0 = 1_700_000_000.25
EVENTS: list[ServerEvent] = [
    Message("alice", "hello"),
    Entered("bob"),
    Left("carol", "bye"),
    StatusChanged("dave", "away", "lunch"),
    Typing("erin", True),  # b"" in text mode: skipped there
    PrivateMessage("alice", "bob", "psst"),
    Emote("frank", "waves"),
    Message("gina", "x" * 300, group="g"),
    Message("hal", "y" * 20_000),  # past WRITE_NOW: sent when queued to a connection with nothing queued
]


class _Handler:
    """A loop handler that only records slow consumers (and sends them one last line)."""

    def __init__(self) -> None:
        self.slow: list[Connection] = []

    def on_connect(self, conn: Connection) -> None: ...
    def on_secure(self, conn: Connection) -> None: ...
    def on_data(self, conn: Connection, data: bytes) -> None: ...
    def on_eof(self, conn: Connection) -> None: ...
    def on_closing(self, conn: Connection) -> None: ...
    def on_signal(self, signum: int) -> None: ...

    def on_slow_consumer(self, conn: Connection) -> None:
        self.slow.append(conn)
        conn.write(b"too slow\n")


def _loop(max_output: int = 1 << 20) -> tuple[EventLoop, _Handler]:
    handler = _Handler()
    loop = EventLoop(handler, max_output=max_output, linger=5.0, keepalive=0, timers=Timers(), clock=lambda: T0)
    return loop, handler


def _pair(loop: EventLoop, port: int) -> tuple[Connection, socket.socket]:
    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    client_end.setblocking(False)
    conn = Connection(server_end, ("127.0.0.1", port), loop, LineCodec(4096))
    loop.connections[conn] = None
    loop._update_interest(conn)  # registered for reading, as an accepted connection is
    return conn, client_end


def _read_to_eof(loop: EventLoop, sock: socket.socket) -> bytes:
    data = bytearray()
    for _ in range(1000):
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            loop.run_once(0.01)
            continue
        if not chunk:
            return bytes(data)
        data += chunk
    raise AssertionError("no EOF")


def _read_all(sock: socket.socket) -> bytes:
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


N = 5
G = 2  # groups
broadcast_op = st.tuples(st.just("broadcast"), st.integers(0, len(EVENTS) - 1), st.none() | st.integers(0, N - 1))
send_op = st.tuples(st.just("send"), st.integers(0, N - 1), st.integers(0, len(EVENTS) - 1))
op = st.one_of(
    broadcast_op,
    send_op,
    broadcast_op,
    send_op,
    st.tuples(st.just("fan_out"), st.sets(st.integers(0, N - 1), max_size=N).map(sorted), st.integers(0, len(EVENTS) - 1)),
    st.tuples(st.just("join"), st.integers(0, N - 1)),
    st.tuples(st.just("leave"), st.integers(0, N - 1)),
    st.tuples(st.just("mode"), st.integers(0, N - 1), st.sampled_from(["json", "text"])),
    st.tuples(st.just("close"), st.integers(0, N - 1)),
    st.tuples(st.just("pass")),
)
group_op = st.tuples(
    st.just("group"),
    st.integers(0, G - 1),
    st.none() | st.integers(0, N - 1),  # the sender (excluded), a member or not
    st.integers(0, len(EVENTS) - 1),
    st.booleans(),  # a fresh tuple equal to the shared one
)
skip_op = st.tuples(
    st.sampled_from(["broadcast_skip", "group_skip"]),
    st.integers(0, G - 1),
    st.none() | st.integers(0, N - 1),  # the sender
    st.integers(0, len(EVENTS) - 1),
    st.sets(st.integers(0, N - 1), min_size=1, max_size=3).map(sorted),  # those who ignore the sender
)
mixed_op = st.one_of(
    op,
    group_op,
    skip_op,
    broadcast_op,
    group_op,
    send_op,
    group_op,
    st.tuples(st.just("gjoin"), st.integers(0, N - 1), st.integers(0, G - 1)),
    st.tuples(st.just("gleave"), st.integers(0, N - 1), st.integers(0, G - 1)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.booleans(), min_size=N, max_size=N),
    st.lists(st.sampled_from(["text", "json"]), min_size=N, max_size=N),
    st.lists(st.sets(st.integers(0, N - 1), min_size=2).map(sorted), min_size=G, max_size=G),
    st.lists(mixed_op, min_size=10, max_size=60),
)
def test_any_interleaving_gives_every_connection_its_per_line_bytes(
    joined: list[bool], modes: list[str], groups: list[list[int]], ops: list[tuple]  # type: ignore[type-arg]
) -> None:
    loop, _ = _loop()
    pairs = [_pair(loop, 1000 + i) for i in range(N)]
    conns = [conn for conn, _ in pairs]
    expected = [bytearray() for _ in range(N)]
    member, closing, mode = list(joined), [False] * N, list(modes)
    in_group = [list(g) for g in groups]  # joining order, as the core gives it
    shared = [tuple(conns[i] for i in g) for g in in_group]  # the core's tuple, kept until a change
    for conn, m, j in zip(conns, modes, joined):
        conn.switch_mode(m)
        if j:
            loop.join_everyone(conn)

    def add(i: int, event: ServerEvent) -> None:
        if not closing[i]:
            expected[i] += encode_for_mode(mode[i], event, T0)

    try:
        for step in ops:
            match step:
                case ("broadcast", e, exclude):
                    loop.broadcast(EVENTS[e], None if exclude is None else conns[exclude])
                    for i in range(N):
                        if member[i] and i != exclude:
                            add(i, EVENTS[e])
                case ("group", g, exclude, e, fresh):
                    members = tuple(shared[g]) if not fresh else tuple(list(shared[g]))
                    loop.to_group(g, members, EVENTS[e], None if exclude is None else conns[exclude])
                    for i in in_group[g]:
                        if i != exclude:
                            add(i, EVENTS[e])
                case ("broadcast_skip", _, exclude, e, skip):
                    sender = None if exclude is None else conns[exclude]
                    loop.broadcast(EVENTS[e], sender, frozenset(conns[i] for i in skip))
                    for i in range(N):
                        if member[i] and i != exclude and i not in skip:
                            add(i, EVENTS[e])
                case ("group_skip", g, exclude, e, skip):
                    sender = None if exclude is None else conns[exclude]
                    loop.to_group(g, shared[g], EVENTS[e], sender, frozenset(conns[i] for i in skip))
                    for i in in_group[g]:
                        if i != exclude and i not in skip:
                            add(i, EVENTS[e])
                case ("gjoin", i, g):
                    if i not in in_group[g]:
                        in_group[g].append(i)
                        shared[g] = tuple(conns[j] for j in in_group[g])
                case ("gleave", i, g):
                    if i in in_group[g]:
                        in_group[g].remove(i)
                        shared[g] = tuple(conns[j] for j in in_group[g])
                case ("send", i, e):
                    conns[i].send(EVENTS[e])
                    add(i, EVENTS[e])
                case ("fan_out", targets, e):
                    loop.fan_out([conns[i] for i in targets], EVENTS[e])
                    for i in targets:
                        add(i, EVENTS[e])
                case ("join", i):
                    loop.join_everyone(conns[i])
                    member[i] = member[i] or not closing[i]
                case ("leave", i):
                    loop.leave_everyone(conns[i])
                    member[i] = False
                case ("mode", i, m):
                    conns[i].switch_mode(m)
                    mode[i] = m
                case ("close", i):
                    conns[i].close("test")
                    closing[i], member[i] = True, False
                case ("pass",):
                    loop.run_once(0)
        got = [bytearray() for _ in range(N)]
        for _ in range(100):  # until every buffer is sent (a large line may need several passes)
            loop.run_once(0)
            for i, (_, client_end) in enumerate(pairs):
                got[i] += _read_all(client_end)
            if not any(conn.outbuf for conn in conns):
                break
        for i, conn in enumerate(conns):
            assert bytes(got[i]) == bytes(expected[i]), f"connection {i}"
            assert conn.audience is None or member[i]
            share = conn.group_audience  # a batch kept open for the group's next lines holds it
            assert share is None or any(batch.holds(conn) for batch in loop.broadcasts.groups.values())
    finally:
        for conn, client_end in pairs:
            conn.sock.close()
            client_end.close()
        loop.close_all()


def test_a_slow_consumer_is_dropped_at_a_line_boundary_with_its_last_line() -> None:
    loop, handler = _loop(max_output=8 * 1024)
    (slow, slow_end), (fast, fast_end) = _pair(loop, 1), _pair(loop, 2)
    slow_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    loop.join_everyone(slow)
    loop.join_everyone(fast)
    got = bytearray()
    lines = [f"{i:05d} ".encode() + b"y" * 200 for i in range(2000)]
    sent = 0
    while not slow.closing:
        for _ in range(5):  # several broadcasts per pass
            loop.broadcast(Message("a", lines[sent].decode()))
            sent += 1
        loop.run_once(0)
        got += _read_all(fast_end)
    assert handler.slow == [slow]
    loop.broadcast(Message("a", "after"))
    for _ in range(3):
        loop.run_once(0)
    got += _read_all(fast_end)
    assert got == b"".join(b"a: " + line + b"\n" for line in lines[:sent]) + b"a: after\n"
    seen = _read_to_eof(loop, slow_end).split(b"\n")
    assert seen[-1] == b"" and seen[-2] == b"too slow"
    assert seen[:-2] == [b"a: " + line for line in lines[: len(seen) - 2]]  # whole lines, in order
    for conn, end in ((slow, slow_end), (fast, fast_end)):
        conn.sock.close()
        end.close()
    loop.close_all()


def test_group_lines_and_main_chat_lines_alternating_in_one_pass_keep_their_order() -> None:
    """A group batch opened before a main-chat line takes no more lines: the next group
    line comes after that main-chat line, for members in either mode."""
    loop, _ = _loop()
    pairs = [_pair(loop, i) for i in range(3)]
    (a, _), (b, b_end), (c, c_end) = pairs
    c.switch_mode("json")
    for conn in (a, b, c):
        loop.join_everyone(conn)
    members = (a, b, c)
    events: list[Message | PrivateMessage] = [
        Message("a", "g1", group="g"),
        Message("a", "m1"),
        Message("a", "g2", group="g"),
        Message("a", "g3", group="g"),
        Message("a", "m2"),
        PrivateMessage("a", "b", "p1"),
        Message("a", "g4", group="g"),
    ]
    for event in events:
        if isinstance(event, PrivateMessage):
            b.send(event)
            c.send(event)
        elif event.group is not None:
            loop.to_group("g", members, event, a)
        else:
            loop.broadcast(event, a)
    loop.run_once(0)
    loop.run_once(0)
    assert _read_all(b_end) == b"".join(encode_for_mode("text", e, T0) for e in events)
    assert _read_all(c_end) == b"".join(encode_for_mode("json", e, T0) for e in events)
    for conn, end in pairs:
        conn.sock.close()
        end.close()
    loop.close_all()


def test_a_slow_group_member_is_dropped_at_a_line_boundary_with_its_last_line() -> None:
    loop, handler = _loop(max_output=8 * 1024)
    (slow, slow_end), (fast, fast_end), (sender, sender_end) = _pair(loop, 1), _pair(loop, 2), _pair(loop, 3)
    slow_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    members = (sender, slow, fast)
    got = bytearray()
    lines = [f"{i:05d} ".encode() + b"y" * 200 for i in range(2000)]
    sent = 0
    while not slow.closing:
        for _ in range(5):  # several group lines per pass, one batch
            loop.to_group("g", members, Message("a", lines[sent].decode(), group="g"), sender)
            sent += 1
        loop.run_once(0)
        got += _read_all(fast_end)
    assert handler.slow == [slow]
    loop.to_group("g", members, Message("a", "after", group="g"), sender)
    for _ in range(3):
        loop.run_once(0)
    got += _read_all(fast_end)
    assert got == b"".join(b"[#g] a: " + line + b"\n" for line in lines[:sent]) + b"[#g] a: after\n"
    seen = _read_to_eof(loop, slow_end).split(b"\n")
    assert seen[-1] == b"" and seen[-2] == b"too slow"
    assert seen[:-2] == [b"[#g] a: " + line for line in lines[: len(seen) - 2]]  # whole lines, in order
    assert _read_all(sender_end) == b""  # the sender never gets its own lines
    for conn, end in ((slow, slow_end), (fast, fast_end), (sender, sender_end)):
        conn.sock.close()
        end.close()
    loop.close_all()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 40), st.integers(40, 300))
def test_a_pass_past_the_bound_drops_at_a_line_boundary(first: int, second: int) -> None:
    """A first pass the kernel may take only part of (mid-line), then a pass past
    ``max_output``: the peer sees whole lines, in order, then ``too slow``."""
    loop, handler = _loop(max_output=8 * 1024)
    slow, slow_end = _pair(loop, 1)
    slow_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    loop.join_everyone(slow)
    lines = [b"a: %05d " % i + b"z" * 200 for i in range(first + second)]
    for batch in (lines[:first], lines[first:]):
        for line in batch:
            loop.broadcast(Message("a", line[3:].decode()))
        loop.run_once(0)
    assert handler.slow == [slow]
    seen = _read_to_eof(loop, slow_end).split(b"\n")
    assert seen[-1] == b"" and seen[-2] == b"too slow"
    assert seen[:-2] == lines[: len(seen) - 2]  # whole lines, in order
    slow.sock.close()
    slow_end.close()
    loop.close_all()


@given(st.lists(valid_names(), max_size=12), st.lists(valid_names(), min_size=1, max_size=4), st.data())
def test_the_name_list_renders_the_bytes_of_the_plain_tuple(names: list[str], more: list[str], data: st.DataObject) -> None:
    snapshots = [NameList(names)]
    for name in more:  # extend the newest, or fork an older snapshot; render some on the way
        base = data.draw(st.sampled_from(snapshots))
        if data.draw(st.booleans()):
            encode_text(Welcome(name, base))
            encode_json(Welcome(name, base), T0)
        snapshots.append(base.plus(name))
    for users in snapshots:
        plain = tuple(users)
        assert users == plain and hash(users) == hash(plain) and len(users) == len(plain)
        assert encode_text(Welcome("x", users)) == encode_text(Welcome("x", plain))
        assert encode_json(Welcome("x", users), T0) == encode_json(Welcome("x", plain), T0)
    assert tuple(snapshots[0]) == tuple(names)


# --- loopback: one pass, every kind of line --------------------------------------------------------

ACCOUNTS = {"alice": "a", "bob": "b", "carol": "c", "dave": "d", "erin": "e"}


def _join_group(h: Harness, owner: Client, *members: Client) -> None:
    owner.send(b"/create #g\n")
    owner.line()
    joined = [owner]
    for member in members:
        member.send(b"/join #g\n")
        for client in (*joined, member):
            assert client.line() == f"[#g] {member.name} has joined the group"
        joined.append(member)


def _one_pass(h: Harness, *sends: tuple[Client, bytes]) -> None:
    """Send every chunk, then let the server take them all in one pass."""
    for client, data in sends:
        client.sock.sendall(data)
    h.pump(1, timeout=0.5)


def test_one_pass_of_every_kind_keeps_each_clients_per_line_order(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(ACCOUNTS, max_users=8)
    alice, bob, dave = h.login("alice", "a"), h.login("bob", "b"), h.login("dave", "d")
    carol = h.connect()
    carol.send(b"mode json\nlogin\ncarol,c\n")  # a mode is chosen before the login
    assert [json.loads(carol.line())["type"] for _ in range(2)] == ["mode", "welcome"]
    for client in (alice, bob, dave):
        assert client.line() == "carol has entered the chat"
    _join_group(h, alice, bob)
    _one_pass(
        h,
        (
            alice,
            b"one\n/msg bob psst\n#g group line\ntwo\n/status busy meeting\n/me waves\n/msg carol hi carol\nthree\n",
        ),
    )
    expected_bob = [
        "alice: one",
        "[private] alice: psst",
        "[#g] alice: group line",
        "alice: two",
        "alice is now busy: meeting",
        "* alice waves",
        "alice: three",
    ]
    assert bob.lines(len(expected_bob)) == expected_bob
    expected_dave = ["alice: one", "alice: two", "alice is now busy: meeting", "* alice waves", "alice: three"]
    assert dave.lines(len(expected_dave)) == expected_dave
    carol_events = [json.loads(carol.line()) for _ in range(6)]
    assert [(e["type"], e.get("text") or e.get("status")) for e in carol_events] == [
        ("message", "one"),
        ("message", "two"),
        ("status", "busy"),
        ("action", "waves"),
        ("private", "hi carol"),
        ("message", "three"),
    ]
    assert len({e["ts"] for e in carol_events}) >= 1
    assert alice.lines(3) == ["[private to bob] psst", "alice is now busy: meeting", "[private to carol] hi carol"]
    for client in (alice, bob, carol, dave):
        client.expect_silence()


def test_a_kick_between_chat_lines_in_one_pass(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(ACCOUNTS, admins=("alice",), max_users=8)
    alice, bob, carol = (h.login(n, p) for n, p in list(ACCOUNTS.items())[:3])
    h.forget_online(carol)
    _one_pass(h, (alice, b"one\n/kick carol\ntwo\n"))
    assert carol.closed() == ["alice: one", "you were disconnected by alice"]
    left = "carol has left the chat (disconnected by alice)"
    assert bob.lines(3) == ["alice: one", left, "alice: two"]
    assert alice.lines(2) == [left, "carol was disconnected"]
    alice.expect_silence()
    bob.expect_silence()


def test_a_login_in_a_pass_gets_only_what_was_broadcast_after_it(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(ACCOUNTS, max_users=8)
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    dave = h.connect()
    with h.workers_held() as gate:
        dave.send(b"login\ndave,d\n")
        h.pump(3)
        gate.set()
        time.sleep(0.3)  # dave's check is done and its wake-up byte is waiting
        _one_pass(h, (alice, b"before dave\n"))  # read first, then the worker result
    dave.expect("Access Provided", "active users are: alice bob dave")
    assert bob.lines(2) == ["alice: before dave", "dave has entered the chat"]
    assert alice.line() == "dave has entered the chat"
    alice.send(b"after dave\n")
    assert dave.line() == "alice: after dave"
    assert bob.line() == "alice: after dave"
    for client in (alice, bob, dave):
        client.expect_silence()


def test_one_pass_of_group_and_main_chat_lines_from_two_senders(make_harness: Callable[..., Harness]) -> None:
    """Over loopback: group lines of two senders, batched per pass, interleaved with
    main-chat lines, reach each member (text and JSON) in the order they were said."""
    h = make_harness(ACCOUNTS, max_users=8)
    alice, bob, dave = h.login("alice", "a"), h.login("bob", "b"), h.login("dave", "d")
    carol = h.connect()
    carol.send(b"mode json\nlogin\ncarol,c\n")
    assert [json.loads(carol.line())["type"] for _ in range(2)] == ["mode", "welcome"]
    for client in (alice, bob, dave):
        assert client.line() == "carol has entered the chat"
    _join_group(h, alice, bob)
    carol.send(b"/join #g\n")
    assert json.loads(carol.line())["type"] == "group"
    assert alice.line() == "[#g] carol has joined the group" and bob.line() == "[#g] carol has joined the group"
    _one_pass(h, (alice, b"#g a1\n#g a2\nmain a\n#g a3\n"), (bob, b"#g b1\nmain b\n#g b2\n"))
    alice_lines = ["a1", "a2", "main a", "a3"]
    bob_lines = ["b1", "main b", "b2"]

    def shown(sender: str, text: str) -> str:
        return f"{sender}: {text}" if text.startswith("main") else f"[#g] {sender}: {text}"

    expected_dave = [shown("alice", "main a"), shown("bob", "main b")]
    assert sorted(dave.lines(2)) == sorted(expected_dave)
    got_bob = bob.lines(4)
    assert got_bob == [shown("alice", t) for t in alice_lines]
    got_alice = alice.lines(3)
    assert got_alice == [shown("bob", t) for t in bob_lines]
    carol_events = [json.loads(carol.line()) for _ in range(7)]
    from_alice = [e["text"] for e in carol_events if e["sender"] == "alice"]
    from_bob = [e["text"] for e in carol_events if e["sender"] == "bob"]
    assert from_alice == alice_lines and from_bob == bob_lines
    for client in (alice, bob, carol, dave):
        client.expect_silence()
