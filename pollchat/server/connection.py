"""One accepted connection: its socket, codec, buffers and lifecycle flags.

A connection object lives in its ``SelectorKey.data``; the loop never looks one up by
file descriptor. Its :attr:`Connection.id` comes from a process-wide counter and is
never reused, unlike descriptors, which the kernel hands out again as soon as they are
closed (see ``docs/architecture.md``). It is also the chat service's
:class:`~pollchat.server.peer.Peer`: ``send`` and ``close`` go through its loop.

This module imports nothing of the loop's: what a connection needs of its loop is the
small :class:`Owner` protocol, so the loop, the broadcaster and the transports can all
import it without an import cycle.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pollchat.server.transport import PLAIN, Handshake, Transport

from pollchat.protocol.events import Labelled

if TYPE_CHECKING:
    from pollchat.core.ratelimit import TokenBucket
    from pollchat.protocol.codec import Codec
    from pollchat.protocol.events import ServerEvent
    from pollchat.protocol.session import Session
    from pollchat.server.timers import Timer

_ids = itertools.count(1)


class Owner(Protocol):
    """What a connection needs of the event loop that owns its socket
    (:class:`~pollchat.server.loop.EventLoop` is one)."""

    clock: Callable[[], float]
    """Wall-clock seconds: the timestamp of encoded events."""

    replying: tuple[Connection, str] | None
    """The connection whose labelled JSON-mode line is being answered, and its label
    (:mod:`pollchat.protocol.labels`), or ``None``."""

    gathering: int
    """How many connections gather every line sent to them (a :class:`Capture` with
    ``always``): the fan-out then sends them their copy through :meth:`Connection.send`."""

    def queue(self, conn: Connection, data: bytes) -> None: ...

    def switch_mode(self, conn: Connection, mode: str) -> None: ...

    def close(self, conn: Connection, reason: str, *, flush: bool = True) -> None: ...

    def pause_reading(self, conn: Connection) -> None: ...

    def resume_reading(self, conn: Connection) -> None: ...


class Capture:
    """What is sent to one connection while it is answered a labelled message (IRCv3
    labeled-response), gathered to be framed at the end (:meth:`Connection.end_capture`).

    A line is gathered while the loop's ``replying`` names this connection (its own
    answers, in the pass the message came or in the later pass an answer comes back
    from the worker pool or the database), or at any time when ``always`` is true
    (before connection registration nothing but the client's own answers can be sent
    to it, and a login's answer comes from deep in the service). Everything else (a
    line someone says meanwhile) is queued as usual.

    Attributes:
        label: the message's label.
        always: gather every line, not only those sent while ``replying`` is set.
        frame: turns the gathered bytes into the answer's bytes.
        data: the gathered bytes.
    """

    __slots__ = ("label", "always", "frame", "data")

    def __init__(self, label: str, frame: Callable[[bytes], bytes], *, always: bool = False) -> None:
        self.label = label
        self.always = always
        self.frame = frame
        self.data = bytearray()


class GroupShare(Protocol):
    """The part of a group's batch of one loop pass a connection is in: the members
    that share its mode key, and the group's bytes rendered for it
    (:class:`pollchat.server.broadcast.GroupAudience` is the one kind; declared here so
    that this module imports nothing of the broadcaster's)."""

    mode_key: str
    members: dict[Connection, None]
    pending: bytearray
    intact: bool
    """No member was taken out (its batch may take more lines)."""


class Connection:
    """Per-connection state. Slotted: thousands of idle connections stay small.

    Attributes:
        id: never-reused connection id, for logs and equality in tests.
        sock: the non-blocking socket.
        peer: ``"host:port"`` of the remote end (made when asked: logs only).
        address: the remote address without the port; interned, so thousands of
            connections from one address share one string.
        host: the unit of per-address limits: the remote IPv4 address, or the /64
            network of an IPv6 one (one subscriber's LAN gets a whole /64, RFC 6177);
            interned too.
        port: the remote port (``None`` for an address that has none).
        loop: the event loop that owns the socket.
        codec: bytes to lines and events to bytes for this front end
            (:class:`~pollchat.protocol.codec.Codec`).
        transport: how bytes cross the socket (plain TCP or TLS,
            :mod:`pollchat.server.transport`), shared with its listener's other
            connections.
        direct_writes: the transport's ``direct_writes``, copied here because the
            broadcast flush reads it once per member.
        handshaking: where the transport's handshake is
            (:class:`~pollchat.server.transport.Handshake`); false once chat bytes may
            cross.
        session: the protocol state machine (set by the chat service).
        outbuf: bytes queued and not yet accepted by the kernel.
        audience: the mode key (``codec.mode_key`` when it joined) of the broadcast
            audience it is in (``None``: not logged in); see
            :class:`~pollchat.server.broadcast.Broadcaster`.
        caught_up_to: how many bytes of its audience's broadcast bytes of this pass it
            already has in ``outbuf`` (or skipped: a sender's own line); the rest is
            owed to it.
        group_audience: the group batch (per group and mode key) it is in during this
            pass, if any (:meth:`~pollchat.server.broadcast.Broadcaster.to_group`).
        group_caught_up: how many bytes of ``group_audience``'s pending bytes it already
            has (or skipped).
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
        input_tat: the input budget's one number (:mod:`pollchat.core.budget`; 0.0:
            fresh), kept by :class:`pollchat.server.flood.InputGuard`.
        held: its output waits until a database write its request issued is
            committed (:class:`pollchat.server.barrier.CommitBarrier`): queued, not sent.
    """

    __slots__ = (
        "id",
        "sock",
        "address",
        "host",
        "port",
        "loop",
        "codec",
        "transport",
        "direct_writes",
        "handshaking",
        "session",
        "outbuf",
        "audience",
        "caught_up_to",
        "group_audience",
        "group_caught_up",
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
        "input_tat",
        "held",
        "capture",
    )

    def __init__(
        self, sock: socket.socket, address: object, loop: Owner, codec: Codec, transport: Transport = PLAIN
    ) -> None:
        self.id = next(_ids)
        self.sock = sock
        self.address, self.port = _split_address(address)
        self.host = sys.intern(limit_key(self.address))
        self.loop = loop
        self.codec = codec
        self.transport = transport
        self.direct_writes = transport.direct_writes
        self.handshaking: Handshake = transport.first_phase
        self.session: Session | None = None
        self.outbuf = bytearray()
        self.audience: str | None = None
        self.caught_up_to = 0
        self.group_audience: GroupShare | None = None
        self.group_caught_up = 0
        self.reading = True
        self.writing = False
        self.registered = False
        self.held = False  # output waits for a database commit (pollchat.server.barrier)
        self.closing = False
        self.peer_eof = False
        self.closed = False
        self.close_reason = ""
        self.linger: Timer | None = None
        self.timer: Timer | None = None
        self.bucket: TokenBucket | None = None
        self.dropped = 0
        self.input_tat = 0.0  # the input budget's state (pollchat.server.flood)
        self.capture: Capture | None = None  # a labelled message is being answered

    # --- the Peer protocol (pollchat.server.peer) --------------------------------------------

    def send(self, event: ServerEvent) -> None:
        """Queue ``event`` encoded by this connection's codec (with the label of the
        line being answered, if it had one: :mod:`pollchat.protocol.labels`)."""
        self.write(self.encode(event))

    def encode(self, event: ServerEvent) -> bytes:
        """``event`` as this connection's bytes, not queued (labelled as :meth:`send`)."""
        replying = self.loop.replying
        if replying is not None and replying[0] is self:
            event = Labelled(event, replying[1])
        return self.codec.encode(event, self.loop.clock())

    def write(self, data: bytes) -> None:
        """Queue ``data`` (see :meth:`EventLoop.queue`), or gather it into the answer
        being captured (:class:`Capture`)."""
        capture = self.capture
        if capture is not None and (capture.always or self.is_replying()):
            capture.data += data
            return
        self.loop.queue(self, data)

    def is_replying(self) -> bool:
        """The loop is handling a labelled message of this connection (its ``replying``)."""
        replying = self.loop.replying
        return replying is not None and replying[0] is self

    def begin_capture(self, capture: Capture) -> None:
        """Gather what is sent to this connection into ``capture`` (one runs at a time:
        a running one ends first)."""
        self.end_capture()
        self.capture = capture
        if capture.always:
            self.loop.gathering += 1

    def end_capture(self, *, send: bool = True) -> None:
        """Stop gathering and queue the framed answer (``send=False``: drop it; nothing
        if no capture runs)."""
        capture, self.capture = self.capture, None
        if capture is None:
            return
        if capture.always:
            self.loop.gathering -= 1
        if send:
            self.loop.queue(self, capture.frame(bytes(capture.data)))

    def switch_mode(self, mode: str) -> None:
        """Render later events in ``mode`` (``"text"`` or ``"json"``); through the loop,
        which moves a logged-in connection to that mode's broadcast audience."""
        self.loop.switch_mode(self, mode)

    def close(self, reason: str, *, flush: bool = True) -> None:
        """Begin closing (see :meth:`EventLoop.close`)."""
        self.loop.close(self, reason, flush=flush)

    def pause_reading(self) -> None:
        """Stop reading (backpressure) until :meth:`resume_reading`."""
        self.loop.pause_reading(self)

    def resume_reading(self) -> None:
        """Read again."""
        self.loop.resume_reading(self)

    @property
    def peer(self) -> str:
        """``"host:port"`` of the remote end; IPv6 hosts are bracketed (``[::1]:5000``)."""
        return _host_port(self.address, self.port)

    def __repr__(self) -> str:
        return f"<Connection #{self.id} {self.peer}{' closing' if self.closing else ''}>"


def show_address(address: object) -> str:
    """``"host:port"`` of a socket address as :attr:`Connection.peer` shows it (IPv6
    hosts bracketed), for the log of a socket that is not a connection yet."""
    return _host_port(*_split_address(address))


def _host_port(host: str, port: int | None) -> str:
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_address(address: object) -> tuple[str, int | None]:
    """``(host, port)`` of a socket address; a label and ``None`` for other addresses."""
    if isinstance(address, tuple) and len(address) >= 2:
        return sys.intern(str(address[0])), address[1]
    return str(address) or "local", None


def limit_key(host: str) -> str:
    """What per-address limits count by: an IPv4 address as it is; an IPv6 address by
    its /64 network, since one subscriber holds a whole /64 (RFC 6177) and could
    otherwise take a new address per connection; an IPv4-mapped IPv6 address
    (``::ffff:192.0.2.1``) as its IPv4 address."""
    if ":" not in host:
        return host
    try:
        ip = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.is_loopback:
        return str(ip)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))
