"""The errors pollchat raises on purpose. Any other exception is a bug.

Imports nothing from pollchat but the text table.
"""

from __future__ import annotations

from pollchat.texts import ErrorCode


class PollchatError(Exception):
    """Base class of every error pollchat raises on purpose."""


class ConfigError(PollchatError):
    """A bad command-line value, accounts file or data directory.

    The command line prints it as one line on stderr and exits with status 2.
    """


class StoreError(PollchatError):
    """The database cannot be opened, is not a pollchat database (never overwritten), or
    failed a call: disk full or read-only, the file deleted while the server ran, the
    database server unreachable. A failed write changed nothing; callers treat it as not
    done (no acknowledgement). Every engine raises this, never its own error types."""


class StoreConflict(StoreError):
    """A write broke a uniqueness rule of the database: a name (of an account or a
    live group) that another row has, in any case. Nothing was changed."""


class ProtocolError(PollchatError):
    """The peer sent something the protocol does not allow.

    Attributes:
        code: the :class:`~pollchat.texts.ErrorCode` sent back to the peer.
        detail: format arguments for the code's text (e.g. ``{"limit": 4096}``).

    A ``ProtocolError`` never ends a connection by itself: the server answers with the
    error line and carries on, as the foundation issue asks.
    """

    def __init__(self, code: ErrorCode, **detail: object) -> None:
        self.code = code
        self.detail = detail
        super().__init__(code.value.format(**detail) if detail else code.value)

    def __eq__(self, other: object) -> bool:
        # Equality by value lets tests compare framer outputs across chunkings.
        if not isinstance(other, ProtocolError):
            return NotImplemented
        return (self.code, self.detail) == (other.code, other.detail)

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.detail.items()))))


class HttpError(PollchatError):
    """An HTTP request the web front end refuses (:mod:`pollchat.protocol.http`).

    Attributes:
        status: the response status code (400, 403, 404, 405, 426, 431, 505).
        headers: extra response header fields, e.g. ``(("Allow", "GET, HEAD"),)``.

    The codec answers it with that status and closes the connection: one request per
    connection, so there is nothing to carry on with.
    """

    def __init__(self, status: int, why: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.status = status
        self.headers = headers
        super().__init__(why)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HttpError):
            return NotImplemented
        return (self.status, str(self), self.headers) == (other.status, str(other), other.headers)

    def __hash__(self) -> int:
        return hash((self.status, str(self), self.headers))
