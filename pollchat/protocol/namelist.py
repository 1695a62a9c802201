"""A welcome's list of names: the names of everyone online, made and rendered in time
that does not grow with the number of names.

The core builds one snapshot per login (:meth:`NameList.plus`) and puts it in the
:class:`~pollchat.protocol.events.Welcome` it decides on; the renderer
(:mod:`pollchat.protocol.render`) asks it for its bytes. The type lives here, beside the
events, so the core needs no import of the renderer.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice


class NameList(Sequence[str]):
    """The names of everyone online in login order, as a :class:`Welcome` carries them,
    made and rendered in time that does not grow with the number of names.

    At 10,000 users the list is 60 KB and every login sends it: a tuple of every name
    per login, then a join of them (or a JSON array), then the copies of a string
    concatenation, make a login storm quadratic and fragment the heap. A NameList is a
    view of the first ``len`` names of a list shared by successive snapshots, which is
    only ever appended to (:meth:`plus`: one name, no copy of the others); the shared
    list also keeps the names' text and JSON renderings, appended as far as a snapshot
    needs them, so rendering a welcome copies the names' bytes once. It iterates,
    counts and compares (equal to the tuple of the same names) like that tuple, and
    renders exactly its bytes (tested).
    """

    __slots__ = ("_book", "_count")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._book = _NameBook(list(names))
        self._count = len(self._book.names)

    def plus(self, name: str) -> NameList:
        """This list with ``name`` appended (sharing this one's names and renderings)."""
        book = self._book
        if len(book.names) != self._count:  # extended already: this snapshot forks
            book = _NameBook(book.names[: self._count])
        book.names.append(name)
        longer = NameList.__new__(NameList)
        longer._book, longer._count = book, self._count + 1
        return longer

    def text_bytes(self) -> memoryview:
        """The names joined by single spaces, UTF-8 (text mode's ``active users are:``).
        A view of the shared buffer: use it at once (it must not outlive the call)."""
        book = self._book
        end = book.upto(self._count, book.text, book.text_ends, b" ", _utf8)
        return memoryview(book.text)[:end]

    def json_items(self) -> memoryview:
        """The names as the items of a compact JSON array (no brackets), UTF-8. A view
        of the shared buffer, as :meth:`text_bytes`."""
        book = self._book
        end = book.upto(self._count, book.json, book.json_ends, b",", _json_utf8)
        return memoryview(book.json)[:end]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return islice(self._book.names, self._count)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        return self._book.names[: self._count][index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, NameList)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"NameList({tuple(self)!r})"


class _NameBook:
    """What successive :class:`NameList` snapshots share: the names, and their text and
    JSON renderings with the end offset of each name's, made as far as asked."""

    __slots__ = ("names", "text", "text_ends", "json", "json_ends")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.text = bytearray()
        self.text_ends = array("q")
        self.json = bytearray()
        self.json_ends = array("q")

    def upto(self, count: int, buf: bytearray, ends: array, separator: bytes, render: Callable[[str], bytes]) -> int:  # type: ignore[type-arg]
        """The length of ``buf`` holding the first ``count`` names, rendering the ones
        it lacks."""
        names = self.names
        for i in range(len(ends), count):
            if i:
                buf += separator
            buf += render(names[i])
            ends.append(len(buf))
        return ends[count - 1] if count else 0


def _utf8(name: str) -> bytes:
    return name.encode("utf-8")


def _json_utf8(name: str) -> bytes:
    return _json_string(name).encode("utf-8")


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
