"""Line framing: bytes, in whatever TCP chunks they arrive, to complete lines.

The seed-004 server treated each ``recv()`` as one message, so ``login\\nuser1,123\\n``
in one segment lost the credentials and a long line became two messages. Here framing
is independent of segmentation: feeding the same bytes in any chunking yields the same
items (a property test checks it).

Rules (see ``docs/protocol.md``):

* A line ends with ``\\n``; one ``\\r`` just before it is dropped, so LF and CRLF both work.
* A line longer than ``max_line`` bytes (terminator excluded) yields one
  ``ProtocolError(LINE_TOO_LONG)`` and is discarded up to its ``\\n``; the stream goes on.
* A line that is not valid UTF-8 yields ``ProtocolError(BAD_ENCODING)``; the stream goes on.

Memory is bounded: at most ``max_line + 1`` bytes of an unfinished line are held.
"""

from __future__ import annotations

from pollchat.config import DEFAULT_MAX_LINE
from pollchat.errors import ProtocolError
from pollchat.texts import ErrorCode

Item = str | ProtocolError
"""What the framer yields: a decoded line, or the error that replaced one."""


class LineFramer:
    """Turns a byte stream into lines.

    Args:
        max_line: the longest accepted line in bytes, terminator excluded.

    ``feed(data)`` returns a list of :data:`Item`: ``str`` lines (without terminator) and
    :class:`~pollchat.errors.ProtocolError` values for discarded lines. It never raises.
    """

    __slots__ = ("max_line", "_buf", "_discarding")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False  # inside an over-long line already reported

    def feed(self, data: bytes) -> list[Item]:
        """Consume ``data`` (any length, may be empty) and return the completed items."""
        items: list[Item] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl == -1:
                break
            if self._discarding:
                self._discarding = False
            else:
                self._buf += data[start:nl]
                items.append(self._finish_line())
            self._buf.clear()
            start = nl + 1
        if not self._discarding:
            self._buf += data[start:]
            # One byte of slack for a "\r" that may turn out to precede the "\n".
            if len(self._buf) > self.max_line + 1:
                self._buf.clear()
                self._discarding = True
                items.append(self._too_long())
        return items

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held in memory."""
        return len(self._buf)

    def _finish_line(self) -> Item:
        raw = self._buf
        if raw.endswith(b"\r"):
            del raw[-1]
        if len(raw) > self.max_line:
            return self._too_long()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return ProtocolError(ErrorCode.BAD_ENCODING)

    def _too_long(self) -> ProtocolError:
        return ProtocolError(ErrorCode.LINE_TOO_LONG, limit=self.max_line)
