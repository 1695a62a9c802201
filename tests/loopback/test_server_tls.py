"""TLS for the line protocol (issue 15), over loopback with certificates made at test time
(``trustme``): a TLS client and a plain client in one chat, a handshake that stalls or
never comes costs only its own connection, a plain-text client on the TLS port gets one
clear line, a certificate reload (SIGHUP) reaches new connections only."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from pollchat.errors import ConfigError
from pollchat.server.loop import PLAIN_ON_TLS_PORT
from pollchat.server.tls import server_context
from tests.harness import DEFAULT_TIMEOUT, Client, FakeClock, Harness
from tests.wsclient import parse_response


class TlsClient(Client):
    """A harness client over TLS: a non-blocking ``SSLSocket`` whose handshake runs
    while the test pumps the server (both ends live on the test's thread)."""

    def handshake(self) -> None:
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while True:
            try:
                self.sock.do_handshake()  # type: ignore[attr-defined]
                return
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                if time.monotonic() > deadline:
                    pytest.fail("TLS handshake did not finish")
                self.harness.pump()

    def send(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                self.harness.pump()

    def drain(self) -> bool:
        got = False
        while not (self.eof or self.reset or self.gone):
            try:
                data = self.sock.recv(256 * 1024)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            except (ConnectionResetError, ssl.SSLError):
                self.reset = True
                break
            if not data:
                self.eof = True
                break
            self.buf += data
            got = True
        return got


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_cert(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1 signed by ``ca``, as PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    return cert_path, key_path


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def tls_harness(make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path) -> Harness:
    cert, key = write_cert(ca, tmp_path / "tls")
    return make_harness(tls_cert=cert, tls_key=key, tls_port=0)


def tls_connect(h: Harness, ca: trustme.CA, *, greet: bool = True) -> TlsClient:
    address = h.server.tls_address
    assert address is not None
    raw = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    sock = client_context(ca).wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    client = TlsClient(h, sock)
    h.clients.append(client)
    client.handshake()
    if greet:
        assert client.line() == "type login or register and then give user,password"
    return client


def test_a_tls_client_and_a_plain_client_share_one_chat(tls_harness: Harness, ca: trustme.CA) -> None:
    h = tls_harness
    secure = tls_connect(h, ca)
    assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[attr-defined]
    alice = h.register("alice", "secret", client=secure)
    user1 = h.login("user1", "123")  # plain TCP
    user1.send(b"hello over plain text\n")
    assert alice.line() == "user1: hello over plain text"
    alice.send(b"/msg user1 and back over TLS\n")
    assert user1.line() == "[private] alice: and back over TLS"
    assert alice.line() == "[private to user1] and back over TLS"


def test_a_stalled_handshake_does_not_stall_anyone(tls_harness: Harness, ca: trustme.CA) -> None:
    h = tls_harness
    address = h.server.tls_address
    assert address is not None
    stalled = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    stalled.sendall(b"\x16\x03\x01\x02\x00\x01")  # half a ClientHello, then silence
    silent = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)  # connects, says nothing
    h.pump(3)
    user1 = h.login("user1", "123")
    user2 = h.login("user2", "345", client=tls_connect(h, ca))
    user1.send(b"still here\n")
    assert user2.line() == "user1: still here"
    stalled.close()
    silent.close()


def test_the_login_timeout_bounds_a_handshake_that_never_comes(
    make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path
) -> None:
    clock = FakeClock()
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(clock=clock, tls_cert=cert, tls_key=key, tls_port=0, login_timeout=5)
    address = h.server.tls_address
    assert address is not None
    idle = h.adopt(socket.create_connection(address, timeout=DEFAULT_TIMEOUT))
    h.pump(2)
    assert len(h.server.loop.connections) == 1
    h.advance(6)
    h.pump_until(lambda: not h.server.loop.connections, "the handshake-less connection to be dropped")
    idle.close()


def test_a_plain_client_on_the_tls_port_is_told_in_one_line(tls_harness: Harness) -> None:
    h = tls_harness
    address = h.server.tls_address
    assert address is not None
    plain = h.adopt(socket.create_connection(address, timeout=DEFAULT_TIMEOUT))
    plain.send(b"login\n")
    assert plain.closed() == [PLAIN_ON_TLS_PORT.decode().rstrip("\n")]


def test_plain_http_to_the_https_web_port_gets_an_http_400(
    make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path
) -> None:
    """A browser that types http:// for the HTTPS web port gets a page saying so (nginx
    answers 400 too), not the line port's netcat hint."""
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(tls_cert=cert, tls_key=key, tls_port=0, web=True, web_port=0)
    address = h.server.web_address
    assert address is not None
    plain = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    plain.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    plain.setblocking(False)
    data = b""
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while True:
        assert time.monotonic() < deadline, data
        h.pump()
        try:
            chunk = plain.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    plain.close()
    response = parse_response(data)
    assert response.status == 400 and b"HTTPS port" in response.body
    assert response.get("connection") == "close"


def test_a_client_that_does_not_trust_the_certificate_never_gets_in(tls_harness: Harness) -> None:
    h = tls_harness
    address = h.server.tls_address
    assert address is not None
    raw = socket.create_connection(address, timeout=DEFAULT_TIMEOUT)
    sock = ssl.create_default_context().wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    client = TlsClient(h, sock)
    h.clients.append(client)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.handshake()
    h.login("user1", "123")  # the server is whole


def test_a_reload_serves_the_new_certificate_to_new_connections_only(
    tls_harness: Harness, ca: trustme.CA, tmp_path: Path
) -> None:
    h = tls_harness
    before = h.login("user1", "123", client=tls_connect(h, ca))
    other_ca = trustme.CA()
    cert, key = write_cert(other_ca, tmp_path / "renewed")
    config = h.server.config
    (tmp_path / "tls" / "cert.pem").write_bytes(cert.read_bytes())
    (tmp_path / "tls" / "key.pem").write_bytes(key.read_bytes())
    assert config.tls_cert == tmp_path / "tls" / "cert.pem"
    h.server.reload_tls()
    after = h.login("user2", "345", client=tls_connect(h, other_ca))  # trusts only the new CA
    before.send(b"the old connection is untouched\n")
    assert after.line() == "user1: the old connection is untouched"


def test_a_reload_with_a_broken_file_keeps_the_old_certificate(
    tls_harness: Harness, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = tls_harness
    (tmp_path / "tls" / "key.pem").write_text("not a key\n")
    h.server.reload_tls()
    assert "keeping the old certificate" in caplog.text
    h.login("user1", "123", client=tls_connect(h, ca))


@pytest.mark.parametrize("problem", ["missing", "garbage", "only-cert"])
def test_bad_certificate_settings_are_one_line_errors(
    make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path, problem: str
) -> None:
    cert, key = write_cert(ca, tmp_path / "tls")
    settings: dict[str, object] = {"tls_cert": cert, "tls_key": key, "tls_port": 0}
    if problem == "missing":
        settings["tls_key"] = tmp_path / "nope.pem"
    elif problem == "garbage":
        key.write_text("garbage\n")
    else:
        settings["tls_key"] = None
    with pytest.raises(ConfigError) as caught:
        make_harness(**settings)
    assert "\n" not in str(caught.value) and "TLS" in str(caught.value)


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_a_missing_certificate_or_key_file_is_named(ca: trustme.CA, tmp_path: Path, missing: str) -> None:
    """docs/operations.md promises the error names the file (OpenSSL's error has no
    file name: it used to say ``TLS: no such file: None``)."""
    cert, key = write_cert(ca, tmp_path / "tls")
    nope = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as caught:
        server_context(nope if missing == "cert" else cert, nope if missing == "key" else key)
    assert str(caught.value) == f"TLS: no such file: {nope}"


def test_tls_only_closes_the_plain_port(make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path) -> None:
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(tls_cert=cert, tls_key=key, tls_port=0, tls_only=True)
    assert h.server.listener is None and h.server.address == h.server.tls_address
    h.login("user1", "123", client=tls_connect(h, ca))


def test_a_tls_reader_that_falls_behind_gets_every_line_in_order(
    make_harness: Callable[..., Harness], ca: trustme.CA, tmp_path: Path
) -> None:
    """A pass's broadcast bytes go to a TLS member straight from the shared buffer; when
    the socket is full, OpenSSL takes none of them (no partial writes), they are copied
    whole into the member's buffer and sent later, with what was queued after them, as
    one write that starts with the same bytes. The reader must see every line, in order,
    none twice."""
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(tls_cert=cert, tls_key=key, tls_port=0, max_output=8 * 1024 * 1024, rate_limit=0)
    address = h.server.tls_address
    assert address is not None
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a slow reader's small window
    raw.settimeout(DEFAULT_TIMEOUT)
    raw.connect(address)
    sock = client_context(ca).wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    reader = TlsClient(h, sock)
    h.clients.append(reader)
    reader.handshake()
    assert reader.line() == "type login or register and then give user,password"
    h.login("user2", "345", client=reader)
    sender = h.login("user1", "123")
    conn = h.server_conn(reader)
    sent: list[str] = []
    blocked = 0
    for batch in range(300):  # about 5 MB: more than the two sockets hold (the sender side grows to 4 MB)
        lines = [f"{batch}-{i} " + "x" * 800 for i in range(20)]
        sent += lines
        sender.send("".join(line + "\n" for line in lines).encode())
        h.pump()
        blocked += bool(conn.outbuf)  # the kernel did not take a pass's bytes: kept whole
        sender.drain()
    assert blocked, "the reader's socket never filled: the test did not reach the blocked path"
    assert reader.lines(len(sent), timeout=30) == [f"user1: {line}" for line in sent]
    assert not conn.closing


def test_every_record_a_tls_client_sent_is_read_in_one_pass(tls_harness: Harness, ca: trustme.CA) -> None:
    """``SSL_read`` returns one record per call: a server that read one per readiness let
    one line per TLS sender into a pass, and a pass costs one record per member. Three
    lines sent as three records, all in the server's socket before the pass: one pass
    handles them all (as one ``recv`` takes a plain client's three lines)."""
    h = tls_harness
    alice = h.register("alice", "secret", client=tls_connect(h, ca))
    user1 = h.login("user1", "123")
    h.pump(3)
    alice.drain()
    alice.buf.clear()
    user1.drain()
    user1.buf.clear()
    alice.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each record leaves at once
    for i in range(3):  # one SSLSocket.send per line: one record each
        alice.send(b"line %d\n" % i)
    h.pump(1)
    user1.wait_readable()
    time.sleep(0.05)  # the whole pass's bytes, not just the first segment
    user1.drain()
    assert [user1.take_line() for _ in range(3)] == ["alice: line 0", "alice: line 1", "alice: line 2"]


def test_a_close_notify_right_behind_a_line_ends_the_connection(tls_harness: Harness, ca: trustme.CA) -> None:
    """A client's last line and its close_notify, back to back, with the TCP connection
    left open (a client waiting for the server's close_notify): reading every record at
    once takes the close_notify out of the kernel with the line, so no readiness event
    will report it; the loop reads the connection again and the end is handled in the
    same pass (the line delivered, then the left notice)."""
    h = tls_harness
    alice = h.register("alice", "secret", client=tls_connect(h, ca))
    user1 = h.login("user1", "123")
    h.pump(3)
    user1.drain()
    user1.buf.clear()
    alice.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the two records leave at once
    alice.send(b"last words\n")
    alice.sock.setblocking(False)
    try:
        alice.sock.unwrap()  # type: ignore[attr-defined]  # sends our close_notify; the TCP stays open
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        pass
    h.forget_online(alice)
    h.pump(3)  # no readiness event is due after the first: the kernel holds nothing more
    user1.wait_readable()
    time.sleep(0.05)
    user1.drain()
    assert [user1.take_line(), user1.take_line()] == ["alice: last words", "alice has left the chat"]



def test_a_burst_held_by_the_input_budget_ends_after_its_last_line(make_harness: Callable[..., Harness],
                                                                   ca: trustme.CA, tmp_path: Path) -> None:
    """2,000 pipelined lines and close_notify, the TCP connection left open, with the
    input budgets on (as by default): one read takes the lines and the end, the budget
    holds most lines and pauses reading, and the end, already out of the kernel, is read
    again once reading resumes; every line arrives, in order, then the left notice."""
    cert, key = write_cert(ca, tmp_path / "tls")
    h = make_harness(tls_cert=cert, tls_key=key, tls_port=0)  # the budgets as shipped
    watcher = h.login("user2", "345")
    sender = h.login("user1", "123", client=tls_connect(h, ca))
    sender.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sender.send(b"".join(b"line %d\n" % i for i in range(2000)))
    sender.sock.setblocking(False)
    try:
        sender.sock.unwrap()  # type: ignore[attr-defined]
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        pass
    h.forget_online(sender)
    assert watcher.lines(2001) == [f"user1: line {i}" for i in range(2000)] + ["user1 has left the chat"]
