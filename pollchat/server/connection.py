"""One accepted TCP connection: its socket, buffers and lifecycle flags.

A connection object lives in its ``SelectorKey.data``; the loop never looks one up by
file descriptor. Its :attr:`Connection.id` comes from a process-wide counter and is
never reused, unlike descriptors, which the kernel hands out again as soon as they are
closed (see ``docs/architecture.md``).
"""

from __future__ import annotations

import itertools
import socket
from typing import TYPE_CHECKING

from pollchat.protocol.framing import LineFramer

if TYPE_CHECKING:
    from pollchat.core.ratelimit import TokenBucket
    from pollchat.protocol.session import Session
    from pollchat.server.timers import Timer

_ids = itertools.count(1)


class Connection:
    """Per-connection state. Slotted: thousands of idle connections stay small.

    Attributes:
        id: never-reused connection id, for logs and equality in tests.
        sock: the non-blocking socket.
        peer: ``"host:port"`` of the remote end.
        framer: turns received bytes into lines.
        session: the protocol state machine (set by the chat layer).
        json_mode: events are rendered as JSON Lines instead of text.
        outbuf: bytes queued and not yet accepted by the kernel.
        reading: the loop wants read events (False while input is paused).
        writing: write interest is registered (only while ``send()`` comes back short).
        registered: the socket is in the selector.
        closing: a close was requested; input is discarded, output is still flushed.
        peer_eof: the peer has shut down its sending side.
        closed: the socket is closed (set after the select batch that closed it).
        close_reason: why it is closing, for the log.
        linger: the timer that force-closes a closing connection.
        timer: before login, the login deadline; after, the idle monitor's next check.
        bucket: the line rate limit (``None``: no limit).
        dropped: lines dropped in a row for going over the rate limit.
    """

    __slots__ = (
        "id",
        "sock",
        "peer",
        "framer",
        "session",
        "json_mode",
        "outbuf",
        "reading",
        "writing",
        "registered",
        "closing",
        "peer_eof",
        "closed",
        "close_reason",
        "linger",
        "timer",
        "bucket",
        "dropped",
    )

    def __init__(self, sock: socket.socket, peer: str, max_line: int) -> None:
        self.id = next(_ids)
        self.sock = sock
        self.peer = peer
        self.framer = LineFramer(max_line)
        self.session: Session | None = None
        self.json_mode = False
        self.outbuf = bytearray()
        self.reading = True
        self.writing = False
        self.registered = False
        self.closing = False
        self.peer_eof = False
        self.closed = False
        self.close_reason = ""
        self.linger: Timer | None = None
        self.timer: Timer | None = None
        self.bucket: TokenBucket | None = None
        self.dropped = 0

    def __repr__(self) -> str:
        return f"<Connection #{self.id} {self.peer}{' closing' if self.closing else ''}>"
