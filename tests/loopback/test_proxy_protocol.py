"""The PROXY protocol over loopback (``--proxy-protocol-from``): a trusted proxy's
connections begin with a header whose source address becomes the connection's, on every
listener; a trusted peer without a valid header is closed with no reply; an untrusted
peer's ``PROXY`` line is just a line. The header addresses are documentation ones
(203.0.113.0/24, 2001:db8::/32); the proxy is the test itself on 127.0.0.1. The last
test puts a real HAProxy (``send-proxy-v2``) in front of the server."""

from __future__ import annotations

import ipaddress
import logging
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from pollchat import texts
from pollchat.protocol.proxy import V2_SIGNATURE
from pollchat.server.connection import Connection
from tests.harness import DEFAULT_TIMEOUT, Client, FakeClock, Harness
from tests.loopback.test_server_tls import TlsClient, client_context, write_cert

TOO_MANY_CONNECTIONS = "too many connections from your address, closing this one"
TRUST_LOOPBACK = ("127.0.0.1/32",)


def v1(source: str, port: int = 40000) -> bytes:
    family = "TCP6" if ":" in source else "TCP4"
    destination = "::1" if ":" in source else "127.0.0.1"
    return f"PROXY {family} {source} {destination} {port} 3490\r\n".encode()


def v2(source: str, port: int = 40000) -> bytes:
    address = ipaddress.ip_address(source)
    if address.version == 4:
        body = address.packed + ipaddress.IPv4Address("127.0.0.1").packed + struct.pack(">HH", port, 3490)
        return V2_SIGNATURE + b"\x21\x11" + struct.pack(">H", len(body)) + body
    body = address.packed + ipaddress.IPv6Address("::1").packed + struct.pack(">HH", port, 3490)
    return V2_SIGNATURE + b"\x21\x21" + struct.pack(">H", len(body)) + body


V2_LOCAL = V2_SIGNATURE + b"\x20\x00\x00\x00"


def proxied(h: Harness, header: bytes, *, address: tuple[str, int] | None = None, greet: bool = True) -> Client:
    """A client that connects as a proxy would: the header first, then its own bytes."""
    sock = socket.create_connection(address or h.address, timeout=DEFAULT_TIMEOUT)
    sock.sendall(header)
    return h.adopt(sock, greet=greet)


def conn_of(h: Harness, client: Client) -> Connection:
    """The server's connection of ``client``, found by its socket's own peer (the
    harness's ``server_conn`` matches the address the server shows, here the header's)."""
    port = client.local_port

    def find() -> Connection | None:
        for conn in h.server.loop.connections:
            try:
                if conn.sock.getpeername()[1] == port:
                    return conn
            except OSError:
                pass
        return None

    h.pump_until(lambda: find() is not None, f"the server's connection of port {port}")
    conn = find()
    assert conn is not None
    return conn


def read_until(h: Harness, sock: socket.socket, end: bytes) -> bytes:
    """The bytes ``sock`` gets (as they are, CRLF too) until ``end`` is among them."""
    sock.setblocking(False)
    got = b""
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while end not in got:
        assert time.monotonic() < deadline, f"no {end!r} within {DEFAULT_TIMEOUT}s: {got!r}"
        h.pump()
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        assert data, f"closed before {end!r}: {got!r}"
        got += data
    return got


def server_conn_at(h: Harness, port: int) -> Connection:
    """The server's connection whose client port (from a header or the socket) is ``port``."""
    h.pump_until(lambda: any(conn.port == port for conn in h.server.loop.connections), f"a connection from port {port}")
    return next(conn for conn in h.server.loop.connections if conn.port == port)


def test_a_v1_header_gives_the_connection_its_clients_address(
    make_harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    caplog.set_level(logging.INFO, logger="pollchat")
    client = proxied(h, v1("203.0.113.7", 5555))
    h.login("user1", "123", client=client)
    conn = conn_of(h, client)
    assert (conn.address, conn.port, conn.host) == ("203.0.113.7", 5555, "203.0.113.7")
    assert any("from 203.0.113.7:5555 (PROXY v1 from 127.0.0.1:" in r.getMessage() for r in caplog.records)


def test_a_v2_header_gives_the_connection_its_clients_address(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    client = proxied(h, v2("203.0.113.8", 6666))
    h.login("user1", "123", client=client)
    client.send(b"hello\n")
    assert conn_of(h, client).address == "203.0.113.8"


def test_an_ipv6_source_counts_by_its_64(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    first, second = proxied(h, v1("2001:db8:1:2::7")), proxied(h, v2("2001:db8:1:2::8"))
    assert conn_of(h, first).address == "2001:db8:1:2::7"
    assert conn_of(h, first).host == conn_of(h, second).host == "2001:db8:1:2::/64"


def test_local_and_unknown_keep_the_sockets_address(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    for header in (V2_LOCAL, b"PROXY UNKNOWN\r\n"):
        client = proxied(h, header)
        assert conn_of(h, client).address == "127.0.0.1"
        assert conn_of(h, client).port == client.local_port


def test_connections_per_address_count_the_header_addresses(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK, max_connections_per_address=1)
    first = proxied(h, v1("203.0.113.1"))
    second = proxied(h, v2("203.0.113.2"))  # another address: its own count
    assert proxied(h, v2("203.0.113.1", 40001), greet=False).closed() == [TOO_MANY_CONNECTIONS]
    h.login("user1", "123", client=first)
    h.login("user2", "345", client=second)


def test_an_address_ban_applies_to_the_header_address(make_harness: Callable[..., Harness]) -> None:
    import io

    from pollchat.server.console import OperatorConsole

    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    console = OperatorConsole(h.server.chat, io.StringIO())
    assert console.run("ban 203.0.113.0/28 spam") == "203.0.113.0/28 is banned for good"
    assert proxied(h, v2("203.0.113.3"), greet=False).closed() == ["your address is banned for good: spam"]
    h.login("user1", "123", client=proxied(h, v2("203.0.113.16")))  # outside the network
    h.login("user2", "345", client=proxied(h, V2_LOCAL))  # the proxy's own address is not banned


def test_the_header_and_the_first_lines_in_one_send(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    client = proxied(h, v2("203.0.113.9") + b"login\nuser1,123\n", greet=False)
    client.expect(texts.GREETING, texts.ACCESS_PROVIDED, "active users are: user1")
    assert conn_of(h, client).address == "203.0.113.9"


def test_a_header_that_comes_in_pieces(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    sock = socket.create_connection(h.address, timeout=DEFAULT_TIMEOUT)
    client = h.adopt(sock)
    header = v1("203.0.113.10")
    for piece in (header[:3], header[3:20], header[20:-1]):
        sock.sendall(piece)
        h.pump(3)
        assert not h.server.loop.connections  # no connection, no greeting before the header
    client.send(header[-1:] + b"login\n")
    client.expect(texts.GREETING)
    assert conn_of(h, client).address == "203.0.113.10"


def test_tls_behind_a_header(make_harness: Callable[..., Harness], tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK, tls_cert=cert, tls_key=key, tls_port=0)
    address = h.server.tls_address
    assert address is not None
    raw = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    raw.sendall(v2("203.0.113.11"))  # before the ClientHello, in clear
    sock = client_context(ca).wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    client = TlsClient(h, sock)
    h.clients.append(client)
    client.handshake()
    assert client.line() == texts.GREETING
    h.login("user1", "123", client=client)
    conn = conn_of(h, client)
    assert conn.address == "203.0.113.11" and isinstance(conn.sock, ssl.SSLSocket)


def test_the_web_port_behind_a_header(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK, web=True, web_port=0)
    address = h.server.web_address
    assert address is not None
    sock = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    sock.sendall(v1("203.0.113.12", 7777) + b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_until(h, sock, b"\r\n").startswith(b"HTTP/1.1 200 ")
    assert server_conn_at(h, 7777).address == "203.0.113.12"
    sock.close()


def test_the_irc_port_behind_a_header(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK, irc=True, irc_port=0)
    address = h.server.irc_address
    assert address is not None
    sock = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    sock.sendall(v2("203.0.113.13", 8888) + b"PASS 123\r\nNICK user1\r\nUSER user1 0 * :u\r\n")
    assert b" 001 user1 " in read_until(h, sock, b"\r\n")
    assert server_conn_at(h, 8888).address == "203.0.113.13"
    sock.close()


def test_a_trusted_peer_without_a_header_is_closed_without_a_reply(
    make_harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    caplog.set_level(logging.INFO, logger="pollchat")
    for opening in (b"login\nuser1,123\n", b"PROXY TCP4 203.0.113.1 127.0.0.1 1 2\n", V2_SIGNATURE + b"\x21\x11\xff\xff"):
        client = proxied(h, opening, greet=False)
        assert client.closed() == []
    refusals = [r for r in caplog.records if "connection from proxy 127.0.0.1:" in r.getMessage()]
    assert len(refusals) == 3
    assert not h.server.loop.connections
    h.login("user1", "123", client=proxied(h, v1("203.0.113.1")))  # the next good one gets in


def test_a_trusted_peer_that_sends_nothing_is_closed_after_the_timeout(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK, clock=FakeClock())
    silent = proxied(h, b"", greet=False)
    half = proxied(h, v1("203.0.113.1")[:10], greet=False)
    h.pump(3)
    h.advance(4.0)
    assert silent.wait_readable(0.05) is False and half.wait_readable(0.05) is False
    h.advance(1.5)
    assert silent.closed() == [] and half.closed() == []


def test_an_untrusted_peers_proxy_line_is_just_a_line(make_harness: Callable[..., Harness]) -> None:
    plain = make_harness()
    trusting_others = make_harness(proxy_protocol_from=("10.0.0.0/8", "2001:db8::/32"))
    answers = []
    for h in (plain, trusting_others):
        client = h.connect()
        client.send(v1("203.0.113.5"))
        answers.append(client.line())
        assert conn_of(h, client).address == "127.0.0.1"
    assert answers[0] == answers[1]


# --- a real HAProxy -------------------------------------------------------------------------------

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def haproxy_in_front(tmp_path: Path) -> Iterator[Callable[[int], int]]:
    """Starts HAProxy (TCP mode, ``send-proxy-v2``, health checks on) in front of a
    backend port; returns its frontend port. Stopped at the end of the test.
    ``tcp-check connect default`` makes the checks use the server line's options, so they
    send a PROXY header too (a LOCAL one); a bare ``tcp-check connect`` sends none."""
    if HAPROXY is None:
        pytest.skip("haproxy is not installed: apt-get install haproxy")
    started: list[subprocess.Popen[bytes]] = []

    def start(backend_port: int) -> int:
        port = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n"
            f"frontend chat\n    bind 127.0.0.1:{port}\n    default_backend pollchat\n"
            "backend pollchat\n    option tcp-check\n    tcp-check connect default\n"
            f"    server n1 127.0.0.1:{backend_port} send-proxy-v2 check inter 1s\n"
        )
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"haproxy did not start: {process.stderr.read() if process.stderr else b''!r}")
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_behind_a_real_haproxy_the_server_sees_each_clients_own_socket_address(
    make_harness: Callable[..., Harness], haproxy_in_front: Callable[[int], int], caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness(proxy_protocol_from=TRUST_LOOPBACK)
    caplog.set_level(logging.INFO, logger="pollchat")
    port = haproxy_in_front(h.address[1])
    users = []
    for name, password in (("user1", "123"), ("user2", "345")):
        sock = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
        users.append((h.login(name, password, client=h.adopt(sock, greet=True)), sock.getsockname()[1]))
    for client, client_port in users:
        conn = h.server_conn(client)  # matched by the address the server shows
        # The client's own socket (its port), not HAProxy's backend-side socket.
        assert (conn.address, conn.port) == ("127.0.0.1", client_port)
        assert any(f"from 127.0.0.1:{client_port} (PROXY v2 from 127.0.0.1:" in r.getMessage() for r in caplog.records)
    # HAProxy's health checks (send-proxy-v2: a LOCAL header) are let in and leave again.
    # Its own connection keeps its own address: the same on both sides of the log line.
    local = re.compile(r"from (127\.0\.0\.1:\d+) \(PROXY v2 from \1\)")
    h.pump_until(lambda: any(local.search(r.getMessage()) for r in caplog.records), "a health check")
    assert not any("connection from proxy" in r.getMessage() for r in caplog.records)
