"""The client's requests waiting for an answer, matched by label (pure).

The TUI sends requests of its own (``/who`` every 30 s, ``/whois`` for last-seen times,
``/groups`` at login, ``/history``, the ``/whois`` that checks a name before a chat is
opened) besides the ones the user types. Their answers must be told apart: an
automatic request's answer updates the screen quietly, a typed one's is shown.

With a server that echoes labels (docs/protocol.md, "Labelled requests") each request
goes out as ``@label=rN line`` and every event of its answer comes back with
``"label": "rN"``: :meth:`PendingRequests.answer` finds the request by that label
alone. Nothing is matched by comparing texts. The client learns whether the server
echoes labels before logging in, from its answer to :data:`PROBE_LINE`.

A server without labels answers requests in order, so there each request is sent as
it is and :meth:`PendingRequests.oldest` takes the oldest one of a kind when a
``who``, ``whois``, ``groups`` or end-of-history answer arrives; errors are then never
attributed to a request (they are shown).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pollchat.protocol.labels import labelled_line

PROBE_LABEL = "probe"
"""The label of the line that asks whether the server echoes labels."""
PROBE_LINE = labelled_line(PROBE_LABEL, "mode json")
"""Sent after ``mode json`` before logging in: a server with labels answers with a
``mode`` event labelled :data:`PROBE_LABEL`, an older one with a ``greeting``."""
UNTRACKED_LABEL = "u"
"""A label never given to a request: it lets a chat line that begins with ``@label=``
through as text (the server takes the first label off); its answers are not matched."""
MAX_PENDING = 200
"""Requests kept waiting at most; beyond that the oldest are forgotten (a server that
never answers must not make the client grow)."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request waiting for its answer.

    Attributes:
        kind: what was asked: ``who``, ``whois``, ``groups``, ``history``, ``members``,
            or ``open`` (a ``/whois`` that checks a name before opening a chat).
        automatic: the client sent it by itself (its answer is not shown as such).
        name: the person (``whois``, ``open``) or group without ``#`` (``history``) asked
            about, or "".
    """

    kind: str
    automatic: bool
    name: str = ""


class PendingRequests:
    """Requests sent and not yet answered (see the module docstring).

    Attributes:
        labels: the server echoes labels (set from the answer to :data:`PROBE_LINE`;
            ``False`` until then, and for an older server).
    """

    def __init__(self) -> None:
        self.labels = False
        self._by_label: dict[str, Request] = {}
        self._in_order: deque[Request] = deque()
        self._next = 1

    def __len__(self) -> int:
        return len(self._by_label) + len(self._in_order)

    def send(self, line: str, request: Request) -> str:
        """Record ``request`` and return the line to send for it: ``line`` labelled
        when the server echoes labels, else ``line`` as it is."""
        if not self.labels:
            self._in_order.append(request)
            if len(self._in_order) > MAX_PENDING:
                self._in_order.popleft()
            return line
        label = f"r{self._next}"
        self._next += 1
        self._by_label[label] = request
        if len(self._by_label) > MAX_PENDING:
            del self._by_label[next(iter(self._by_label))]
        return labelled_line(label, line)

    def answer(self, label: str | None, final: bool) -> Request | None:
        """The request an event labelled ``label`` answers (``None``: no label, or not
        one of ours). ``final``: the event ends the answer (an error, a ``who``, the end
        of a history replay...), so the request is forgotten."""
        if label is None:
            return None
        if final:
            return self._by_label.pop(label, None)
        return self._by_label.get(label)

    def oldest(self, kind: str) -> Request | None:
        """Without labels: take the oldest request of ``kind`` (its answer arrived)."""
        for index, request in enumerate(self._in_order):
            if request.kind == kind:
                del self._in_order[index]
                return request
        return None

    def clear(self) -> None:
        """The connection is gone: no answer will come, and the next server must say
        again whether it echoes labels."""
        self.labels = False
        self._by_label.clear()
        self._in_order.clear()
