"""What the chat service needs of one client, whatever carries its bytes.

A :class:`Peer` is the chat service's view of a connection: who it is (``id``, address),
how to talk to it (``send``), how to end it (``close``), and a few slots the service
keeps its per-client state in. The loop's
:class:`~pollchat.server.connection.Connection` is one; a test double or a future
gateway can be another. The service never sees a socket, a selector or a codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pollchat.core.ratelimit import TokenBucket
    from pollchat.protocol.events import ServerEvent
    from pollchat.protocol.session import Session
    from pollchat.server.timers import Timer


class Peer(Protocol):
    """One client of the chat service.

    Identity (read-only for the service):
        id: never-reused connection id (logs, admin ``/who``).
        peer: ``"host:port"`` of the remote end, for logs.
        address: the remote address without the port (what address bans match).
        host: the unit of per-address limits (the address, or an IPv6 address's /64).
        closing: a close was requested; nothing more is sent.
        peer_eof: the peer has shut down its sending side.
        close_reason: why it is closing, for the log.

    State the service owns (the peer only stores it, so thousands of idle clients need
    no side tables):
        session: the login state machine.
        timer: before login, the login deadline; after, the idle monitor's next check.
        bucket: the line rate limit (``None``: no limit).
        dropped: lines dropped in a row for going over the rate limit.
    """

    session: Session | None
    timer: Timer | None
    bucket: TokenBucket | None
    dropped: int

    @property
    def id(self) -> int: ...

    @property
    def peer(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def closing(self) -> bool: ...

    @property
    def peer_eof(self) -> bool: ...

    @property
    def close_reason(self) -> str: ...

    def send(self, event: ServerEvent) -> None:
        """Queue ``event``, encoded for this peer (text, JSON, a WebSocket frame...)."""

    def encode(self, event: ServerEvent) -> bytes:
        """``event`` as this peer's bytes, without sending them (to size a reply)."""

    def write(self, data: bytes) -> None:
        """Queue bytes made by :meth:`encode`."""

    def switch_mode(self, mode: str) -> None:
        """Render later events in ``mode`` (``"text"`` or ``"json"``)."""

    def close(self, reason: str, *, flush: bool = True) -> None:
        """Begin closing: ``flush`` sends what is queued first. Idempotent."""

    def pause_reading(self) -> None:
        """Stop taking input (backpressure while a password check runs)."""

    def resume_reading(self) -> None:
        """Take input again."""
