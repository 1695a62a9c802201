"""The loop adapter: connection events from the event loop to the chat service.

This is the :class:`~pollchat.server.loop.Handler` the event loop calls. It owns no
chat logic: it runs received bytes through the connection's codec
(:mod:`pollchat.protocol.codec`), sends what the codec itself must send (a handshake
answer), greets the client once the codec is ready, and hands decoded lines, end of
input and closes to the :class:`~pollchat.server.service.ChatService`, for which each
:class:`~pollchat.server.connection.Connection` is a
:class:`~pollchat.server.peer.Peer`.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from pollchat.errors import ProtocolError
from pollchat.protocol.codec import JSON
from pollchat.protocol.framing import Item
from pollchat.protocol.labels import LABEL_PREFIX, split_label
from pollchat.protocol.web import WS_JSON
from pollchat.server.connection import Connection
from pollchat.server.flood import InputGuard
from pollchat.server.loop import EventLoop
from pollchat.server.service import ChatService

log = logging.getLogger(__name__)

_LABELLED_MODES = frozenset((JSON, WS_JSON))
"""Codec mode keys of JSON output: the modes whose input lines may carry a label."""


class LoopAdapter:
    """The event loop's handler, over one chat service: it adapts the loop's
    connection events to the service's calls.

    Args:
        loop: the event loop (its handler must be this object:
            :func:`pollchat.server.build.build_server_loop` makes it so).
        service: the chat service every connection's lines go to.
        on_shutdown: begins the graceful shutdown (SIGINT, SIGTERM).
        on_reload: reloads what can be reloaded live (SIGHUP: the TLS certificate).

    Attributes ``hub``, ``groups``, ``history`` and ``admin`` are the service's, for
    the operator console.
    """

    def __init__(
        self,
        loop: EventLoop,
        service: ChatService[Connection],
        *,
        on_shutdown: Callable[[], None] | None = None,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.service = service
        self.hub = service.hub
        self.groups = service.groups
        self.history = service.history
        self.admin = service.admin
        self.on_shutdown = on_shutdown
        self.on_reload = on_reload
        self.guard = InputGuard(  # every frame and line costs: no client can starve the loop
            loop,
            rate=service.config.input_budget,
            address_rate=service.config.address_input_budget,
            on_continue=lambda conn: self.on_data(conn, b""),
            on_eof=service.eof,
        )
        loop.before_flush.append(service.before_flush)  # acknowledged means stored: committed before the replies go out
        loop.after_flush.append(service.after_pass)

    # --- loop callbacks ---------------------------------------------------------------------

    def on_connect(self, conn: Connection) -> None:
        self.service.connected(conn)  # a TLS handshake counts in the login timeout
        if conn.codec.ready and not conn.handshaking:
            self.service.ready(conn)

    def on_secure(self, conn: Connection) -> None:
        if conn.codec.ready and not conn.closing:
            self.service.ready(conn)

    def on_data(self, conn: Connection, data: bytes) -> None:
        codec = conn.codec
        was_ready = codec.ready
        items = self.guard.receive(conn, data)  # the codec, within the input budgets
        reply = codec.data_to_send()  # a handshake answer, a pong
        if reply:
            self.loop.queue(conn, reply)
        if not was_ready and codec.ready:
            self.service.ready(conn)
        if items:
            if any(type(item) is str and item.startswith(LABEL_PREFIX) for item in items):
                # only a line codec labels lines; a typed-request codec (IRC) never gets here
                self._received_labelled(conn, [item for item in items if isinstance(item, (str, ProtocolError))])
            else:
                self.service.received(conn, items)
        if codec.peer_closed and not conn.closing:
            # As a TCP FIN: a pending login and the lines behind it finish first.
            self.service.eof(conn)
        elif codec.should_close and not conn.closing:
            self.loop.close(conn, "protocol exchange over")

    def _received_labelled(self, conn: Connection, items: list[Item]) -> None:
        """Lines of which some start with ``@label=``: in JSON mode (checked line by
        line: ``mode json`` may come in the same read) each labelled line is handled
        alone, with the loop's ``replying`` set so that what is sent to ``conn``
        meanwhile carries the label (:mod:`pollchat.protocol.labels`); other lines go
        in batches, as usual."""
        batch: list[Item] = []
        for item in items:
            if type(item) is str and item.startswith(LABEL_PREFIX) and batch:
                self.service.received(conn, batch)  # first, as it may switch the mode
                batch = []
            label, rest = split_label(item) if conn.codec.mode_key in _LABELLED_MODES else (None, item)
            if label is None:
                batch.append(rest)
                continue
            self.loop.replying = (conn, label)
            try:
                self.service.received(conn, [rest])
            finally:
                self.loop.replying = None
        if batch:
            self.service.received(conn, batch)

    def on_eof(self, conn: Connection) -> None:
        if not self.guard.defer_eof(conn):  # else after the lines still held
            self.service.eof(conn)

    def on_closing(self, conn: Connection) -> None:
        self.guard.forget(conn)
        self.service.disconnected(conn)

    def on_signal(self, signum: int) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM) and self.on_shutdown is not None:
            log.info("received %s", signal.Signals(signum).name)
            self.on_shutdown()
        elif signum == signal.SIGHUP and self.on_reload is not None:
            self.on_reload()

    def on_slow_consumer(self, conn: Connection) -> None:
        self.service.too_slow(conn)

    # --- for the server and the console -------------------------------------------------------

    def shut_down_all(self) -> None:
        """Tell every connection the server is stopping and close it after a flush."""
        self.service.shut_down(self.loop.connections)
