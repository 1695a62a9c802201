"""The second fault-and-abuse audit (issue 20) over loopback: refusals on the web port
are HTTP, a WebSocket burst of login, line and close works as the same bytes with a TCP
FIN do, and no client can starve the loop (per-connection frame and line budgets, a
per-address budget across reconnects).

Every test runs an in-process server on 127.0.0.1 port 0 (``tests.harness``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from pollchat.protocol.websocket import OP_CLOSE, OP_PING, OP_TEXT, encode_client_frame
from pollchat.server.flood import PASS_UNITS, SLICE
from tests.harness import FakeClock, Harness
from tests.wsclient import Response, handshake, parse_response

MakeHarness = Callable[..., Harness]


def web_socket(h: Harness) -> socket.socket:
    """A raw non-blocking TCP connection to the web port (the harness's clients refuse
    the CRLF of HTTP)."""
    address = h.server.web_address
    assert address is not None
    sock = socket.create_connection(address, timeout=5)
    sock.setblocking(False)
    return sock


def http_answer(h: Harness, sock: socket.socket, request: bytes = b"") -> Response:
    """Send ``request`` (maybe nothing), pump until the server closes, parse what came."""
    try:
        sock.sendall(request)
        data = b""
        deadline = time.monotonic() + 5
        while True:
            assert time.monotonic() < deadline, data
            h.pump()
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                return parse_response(data)
            data += chunk
    finally:
        sock.close()


def web_client(h: Harness):  # noqa: ANN201 - a tests.harness.Client
    """A harness client on the web port, for WebSocket bytes (no greeting)."""
    address = h.server.web_address
    assert address is not None
    return h.adopt(socket.create_connection(address, timeout=5))


# --- refusals on the web port are HTTP (nginx's codes) ------------------------------------------


def test_over_the_per_address_limit_a_browser_gets_503(make_harness: MakeHarness) -> None:
    h = make_harness(web=True, web_port=0, max_connections_per_address=1)
    h.connect()  # the address's one connection
    response = http_answer(h, web_socket(h), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert response.status == 503
    assert response.body == b"503 Service Unavailable: too many connections from your address, closing this one\n"


def test_a_full_server_gives_a_browser_503(make_harness: MakeHarness) -> None:
    h = make_harness(web=True, web_port=0, max_connections=1)
    h.connect()
    response = http_answer(h, web_socket(h))
    assert response.status == 503 and b"too many connections" in response.body


def test_a_request_head_cut_by_the_timeout_gets_408(make_harness: MakeHarness) -> None:
    h = make_harness(web=True, web_port=0, clock=FakeClock(), login_timeout=5)
    sock = web_socket(h)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # never finished
    h.pump(3)
    h.advance(6)
    response = http_answer(h, sock)
    assert response.status == 408
    assert response.body == b"408 Request Timeout: no login within 5 seconds, closing the connection\n"


# --- a WebSocket burst: login, a line, close (as TCP with a FIN) -------------------------------


def ws_burst(*messages: str) -> bytes:
    frames = b"".join(encode_client_frame(OP_TEXT, m.encode()) for m in messages)
    return handshake(host="a", origin=None) + frames + encode_client_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


def test_login_line_and_close_in_one_websocket_burst_are_all_done(make_harness: MakeHarness) -> None:
    """The same bytes over TCP with a FIN log in, say the line and leave
    (docs/protocol.md); the close frame used to close the connection while the password
    check ran, dropping everything."""
    h = make_harness(web=True, web_port=0)
    watcher = h.login("user1", "123")
    browser = web_client(h)
    browser.send(ws_burst("login", "user2,345", "hello from a burst"))
    assert watcher.lines(3) == ["user2 has entered the chat", "user2: hello from a burst", "user2 has left the chat"]
    tcp = h.connect()
    tcp.send(b"login\nuser3,123\nhello from a TCP burst\n")
    tcp.sock.shutdown(socket.SHUT_WR)
    assert watcher.lines(3) == ["user3 has entered the chat", "user3: hello from a TCP burst", "user3 has left the chat"]


# --- no client can starve the loop ----------------------------------------------------------------


def ws_open(h: Harness):  # noqa: ANN201 - a tests.harness.Client
    """A WebSocket on the web port, handshake done (no login)."""
    client = web_client(h)
    client.sock.sendall(handshake(host="a", origin=None))
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in client.buf:
        assert time.monotonic() < deadline
        h.pump()
        client.sock.setblocking(False)
        try:
            client.buf += client.sock.recv(65536)
        except BlockingIOError:
            pass
    head, _, rest = bytes(client.buf).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    client.buf[:] = rest
    return client


def frames_in(data: bytes) -> int:
    """How many whole unmasked server frames (each shorter than 126 bytes) ``data`` holds."""
    count = at = 0
    while at + 2 <= len(data) and at + 2 + data[at + 1] <= len(data):
        at += 2 + data[at + 1]
        count += 1
    return count


def test_one_pass_parses_a_bounded_number_of_frames_from_one_connection(make_harness: MakeHarness) -> None:
    """A 64 KiB read of empty pings is about 10,900 frames: one pass used to parse them
    all (and answer each) while everyone else waited. Now a pass parses at most
    PASS_UNITS (plus one slice) per connection and goes on in the next pass."""
    h = make_harness(web=True, web_port=0, input_budget=0, address_input_budget=0)  # the bound holds without budgets
    flooder = ws_open(h)
    flooder.sock.sendall(encode_client_frame(OP_PING, b"") * (65536 // 6))
    h.pump(1)
    time.sleep(0.05)  # let the kernel hand over what the pass sent
    first = b""
    try:
        while chunk := flooder.sock.recv(1 << 20):
            first += chunk
    except BlockingIOError:
        pass
    assert PASS_UNITS <= frames_in(first) <= PASS_UNITS + SLICE // 6
    h.pump(60)  # the rest, a bounded share per pass
    data = b""
    try:
        while chunk := flooder.sock.recv(1 << 20):
            data += chunk
    except BlockingIOError:
        pass
    assert frames_in(first + data) == 65536 // 6  # every ping is answered in the end


def test_a_chatter_is_served_while_a_frame_flood_is_parsed(make_harness: MakeHarness) -> None:
    h = make_harness(web=True, web_port=0)
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    flooders = [ws_open(h) for _ in range(4)]
    for flooder in flooders:
        flooder.sock.sendall(encode_client_frame(OP_PING, b"") * (65536 // 6))
    user1.send(b"still fast\n")
    passes = h.passes
    assert user2.line() == "user1: still fast"
    time.sleep(0.05)  # let the kernel hand over what those passes sent
    answered = 0
    for flooder in flooders:
        try:
            while chunk := flooder.sock.recv(1 << 20):
                answered += len(chunk) // 2  # an empty pong is 2 bytes
        except BlockingIOError:
            pass
    # The line did not wait behind the ~44,000 pings: until it arrived, each pass
    # parsed a bounded share of each flooder's.
    assert answered <= (h.passes - passes) * len(flooders) * (PASS_UNITS + SLICE // 6)


def test_a_connection_over_its_budget_is_paused_then_closed_if_it_stays_over(make_harness: MakeHarness) -> None:
    """--input-budget 10: 100 units at once (10 s worth), then reading pauses until
    the debt is paid; a client that keeps flooding for 10 s is told and closed.
    Empty lines count as much as chat lines."""
    clock = FakeClock()
    h = make_harness(clock=clock, input_budget=10, address_input_budget=0)
    watcher = h.login("user2", "345")
    flooder = h.login("user1", "123")
    flooder.send(b"\n" * 20_000 + b"you should not see this yet\n")
    h.pump(5)
    watcher.expect_silence(0.05)
    assert not flooder.buf  # paused, not closed
    h.advance(5)  # the debt of the first pass (256 units or more: over 15 s) is not paid yet
    watcher.expect_silence(0.05)
    h.advance(60)  # paid: the next pass's worth is parsed, and it is still over after 10 s
    assert flooder.closed() == ["too many lines too fast, closing the connection"]
    h.forget_online(flooder)
    assert watcher.line() == "user1 has left the chat"


def test_an_honest_burst_within_the_budget_goes_through_in_order_with_its_hang_up(make_harness: MakeHarness) -> None:
    """2,000 pipelined lines and a FIN (budgets on, as by default): spread over passes,
    every line arrives, in order, and the hang-up comes after the last one."""
    h = make_harness()
    watcher = h.login("user2", "345")
    sender = h.login("user1", "123")
    sender.send(b"".join(b"line %d\n" % i for i in range(2000)))
    sender.half_close()
    assert watcher.lines(2001) == [f"user1: line {i}" for i in range(2000)] + ["user1 has left the chat"]


def test_reconnecting_does_not_refill_the_address_budget(make_harness: MakeHarness) -> None:
    """--address-input-budget 10: an address that spent its budget and reconnects is
    not read from until the debt is paid; then its line goes through."""
    clock = FakeClock()
    h = make_harness(clock=clock, input_budget=0, address_input_budget=10)
    watcher = h.login("user2", "345")
    h.advance(20)  # the watcher's own login is long paid for
    first = h.connect()
    first.send(b"\n" * 400)  # 400 greetings back, and 400 units spent (the burst is 100)
    h.pump(5)
    first.close()
    h.pump(3)
    again = h.connect()  # the greeting goes out; its input waits
    again.send(b"login\nuser1,123\nhello\n")
    h.pump(5)
    watcher.expect_silence(0.05)
    h.advance(31)  # the debt (about 30 s) is paid
    assert watcher.lines(2) == ["user1 has entered the chat", "user1: hello"]


def test_the_address_table_forgets_addresses_whose_budget_is_full_again() -> None:
    """Only recent addresses are kept: one whose budget has refilled is forgotten as
    others come (a crawler from many addresses cannot grow the table without end)."""
    from pollchat.server.flood import InputGuard
    from pollchat.server.timers import Timers

    clock = FakeClock()

    class Loop:
        timers = Timers(clock)
        after_flush: list[object] = []

    guard = InputGuard(Loop(), rate=0, address_rate=10, on_continue=print, on_eof=print)  # type: ignore[arg-type]
    for i in range(100):
        guard._address(f"10.0.0.{i}", clock()).tat = clock() + 1  # noqa: SLF001 - the table itself is the point
        clock.now += 2  # each is full again by the next
    assert len(guard._addresses) <= 3  # noqa: SLF001
