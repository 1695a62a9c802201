"""``bench.load.tls_recv``: a TLS load client takes every whole record the kernel holds in
one readiness, as a plain client's single ``recv`` takes every byte (a receiver that read
one record per readiness fell behind the server and paced the closed-loop burst on its
own backlog). Both ends on one thread, over a loopback socket pair."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
import trustme

from bench.load import tls_recv


def _pair() -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    """(server end, client end) of a finished TLS handshake over a socket pair."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    server = server_ctx.wrap_socket(a, server_side=True, do_handshake_on_connect=False)
    client = client_ctx.wrap_socket(b, server_hostname="127.0.0.1", do_handshake_on_connect=False)
    done = {server: False, client: False}
    deadline = time.monotonic() + 5
    while not all(done.values()):
        assert time.monotonic() < deadline, "handshake did not finish"
        for end in done:
            if not done[end]:
                try:
                    end.do_handshake()
                    done[end] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
    return server, client


def _read_until(client: ssl.SSLSocket, want: bytes) -> None:
    """Take the session tickets TLS 1.3 sends after the handshake, until ``want`` is read."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if client.recv(100) == want:
                return
        except ssl.SSLWantReadError:
            time.sleep(0.001)
    pytest.fail("the first record never arrived")


def test_every_queued_record_is_read_in_one_call() -> None:
    server, client = _pair()
    try:
        server.send(b"ready\n")
        _read_until(client, b"ready\n")
        lines = [b"line %d\n" % i for i in range(5)]
        for line in lines:  # five sends: five records in the client's socket (a socket pair delivers at once)
            server.send(line)
        assert tls_recv(client) == b"".join(lines)  # one call takes them all
    finally:
        server.close()
        client.close()


def test_no_whole_record_raises_and_end_of_stream_is_empty() -> None:
    server, client = _pair()
    try:
        with pytest.raises(ssl.SSLWantReadError):
            while True:  # the session tickets are not application data
                tls_recv(client)
        server.send(b"last\n")
        server.close()
        deadline = time.monotonic() + 5
        got = b""
        while time.monotonic() < deadline:
            try:
                data = tls_recv(client)
            except ssl.SSLWantReadError:
                time.sleep(0.001)
                continue
            except OSError:  # an unclean end (no close_notify) is reported as an error
                break
            if not data:
                break
            got += data
        assert got == b"last\n"
    finally:
        client.close()


def test_the_limit_bounds_one_call() -> None:
    server, client = _pair()
    try:
        server.send(b"ready\n")
        _read_until(client, b"ready\n")
        for _ in range(4):
            server.send(b"x" * 1000)
        assert tls_recv(client, limit=2500) == b"x" * 2500  # records until the limit, the rest left
        assert tls_recv(client) == b"x" * 1500
    finally:
        server.close()
        client.close()
