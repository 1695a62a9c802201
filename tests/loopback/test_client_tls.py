"""The client over TLS (issue 15): ``--tls``, ``--cafile``, line mode and the TUI's loop.

The servers are TLS fronts on 127.0.0.1 (tests/tls_helpers.py) with certificates made at
test time by trustme: a tiny line service, or a TLS terminator in front of a real
``python -m pollchat.server``, so that a TLS client and a plain client share one chat.
Each front records every raw byte a client sent, which lets the tests prove the rules
of pollchat.client.tls: the session starts only after a verified handshake (no
plaintext byte, ever, and nothing at all after a refused certificate), one line per
failure, and no automatic retry of a refused certificate in the TUI.

Every wait is bounded (an alarm around in-process runs, subprocess timeouts, deadlines).
"""

from __future__ import annotations

import io
import os
import selectors
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pollchat import texts
from pollchat.client import cli
from pollchat.client.app import App
from pollchat.client.plain import run
from pollchat.client.tls import (
    DEFAULT_TLS_PORT,
    TlsFailure,
    TlsStream,
    client_context,
    connect_tls,
    failure,
    ssl_reason,
)
from pollchat.client.tui import TerminalUI
from pollchat.client.ui import Key, Phase
from pollchat.config import DEFAULT_PORT
from tests import REPO_ROOT
from tests.harness import Harness
from tests.loopback.test_client import CLIENT, TIMEOUT, Peer, Server, alarm  # noqa: F401 (fixture)
from tests.tls_helpers import CA, GREETING, TlsFront, make_ca, self_signed, tls_records

PROG = "pollchat-client: "
UNKNOWN_CA = "TLS: certificate verify failed: unable to get local issuer certificate (use --cafile FILE to trust it)"


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return make_ca(tmp_path)


@pytest.fixture
def front(ca: CA) -> Iterator[TlsFront]:
    """The line service over TLS, with a certificate for 127.0.0.1 from ``ca``."""
    with TlsFront(ca.server_context("127.0.0.1", "localhost")) as tls_front:
        yield tls_front


def main(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """``pollchat-client ARGV`` in-process, ``stdin`` written into a pipe then closed."""
    r, w = os.pipe()

    def feed() -> None:
        try:
            os.write(w, stdin)  # blocks past the pipe's capacity until the client reads
        except OSError:
            pass
        finally:
            os.close(w)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out, err = io.StringIO(), io.StringIO()
    try:
        status = cli.main(list(argv), stdin_fd=r, stdout=out, stderr=err)
    finally:
        os.close(r)
        writer.join(TIMEOUT)
    return status, out.getvalue(), err.getvalue()


def assert_nothing_but_a_refused_handshake(tls_front: TlsFront) -> None:
    """The client opened one connection, sent only whole TLS records (never a plain
    byte), and the handshake failed: no session byte was ever written."""
    tls_front.wait_for(lambda: len(tls_front.connections) == 1 and tls_front.connections[0].finished, "the refusal")
    conn = tls_front.connections[0]
    assert not conn.handshake_done and conn.handshake_error
    assert tls_records(bytes(conn.raw))[0] == 22  # it starts with the ClientHello
    assert conn.plain == b""
    assert b"mode json" not in conn.raw


# --- settings --------------------------------------------------------------------------------


def test_the_context_verifies_the_certificate_and_the_name_with_tls_1_2_at_least() -> None:
    context = client_context()

    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION


@pytest.mark.parametrize(
    ("argv", "tls", "port"),
    [
        (["h"], False, DEFAULT_PORT),
        (["h", "--tls"], True, DEFAULT_TLS_PORT),
        (["h", "--cafile", "CA"], True, DEFAULT_TLS_PORT),  # --cafile implies --tls
        (["h", "--tls", "--port", "4000"], True, 4000),
        (["h", "--port", "3491"], False, 3491),  # a port alone never turns TLS on or off
    ],
)
def test_tls_flags_and_the_default_port(argv: list[str], tls: bool, port: int, ca: CA) -> None:
    args = cli.build_parser().parse_args([str(ca.cafile) if a == "CA" else a for a in argv])
    cli.resolve_tls(args)

    assert (args.tls, args.port, args.tls_context is not None) == (tls, port, tls)


def test_an_unusable_cafile_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")

    missing = tmp_path / "missing.pem"
    status, out, err = main("127.0.0.1", "--cafile", str(missing))
    assert (status, out) == (2, "")
    assert err == PROG + texts.CLIENT_TLS_BAD_CAFILE.format(path=missing, reason="No such file or directory") + "\n"

    status, _, err = main("127.0.0.1", "--cafile", str(empty))
    assert status == 2
    assert err.startswith(PROG + f"cannot use --cafile {empty}: ") and err.count("\n") == 1
    assert "_ssl.c" not in err  # OpenSSL's text, without the source location


def test_openssl_reasons_are_shortened() -> None:
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    assert ssl_reason(exc) == "wrong version number"
    assert ssl_reason(ConnectionResetError(104, "Connection reset by peer")) == "Connection reset by peer"


# --- line mode over TLS ----------------------------------------------------------------------


def test_line_mode_over_tls_half_closes_with_close_notify_and_shows_what_follows(
    front: TlsFront, ca: CA, alarm
) -> None:
    status, out, err = main("127.0.0.1", "--port", str(front.port), "--cafile", str(ca.cafile), stdin=b"one\ntwo\n")

    assert (status, err) == (0, "")
    # "bye" is sent by the front only after the client's close_notify: the end of the
    # input reached the server and the client still read what followed.
    assert out.splitlines() == ["hello over tls", "echo: mode json", "echo: one", "echo: two", "bye"]
    conn = front.connections[0]
    assert conn.plain == b"mode json\none\ntwo\n"
    assert set(tls_records(bytes(conn.raw))) <= {20, 21, 22, 23}
    assert b"one\n" not in conn.raw  # encrypted on the wire


def test_lines_that_come_with_the_end_of_the_handshake_are_shown_without_waiting(ca: CA, alarm) -> None:
    # TLS 1.2: the server's Finished and its greeting leave in one write, so the client's
    # last handshake read holds the greeting too. select() will not report it: the
    # loop must find it in the stream (TlsStream.pending) or it would wait forever.
    server_context = ca.server_context("127.0.0.1")
    server_context.maximum_version = ssl.TLSVersion.TLSv1_2
    with TlsFront(server_context) as tls_front:
        sock = socket.create_connection(("127.0.0.1", tls_front.port), timeout=TIMEOUT)
        stream = connect_tls(sock, client_context(str(ca.cafile)), "127.0.0.1", tls_front.port, TIMEOUT)
        assert stream.version() == "TLSv1.2"
        r, w = os.pipe()  # the input stays open: only buffered data can show the greeting
        out = io.StringIO()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(run(stream, r, out, io.StringIO(), ())))
        thread.start()
        try:
            deadline = time.monotonic() + 3.0  # well inside the alarm: a miss fails the assert
            while GREETING.decode() not in out.getvalue() and time.monotonic() < deadline:
                time.sleep(0.01)
            shown_before_input_ended = out.getvalue()
        finally:
            os.close(w)
            thread.join(TIMEOUT)
            os.close(r)
            stream.close()

    assert shown_before_input_ended == GREETING.decode()
    assert result == [0]
    assert out.getvalue().splitlines() == ["hello over tls", "bye"]


def test_a_large_input_crosses_many_records_and_a_full_socket(front: TlsFront, ca: CA, alarm) -> None:
    lines = [f"line {n:05} " + "x" * 90 for n in range(3000)]  # ~300 KB: past every buffer
    data = "".join(f"{line}\n" for line in lines).encode()
    status, out, err = main("127.0.0.1", "--port", str(front.port), "--cafile", str(ca.cafile), stdin=data)

    assert (status, err) == (0, "")
    assert out.splitlines() == ["hello over tls", "echo: mode json", *(f"echo: {line}" for line in lines), "bye"]


def test_a_tls_client_and_a_plain_client_in_one_chat(tmp_path: Path, ca: CA) -> None:
    server = Server(tmp_path)
    try:
        with TlsFront(ca.server_context("127.0.0.1"), backend_port=server.port) as tls_front:
            observer = Peer(server.port)  # plain TCP, like nc
            try:
                observer.send("login\nuser1,123\n")
                assert observer.lines(2) == ["Access Provided", "active users are: user1"]
                result = subprocess.run(
                    [*CLIENT, "127.0.0.1", "--port", str(tls_front.port), "--cafile", str(ca.cafile)],
                    cwd=REPO_ROOT, input=b"register\nalice,s3cret-pw\nhi over tls\n", capture_output=True, timeout=TIMEOUT,
                )
                assert result.returncode == 0, result.stderr
                assert result.stderr == b""
                assert result.stdout.decode().splitlines() == [
                    texts.GREETING, "Access Provided", "active users are: user1 alice"
                ]
                assert observer.lines(3) == [
                    "alice has entered the chat", "alice: hi over tls", "alice has left the chat"
                ]
            finally:
                observer.close()
            raw = bytes(tls_front.connections[0].raw)
            assert tls_front.connections[0].plain == b"mode json\nregister\nalice,s3cret-pw\nhi over tls\n"
            assert b"s3cret-pw" not in raw and b"mode json" not in raw
            tls_records(raw)
    finally:
        server.stop()


# --- against the real server's TLS listener (ServerConfig tls_cert/tls_key/tls_port) -----------


@pytest.fixture
def tls_harness(make_harness: Callable[..., Harness], ca: CA, tmp_path: Path) -> Harness:
    """The real server, in-process (tests/harness.py), with a TLS listener on a free port
    whose certificate for 127.0.0.1 comes from ``ca``."""
    cert, key = ca.server_files(tmp_path, "127.0.0.1", "localhost")
    return make_harness(tls_cert=cert, tls_key=key, tls_port=0)


def main_with(h: Harness, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """:func:`main` in a thread while this thread runs the harness's server."""
    result: list[tuple[int, str, str]] = []
    thread = threading.Thread(target=lambda: result.append(main(*argv, stdin=stdin)), daemon=True)
    thread.start()
    h.pump_until(lambda: not thread.is_alive(), "the client to finish", timeout=TIMEOUT)
    thread.join()
    return result[0]


def test_a_tls_line_client_and_a_plain_client_share_the_real_server(tls_harness: Harness, ca: CA) -> None:
    h = tls_harness
    address = h.server.tls_address
    assert address is not None
    user1 = h.login("user1", "123")  # plain TCP

    status, out, err = main_with(
        h, "127.0.0.1", "--port", str(address[1]), "--cafile", str(ca.cafile),
        stdin=b"register\nalice,pw\nhi from tls\n",
    )

    assert (status, err) == (0, "")  # the input ended (close_notify), then the server closed
    assert out.splitlines() == [texts.GREETING, "Access Provided", "active users are: user1 alice"]
    assert user1.lines(3) == ["alice has entered the chat", "alice: hi from tls", "alice has left the chat"]


def test_the_real_server_with_an_unknown_certificate_is_refused_in_one_line(tls_harness: Harness) -> None:
    h = tls_harness
    address = h.server.tls_address
    assert address is not None

    status, out, err = main_with(h, "127.0.0.1", "--port", str(address[1]), "--tls", stdin=b"login\nuser1,123\n")

    assert (status, out) == (1, "")
    assert err == PROG + UNKNOWN_CA + "\n"
    h.login("user1", "123")  # nobody logged in meanwhile: the name is free


def test_the_real_server_s_plain_port_is_not_spoken_to_in_clear(tls_harness: Harness, ca: CA) -> None:
    h = tls_harness
    status, out, err = main_with(h, "127.0.0.1", "--port", str(h.address[1]), "--cafile", str(ca.cafile))

    assert (status, out) == (1, "")
    assert err.endswith(texts.CLIENT_TLS_HINT_NOT_TLS + "\n") and err.count("\n") == 1


# --- refusals: one line, exit 1, nothing sent --------------------------------------------------


def test_a_certificate_from_an_unknown_ca_is_refused_in_one_line(front: TlsFront, alarm) -> None:
    status, out, err = main("127.0.0.1", "--port", str(front.port), "--tls", stdin=b"login\nuser1,123\n")

    assert (status, out) == (1, "")
    assert err == PROG + UNKNOWN_CA + "\n"
    assert_nothing_but_a_refused_handshake(front)


def test_a_self_signed_certificate_is_refused_until_cafile_trusts_it(tmp_path: Path, alarm) -> None:
    context, cert_file = self_signed(tmp_path)
    with TlsFront(context) as tls_front:
        status, out, err = main("127.0.0.1", "--port", str(tls_front.port), "--tls")
        assert (status, out) == (1, "")
        assert err == PROG + "TLS: certificate verify failed: self-signed certificate (use --cafile FILE to trust it)\n"
        assert_nothing_but_a_refused_handshake(tls_front)

        status, out, err = main("127.0.0.1", "--port", str(tls_front.port), "--cafile", str(cert_file), stdin=b"hi\n")
        assert (status, err) == (0, "")
        assert out.splitlines() == ["hello over tls", "echo: mode json", "echo: hi", "bye"]


def test_a_certificate_for_another_name_is_refused(ca: CA, alarm) -> None:
    with TlsFront(ca.server_context("chat.example.org")) as tls_front:
        status, out, err = main("127.0.0.1", "--port", str(tls_front.port), "--cafile", str(ca.cafile))

        assert (status, out) == (1, "")
        assert err == (PROG + "TLS: certificate verify failed: IP address mismatch, certificate is not valid for "
                       "'127.0.0.1' (connect with a name the certificate lists)\n")
        assert_nothing_but_a_refused_handshake(tls_front)


def test_cafile_trusts_only_its_own_certificates(tmp_path: Path, ca: CA, alarm) -> None:
    other = make_ca(tmp_path, "other.pem")
    with TlsFront(ca.server_context("127.0.0.1")) as tls_front:
        status, _, err = main("127.0.0.1", "--port", str(tls_front.port), "--cafile", str(other.cafile))

        assert status == 1
        assert "certificate verify failed: unable to get local issuer certificate" in err
        assert_nothing_but_a_refused_handshake(tls_front)


class Recorder:
    """A plain TCP server that greets like pollchat and records what the client sends
    (``greeting=None``: hangs up after the ClientHello)."""

    def __init__(self, greeting: bytes | None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, args=(greeting,), daemon=True)
        self.thread.start()

    def _serve(self, greeting: bytes | None) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            if greeting is None:
                # Hang up in the middle of the handshake: take the ClientHello (all of
                # it, or closing would send a reset instead of an end), answer nothing.
                self.received = conn.recv(65536)
                conn.settimeout(0.2)
                try:
                    while chunk := conn.recv(65536):
                        self.received += chunk
                except TimeoutError:
                    pass
                return
            conn.sendall(greeting)
            try:
                while chunk := conn.recv(65536):
                    self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self.thread.join(TIMEOUT)
        self.listener.close()


def test_a_plain_server_gets_no_fallback_only_a_client_hello(alarm) -> None:
    recorder = Recorder((texts.GREETING + "\n").encode())
    try:
        status, out, err = main("127.0.0.1", "--port", str(recorder.port), "--tls", stdin=b"login\nuser1,123\n")
    finally:
        recorder.close()

    assert (status, out) == (1, "")
    assert err.startswith(PROG + f"TLS: handshake with 127.0.0.1:{recorder.port} failed: ")
    assert err.endswith(texts.CLIENT_TLS_HINT_NOT_TLS + "\n") and err.count("\n") == 1
    assert tls_records(recorder.received)[0] == 22  # a ClientHello (and perhaps an alert): never a line
    assert b"login" not in recorder.received and b"mode json" not in recorder.received


def test_a_server_hanging_up_during_the_handshake_is_a_network_failure(alarm) -> None:
    recorder = Recorder(None)
    try:
        status, out, err = main("127.0.0.1", "--port", str(recorder.port), "--tls")
    finally:
        recorder.close()

    assert (status, out) == (1, "")
    assert err == PROG + texts.CLIENT_TLS_HANDSHAKE_FAILED.format(
        host="127.0.0.1", port=recorder.port, reason=texts.CLIENT_TLS_PEER_CLOSED, hint="") + "\n"


def test_only_network_failures_are_worth_retrying() -> None:
    assert isinstance(failure(TimeoutError(), "h", 1), TlsFailure)
    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_code, refused.verify_message = 18, "self-signed certificate"
    assert failure(refused, "h", 1).final
    assert failure(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1)"), "h", 1).final
    assert not failure(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "h", 1).final
    assert not failure(ConnectionResetError(104, "Connection reset by peer"), "h", 1).final
    assert not failure(TimeoutError(), "h", 1).final


# --- the TUI's loop: the handshake on its selectors loop, no retry after a refusal -------------


def tui(port: int, context: ssl.SSLContext, tmp_path: Path) -> tuple[TerminalUI, App]:
    """The TUI's loop without curses: an App that has submitted its login form."""
    app = App("127.0.0.1", port, None, "alice", tls=True)
    for ch in "pw-ツ":
        app.key(ch, time.time())
    app.key(Key.ENTER, time.time())
    return TerminalUI(app, tmp_path / "client.toml", {}, 0, context), app


def pump(ui: TerminalUI, until, what: str, seconds: float = TIMEOUT) -> None:
    """Run the socket half of TerminalUI._loop (connect, select, handshake, read)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = time.time()
        if ui.conn is None and ui.app.should_connect(now):
            ui._connect(now)
        ui._effects(now)
        if until():
            return
        for key, mask in ui.selector.select(0.02):
            if ui.conn is not None and key.fileobj is ui.conn.sock:
                ui._socket_ready(mask, time.time())
        if ui.conn is not None and ui.conn.pending():
            ui._read(time.time())
    raise AssertionError(f"the TUI loop never reached {what}")


def test_tui_does_the_handshake_on_its_loop_and_only_then_logs_in(front: TlsFront, ca: CA, tmp_path: Path) -> None:
    ui, app = tui(front.port, client_context(str(ca.cafile)), tmp_path)
    try:
        pump(ui, lambda: "echo: alice,pw-ツ" in str(app.chat.current.entries), "the echoed login")
        assert ui.conn is not None and ui.conn.encrypted
        assert front.connections[0].plain == "mode json\n@label=probe mode json\nlogin\nalice,pw-ツ\n".encode()
        assert "pw-ツ".encode() not in front.connections[0].raw
    finally:
        ui._drop_connection()
        ui.selector.close()


def test_tui_shows_a_refused_certificate_in_the_form_and_does_not_retry(front: TlsFront, tmp_path: Path) -> None:
    ui, app = tui(front.port, client_context(), tmp_path)  # the system's CAs: the test CA is unknown
    try:
        pump(ui, lambda: app.phase is Phase.LOGIN, "the login form")
        assert app.form.error == UNKNOWN_CA
        assert app.connect_at is None and app.credentials is None
        pump_for = time.monotonic() + 2.0  # longer than the first two backoff delays (<= 1 s, <= 2 s... drawn)
        while time.monotonic() < pump_for:
            assert not app.should_connect(time.time())
            time.sleep(0.05)
        assert len(front.connections) == 1
        assert_nothing_but_a_refused_handshake(front)
    finally:
        ui._drop_connection()
        ui.selector.close()


def test_tui_retries_a_handshake_cut_by_the_network(tmp_path: Path) -> None:
    recorder = Recorder(None)  # accepts, then hangs up during the handshake
    try:
        ui, app = tui(recorder.port, client_context(), tmp_path)
        try:
            pump(ui, lambda: app.connect_at is not None and not app.socket_open, "a scheduled retry")
            assert app.phase is Phase.CONNECTING
            assert app.last_error == texts.CLIENT_TLS_HANDSHAKE_FAILED.format(
                host="127.0.0.1", port=recorder.port, reason=texts.CLIENT_TLS_PEER_CLOSED, hint="")
        finally:
            ui._drop_connection()
            ui.selector.close()
    finally:
        recorder.close()


def test_stream_refuses_blocking_mode_and_reports_its_version(front: TlsFront, ca: CA) -> None:
    sock = socket.create_connection(("127.0.0.1", front.port), timeout=TIMEOUT)
    stream = connect_tls(sock, client_context(str(ca.cafile)), "127.0.0.1", front.port, TIMEOUT)
    try:
        assert stream.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(ValueError):
            stream.setblocking(True)
        with selectors.DefaultSelector() as sel:
            sel.register(stream.fileno(), selectors.EVENT_READ)
            data = b""
            deadline = time.monotonic() + TIMEOUT
            while GREETING not in data and time.monotonic() < deadline:
                sel.select(0.1)
                try:
                    data += stream.recv()
                except BlockingIOError:
                    pass
        assert data == GREETING
    finally:
        stream.close()
    assert isinstance(stream, TlsStream) and stream.closed


def test_help_shows_the_tls_flags_and_an_example() -> None:
    result = subprocess.run([*CLIENT, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)

    assert result.returncode == 0
    assert "--tls" in result.stdout and "--cafile FILE" in result.stdout
    assert "pollchat-client chat.example.org --tls" in result.stdout
    assert f"or {DEFAULT_TLS_PORT} with --tls" in result.stdout


def test_a_refused_certificate_on_a_reconnection_brings_the_form_back_and_stays_there() -> None:
    from tests.tui.tui_scenes import T0, logged_in, render_scene

    app = logged_in(T0, tls=True)
    app.connection_failed(texts.CLIENT_SERVER_CLOSED, T0)  # the server restarted...
    app.connecting()
    app.tls_failed(UNKNOWN_CA, T0 + 1)  # ...with a certificate nobody trusts

    assert app.phase is Phase.LOGIN and app.connect_at is None and app.credentials is None
    assert not app.should_connect(T0 + 3600)
    screen = render_scene(app, 80, 24, T0 + 1).text()
    assert "🔒 TLS" in screen and "certificate verify failed" in screen and "password: (not shown)" in screen
