"""TLS for the client tests: certificates made at test time, and a TLS front on 127.0.0.1.

* :func:`make_ca` (trustme): a private CA, its certificate as a PEM file (what
  ``--cafile`` takes), and server contexts with certificates it issues for any names.
* :func:`self_signed`: a self-signed server certificate like the one ``openssl req
  -x509 ... -addext subjectAltName=IP:127.0.0.1`` makes (docs/client.md tells users to).
* :class:`TlsFront`: a TLS listener (a thread with its own ``selectors`` loop, memory
  BIOs) that completes the handshake with each client and then either relays the plain
  bytes to a plain pollchat server (a TLS terminator, like stunnel) or, without one,
  runs a tiny line service (a greeting, ``echo: LINE`` per line, ``bye`` after the
  client's ``close_notify``). It records every raw byte each client sent and how its
  handshake ended, so a test can prove that nothing but TLS records reached the wire
  and that a refused handshake was never followed by anything.

Everything listens on 127.0.0.1 port 0; every wait has a deadline.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import trustme

WAIT = 8.0
GREETING = b"hello over tls\n"


@dataclass
class CA:
    """A private CA (trustme) and its certificate file."""

    ca: trustme.CA
    cafile: Path

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server context with a certificate for ``names`` issued by this CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*names).configure_cert(context)
        return context

    def server_files(self, directory: Path, *names: str) -> tuple[Path, Path]:
        """A certificate for ``names`` issued by this CA and its key, as the PEM files
        ``pollchat-server --tls-cert FILE --tls-key FILE`` takes."""
        cert = self.ca.issue_cert(*names)
        cert_file, key_file = directory / "server-cert.pem", directory / "server-key.pem"
        for index, pem in enumerate(cert.cert_chain_pems):
            pem.write_to_path(str(cert_file), append=index > 0)
        cert.private_key_pem.write_to_path(str(key_file))
        return cert_file, key_file


def make_ca(directory: Path, name: str = "ca.pem") -> CA:
    """A new CA, its certificate written to ``directory/name``."""
    ca = trustme.CA()
    path = directory / name
    ca.cert_pem.write_to_path(str(path))
    return CA(ca, path)


def self_signed(directory: Path, address: str = "127.0.0.1") -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for the IP ``address``, and that
    certificate's PEM file (what a client passes to ``--cafile``)."""
    from cryptography import x509  # trustme's own dependency
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)  # as openssl req -x509
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "self-signed.pem"
    key_file = directory / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def tls_records(data: bytes) -> list[int]:
    """The content types of the TLS records ``data`` is made of, whole records only.

    Raises:
        AssertionError: ``data`` is not a sequence of complete TLS records (a plain
            byte anywhere, e.g. ``mode json``, breaks the framing).
    """
    types = []
    offset = 0
    while offset < len(data):
        assert offset + 5 <= len(data), f"a cut TLS record header at {offset}: {data[offset:offset + 20]!r}"
        kind, major, length = data[offset], data[offset + 1], int.from_bytes(data[offset + 3 : offset + 5], "big")
        assert kind in (20, 21, 22, 23) and major == 3, f"not a TLS record at {offset}: {data[offset:offset + 20]!r}"
        offset += 5 + length
        assert offset <= len(data), "a cut TLS record"
        types.append(kind)
    return types


@dataclass
class FrontConnection:
    """One client of a :class:`TlsFront`, as the front saw it."""

    client: socket.socket
    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO
    raw: bytearray = field(default_factory=bytearray)  # every byte the client sent
    plain: bytearray = field(default_factory=bytearray)  # what it sent inside TLS
    handshake_done: bool = False
    handshake_error: str | None = None
    tls_closed: bool = False  # the client's close_notify (or EOF) arrived
    backend: socket.socket | None = None
    finished: bool = False
    _lines: bytearray = field(default_factory=bytearray)


class TlsFront:
    """A TLS listener on 127.0.0.1 (see the module doc). Use as a context manager.

    Args:
        context: the server's TLS context (its certificate).
        backend_port: a plain server on 127.0.0.1 to relay to, or ``None`` for the line
            service.
    """

    def __init__(self, context: ssl.SSLContext, backend_port: int | None = None) -> None:
        self.context = context
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.connections: list[FrontConnection] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="tls-front", daemon=True)
        self._thread.start()

    def __enter__(self) -> TlsFront:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the thread, close every socket."""
        self._stop.set()
        self._thread.join(WAIT)
        for conn in self.connections:
            self._finish(conn)
        self._selector.close()
        self.listener.close()

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Wait until ``predicate()`` holds (checked under the front's lock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return
            time.sleep(0.02)
        raise AssertionError(f"the TLS front never saw {what} within {timeout} s")

    # --- the loop ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _mask in self._selector.select(0.05):
                with self._lock:
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.data[1] == "client":
                        self._client_ready(key.data[0])
                    else:
                        self._backend_ready(key.data[0])

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        conn = FrontConnection(client, self.context.wrap_bio(incoming, outgoing, server_side=True), incoming, outgoing)
        self.connections.append(conn)
        self._selector.register(client, selectors.EVENT_READ, (conn, "client"))

    def _client_ready(self, conn: FrontConnection) -> None:
        try:
            data = conn.client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.raw += data
        if data:
            conn.incoming.write(data)
        else:
            conn.incoming.write_eof()
        if not conn.handshake_done:
            try:
                conn.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush(conn)
                return
            except ssl.SSLError as exc:
                conn.handshake_error = str(exc)
                self._flush(conn)
                self._finish(conn)
                return
            conn.handshake_done = True
            if self.backend_port is None:
                conn.tls.write(GREETING)
            else:
                conn.backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=WAIT)
                conn.backend.setblocking(False)
                self._selector.register(conn.backend, selectors.EVENT_READ, (conn, "backend"))
        self._decrypt(conn)
        self._flush(conn)
        if conn.tls_closed and conn.backend is None:
            self._finish(conn)  # the line service said bye and close_notify: done
        elif not data and conn.backend is None:
            self._finish(conn)

    def _decrypt(self, conn: FrontConnection) -> None:
        while not conn.tls_closed:
            try:
                data = conn.tls.read(65536)
            except ssl.SSLWantReadError:
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            except ssl.SSLError:
                self._finish(conn)
                return
            if not data:
                conn.tls_closed = True
                if conn.backend is not None:
                    conn.backend.shutdown(socket.SHUT_WR)  # the end of the client's input
                else:
                    conn.tls.write(b"bye\n")
                    self._close_notify(conn)
                return
            conn.plain += data
            if conn.backend is not None:
                self._send(conn.backend, data)
            else:
                conn._lines += data
                while b"\n" in conn._lines:
                    line, _, rest = bytes(conn._lines).partition(b"\n")
                    conn._lines[:] = rest
                    conn.tls.write(b"echo: " + line + b"\n")

    def _backend_ready(self, conn: FrontConnection) -> None:
        assert conn.backend is not None
        try:
            data = conn.backend.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            conn.tls.write(data)
            self._flush(conn)
            return
        self._close_notify(conn)  # the server closed: so does the front
        self._flush(conn)
        self._finish(conn)

    def _close_notify(self, conn: FrontConnection) -> None:
        try:
            conn.tls.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: ours is written, the client's is not awaited

    def _flush(self, conn: FrontConnection) -> None:
        data = conn.outgoing.read()
        if data and not conn.finished:
            self._send(conn.client, data)

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        sock.setblocking(True)
        sock.settimeout(WAIT)
        try:
            sock.sendall(data)
        except OSError:
            pass
        finally:
            sock.setblocking(False)

    def _finish(self, conn: FrontConnection) -> None:
        if conn.finished:
            return
        conn.finished = True
        for sock in (conn.client, conn.backend):
            if sock is None:
                continue
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
