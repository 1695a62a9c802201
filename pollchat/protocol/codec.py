"""Per-connection codecs: the one seam between a transport's bytes and the chat's events.

Every front end (plain TCP and netcat, the bundled client's JSON mode, later a WebSocket
or an IRC gateway) is a codec, in the sans-IO style of h11's ``Connection`` and the
``websockets`` protocol objects: one object per connection, bytes in, items out, bytes
to send. A codec never touches a socket, a clock or a selector, so it is tested with
plain bytes (see ``docs/architecture.md``, "How to add a front end").

The contract, :class:`Codec`:

* :meth:`~Codec.receive_data` takes bytes as they arrived (any chunking) and returns
  the completed input :data:`~pollchat.protocol.framing.Item` values: chat-protocol
  lines (``str``) or a :class:`~pollchat.errors.ProtocolError` for a line that was
  discarded; or, for a front end with a protocol of its own (IRC), typed
  :mod:`~pollchat.protocol.requests` values. It never raises.
* :meth:`~Codec.data_to_send` returns (and forgets) bytes the codec itself must send,
  such as a handshake answer or a pong; empty for the line codec.
* :attr:`~Codec.ready` is ``True`` once a handshake (if any) is done; the server sends
  its greeting only then. :attr:`~Codec.peer_closed` is ``True`` once the peer ended
  the stream inside the protocol (a WebSocket close frame), like a TCP EOF.
* :meth:`~Codec.encode` turns one server event into the bytes for this connection
  (``b""``: this front end does not show that event), and :attr:`~Codec.mode_key`
  names the encoding in use: connections with equal keys get equal bytes for the same
  event and timestamp, so a broadcast is rendered once per distinct key (and the
  server batches a loop pass's broadcasts per key).
* :meth:`~Codec.switch_mode` applies the protocol's ``mode json`` / ``mode text``.
* :meth:`~Codec.close_data` gives the bytes that end the stream when the server
  closes (a WebSocket close frame); :attr:`~Codec.should_close` asks the server to
  close once the output is flushed (a plain HTTP response was the whole exchange).
"""

from __future__ import annotations

from typing import Protocol

from pollchat.protocol.events import Labelled, Receipt, Renamed, ServerEvent, Typing
from pollchat.protocol.framing import Item, LineFramer
from pollchat.protocol.render import encode_json, encode_text
from pollchat.protocol.requests import Request

Input = Item | Request
"""What a codec decodes: chat-protocol lines and line errors (:data:`Item`), or typed
requests (:data:`~pollchat.protocol.requests.Request`) from a front end that parses its
own protocol (IRC)."""


class Codec(Protocol):
    """What the server asks of a per-connection codec (see the module docstring)."""

    @property
    def ready(self) -> bool:
        """The handshake (if any) is done: the greeting may be sent."""

    @property
    def peer_closed(self) -> bool:
        """The peer ended the stream inside the protocol (treat as EOF)."""

    @property
    def mode_key(self) -> str:
        """The encoding in use; equal keys give equal bytes for one event. It changes
        only through :meth:`switch_mode` (or before the login): the server keeps its
        logged-in connections in one broadcast list per key."""

    def receive_data(self, data: bytes) -> list[Item] | list[Request]:
        """Consume received bytes; return completed lines and line errors, or typed
        requests. Never raises."""

    def data_to_send(self) -> bytes:
        """Bytes the codec needs sent (handshake, pong); ``b""`` if none. Clears them."""

    def encode(self, event: ServerEvent, ts: float) -> bytes:
        """``event`` as this connection's bytes (``ts``: wall-clock seconds, for JSON)."""

    def switch_mode(self, mode: str) -> None:
        """Render later events in ``mode`` (``"text"`` or ``"json"``)."""

    def close_data(self) -> bytes:
        """Bytes that end the stream politely when the server closes the connection
        (a WebSocket close frame); ``b""`` if none. Called once, after the last event."""

    @property
    def should_close(self) -> bool:
        """The codec is done with this connection (an HTTP response was the whole
        exchange, or a protocol violation): close it once its output is flushed."""


TEXT = "text"
"""Mode key of the seed-004 text lines (netcat, ``pollchat-client --plain``)."""
JSON = "json"
"""Mode key of JSON Lines (the bundled client's ``mode json``)."""


def encode_for_mode(mode: str, event: ServerEvent, ts: float) -> bytes:
    """``event`` in ``mode`` (:data:`TEXT` or :data:`JSON`), one line with its ``\\n``.

    A :class:`~pollchat.protocol.events.Typing` hint, a read
    :class:`~pollchat.protocol.events.Receipt` and a
    :class:`~pollchat.protocol.events.Renamed` missed while away (``history``) are for
    clients that keep state: in text mode they would only be noise on a netcat screen
    (and would change the seed-004 login flow), so they render to ``b""``. A
    :class:`~pollchat.protocol.events.Labelled` event shows its label in JSON only.
    """
    if mode == JSON:
        return encode_json(event, ts)
    if isinstance(event, Labelled):
        event = event.event  # a label is never shown in text mode
    if isinstance(event, (Typing, Receipt)) or (isinstance(event, Renamed) and event.history):
        return b""
    return encode_text(event)


class LineCodec(LineFramer):
    """The line protocol on a byte stream (TCP): LF/CRLF lines, text or JSON output.

    Args:
        max_line: the longest accepted input line in bytes, terminator excluded
            (``ServerConfig.max_line``).

    No handshake: :attr:`ready` is true from the start, so the greeting goes out at
    accept, as seed 004 did. It is its own :class:`~pollchat.protocol.framing.LineFramer`
    (one object per connection rather than two: 10,000 idle connections hold 10,000).
    """

    __slots__ = ("mode_key",)

    ready = True
    peer_closed = False
    should_close = False

    def __init__(self, max_line: int) -> None:
        super().__init__(max_line)
        self.mode_key = TEXT

    def receive_data(self, data: bytes) -> list[Item]:
        """Lines completed by ``data`` (see :class:`~pollchat.protocol.framing.LineFramer`)."""
        return self.feed(data)

    def data_to_send(self) -> bytes:
        """Always ``b""``: a line stream has nothing of its own to send."""
        return b""

    def encode(self, event: ServerEvent, ts: float) -> bytes:
        """``event`` as one line in the current mode (:func:`encode_for_mode`)."""
        return encode_for_mode(self.mode_key, event, ts)

    def switch_mode(self, mode: str) -> None:
        """``"json"`` switches to JSON Lines; anything else to text."""
        self.mode_key = JSON if mode == JSON else TEXT

    def close_data(self) -> bytes:
        """Always ``b""``: the line protocol ends with its last line and a FIN."""
        return b""

