"""The browser front end as a :class:`~pollchat.protocol.codec.Codec`: HTTP for the
page, then the chat protocol over a WebSocket.

A connection starts in the HTTP phase. ``GET /ws`` with a valid handshake
(:func:`~pollchat.protocol.websocket.handshake_response`) switches it to a WebSocket;
any other ``GET``/``HEAD`` is answered from the in-memory site
(:func:`~pollchat.protocol.http.serve_static`) and the connection is done: one request
per connection. Over the WebSocket, one text message is one line of the chat protocol,
and the endpoint speaks JSON from the start (``docs/websocket.md``).
"""

from __future__ import annotations

import functools
import enum
from collections.abc import Mapping

from pollchat.errors import HttpError, ProtocolError
from pollchat.protocol.codec import JSON, TEXT, encode_for_mode
from pollchat.protocol.events import Error, ServerEvent
from pollchat.protocol.framing import Item
from pollchat.protocol.http import Request, RequestReader, StaticFile, error_response, serve_static
from pollchat.protocol.websocket import OP_TEXT, CloseCode, ServerProtocol, encode_frame, handshake_response
from pollchat.texts import ErrorCode

WS_PATH = "/ws"
"""The path of the WebSocket endpoint (a query string is ignored)."""

WS_JSON = "ws-json"
"""Mode key of JSON events in WebSocket text frames (the starting mode)."""
WS_TEXT = "ws-text"
"""Mode key of text-mode lines in WebSocket text frames (after ``mode text``)."""
WS_SILENT = "ws-silent"
"""Mode key while no event can be sent: before the handshake, after a close frame. Its
rendering is ``b""`` (but for a refusal sent to one connection before its handshake,
an HTTP response), so a broadcast reaching such a connection (the shutdown
line goes to every connection) shares nothing with the open ones."""

HTTP_REFUSALS = {
    ErrorCode.TOO_MANY_CONNECTIONS: 503,
    ErrorCode.SERVER_BUSY: 503,
    ErrorCode.ADDRESS_BANNED: 403,
    ErrorCode.LOGIN_TIMEOUT: 408,
}
"""The HTTP status a refusal gets while a connection is still in its HTTP phase (a
browser shows an empty reply as a network error): over the per-address or server-wide
connection limit 503, a banned address 403, a request head cut by the login timeout
408, as nginx answers for ``limit_conn``, ``deny`` and ``client_header_timeout``."""

PLAIN_HTTP_ON_TLS = error_response(HttpError(400, "a plain HTTP request was sent to the HTTPS port: use https://"))
"""What a plain HTTP request to the web port gets when it speaks HTTPS (nginx answers
the same with 400), instead of the line port's netcat hint."""

LINE_TERMINATOR_SLACK = 2
"""Bytes a message may carry beyond ``max_line``: an optional ``\\r\\n`` or ``\\n``,
which is stripped (clients that send what they would type to ``nc``)."""


class Phase(enum.Enum):
    """Where a :class:`WebCodec` connection is."""

    HTTP = "http"
    """Reading the request head."""
    WEBSOCKET = "websocket"
    """The 101 was queued: frames in, frames out."""
    DONE = "done"
    """An HTTP response (a file, a 304, an error) was the whole exchange."""


@functools.lru_cache(maxsize=16)
def _normal_origins(origins: frozenset[str]) -> frozenset[str]:
    """``origins`` lower-case without a trailing ``/``; one set shared by every codec
    made with the same origins (a set of its own cost each connection 216 bytes)."""
    return frozenset(origin.lower().rstrip("/") for origin in origins)


@functools.lru_cache(maxsize=8)
def _normal_host_names(names: frozenset[str]) -> frozenset[str]:
    """``names`` lower-case without IPv6 brackets; shared like :func:`_normal_origins`."""
    return frozenset(name.lower().strip("[]") for name in names)


class WebCodec:
    """Browser chat over HTTP/1.1 and RFC 6455, per connection, sans-IO.

    Args:
        max_line: the longest chat line in bytes (``ServerConfig.max_line``). A message
            may be up to ``max_line + 2`` bytes, for a trailing ``\\r\\n``; a longer
            one fails the connection with close code 1009 before it is read.
        site: URL path to file, from :func:`~pollchat.protocol.http.build_site`.
        allowed_origins: origins besides the server's own that may open the
            WebSocket, e.g. ``frozenset({"https://chat.example.org"})`` (compared
            lower-case, a trailing ``/`` ignored; see
            :func:`~pollchat.protocol.websocket.origin_allowed`).
        host_names: the names (and addresses) a request's ``Host`` may carry, without
            a port, e.g. ``frozenset({"chat.lan", "192.168.1.10"})``; any other gets
            ``421 Misdirected Request``, so a hostile page reached through DNS
            rebinding (its own name pointing at this server) can neither load the page
            nor open the WebSocket. Empty: any ``Host`` (``--web-host-name``).

    Items out of :meth:`receive_data`: one ``str`` per text message, with one
    trailing ``\\n`` or ``\\r\\n`` removed; a message that still holds a ``\\n`` or
    ``\\r`` gives ``ProtocolError(MULTILINE_MESSAGE)`` instead of being split, and one
    over ``max_line`` bytes once stripped ``ProtocolError(LINE_TOO_LONG)``, as on TCP.
    WebSocket protocol errors are not items: they queue the close frame and set
    :attr:`should_close`. HTTP errors queue the error response and set it too.

    Memory: at most :data:`~pollchat.protocol.http.MAX_HEAD` bytes of a request head;
    then one frame header (14 bytes), one control payload (125 bytes) and at most
    ``max_line + 2`` bytes of the message being received.
    """

    plain_on_tls = PLAIN_HTTP_ON_TLS
    """The loop's answer to plain text on this front end's TLS port."""

    # One per connection, 10,000 idle ones in a server: slots, and nothing kept that
    # the phase no longer needs (the request reader goes with the head, the origins
    # set is shared between the codecs of one listener).
    __slots__ = (
        "max_line", "_site", "_allowed_origins", "_host_names", "_reader", "_websocket", "_output", "_mode", "phase", "mode_key",
    )

    def __init__(
        self,
        max_line: int,
        site: Mapping[str, StaticFile],
        allowed_origins: frozenset[str] = frozenset(),
        host_names: frozenset[str] = frozenset(),
    ) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.max_line = max_line
        self._site = site
        self._allowed_origins = _normal_origins(allowed_origins)
        self._host_names = _normal_host_names(host_names)
        self._reader: RequestReader | None = RequestReader()  # None once the head was read
        self._websocket: ServerProtocol | None = None
        self._output = b""  # HTTP bytes: the 101 or the whole response
        self._mode = JSON
        self.phase = Phase.HTTP
        self.mode_key = WS_SILENT
        """:data:`WS_JSON` (the start) or :data:`WS_TEXT`; :data:`WS_SILENT` before the
        handshake and once a close frame was sent. A plain attribute, kept current by
        :meth:`_update_mode_key` wherever the handshake, the mode or a close changes it,
        because the server reads it once per recipient of every broadcast (a property
        was about 7% of the server's CPU with half the clients on WebSockets)."""

    # --- state -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """The 101 was queued: the chat greeting may follow."""
        return self._websocket is not None

    @property
    def peer_closed(self) -> bool:
        """The browser sent a valid close frame (its close was echoed)."""
        return self._websocket is not None and self._websocket.peer_closed

    @property
    def should_close(self) -> bool:
        """Close once flushed: an HTTP exchange is over, the close handshake is done,
        or the connection failed on a protocol error."""
        if self.phase is Phase.DONE:
            return True
        return self._websocket is not None and self._websocket.should_close

    def _update_mode_key(self) -> None:
        if self._websocket is None or self._websocket.close_sent:
            self.mode_key = WS_SILENT
        else:
            self.mode_key = WS_JSON if self._mode == JSON else WS_TEXT

    @property
    def frames(self) -> int:
        """WebSocket frames received so far, of every kind (0 before the handshake):
        the server counts them toward the connection's input budget."""
        return self._websocket.frames if self._websocket is not None else 0

    @property
    def pending(self) -> int:
        """Bytes of unfinished input held: a partial head, frame or message."""
        if self._websocket is not None:
            return self._websocket.pending
        return self._reader.pending if self._reader is not None else 0

    # --- input -----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Item]:
        """Consume received bytes (any chunking); return completed lines and line
        errors. Never raises."""
        if self.phase is Phase.WEBSOCKET:
            assert self._websocket is not None
            lines = self._lines(self._websocket.receive_messages(data))
            self._update_mode_key()  # a close frame, or a failure's, may have been queued
            return lines
        if self.phase is Phase.DONE or self._reader is None:
            return []
        try:
            request = self._reader.feed(data)
        except HttpError as error:
            self._finish(error_response(error))
            return []
        if request is None:
            return []
        rest, self._reader = self._reader.rest, None
        head_only = request.method == "HEAD"
        try:
            if self._host_names and not host_listed(request, self._host_names):
                raise HttpError(421, "this server does not answer for that host name")
            if request.path == WS_PATH:
                self._output += handshake_response(request, self._allowed_origins)
                self._websocket = ServerProtocol(self.max_line + LINE_TERMINATOR_SLACK)
                self.phase = Phase.WEBSOCKET
                # Frames sent right behind the handshake, without waiting for the 101.
                lines = self._lines(self._websocket.receive_messages(rest))
                self._update_mode_key()
                return lines
            self._finish(serve_static(request, self._site))
        except HttpError as error:
            self._finish(error_response(error, request.host, head_only=head_only))
        return []

    def _finish(self, response: bytes) -> None:
        self._output += response
        self.phase = Phase.DONE

    def _lines(self, messages: list[str | bytes]) -> list[Item]:
        items: list[Item] = []
        for message in messages:
            assert isinstance(message, str)  # binary frames fail the connection (1003)
            line = message.removesuffix("\n")
            if len(line) < len(message):
                line = line.removesuffix("\r")
            if "\n" in line or "\r" in line:
                items.append(ProtocolError(ErrorCode.MULTILINE_MESSAGE))
            elif len(line) > self.max_line // 4 and len(line.encode("utf-8")) > self.max_line:
                items.append(ProtocolError(ErrorCode.LINE_TOO_LONG, limit=self.max_line))
            else:
                items.append(line)
        return items

    # --- output ----------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The HTTP response or 101, then pongs and close frames; clears them."""
        data, self._output = self._output, b""
        if self._websocket is not None:
            data += self._websocket.data_to_send()
        return data

    def encode(self, event: ServerEvent, ts: float) -> bytes:
        """``event`` as one unfragmented text frame holding
        :func:`~pollchat.protocol.codec.encode_for_mode`'s bytes without the final
        ``\\n`` (a multi-line text-mode event, such as ``/who``, stays one frame with
        ``\\n`` between its lines). ``b""`` when that is empty (a typing hint in text
        mode), before the handshake, and once a close frame was sent (RFC 6455
        section 5.5.1); but a refusal (:data:`HTTP_REFUSALS`) before the handshake is
        an HTTP response."""
        if self._websocket is None:
            return self._http_refusal(event, ts)
        if self._websocket.close_sent:
            return b""
        line = encode_for_mode(self._mode, event, ts)
        if not line:
            return b""
        # A view without the "\n": a welcome among 10,000 users is 100 KB, copied once
        # into its frame rather than twice (large short-lived copies fragment the heap).
        return encode_frame(OP_TEXT, memoryview(line)[:-1] if line.endswith(b"\n") else line)

    def _http_refusal(self, event: ServerEvent, ts: float) -> bytes:
        """A refusal of :data:`HTTP_REFUSALS` sent while the request head is still being
        read, as a whole HTTP response (its text as the body); the exchange is then
        over. ``b""`` for anything else (nothing can be said before the 101)."""
        if self.phase is not Phase.HTTP or not isinstance(event, Error) or event.code not in HTTP_REFUSALS:
            return b""
        self.phase = Phase.DONE
        text = encode_for_mode(TEXT, event, ts).decode("utf-8").rstrip("\n")
        return error_response(HttpError(HTTP_REFUSALS[event.code], text))

    def switch_mode(self, mode: str) -> None:
        """``"json"`` switches to JSON; anything else to text-mode lines (as
        :class:`~pollchat.protocol.codec.LineCodec` does)."""
        self._mode = JSON if mode == JSON else TEXT
        self._update_mode_key()

    def close_data(self, code: int = CloseCode.GOING_AWAY, reason: str = "server closing") -> bytes:
        """A close frame (by default 1001 "server closing"), after any bytes still
        queued (:meth:`data_to_send`), once: ``b""`` before the handshake or when a close was already sent. The
        browser's answering close sets :attr:`should_close`; the server need not wait
        for it."""
        if self._websocket is None or self._websocket.close_sent:
            return b""
        self._websocket.send_close(code, reason)
        self._update_mode_key()
        return self.data_to_send()


def host_listed(request: Request, names: frozenset[str]) -> bool:
    """Whether ``request``'s ``Host``, without its port and brackets and lower-cased,
    is one of ``names`` (given the same way). No ``Host`` (HTTP/1.0) is not listed."""
    host = request.host
    if host is None:
        return False
    if host.startswith("["):  # [IPv6]:port
        name = host[1:].partition("]")[0]
    else:
        name = host.rpartition(":")[0] if ":" in host else host
    return name.lower() in names
