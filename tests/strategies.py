"""Hypothesis strategies shared by the tests of the pure layers (protocol and core).

* account names: :func:`valid_names` (NFC, 1-32 letters/digits/``_-.``) and
  :func:`invalid_names`, with :func:`expected_valid_name` as an independent oracle;
* :func:`passwords`: non-empty, no control character but TAB; commas and Unicode welcome;
* :func:`chunkings` / :func:`bytes_and_chunkings`: a byte string cut at arbitrary
  points (empty chunks and byte-by-byte included);
* :func:`chat_lines`: what a logged-in user may send (no control character but TAB);
* :func:`wire_bytes`: client byte streams that mostly speak the login protocol;
* :func:`server_events`: every kind of server event, built from valid values.
"""

from __future__ import annotations

import string
import unicodedata

from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.events import (
    Entered,
    Error,
    Greeting,
    Left,
    Message,
    ModeSwitched,
    ShuttingDown,
    Welcome,
)
from pollchat.texts import ErrorCode

NAME_MAX = 32
NAME_PUNCTUATION = "_-."


# --- names -------------------------------------------------------------------------------


def is_name_char(ch: str) -> bool:
    """A character allowed in an account name (the documented rule, written out here
    independently of :mod:`pollchat.protocol.names`)."""
    category = unicodedata.category(ch)
    return ch in NAME_PUNCTUATION or category[0] == "L" or category == "Nd"


def expected_valid_name(text: str) -> bool:
    """The oracle: is ``text`` a valid account name once NFC-normalised?"""
    nfc = unicodedata.normalize("NFC", text)
    return 1 <= len(nfc) <= NAME_MAX and all(is_name_char(ch) for ch in nfc)


_ascii_name_chars = st.sampled_from(string.ascii_letters + string.digits + NAME_PUNCTUATION)
_name_chars = st.one_of(
    _ascii_name_chars,
    st.characters(categories=("L", "Nd")),
    st.sampled_from(NAME_PUNCTUATION),
)


def ascii_names() -> st.SearchStrategy[str]:
    """Valid names made of ASCII letters, digits and ``_-.`` only."""
    return st.text(_ascii_name_chars, min_size=1, max_size=NAME_MAX)


def valid_names() -> st.SearchStrategy[str]:
    """Valid account names, already in NFC (so ``normalize_name(n) == n``)."""
    return (
        st.text(_name_chars, min_size=1, max_size=NAME_MAX)
        .map(lambda s: unicodedata.normalize("NFC", s))
        .filter(expected_valid_name)
    )


# Characters that are never part of a name and never combine into a letter under NFC
# (combining marks are left out on purpose: "e" + U+0301 is the valid name "é").
_FORBIDDEN = ", \t\r\x00\x1b\x7f@!/:+='\"€😀\u200b\u00a0\u3000\u2028"
_forbidden_chars = st.one_of(
    st.sampled_from(_FORBIDDEN),
    st.characters(exclude_categories=("L", "Nd", "M", "Cs"), exclude_characters=NAME_PUNCTUATION),
)


@st.composite
def _name_with_forbidden_char(draw: st.DrawFn) -> str:
    name = draw(valid_names())
    at = draw(st.integers(0, len(name)))
    return name[:at] + draw(_forbidden_chars) + name[at:]


def invalid_names() -> st.SearchStrategy[str]:
    """Strings that are not valid names: empty, too long, or with a forbidden character."""
    return st.one_of(
        st.just(""),
        st.text(_ascii_name_chars, min_size=NAME_MAX + 1, max_size=NAME_MAX + 8),
        _name_with_forbidden_char(),
        st.text(),
    ).filter(lambda s: not expected_valid_name(s))


# --- passwords, chat lines ---------------------------------------------------------------


def passwords() -> st.SearchStrategy[str]:
    """Passwords the protocol accepts: non-empty, no control character but TAB (so no
    ``\\n``); commas, blanks and Unicode are common."""
    return st.text(
        st.one_of(
            st.characters(exclude_categories=("Cc", "Cs")),
            st.sampled_from(",, \té☃ß"),
        ),
        min_size=1,
        max_size=40,
    )


def chat_lines() -> st.SearchStrategy[str]:
    """Chat text a logged-in user may send: not blank, no control character but TAB."""
    return st.text(
        st.one_of(
            st.characters(exclude_categories=("Cc", "Cs")),
            st.sampled_from("\t ,:é☃"),
        ),
        min_size=1,
        max_size=80,
    ).filter(lambda s: s.strip() != "")


# --- bytes in chunks ---------------------------------------------------------------------


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary points (sometimes byte by byte, sometimes with empty
    chunks); ``b"".join(result) == data`` always."""
    if draw(st.booleans()) and draw(st.booleans()):
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max(1, len(data)))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


_BYTE_PIECES = [b"\n", b"\r\n", b"\r", b"\xff", b"\xc3\xa9", b"\xc3", b"\xe2\x98\x83", b"\x00"]


def line_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, biased towards line terminators, stray ``\\r`` and (in)valid UTF-8."""
    return st.lists(
        st.one_of(st.binary(max_size=24), st.sampled_from(_BYTE_PIECES)), max_size=24
    ).map(b"".join)


_PROTOCOL_LINES = [
    b"login",
    b"register",
    b" LOGIN ",
    b"Register\t",
    b"mode json",
    b"mode text",
    b"alice,secret",
    b"bob,a,b,c",
    b"Alice,wrong",
    b"alice",
    b",pw",
    b"al ice,pw",
    b"hello",
    b"hi\tthere",
    b"",
    b"   ",
    b"\x1b[31mred",
    b"\xff\xfe",
    b"x" * 40,
]


def wire_bytes() -> st.SearchStrategy[bytes]:
    """Client byte streams: protocol lines and junk, joined with LF or CRLF."""
    piece = st.one_of(st.sampled_from(_PROTOCOL_LINES), st.binary(max_size=12))
    return st.lists(
        st.tuples(piece, st.sampled_from([b"\n", b"\r\n", b"\n", b""])), max_size=16
    ).map(lambda parts: b"".join(p + end for p, end in parts))


@st.composite
def bytes_and_chunkings(
    draw: st.DrawFn, data: st.SearchStrategy[bytes] | None = None
) -> tuple[bytes, list[bytes]]:
    """A byte string and one chunking of it."""
    value = draw(data if data is not None else line_bytes())
    return value, draw(chunkings(value))


# --- framing errors and server events ----------------------------------------------------


def protocol_errors() -> st.SearchStrategy[ProtocolError]:
    """The errors the framer yields in place of a line."""
    return st.one_of(
        st.integers(1, 10_000).map(lambda n: ProtocolError(ErrorCode.LINE_TOO_LONG, limit=n)),
        st.just(ProtocolError(ErrorCode.BAD_ENCODING)),
    )


def error_events() -> st.SearchStrategy[Error]:
    """``Error.of`` every code, with a limit for the one that has a placeholder."""
    return st.sampled_from(list(ErrorCode)).flatmap(
        lambda code: st.integers(1, 100_000).map(lambda n: Error.of(code, limit=n))
        if code is ErrorCode.LINE_TOO_LONG
        else st.just(Error.of(code))
    )


@st.composite
def welcomes(draw: st.DrawFn) -> Welcome:
    """A welcome whose user list contains the new user, last (login order)."""
    name = draw(valid_names())
    others = draw(st.lists(valid_names(), max_size=4))
    return Welcome(name, (*others, name))


def server_events() -> st.SearchStrategy[object]:
    """Every kind of server event, with valid names and control-free chat text."""
    return st.one_of(
        st.just(Greeting()),
        welcomes(),
        st.builds(Entered, valid_names()),
        st.builds(Left, valid_names()),
        st.builds(Message, valid_names(), chat_lines()),
        error_events(),
        st.builds(ModeSwitched, st.sampled_from(["json", "text"])),
        st.just(ShuttingDown()),
    )
