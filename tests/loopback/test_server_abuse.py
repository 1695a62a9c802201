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

from pollchat.protocol.websocket import OP_CLOSE, OP_TEXT, encode_client_frame
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
