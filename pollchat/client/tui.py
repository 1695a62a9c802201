"""The full-screen terminal UI: curses, one ``selectors`` loop, no threads.

The loop watches three things: the server socket (connecting, reading, writing), the
keyboard (stdin's descriptor; keys are read with ``get_wch`` so wide characters arrive
whole) and a wake-up socket that ``signal.set_wakeup_fd`` writes to when SIGWINCH (a
resize) arrives. Timers (typing, ``/who`` polls, the reconnection countdown) set the
``select()`` timeout through :meth:`~pollchat.client.app.App.next_deadline`.

With ``--tls`` the connection goes through the TLS handshake on the same loop
(:class:`Connection`: want-read and want-write become the events watched) before the App
hears that it is connected and sends its first line; a refused certificate goes to
:meth:`~pollchat.client.app.App.tls_failed` (no automatic retry), a handshake cut by the
network to the usual reconnection. Decrypted lines the stream already holds are read
without waiting for the socket (:meth:`Connection.pending`).

All decisions are made by the pure :class:`~pollchat.client.app.App`; the screen is the
pure :func:`~pollchat.client.screen.render`. This module only moves bytes and keys, and
paints segments with colours (when the terminal has them and ``NO_COLOR`` is unset) or
plain attributes (bold, reverse, dim) otherwise.

curses details (see docs/client.md): ``curses.wrapper`` restores the terminal even after
a crash; ``ESCDELAY`` is shortened so Esc quits at once; writing the bottom-right cell
raises ``curses.error``, which is ignored; after SIGWINCH the new size is read with
``os.get_terminal_size`` and given to ``curses.resizeterm``.
"""

from __future__ import annotations

import curses
import errno
import os
import selectors
import signal
import socket
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pollchat import texts
from pollchat.client.app import App
from pollchat.client.config import ClientConfig, save_config
from pollchat.client.links import hyperlink_overlay, links_wanted
from pollchat.client.paste import DISABLE as PASTE_OFF
from pollchat.client.paste import ENABLE as PASTE_ON
from pollchat.client.paste import Paste, PasteDecoder
from pollchat.client.plain import INCOMING_MAX_LINE, RECV_SIZE
from pollchat.client.screen import Screen, render
from pollchat.client.textwidth import text_width
from pollchat.client.tls import TlsFailure, TlsStream, ssl_reason
from pollchat.client.tls import failure as tls_failure
from pollchat.client.ui import Key
from pollchat.errors import ProtocolError
from pollchat.protocol.framing import LineFramer

EXIT_INTERRUPTED = 130
CONNECT_TIMEOUT = 10.0
"""Seconds a connection attempt may take before it counts as failed."""
MAX_WAIT = 30.0
"""Longest ``select()`` timeout, seconds (nothing relies on it; a safety net)."""
SEND_LIMIT = 1024 * 1024
"""Unsent bytes kept for the server; past it the connection is treated as lost."""
ESC_DELAY_MS = 25
"""Milliseconds curses waits after Esc for the rest of an escape sequence."""

_KEYS: dict[int, Key] = {
    curses.KEY_UP: Key.UP,
    curses.KEY_DOWN: Key.DOWN,
    curses.KEY_LEFT: Key.LEFT,
    curses.KEY_RIGHT: Key.RIGHT,
    curses.KEY_HOME: Key.HOME,
    curses.KEY_END: Key.END,
    curses.KEY_PPAGE: Key.PGUP,
    curses.KEY_NPAGE: Key.PGDN,
    curses.KEY_BACKSPACE: Key.BACKSPACE,
    curses.KEY_DC: Key.DELETE,
    curses.KEY_ENTER: Key.ENTER,
    curses.KEY_BTAB: Key.BTAB,
    curses.KEY_F1: Key.F1,
    curses.KEY_F2: Key.F2,
    curses.KEY_F3: Key.F3,
    curses.KEY_F4: Key.F4,
}
_CHARS: dict[str, Key] = {
    "\n": Key.ENTER,
    "\r": Key.ENTER,
    "\t": Key.TAB,
    "\x1b": Key.ESC,
    "\x7f": Key.BACKSPACE,
    "\x08": Key.BACKSPACE,
    "\x15": Key.KILL_LINE,  # Ctrl+U
    "\x01": Key.HOME,  # Ctrl+A
    "\x05": Key.END,  # Ctrl+E
}


def translate_key(raw: int | str) -> Key | str | None:
    """A ``get_wch`` result as what :meth:`App.key` takes: a :class:`Key`, one printable
    character, or ``None`` for keys the client does not use (and ``KEY_RESIZE``)."""
    if isinstance(raw, int):
        return _KEYS.get(raw)
    if raw in _CHARS:
        return _CHARS[raw]
    return raw if raw.isprintable() else None


class Styles:
    """Style names of :mod:`pollchat.client.screen` mapped to curses attributes."""

    def __init__(self, color: bool) -> None:
        A = curses
        self.attrs: dict[str, int] = {
            "normal": A.A_NORMAL, "bar": A.A_REVERSE, "notify": A.A_REVERSE | A.A_BOLD,
            "title": A.A_BOLD, "title_focus": A.A_BOLD | A.A_REVERSE, "border": A.A_NORMAL,
            "dim": A.A_DIM, "time": A.A_DIM, "own": A.A_BOLD, "name": A.A_BOLD,
            "mention": A.A_BOLD | A.A_UNDERLINE, "error": A.A_BOLD, "warn": A.A_BOLD | A.A_REVERSE,
            "typing": A.A_DIM, "selected": A.A_REVERSE, "unread": A.A_BOLD, "activity": A.A_BOLD,
            "input": A.A_NORMAL, "placeholder": A.A_DIM, "status_active": A.A_BOLD,
            "status_busy": A.A_BOLD, "status_away": A.A_NORMAL, "status_inactive": A.A_DIM,
            "status_offline": A.A_DIM, "link": A.A_UNDERLINE,
        }
        if color:
            self._colours()

    def _colours(self) -> None:
        try:
            curses.start_color()
            curses.use_default_colors()
            background = -1
        except curses.error:
            background = curses.COLOR_BLACK
        pairs = {
            "status_active": curses.COLOR_GREEN, "status_busy": curses.COLOR_RED,
            "status_away": curses.COLOR_YELLOW, "own": curses.COLOR_CYAN, "name": curses.COLOR_BLUE,
            "mention": curses.COLOR_MAGENTA, "error": curses.COLOR_RED, "unread": curses.COLOR_YELLOW,
            "activity": curses.COLOR_GREEN, "typing": curses.COLOR_CYAN, "title_focus": curses.COLOR_CYAN,
        }
        try:
            for number, (style, colour) in enumerate(pairs.items(), start=1):
                curses.init_pair(number, colour, background)
                self.attrs[style] = (self.attrs[style] & ~curses.A_DIM) | curses.color_pair(number)
            curses.init_pair(len(pairs) + 1, curses.COLOR_BLACK, curses.COLOR_YELLOW)
            self.attrs["notify"] = curses.color_pair(len(pairs) + 1) | curses.A_BOLD
        except curses.error:  # fewer colour pairs than needed: keep the attributes
            pass

    def __getitem__(self, style: str) -> int:
        return self.attrs.get(style, curses.A_NORMAL)


def paint(window: Any, screen: Screen, styles: Styles, links: Links | None = None) -> None:
    """Draw ``screen`` on the curses ``window`` (every segment at its own column, so a
    glyph the terminal measures differently cannot shift the rest of the row); with
    ``links``, web links then become OSC 8 hyperlinks (see :class:`Links`)."""
    window.erase()
    for y, row in enumerate(screen.rows):
        x = 0
        for segment in row:
            try:
                window.addstr(y, x, segment.text, styles[segment.style])
            except curses.error:
                pass  # the bottom-right cell, or a glyph past the edge
            x += text_width(segment.text)
    try:
        if screen.cursor is None:
            curses.curs_set(0)
        else:
            curses.curs_set(1)
            window.move(*screen.cursor)
    except curses.error:
        pass
    window.noutrefresh()
    curses.doupdate()
    if links is not None:
        links.write(screen, window.getyx())


class Links:
    """Writes the screen's web links as OSC 8 hyperlinks once curses has updated the
    terminal (curses prints an escape sequence given to ``addstr`` as visible text, so
    the links cannot go through it): the same text is written again at the same cells,
    inside the hyperlink sequences, and the cursor is put back where curses left it
    (:func:`~pollchat.client.links.hyperlink_overlay`).

    What was written last is not written again: curses rewrites a cell only when what
    it shows changes, and then the overlay changes too. After a full repaint
    (:meth:`forget`, on a resize) it is written again.
    """

    def __init__(self, fd: int, cup: bytes) -> None:
        self.fd, self.cup = fd, cup
        self.last = b""

    def forget(self) -> None:
        """curses repaints the whole screen next: write the links again after it."""
        self.last = b""

    @classmethod
    def for_terminal(cls, fd: int) -> Links | None:
        """``None`` when the terminal has no cursor-addressing capability."""
        try:
            cup = curses.tigetstr("cup")
        except curses.error:
            return None
        return cls(fd, cup) if cup else None

    def move(self, y: int, x: int) -> str:
        """The terminal's sequence that puts the cursor at row ``y``, column ``x``."""
        return curses.tparm(self.cup, y, x).decode("ascii", "replace")

    def write(self, screen: Screen, back: tuple[int, int]) -> None:
        """Write ``screen``'s linked segments as hyperlinks (nothing if it has none)."""
        data = hyperlink_overlay(screen.rows, self.move, text_width, back).encode("utf-8")
        if data == self.last:
            return
        self.last = data
        while data:
            try:
                data = data[os.write(self.fd, data) :]
            except InterruptedError:
                continue
            except OSError:  # the terminal is gone: the loop notices on its own
                return


class Connection:
    """One non-blocking connection to the server: addresses to try, the TLS handshake
    (with ``--tls``), line framing, a bounded output buffer.

    ``connecting`` stays true until the connection can carry lines: the TCP connection
    is up and, with TLS, the handshake is done. Nothing is sent before that, so a
    refused certificate never sees a byte of the session.
    """

    def __init__(self, host: str, port: int, now: float, tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.sock: socket.socket | None = None
        self.stream: TlsStream | None = None  # the TLS layer, once the TCP connection is up
        self.connecting = True
        self.deadline = now + CONNECT_TIMEOUT
        self.framer = LineFramer(INCOMING_MAX_LINE)
        self.outbuf = bytearray()
        self.addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)  # OSError: unknown host
        self.error = ""

    def start(self) -> bool:
        """Begin connecting to the next address; ``False`` when none is left."""
        while self.addresses:
            family, kind, proto, _, address = self.addresses.pop(0)
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                self.sock = sock
                return True
            self.error = os.strerror(code)
            sock.close()
        return False

    def finish_connect(self) -> bool:
        """After the socket became writable: whether the TCP connection is up. With TLS
        the handshake starts (call :meth:`handshake`); without, the connection is ready."""
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.error = os.strerror(code)
            return False
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls is None:
            self.connecting = False
        else:
            self.stream = TlsStream(self.sock, self.tls, self.host)
        return True

    def handshake(self) -> bool:
        """Advance the TLS handshake without blocking; ``True`` once it is done (the
        connection is then ready).

        Raises:
            TlsFailure: the handshake failed (``final`` when retrying cannot help).
        """
        assert self.stream is not None
        try:
            done = self.stream.handshake()
        except OSError as exc:  # ssl.SSLError included
            raise tls_failure(exc, self.host, self.port) from None
        if done:
            self.connecting = False
        return done

    @property
    def interest(self) -> int:
        """The selector events to watch the socket for now."""
        if self.connecting and self.stream is None:
            return selectors.EVENT_WRITE  # the TCP connection completes
        wants_write = bool(self.outbuf and not self.connecting) or (self.stream is not None and self.stream.wants_write)
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if wants_write else 0)

    def recv(self) -> bytes:
        """Read what the server sent (``b""``: it closed).

        Raises:
            BlockingIOError: nothing yet. OSError: the connection failed.
        """
        assert self.sock is not None
        return self.stream.recv(RECV_SIZE) if self.stream is not None else self.sock.recv(RECV_SIZE)

    def send_some(self) -> None:
        """Send what the socket takes now of :attr:`outbuf` (and queued TLS records).

        Raises:
            OSError: the connection failed.
        """
        assert self.sock is not None
        target = self.stream if self.stream is not None else self.sock
        if not self.outbuf and self.stream is None:
            return
        try:
            sent = target.send(self.outbuf)  # over TLS, b"" flushes queued records
        except (BlockingIOError, InterruptedError):
            return
        del self.outbuf[:sent]

    def pending(self) -> bool:
        """Decrypted bytes wait in the TLS stream (select() cannot see them)."""
        return self.stream is not None and not self.connecting and self.stream.pending() > 0

    @property
    def encrypted(self) -> bool:
        """The connection is up and runs over TLS."""
        return self.stream is not None and not self.connecting

    def close(self) -> None:
        """Close the connection (over TLS, saying ``close_notify`` first; idempotent)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
            self.sock = None
        elif self.sock is not None:
            self.sock.close()
            self.sock = None


class TuiUnavailable(Exception):
    """curses could not start on this terminal (e.g. an unknown ``TERM``); nothing was
    drawn, so the caller may fall back to line mode."""


class TerminalUI:
    """The loop: see the module doc. ``run`` is given to ``curses.wrapper``."""

    def __init__(
        self, app: App, config_path: Path, env: Mapping[str, str], stdin_fd: int, tls: ssl.SSLContext | None = None,
        links: str | None = None, stdout_fd: int = 1,
    ) -> None:
        self.app = app
        self.tls = tls  # every connection uses it when set: no fallback to plain TCP
        self.config_path = config_path
        self.env = env
        self.stdin_fd = stdin_fd
        self.selector = selectors.DefaultSelector()
        self.conn: Connection | None = None
        self.conn_events = 0
        self.window: Any = None
        self.styles: Styles | None = None
        self.idle_reads = 0
        self.links_mode = links or app.config.links  # --links, else the settings file
        self.links: Links | None = None
        self.stdout_fd = stdout_fd
        self.pastes = PasteDecoder()

    # --- the loop --------------------------------------------------------------------------------

    def run(self, window: Any) -> int:
        """Run until the user quits; returns the exit status."""
        self.window = window
        window.nodelay(True)
        window.keypad(True)
        self.styles = Styles(curses.has_colors() and not self.env.get("NO_COLOR"))
        if links_wanted(self.links_mode, self.env):
            self.links = Links.for_terminal(self.stdout_fd)
        self._write(PASTE_ON)  # pasted text then arrives between markers (pollchat.client.paste)
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        old_winch = signal.signal(signal.SIGWINCH, lambda *_: None)
        self.selector.register(self.stdin_fd, selectors.EVENT_READ, "keys")
        self.selector.register(wake_r, selectors.EVENT_READ, "wake")
        try:
            return self._loop(wake_r)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        finally:
            self._write(PASTE_OFF)
            signal.signal(signal.SIGWINCH, old_winch)
            signal.set_wakeup_fd(old_wakeup)
            self._drop_connection()
            self.selector.close()
            wake_r.close()
            wake_w.close()
            if self.app.logged_in_once:
                self._save_config()

    def _loop(self, wake_r: socket.socket) -> int:
        app = self.app
        while True:
            now = time.time()
            app.tick(now)
            if self.conn is None and app.should_connect(now):
                self._connect(now)
            if self.conn is not None and self.conn.connecting and now >= self.conn.deadline:
                self._timed_out(now)
            if self._effects(now):
                return 0
            self._draw(now)
            deadline = app.next_deadline(now)
            timeout = MAX_WAIT if deadline is None else min(MAX_WAIT, max(0.0, deadline - now))
            if self.conn is not None and self.conn.connecting:
                timeout = min(timeout, max(0.0, self.conn.deadline - now))
            if self.conn is not None and self.conn.pending():
                timeout = 0  # decrypted lines wait in the TLS stream: select() cannot see them
            for key, mask in self.selector.select(timeout):
                now = time.time()
                if key.data == "keys":
                    self._keys(now)
                elif key.data == "wake":
                    self._drain_wakeups(wake_r)
                    self._resize()
                elif self.conn is not None and key.fileobj is self.conn.sock:
                    self._socket_ready(mask, now)
            if self.conn is not None and self.conn.pending():
                self._read(time.time())

    def _effects(self, now: float) -> bool:
        """Carry out what the app asked for; whether to quit."""
        out = self.app.drain()
        if out.close:
            self._drop_connection()
        if out.lines and self.conn is not None and not self.conn.connecting:
            self.conn.outbuf += b"".join(line.encode("utf-8") + b"\n" for line in out.lines)
            self._flush(now)
        if out.bell:
            try:
                curses.beep()
            except curses.error:
                pass
        if out.save_config:
            self._save_config()
        return out.quit

    def _draw(self, now: float) -> None:
        height, width = self.window.getmaxyx()
        screen = render(self.app, width, height, now)
        if screen.jump_scroll is not None:  # a search result is on screen: stay there
            self.app.ui.scroll, self.app.ui.jump = screen.jump_scroll, 0
        self.app.ui.scroll = min(self.app.ui.scroll, screen.scroll_max)
        self.app.ui.scroll_max, self.app.ui.page = screen.scroll_max, max(1, screen.page)
        assert self.styles is not None
        paint(self.window, screen, self.styles, self.links)

    def _write(self, sequence: str) -> None:
        """Write a terminal mode sequence curses has no call for."""
        try:
            os.write(self.stdout_fd, sequence.encode("ascii"))
        except OSError:
            pass

    # --- keyboard and resizing ------------------------------------------------------------------

    def _keys(self, now: float) -> None:
        keys: list[int | str] = []
        while True:
            try:
                keys.append(self.window.get_wch())
            except curses.error:  # no more input for now
                break
        if not keys:
            self.idle_reads += 1
            if self.idle_reads > 100:  # readable but no key, again and again: the terminal is gone
                self.app.quit()
            return
        self.idle_reads = 0
        items = self.pastes.feed(keys)
        index = 0
        while index < len(items):
            raw = items[index]
            index += 1
            if isinstance(raw, Paste):
                self.app.paste(raw.text, now)
                continue
            if raw == curses.KEY_RESIZE:
                self._resize()
                continue
            if raw == "\x1b" and index < len(items) and isinstance(items[index], str):
                index += 1  # Alt+key arrives as Esc then the key: not a request to quit
                continue
            key = translate_key(raw)
            if key is not None:
                self.app.key(key, now)  # what it asks for is done at the top of the loop

    def _drain_wakeups(self, wake_r: socket.socket) -> None:
        try:
            while wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _resize(self) -> None:
        try:
            size = os.get_terminal_size(self.stdin_fd)
        except OSError:
            return
        try:
            if curses.is_term_resized(size.lines, size.columns):
                curses.resizeterm(size.lines, size.columns)
            curses.update_lines_cols()
        except curses.error:
            pass
        self.window.clear()  # repaint everything on the next draw
        if self.links is not None:
            self.links.forget()

    # --- the socket ------------------------------------------------------------------------------

    def _connect(self, now: float) -> None:
        app = self.app
        app.connecting()
        try:
            conn = Connection(app.host, app.port, now, self.tls)
        except OSError as exc:
            self._failed(texts.CLIENT_UNREACHABLE.format(host=app.host, port=app.port, reason=_reason(exc)), now)
            return
        if not conn.start():
            self._failed(texts.CLIENT_UNREACHABLE.format(host=app.host, port=app.port, reason=conn.error), now)
            return
        assert conn.sock is not None  # start() succeeded: the socket exists
        self.conn = conn
        self.conn_events = conn.interest
        self.selector.register(conn.sock, self.conn_events, "socket")

    def _socket_ready(self, mask: int, now: float) -> None:
        conn = self.conn
        assert conn is not None and conn.sock is not None
        if conn.connecting and conn.stream is not None:
            self._handshake(now)
            return
        if conn.connecting:
            if conn.finish_connect():
                if conn.connecting:  # TCP is up; now the TLS handshake, on this same loop
                    self._handshake(now)
                    return
                self._ready(now)
                return
            self.selector.unregister(conn.sock)
            conn.close()
            if conn.start():
                self.selector.register(conn.sock, selectors.EVENT_WRITE, "socket")
                self.conn_events = selectors.EVENT_WRITE
                return
            self.conn = None
            self.app.connection_failed(
                texts.CLIENT_UNREACHABLE.format(host=self.app.host, port=self.app.port, reason=conn.error), now
            )
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(now)
        if mask & selectors.EVENT_READ and self.conn is conn:
            self._read(now)

    def _handshake(self, now: float) -> None:
        """One step of the non-blocking TLS handshake (want-read/want-write become the
        events watched); on success the connection is ready."""
        conn = self.conn
        assert conn is not None
        try:
            done = conn.handshake()
        except TlsFailure as exc:
            self._drop_connection()
            if exc.final:  # a refused certificate, or not a TLS server: no automatic retry
                self.app.tls_failed(str(exc), now)
            else:
                self.app.connection_failed(str(exc), now)
            return
        if done:
            self._ready(now)
        else:
            self._set_interest(conn.interest)

    def _ready(self, now: float) -> None:
        """The connection can carry lines: the app sends its first ones (JSON mode and
        the credentials: only now, after TLS verified the server)."""
        self._set_interest(selectors.EVENT_READ)
        self.app.connected(now)
        self._effects(now)
        if self.conn is not None and self.conn.pending():  # lines that came with the handshake's end
            self._read(now)

    def _timed_out(self, now: float) -> None:
        app, conn = self.app, self.conn
        assert conn is not None
        if conn.stream is not None:  # TCP is up, the handshake is not done
            self._failed(str(tls_failure(TimeoutError(), app.host, app.port)), now)
        else:
            self._failed(texts.CLIENT_UNREACHABLE.format(host=app.host, port=app.port, reason="timed out"), now)

    def _read(self, now: float) -> None:
        conn = self.conn
        assert conn is not None and conn.sock is not None
        try:
            data = conn.recv()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._failed(texts.CLIENT_CONNECTION_LOST.format(reason=_reason(exc)), now)
            return
        items = conn.framer.feed(data if data else b"\n") if data or conn.framer.pending else []
        for item in items:
            if isinstance(item, ProtocolError):
                continue
            self.app.server_line(item, now)
            if not self.app.socket_open:  # the app gave it up (e.g. back to the login form)
                return
        if not data:
            self._failed(texts.CLIENT_SERVER_CLOSED, now)

    def _flush(self, now: float) -> None:
        conn = self.conn
        if conn is None or conn.sock is None or conn.connecting:
            return
        try:
            conn.send_some()
        except OSError as exc:
            self._failed(texts.CLIENT_CONNECTION_LOST.format(reason=_reason(exc)), now)
            return
        if len(conn.outbuf) > SEND_LIMIT:
            self._failed(texts.CLIENT_CONNECTION_LOST.format(reason="the server is not reading"), now)
            return
        self._set_interest(conn.interest)

    def _set_interest(self, events: int) -> None:
        conn = self.conn
        if conn is not None and conn.sock is not None and events != self.conn_events:
            self.selector.modify(conn.sock, events, "socket")
            self.conn_events = events

    def _failed(self, reason: str, now: float) -> None:
        self._drop_connection()
        self.app.connection_failed(reason, now)

    def _drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if conn.sock is not None:
            try:
                self.selector.unregister(conn.sock)  # unregister before close
            except (KeyError, ValueError):
                pass
            conn.close()

    def _save_config(self) -> None:
        try:
            save_config(self.config_path, self.app.config)
        except OSError as exc:
            self.app.set_status(texts.CLIENT_TUI_SETTINGS_NOT_SAVED.format(reason=_reason(exc)), time.time())


def _reason(exc: OSError) -> str:
    return ssl_reason(exc)


def run_tui(
    host: str,
    port: int,
    user: str | None,
    config: ClientConfig,
    config_path: Path,
    env: Mapping[str, str],
    stdin_fd: int = 0,
    tls: ssl.SSLContext | None = None,
    links: str | None = None,
) -> int:
    """Run the full-screen client until the user quits; returns the exit status (0, or
    130 after Ctrl+C). The caller has checked that stdin and stdout are a terminal and
    that the locale is UTF-8 (:func:`locale_is_utf8`). With ``tls`` (``--tls``) every
    connection is TLS with those settings, and the screen says so (``🔒 TLS``).
    ``links`` (``--links``: auto, on, off) overrides the settings file's ``links``.

    Raises:
        TuiUnavailable: curses cannot drive this terminal (nothing was drawn).
    """
    os.environ.setdefault("ESCDELAY", str(ESC_DELAY_MS))
    app = App(host, port, config, user, tls=tls is not None)
    ui = TerminalUI(app, config_path, env, stdin_fd, tls, links)
    try:
        return curses.wrapper(ui.run)
    except curses.error as exc:
        if ui.window is None:  # initscr itself failed
            raise TuiUnavailable(str(exc) or "curses error") from None
        raise


def locale_is_utf8() -> bool:
    """Set the locale from the environment (curses needs it for non-ASCII) and tell
    whether its encoding is UTF-8."""
    import locale

    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        return False
    return locale.getencoding().lower().replace("-", "") == "utf8"
