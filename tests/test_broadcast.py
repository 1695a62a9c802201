"""A broadcast is never rendered through a closing connection's codec.

A broadcast is rendered once per audience (output mode) with a member's codec. A
WebSocket codec turns silent (renders ``b""``) as soon as a close frame is read, which
can happen in the same read as its owner's last chat line, before the loop closes the
connection: rendering with that member's codec cost every other web user the line. The
rendering now comes from a member whose codec is still open.

* over socket pairs, one :class:`EventLoop` with two WebSocket members, the first one's
  codec closed by its close frame; and, with hypothesis, any number of members with any
  of them closed, in any order: every open member but the sender gets the line once;
* over loopback, two WebSocket users of a real server, the first one sending a line and
  its close frame in one write.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.protocol.events import Message
from pollchat.protocol.web import WS_JSON, WebCodec
from pollchat.protocol.websocket import OP_CLOSE, OP_TEXT, encode_client_frame
from pollchat.server.connection import Connection
from pollchat.server.loop import EventLoop
from pollchat.server.timers import Timers
from tests.harness import DEFAULT_TIMEOUT, Harness
from tests.wsclient import HOST, Frame, handshake, server_frames

T0 = 1_700_000_000.25


class _Handler:
    def on_connect(self, conn: Connection) -> None: ...
    def on_secure(self, conn: Connection) -> None: ...
    def on_data(self, conn: Connection, data: bytes) -> None: ...
    def on_eof(self, conn: Connection) -> None: ...
    def on_closing(self, conn: Connection) -> None: ...
    def on_signal(self, signum: int) -> None: ...
    def on_slow_consumer(self, conn: Connection) -> None: ...


def _web_member(loop: EventLoop, port: int) -> tuple[Connection, socket.socket]:
    """A logged-in WebSocket connection over a socket pair (its 101 not sent)."""
    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    client_end.setblocking(False)
    codec = WebCodec(4096, {})
    codec.receive_data(handshake())
    codec.data_to_send()
    conn = Connection(server_end, ("127.0.0.1", port), loop, codec)
    loop.connections[conn] = None
    loop._update_interest(conn)
    loop.join_everyone(conn)
    return conn, client_end


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


def test_a_broadcast_is_rendered_with_an_open_codec_when_the_first_members_closed() -> None:
    loop = EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(), clock=lambda: T0)
    (leaving, leaving_end), (staying, staying_end) = _web_member(loop, 1), _web_member(loop, 2)
    try:
        read = leaving.codec.receive_data(encode_client_frame(OP_TEXT, b"bye") + encode_client_frame(OP_CLOSE, b"\x03\xe8"))
        assert read == ["bye"] and leaving.codec.mode_key != WS_JSON  # closed, still a member
        loop.broadcast(Message("leaving", "bye"), exclude=leaving)
        loop.run_once(0)
        frames = server_frames(_read_all(staying_end))
        assert len(frames) == 1 and frames[0].opcode == OP_TEXT
        assert json.loads(frames[0].payload)["text"] == "bye"
        assert _read_all(leaving_end) == b""  # its own line is not sent back to it
        # An audience whose every codec is closed gets nothing (and nothing breaks).
        staying.codec.close_data()
        loop.broadcast(Message("x", "nobody hears this"))
        loop.run_once(0)
        assert _read_all(staying_end) == b"" and _read_all(leaving_end) == b""
    finally:
        for conn, end in ((leaving, leaving_end), (staying, staying_end)):
            conn.sock.close()
            end.close()
        loop.close_all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=5), st.data())
def test_every_open_member_gets_the_line_whichever_members_closed(closed: list[bool], data: st.DataObject) -> None:
    loop = EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(), clock=lambda: T0)
    members = [_web_member(loop, i) for i in range(len(closed))]
    sender = data.draw(st.none() | st.integers(0, len(closed) - 1))
    try:
        for (conn, _), is_closed in zip(members, closed):
            if is_closed:
                conn.codec.receive_data(encode_client_frame(OP_CLOSE, b"\x03\xe8"))
        loop.broadcast(Message("a", "line"), exclude=None if sender is None else members[sender][0])
        loop.run_once(0)
        for i, ((_, end), is_closed) in enumerate(zip(members, closed)):
            if not is_closed and i != sender:
                frames = server_frames(_read_all(end))
                assert [json.loads(frame.payload)["text"] for frame in frames] == ["line"], f"member {i}"
    finally:
        for conn, end in members:
            conn.sock.close()
            end.close()
        loop.close_all()


class _WebUser:
    """A raw WebSocket client of the harness's server (masked frames in, frames out)."""

    def __init__(self, h: Harness) -> None:
        address = h.server.web_address
        assert address is not None
        self.h = h
        self.sock = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
        self.sock.setblocking(False)
        self.buffer = b""
        self.sock.sendall(handshake(host=HOST))
        head = self._until(lambda: b"\r\n\r\n" in self.buffer)
        assert head.startswith(b"HTTP/1.1 101")

    def _until(self, ready: Callable[[], bool]) -> bytes:
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while not ready():
            assert time.monotonic() < deadline, f"timed out; got {self.buffer!r}"
            self.h.pump()
            try:
                chunk = self.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            assert chunk, "closed"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    def frame(self) -> Frame:
        """The next whole frame."""
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while True:
            if len(self.buffer) >= 2 and len(self.buffer) >= 2 + (self.buffer[1] & 0x7F):
                size = self.buffer[1] & 0x7F
                assert size < 126, "a long frame: not expected here"
                frame, self.buffer = self.buffer[: 2 + size], self.buffer[2 + size :]
                return server_frames(frame)[0]
            assert time.monotonic() < deadline, f"timed out; got {self.buffer!r}"
            self.h.pump()
            try:
                chunk = self.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            assert chunk, "closed"
            self.buffer += chunk

    def event(self) -> dict[str, object]:
        frame = self.frame()
        assert frame.opcode == OP_TEXT, frame
        event: dict[str, object] = json.loads(frame.payload)
        return event

    def send(self, *texts: str) -> None:
        self.sock.sendall(b"".join(encode_client_frame(OP_TEXT, text.encode()) for text in texts))


def test_a_web_users_last_line_sent_with_its_close_frame_reaches_the_other_web_users(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(web=True, web_port=0)
    first, second = _WebUser(h), _WebUser(h)
    try:
        for user, name, password in ((first, "user1", "123"), (second, "user2", "345")):
            assert user.event()["type"] == "greeting"
            user.send("login", f"{name},{password}")
            assert user.event()["type"] == "welcome"
        assert first.event()["type"] == "entered"
        # One write, so one read on the server: the codec closes before the line is broadcast.
        first.sock.sendall(encode_client_frame(OP_TEXT, b"see you") + encode_client_frame(OP_CLOSE, b"\x03\xe8"))
        message = second.event()
        assert (message["type"], message["sender"], message["text"]) == ("message", "user1", "see you")
        assert second.event()["type"] == "left"
        assert first.frame().opcode == OP_CLOSE  # its close, echoed, and nothing else
    finally:
        first.sock.close()
        second.sock.close()


def _line_member(loop: EventLoop, port: int) -> tuple[Connection, socket.socket]:
    """A logged-in text-mode TCP connection over a socket pair."""
    from pollchat.protocol.codec import LineCodec

    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    client_end.setblocking(False)
    conn = Connection(server_end, ("127.0.0.1", port), loop, LineCodec(4096))
    loop.connections[conn] = None
    loop._update_interest(conn)
    loop.join_everyone(conn)
    return conn, client_end


def test_presence_notices_to_a_large_audience_wait_but_never_pass_a_chat_line(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 26 (19,000 logins): with many members, a pass whose broadcasts are only
    entered and left notices keeps them until PRESENCE_SEND_SECONDS per member have
    passed since the last flush (a timer wakes the loop then); a chat line takes them
    along at once, in order; the same bytes arrive as without the wait."""
    import pollchat.server.loop as loop_module
    from pollchat.protocol.events import Entered, Left
    from tests.harness import FakeClock

    monkeypatch.setattr(loop_module, "PRESENCE_BATCH_MIN", 3)  # three members count as many here
    clock = FakeClock(1000.0)
    loop = EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(clock=clock), clock=clock)
    members = [_line_member(loop, port) for port in (1, 2, 3)]
    wait = 3 * loop_module.PRESENCE_SEND_SECONDS
    try:
        loop.broadcast(Entered("ana"))
        loop.run_once(0)  # the first flush is not held
        assert all(_read_all(end) == b"ana has entered the chat\n" for _, end in members)
        loop.broadcast(Entered("bea"))
        loop.run_once(0)
        assert all(_read_all(end) == b"" for _, end in members)  # too soon after the last flush: kept
        loop.broadcast(Message("ana", "hello"))  # a chat line goes out now, the notice before it
        loop.run_once(0)
        assert all(_read_all(end) == b"bea has entered the chat\nana: hello\n" for _, end in members)
        loop.broadcast(Left("bea"))
        loop.run_once(0)
        assert all(_read_all(end) == b"" for _, end in members)
        clock.advance(wait)  # the timer is due: the waiting notice goes
        loop.run_once(0)
        assert all(_read_all(end) == b"bea has left the chat\n" for _, end in members)
        monkeypatch.setattr(loop_module, "PRESENCE_BATCH_MIN", 4)  # fewer members than that: never kept
        loop.broadcast(Entered("cid"))
        loop.run_once(0)
        assert all(_read_all(end) == b"cid has entered the chat\n" for _, end in members)
    finally:
        for conn, end in members:
            conn.sock.close()
            end.close()
        loop.close_all()


def test_presence_notices_wait_three_times_what_the_last_flush_took(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A flush of the broadcasts that took T seconds holds later presence-only passes for
    PRESENCE_WAIT_FACTOR x T after its end (capped by PRESENCE_WAIT_MAX), even when
    PRESENCE_SEND_SECONDS per member is less: on a machine where a send costs more than
    the fixed figure assumed, the notices still take at most a quarter of the loop."""
    import pollchat.server.loop as loop_module
    from pollchat.protocol.events import Entered
    from tests.harness import FakeClock

    monkeypatch.setattr(loop_module, "PRESENCE_BATCH_MIN", 3)
    clock = FakeClock(1000.0)
    loop = EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(clock=clock), clock=clock)
    members = [_line_member(loop, port) for port in (1, 2, 3)]
    real_flush = loop.broadcasts.flush

    def slow_flush() -> None:  # the machine makes this flush take 0.1 s
        real_flush()
        clock.advance(0.1)

    monkeypatch.setattr(loop.broadcasts, "flush", slow_flush)
    try:
        loop.broadcast(Entered("ana"))
        loop.run_once(0)  # the first flush is not held; it took 0.1 s
        assert all(_read_all(end) == b"ana has entered the chat\n" for _, end in members)
        loop.broadcast(Entered("bea"))
        clock.advance(3 * loop_module.PRESENCE_SEND_SECONDS + 0.29)  # past the per-member wait, not 3 x 0.1 s
        loop.run_once(0)
        assert all(_read_all(end) == b"" for _, end in members)
        clock.advance(0.02)
        loop.run_once(0)
        assert all(_read_all(end) == b"bea has entered the chat\n" for _, end in members)
        monkeypatch.setattr(real_flush.__self__, "flush", lambda: (real_flush(), clock.advance(60.0)))
        loop.broadcast(Entered("cid"))  # a flush slowed by a stall of 60 s
        clock.advance(loop_module.PRESENCE_WAIT_MAX)
        loop.run_once(0)
        assert all(_read_all(end) == b"cid has entered the chat\n" for _, end in members)
        loop.broadcast(Entered("dan"))
        clock.advance(loop_module.PRESENCE_WAIT_MAX)  # holds the next notices at most that long
        loop.run_once(0)
        assert all(_read_all(end) == b"dan has entered the chat\n" for _, end in members)
    finally:
        for conn, end in members:
            conn.sock.close()
            end.close()
        loop.close_all()


def test_held_broadcasts_leave_together_when_due_and_a_reply_takes_its_member_s_along() -> None:
    """``hold_broadcasts`` (a cluster node's bus lines lingering for the rest of a
    burst): what is broadcast meanwhile stays pending, a timer wakes the loop when it is
    due, and then every member gets all of it in one flush; a reply queued meanwhile
    first gives its connection the lines it is owed (one order); 0.0 releases them."""
    from tests.harness import FakeClock

    clock = FakeClock(1000.0)
    loop = EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(clock=clock), clock=clock)
    members = [_line_member(loop, port) for port in (1, 2)]
    try:
        loop.hold_broadcasts(clock() + 0.002)
        loop.broadcast(Message("ana", "one"))
        loop.run_once(0)
        assert all(_read_all(end) == b"" for _, end in members)
        assert abs(loop.timers.timeout(None) - 0.002) < 1e-9  # the loop wakes when they are due
        loop.broadcast(Message("bea", "two"))  # the rest of the burst, a pass later
        loop.run_once(0)
        assert all(_read_all(end) == b"" for _, end in members)
        assert loop.broadcast_flushes == 0
        clock.advance(0.002)
        loop.run_once(0)
        assert all(_read_all(end) == b"ana: one\nbea: two\n" for _, end in members)
        assert loop.broadcast_flushes == 1  # one send() per member for both lines
        loop.hold_broadcasts(clock() + 0.002)
        loop.broadcast(Message("ana", "three"))
        loop.queue(members[0][0], b"a reply\n")
        loop.run_once(0)
        assert _read_all(members[0][1]) == b"ana: three\na reply\n"
        assert _read_all(members[1][1]) == b""
        loop.hold_broadcasts(0.0)
        loop.run_once(0)
        assert _read_all(members[1][1]) == b"ana: three\n"
        assert _read_all(members[0][1]) == b""  # had it already
        loop.broadcast(Message("cid", "four"))  # nothing held: at the end of the pass
        loop.run_once(0)
        assert all(_read_all(end) == b"cid: four\n" for _, end in members)
    finally:
        for conn, end in members:
            conn.sock.close()
            end.close()
        loop.close_all()
