"""The line-mode front end: server events in, text lines out; typed lines in, sent out.

Two layers:

* Pure functions, no I/O: :func:`opening_lines` (what the client sends first) and
  :func:`render_incoming` (one line from the server to the lines shown to the user).
  The client asks for JSON mode, decodes each event with
  :func:`~pollchat.protocol.render.decode_json` and shows it with
  :func:`~pollchat.protocol.render.render_text`, so the screen looks exactly like the
  text protocol that ``nc`` users see; it never shows raw JSON.
* :func:`run`, one ``selectors`` loop over stdin and the socket (no threads, no asyncio)
  with the streams injected, so tests drive it with a ``socketpair`` and a pipe. The
  socket may be a :class:`~pollchat.client.tls.TlsStream` (``--tls``): the loop then
  also watches for writing while encrypted bytes wait, and reads without waiting while
  the stream holds decrypted bytes (:meth:`~pollchat.client.tls.TlsStream.pending`).

How a session ends (the value :func:`run` returns):

* the user ends the input (EOF: Ctrl+D, or the end of a pipe): the client sends what is
  left, half-closes the socket (``shutdown(SHUT_WR)``; over TLS, ``close_notify``),
  keeps showing what the server sends until the server closes, then returns 0;
* the user said ``/quit``: the server says goodbye and closes; nothing more is said,
  and :func:`run` returns 0;
* the server closes first: :data:`~pollchat.texts.CLIENT_SERVER_CLOSED` on stderr, 1;
* the connection fails (reset, broken pipe):
  :data:`~pollchat.texts.CLIENT_CONNECTION_LOST` on stderr, 1.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from pollchat import texts
from pollchat.client.requests import UNTRACKED_LABEL
from pollchat.client.textclean import sanitize
from pollchat.client.tls import TlsStream, ssl_reason
from pollchat.errors import ProtocolError
from pollchat.client.events import refusal_in_words
from pollchat.protocol.events import Error, ModeSwitched, Notice
from pollchat.protocol.framing import DEFAULT_MAX_LINE, LineFramer
from pollchat.protocol.labels import LABEL_PREFIX, labelled_line
from pollchat.protocol.render import decode_json, render_text
from pollchat.texts import NoticeCode

PROG = "pollchat-client"

RECV_SIZE = 64 * 1024
"""Bytes read from the socket or stdin per readiness event."""
INCOMING_MAX_LINE = 1024 * 1024
"""Longest server line accepted, bytes. A 4 KiB chat line can double in JSON (escaped
quotes and backslashes) and a welcome lists every user, so this is generous; it only
bounds memory against a misbehaving server."""
SEND_HIGH_WATER = 256 * 1024
"""Unsent bytes queued for the server past which stdin is not read (backpressure)."""


def opening_lines(user: str | None = None, password: str | None = None) -> list[str]:
    """The lines the client sends as soon as it is connected.

    Args:
        user: log in as this account (``--user``), or ``None`` to let the user type.
        password: the password for ``user``; required when ``user`` is given.

    Returns:
        ``["mode json"]``, followed by ``["login", "USER,PASSWORD"]`` when ``user`` is
        given. The result holds the password: never log or print it.

    Raises:
        ValueError: ``user`` is given without a password.
    """
    lines = ["mode json"]
    if user is not None:
        if password is None:
            raise ValueError("a user needs a password")
        lines += ["login", f"{user},{password}"]
    return lines


def render_incoming(line: str, name: str = "") -> list[str]:
    """The lines to show for one line received from the server.

    Args:
        line: one server line, without its terminator.
        name: the account the user last tried to log in as ("" if none): a login
            refused because it is online elsewhere is said in words with it
            (``alice is already logged in elsewhere``), from the error's code.

    Returns:
        For a JSON event, its text-mode wording (``render_text``), one item per line (a
        welcome is two); nothing for the ``mode`` confirmation. Any other line (the
        text-mode greeting sent before the switch, or a line that is not a known event)
        is returned as it is. Control characters are replaced
        (:func:`~pollchat.client.textclean.sanitize`).
        Never raises.
    """
    if line.startswith("{"):
        try:
            event, _ts = decode_json(line)
            if isinstance(event, ModeSwitched):
                return []
            if isinstance(event, Error) and name:
                return [sanitize(refusal_in_words(event.code, event.text, name))]
            shown = render_text(event).split("\n")
        # decode_json checks the shape, not every field's type: a misbehaving server's
        # {"users": [1, 2]} fails in render_text, and deep nesting in json.loads.
        except (ProtocolError, TypeError, ValueError, AttributeError, RecursionError):
            pass
        else:
            return [sanitize(part) for part in shown]
    return [sanitize(line)]


def is_goodbye(line: str) -> bool:
    """Whether ``line`` is the server's JSON ``goodbye`` notice, its answer to
    ``/quit`` (the server closes the connection right after it). Never raises."""
    if not line.startswith("{") or '"goodbye"' not in line:
        return False
    try:
        event, _ts = decode_json(line)
    except (ProtocolError, RecursionError):
        return False
    return isinstance(event, Notice) and event.code is NoticeCode.GOODBYE


def as_typed(line: str) -> str:
    """The line to send for a typed ``line``: the session is in JSON mode, where a line
    that begins with ``@label=`` carries a label (docs/protocol.md, "Labelled
    requests"), so such a line goes behind a label of its own and arrives as typed."""
    if line.startswith(LABEL_PREFIX):
        return labelled_line(UNTRACKED_LABEL, line)
    return line


def _encode_lines(lines: Iterable[str]) -> bytes:
    return b"".join(line.encode("utf-8") + b"\n" for line in lines)


def _reason(exc: OSError) -> str:
    return ssl_reason(exc)


def _wants_write(sock: socket.socket | TlsStream) -> bool:
    """Encrypted bytes wait for the socket (only a TLS stream has its own buffer)."""
    return isinstance(sock, TlsStream) and sock.wants_write


def _pending(sock: socket.socket | TlsStream) -> bool:
    """Decrypted bytes wait in the TLS stream: select() cannot see them."""
    return isinstance(sock, TlsStream) and sock.pending() > 0


class _Session:
    """The state of one :func:`run`: buffers, framers and how far each side has got."""

    def __init__(
        self,
        sock: socket.socket | TlsStream,
        stdin_fd: int,
        stdout: TextIO,
        stderr: TextIO,
        first_lines: Sequence[str],
    ) -> None:
        self.sock = sock
        self.stdin_fd = stdin_fd
        self.stdout = stdout
        self.stderr = stderr
        self.outbuf = bytearray(_encode_lines(first_lines))
        self.name = ""  # the account of the last login line sent (for a refusal's words)
        self._credentials_next = False  # the line after "login" / "register"
        for line in first_lines:
            self._note_login(line)
        self.incoming = LineFramer(INCOMING_MAX_LINE)
        self.typed = LineFramer(DEFAULT_MAX_LINE)
        self.stdin_eof = False  # the user ended the input
        self.goodbye = False  # the server answered /quit: its close is the expected end
        self.write_closed = False  # shutdown(SHUT_WR) done
        self.send_error: OSError | None = None  # the socket refused our bytes
        self.selector = selectors.DefaultSelector()
        self.sock_events = selectors.EVENT_READ
        self.stdin_registered = False
        self.stdin_pollable = True

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        sel = self.selector
        sel.register(self.sock, self.sock_events)
        try:
            sel.register(self.stdin_fd, selectors.EVENT_READ)
            self.stdin_registered = True
        except (OSError, ValueError):
            # epoll refuses regular files and /dev/null (EPERM): they never block, so the
            # loop reads them directly and only polls the socket meanwhile. (A closed
            # descriptor lands here too; reading it then fails, which ends the input.)
            self.stdin_pollable = False
        while True:
            self._send()
            want_stdin = self._want_stdin()
            self._update_interest(want_stdin)
            buffered = _pending(self.sock)
            timeout = 0 if buffered or (want_stdin and not self.stdin_pollable) else None
            ready = sel.select(timeout)
            stdin_ready = want_stdin and not self.stdin_pollable
            socket_ready = buffered
            for key, mask in ready:
                if key.fileobj is self.sock:
                    socket_ready = socket_ready or bool(mask & selectors.EVENT_READ)
                else:
                    stdin_ready = True
            if socket_ready:
                status = self._read_socket()
                if status is not None:
                    return status
            if stdin_ready and self._want_stdin():
                self._read_stdin()

    def close(self) -> None:
        self.selector.close()

    # --- socket ----------------------------------------------------------------------------------

    def _send(self) -> None:
        if (self.outbuf or _wants_write(self.sock)) and self.send_error is None:
            try:
                sent = self.sock.send(self.outbuf)  # over TLS, b"" flushes queued records
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                # The peer is gone. Stop sending, but keep reading: whatever it said
                # before is still shown, then the end is reported.
                self.send_error = exc
                self.outbuf.clear()
                return
            del self.outbuf[:sent]
        if self.stdin_eof and not self.outbuf and not self.write_closed and self.send_error is None:
            self.write_closed = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self.send_error = exc

    def _read_socket(self) -> int | None:
        """Read once; show complete lines. Returns the exit status when the session is over."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            self._flush_out()
            self._error(texts.CLIENT_CONNECTION_LOST.format(reason=_reason(exc)))
            return 1
        if not data:
            if self.incoming.pending:
                self._show(self.incoming.feed(b"\n"))
            self._flush_out()
            if self.send_error is not None:  # e.g. a reset seen first by send()
                self._error(texts.CLIENT_CONNECTION_LOST.format(reason=_reason(self.send_error)))
                return 1
            if self.stdin_eof or self.goodbye:
                return 0
            self._error(texts.CLIENT_SERVER_CLOSED)
            return 1
        self._show(self.incoming.feed(data))
        self._flush_out()
        return None

    def _show(self, items: list[str | ProtocolError]) -> None:
        for item in items:
            if isinstance(item, ProtocolError):
                self._error(texts.CLIENT_BAD_SERVER_LINE.format(reason=item))
                continue
            self.goodbye = self.goodbye or is_goodbye(item)
            for line in render_incoming(item, self.name):
                self.stdout.write(line + "\n")

    # --- stdin -----------------------------------------------------------------------------------

    def _want_stdin(self) -> bool:
        return not self.stdin_eof and self.send_error is None and len(self.outbuf) < SEND_HIGH_WATER

    def _read_stdin(self) -> None:
        try:
            data = os.read(self.stdin_fd, RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: the terminal went away; treat it as the end of input
            data = b""
        if data:
            items = self.typed.feed(data)
        else:
            self.stdin_eof = True
            # A last line without its newline is still sent.
            items = self.typed.feed(b"\n") if self.typed.pending else []
        for item in items:
            if isinstance(item, ProtocolError):
                self._error(texts.CLIENT_INPUT_DISCARDED.format(reason=item))
            else:
                self._note_login(item)
                self.outbuf += as_typed(item).encode("utf-8") + b"\n"

    # --- helpers ---------------------------------------------------------------------------------

    def _note_login(self, line: str) -> None:
        """Remember the name of the ``NAME,PASSWORD`` line after ``login`` or
        ``register`` (never the password)."""
        if self._credentials_next and "," in line:
            self.name = line.split(",", 1)[0].strip()
        self._credentials_next = line.strip().lower() in ("login", "register")

    def _update_interest(self, want_stdin: bool) -> None:
        events = selectors.EVENT_READ
        if (self.outbuf or _wants_write(self.sock)) and self.send_error is None:
            events |= selectors.EVENT_WRITE
        if events != self.sock_events:
            self.selector.modify(self.sock, events)
            self.sock_events = events
        if self.stdin_pollable and want_stdin != self.stdin_registered:
            if want_stdin:
                self.selector.register(self.stdin_fd, selectors.EVENT_READ)
            else:
                self.selector.unregister(self.stdin_fd)
            self.stdin_registered = want_stdin

    def _flush_out(self) -> None:
        self.stdout.flush()

    def _error(self, message: str) -> None:
        try:
            self.stderr.write(f"{PROG}: {message}\n")
            self.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


def run(
    sock: socket.socket | TlsStream,
    stdin_fd: int,
    stdout: TextIO,
    stderr: TextIO | None = None,
    first_lines: Sequence[str] = ("mode json",),
) -> int:
    """Chat over ``sock`` until the session ends; return the exit status.

    Sends ``first_lines`` (see :func:`opening_lines`), then every line read from
    ``stdin_fd``; shows every server line on ``stdout`` through :func:`render_incoming`,
    flushing after each batch; reports the end of the session on ``stderr``. The socket
    is made non-blocking and is left open (the caller closes it).

    Args:
        sock: a connected TCP socket, or a TLS stream whose handshake is done.
        stdin_fd: the descriptor typed lines come from (a terminal, pipe or file); it is
            only read when ready and its flags are not changed.
        stdout: where server lines are shown.
        stderr: where the end of the session and discarded lines are reported
            (default: ``sys.stderr``).
        first_lines: lines to send before any input.

    Returns:
        0 when the input ended and then the server closed, or the server closed after
        saying goodbye (``/quit``); 1 when the server closed first or the connection
        failed.

    Raises:
        BrokenPipeError: writing to ``stdout`` failed (the reader went away).
        KeyboardInterrupt: Ctrl+C; nothing needs undoing but closing the socket.
    """
    sock.setblocking(False)
    session = _Session(sock, stdin_fd, stdout, sys.stderr if stderr is None else stderr, first_lines)
    try:
        return session.run()
    finally:
        session.close()
