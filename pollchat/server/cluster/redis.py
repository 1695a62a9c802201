"""A Redis connection driven by the event loop: no thread, no blocking call.

:class:`RedisLink` owns one non-blocking TCP socket to Redis, registered in the
:class:`~pollchat.server.loop.EventLoop`'s selector (``watch`` / ``want_write`` /
``unwatch``). Commands are written with ``hiredis.pack_command`` and replies parsed
by the sans-IO ``hiredis.Reader`` (bytes fed in, whole replies taken out, whatever
the chunking); each reply goes to the callback of the command it answers, in order
(Redis answers a connection's commands in the order they were sent: a FIFO of
callbacks is enough). A lost connection fails every waiting callback with
:class:`LinkDown` and is opened again after a back-off (0.1 s doubling to 2 s, with
jitter), so an engine restart is a state the caller hears about (``on_up`` /
``on_down``), never an exception in the loop.
"""

from __future__ import annotations

import collections
import errno
import logging
import random
import socket
from collections.abc import Callable
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import hiredis

from pollchat.errors import ConfigError
from pollchat.server.timers import Timer, Timers

log = logging.getLogger(__name__)

Reply = Any
"""A parsed reply: ``bytes``, ``int``, ``None``, a list of replies, or
``hiredis.ReplyError`` (an error reply: a value, not raised), or :class:`LinkDown`."""

Callback = Callable[[Reply], None]

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 2.0
READ_SIZE = 256 * 1024


class LinkDown:
    """The reply given to every command still waiting when the connection is lost
    (or sent while it is down): the command may or may not have run."""

    def __repr__(self) -> str:
        return "LinkDown"


LINK_DOWN = LinkDown()


def is_error(reply: Reply) -> bool:
    """True for an error reply or :data:`LINK_DOWN`."""
    return isinstance(reply, (hiredis.ReplyError, LinkDown))


class LoopPort(Protocol):
    """What a link needs of the event loop (:class:`~pollchat.server.loop.EventLoop`)."""

    timers: Timers

    def watch(self, fileobj: object, on_readable: Callable[[], None], on_writable: Callable[[], None] | None = None) -> None: ...

    def want_write(self, fileobj: object, on: bool) -> None: ...

    def unwatch(self, fileobj: object) -> None: ...


def parse_redis_url(url: str) -> tuple[str, int, int]:
    """``redis://HOST[:PORT][/DB]`` as ``(host, port, db)`` (port 6379, db 0 by default).

    Raises:
        ConfigError: not a ``redis://`` URL, a bad port or database number, or a
            password in it (an engine password is not supported yet)."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ConfigError(f"--cluster takes a redis://HOST:PORT/DB URL, not {url!r}")
    if parts.password is not None or parts.username:
        raise ConfigError("--cluster: a Redis password in the URL is not supported (bind Redis to a private address)")
    try:
        port = parts.port or 6379
        db_text = parts.path.strip("/") or "0"
        db = int(db_text)
    except ValueError:
        raise ConfigError(f"--cluster {url!r}: bad port or database number") from None
    if db < 0:
        raise ConfigError(f"--cluster {url!r}: bad database number")
    return parts.hostname, port, db


class RedisLink:
    """One connection to Redis, opened at :meth:`start` and kept open.

    Args:
        loop: the event loop (its selector and timers).
        host, port, db: where Redis is, and the database number (``SELECT``).
        name: this link's name in logs and in ``CLIENT LIST`` (``CLIENT SETNAME``).
        on_up: called once the connection is ready (after ``SELECT``), each time.
        on_down: called when an open connection is lost, after the waiting callbacks
            got :data:`LINK_DOWN`.
        rng: the back-off's jitter.
    """

    def __init__(
        self,
        loop: LoopPort,
        host: str,
        port: int,
        db: int,
        name: str,
        *,
        on_up: Callable[[], None] = lambda: None,
        on_down: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self.loop = loop
        self.address = (host, port)
        self.db = db
        self.name = name
        self.on_up = on_up
        self.on_down = on_down
        self.rng = rng or random.Random()
        self.up = False
        """Connected and ready for commands."""
        self._sock: socket.socket | None = None
        self._connecting = False
        self._reader = hiredis.Reader()
        self._out = bytearray()
        self._waiting: collections.deque[Callback | None] = collections.deque()
        self._backoff = BACKOFF_FIRST
        self._retry: Timer | None = None
        self._stopped = False
        self._failures = 0

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the connection (non-blocking); failures retry with back-off."""
        self._stopped = False
        self._open()

    def stop(self) -> None:
        """Close the connection for good; waiting callbacks get :data:`LINK_DOWN`."""
        self._stopped = True
        if self._retry is not None:
            self._retry.cancel()
        self._drop(notify=False)

    def kill(self) -> None:
        """Drop the connection now as if it were lost (and reconnect after the back-off)."""
        self._lost("closed by this node")

    def _open(self) -> None:
        self._retry = None
        if self._stopped:
            return
        sock = socket.socket(socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            self._failed(f"connect: {errno.errorcode.get(code, code)}")
            return
        self._sock = sock
        self._connecting = True
        self._reader = hiredis.Reader()
        self.loop.watch(sock, self._on_readable, self._on_writable)
        self.loop.want_write(sock, True)

    def _connected(self) -> None:
        self._connecting = False
        # These go first, ahead of anything the caller sends from on_up.
        self._out += _pack(("CLIENT", "SETNAME", self.name))
        self._waiting.append(None)
        if self.db:
            self._out += _pack(("SELECT", self.db))
            self._waiting.append(None)
        self.up = True
        if self._failures:
            log.info("cluster engine %s:%d: connected again (%s)", *self.address, self.name)
        self._failures = 0
        self._backoff = BACKOFF_FIRST
        self.on_up()
        self._flush()

    def _failed(self, why: str) -> None:
        self._failures += 1
        if self._failures == 1:  # one line per outage, not one per retry
            log.warning("cluster engine %s:%d unreachable (%s): retrying", *self.address, why)
        delay = self._backoff * (0.5 + self.rng.random())
        self._backoff = min(BACKOFF_MAX, self._backoff * 2)
        if not self._stopped:
            self._retry = self.loop.timers.call_later(delay, self._open)

    def _drop(self, *, notify: bool) -> None:
        sock, self._sock = self._sock, None
        was_up, self.up = self.up, False
        self._connecting = False
        if sock is not None:
            self.loop.unwatch(sock)
            sock.close()
        self._out.clear()
        waiting, self._waiting = self._waiting, collections.deque()
        for callback in waiting:
            if callback is not None:
                callback(LINK_DOWN)
        if notify and was_up:
            self.on_down()

    def _lost(self, why: str) -> None:
        if self._sock is None:
            return
        if self.up:
            log.warning("cluster engine %s:%d: connection lost (%s)", *self.address, why)
        self._drop(notify=True)
        self._failed(why)

    # --- commands -----------------------------------------------------------------------------

    def command(self, *args: object, callback: Callback | None = None) -> bool:
        """Send one command; ``callback`` gets its reply (or :data:`LINK_DOWN`).

        Returns:
            False if the link is down: nothing was sent, and ``callback`` was already
            called with :data:`LINK_DOWN`."""
        if not self.up:
            if callback is not None:
                callback(LINK_DOWN)
            return False
        self._out += _pack(args)
        self._waiting.append(callback)
        self._flush()
        return True

    @property
    def waiting(self) -> int:
        """Commands sent whose reply has not come yet."""
        return len(self._waiting)

    def _flush(self) -> None:
        sock = self._sock
        if sock is None or self._connecting or not self._out:
            return
        try:
            sent = sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lost(f"send: {exc.strerror or exc}")
            return
        del self._out[:sent]
        self.loop.want_write(sock, bool(self._out))

    def _on_writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._connecting:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._drop(notify=False)
                self._failed(f"connect: {errno.errorcode.get(code, code)}")
                return
            self._connected()
            if self._sock is sock and not self._out:
                self.loop.want_write(sock, False)
            return
        self._flush()

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None or self._connecting:
            return
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(f"recv: {exc.strerror or exc}")
            return
        if not data:
            self._lost("closed by the engine")
            return
        self._reader.feed(data)
        while self._sock is sock:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self._lost(f"protocol error: {exc}")
                return
            if reply is False:
                break
            if not self._waiting:
                self._lost("a reply nobody asked for")
                return
            callback = self._waiting.popleft()
            if callback is not None:
                callback(reply)
            elif isinstance(reply, hiredis.ReplyError):
                log.error("cluster engine %s:%d: %s", *self.address, reply)


def _pack(args: tuple[object, ...]) -> bytes:
    """One command in RESP (``hiredis.pack_command``: strings, bytes, ints, floats; its
    type stubs describe a one-item tuple, hence the cast)."""
    return hiredis.pack_command(cast(Any, args))
