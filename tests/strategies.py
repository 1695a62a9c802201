"""Hypothesis strategies shared by the tests of the pure layers (protocol and core).

* account names: :func:`valid_names` (NFKC, 1-32 letters/digits/``_-.``) and
  :func:`invalid_names`, with :func:`expected_valid_name` as an independent oracle;
* :func:`passwords`: non-empty, no control character but TAB; commas and Unicode welcome;
* :func:`chunkings` / :func:`bytes_and_chunkings`: a byte string cut at arbitrary
  points (empty chunks and byte-by-byte included);
* :func:`chat_lines`: what a logged-in user may send (no control character but TAB);
* :func:`wire_bytes`: client byte streams that mostly speak the login protocol;
* :func:`server_events`: every kind of server event, built from valid values (history
  events carry ``at`` in whole milliseconds, so JSON round-trips them exactly);
* :func:`error_events` / :func:`notice_events`: every code, its placeholders filled in;
* :func:`who_lists`: ``/who`` answers, a user's or an admin's (connection ids, addresses).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable

from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.commands import COMMANDS
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    Error,
    Greeting,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Left,
    MemberEntry,
    MemberList,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    PrivateMessage,
    Renamed,
    ShutdownCancelled,
    ShutdownWarning,
    ShuttingDown,
    StatusChanged,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.protocol.names import mixed_scripts
from pollchat.protocol.render import format_time
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

NAME_MAX = 32
NAME_PUNCTUATION = "_-."


# --- names -------------------------------------------------------------------------------


def is_name_char(ch: str) -> bool:
    """A character allowed in an account name (the documented rule, written out here
    independently of :mod:`pollchat.protocol.names`)."""
    category = unicodedata.category(ch)
    return ch in NAME_PUNCTUATION or category[0] == "L" or category == "Nd"


def expected_valid_name(text: str) -> bool:
    """The oracle: is ``text`` a valid account name once NFKC-normalised?"""
    nfkc = unicodedata.normalize("NFKC", text)
    return 1 <= len(nfkc) <= NAME_MAX and all(is_name_char(ch) for ch in nfkc)


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
    """Valid account names, already in NFKC (so ``normalize_name(n) == n``)."""
    return (
        st.text(_name_chars, min_size=1, max_size=NAME_MAX)
        .map(lambda s: unicodedata.normalize("NFKC", s))
        .filter(expected_valid_name)
    )


def registrable_names() -> st.SearchStrategy[str]:
    """Valid names a registration accepts when no other account looks like them: not
    mixing Latin, Cyrillic and Greek letters (issue 14). Lists of them that must all
    register need ``unique_by=(name_key, skeleton)`` as well."""
    return valid_names().filter(lambda name: not mixed_scripts(name))


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


STATUSES = ("active", "busy", "away", "inactive")

whole_ms_times = st.integers(0, 4_102_444_800_000).map(lambda ms: ms / 1000)
"""Epoch seconds in whole milliseconds, 1970 to 2100 (JSON keeps milliseconds)."""


def _help_texts() -> st.SearchStrategy[str]:
    return st.lists(chat_lines(), min_size=1, max_size=4).map("\n".join)


# A strategy for each placeholder of the error and notice wordings. A new placeholder
# makes _details() fail loudly, so this table is kept up to date.
_DETAIL_VALUES: dict[str, Callable[[], st.SearchStrategy[object]]] = {
    "limit": lambda: st.integers(1, 100_000),
    "count": lambda: st.integers(0, 10_000),
    "top": lambda: st.integers(1, 1000),
    "guess": lambda: st.integers(1, 1000),
    "tries": lambda: st.integers(1, 1000),
    "name": valid_names,
    "status": lambda: st.sampled_from(STATUSES),
    "message": chat_lines,
    "usage": lambda: st.sampled_from([spec.usage for spec in COMMANDS.values()]),
    "text": _help_texts,
    # issue 5: admin actions and protection (``reason`` and ``until`` come pre-formatted,
    # as the hub fills them in: ": why" or "", "until ... UTC" or "for good")
    "by": valid_names,
    "reason": lambda: st.one_of(st.just(""), chat_lines().map(lambda text: ": " + text)),
    "until": lambda: st.one_of(
        st.just("for good"), whole_ms_times.map(lambda ts: f"until {format_time(ts)} UTC")
    ),
    "seconds": lambda: st.integers(1, 86_400),
    "rate": lambda: st.integers(1, 1000).map(str),
    # issue 4: groups
    "group": valid_names,
    "command": lambda: st.sampled_from(sorted(COMMANDS)),
    "names": lambda: st.lists(valid_names(), min_size=1, max_size=4).map(", ".join),
    # issue 14: invisible characters, password length, messages not saved yet
    "char": lambda: st.sampled_from(["U+202E", "U+2066", "U+200B", "U+FEFF"]),
    "minimum": lambda: st.integers(1, 64),
    "where": lambda: st.one_of(valid_names(), valid_names().map(lambda name: "#" + name)),
    # scrollback and read receipts: what the user typed as a cursor or a time, echoed back
    "cursor": chat_lines,
    "time": chat_lines,
}


def placeholders(template: str) -> set[str]:
    """The ``str.format`` field names of ``template``."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _details(template: str) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({field: _DETAIL_VALUES[field]() for field in placeholders(template)})


def error_events() -> st.SearchStrategy[Error]:
    """``Error.of`` every code, with its placeholders filled in."""
    return st.sampled_from(list(ErrorCode)).flatmap(
        lambda code: _details(code.value).map(lambda detail: Error.of(code, **detail))
    )


def notice_events() -> st.SearchStrategy[Notice]:
    """``Notice.of`` every code, with its placeholders filled in (``/help`` text has
    several lines)."""
    return st.sampled_from(list(NoticeCode)).flatmap(
        lambda code: _details(code.value).map(lambda detail: Notice.of(code, **detail))
    )


@st.composite
def welcomes(draw: st.DrawFn) -> Welcome:
    """A welcome whose user list contains the new user, last (login order)."""
    name = draw(valid_names())
    others = draw(st.lists(valid_names(), max_size=4))
    return Welcome(name, (*others, name))


def _maybe_text() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), chat_lines())


def peer_addresses() -> st.SearchStrategy[str]:
    """``host:port`` as the server formats a peer (IPv6 hosts in brackets)."""
    hosts = st.one_of(
        st.ip_addresses(v=4).map(str),
        st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    )
    return st.tuples(hosts, st.integers(1, 65535)).map(lambda hp: f"{hp[0]}:{hp[1]}")


def who_lists() -> st.SearchStrategy[WhoList]:
    """``/who`` answers: up to five users, statuses with or without a message; an
    admin's answer (issue 5) also has each connection id and peer address."""
    common = (valid_names(), st.sampled_from(STATUSES), _maybe_text(), st.integers(0, 10**7))
    user = st.builds(WhoEntry, *common)
    admin = st.builds(WhoEntry, *common, st.integers(1, 10**9), peer_addresses())
    return st.one_of(
        st.lists(user, max_size=5),
        st.lists(admin, max_size=5),
    ).map(lambda users: WhoList(tuple(users)))


def whois_events() -> st.SearchStrategy[Whois]:
    """``/whois`` answers: online, offline with a last-seen time, offline never seen."""
    kinds = st.sampled_from(["preconfigured", "registered"])
    online = st.builds(
        Whois,
        valid_names(),
        kinds,
        st.just(True),
        st.sampled_from(STATUSES),
        _maybe_text(),
        whole_ms_times,
        st.integers(0, 10**7),
    )
    offline = st.builds(
        Whois,
        valid_names(),
        kinds,
        st.just(False),
        st.just("offline"),
        st.just(""),
        st.one_of(st.none(), whole_ms_times),
        st.none(),
    )
    return st.one_of(online, offline)


def _maybe_group() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), valid_names())


def group_events() -> st.SearchStrategy[GroupEvent]:
    """Every group change, with or without a member, actor and text (issue 4)."""
    return st.builds(
        GroupEvent, valid_names(), st.sampled_from(list(GroupChange)), _maybe_text(), _maybe_text(), _maybe_text()
    )


def group_lists() -> st.SearchStrategy[GroupList]:
    """``/groups`` answers: up to five groups, with every role."""
    entry = st.builds(
        GroupEntry,
        valid_names(),
        st.sampled_from(["public", "private"]),
        st.integers(1, 1000),
        st.sampled_from(["owner", "member", "pending", ""]),
        _maybe_text(),
    )
    return st.lists(entry, max_size=5).map(lambda groups: GroupList(tuple(groups)))


def member_lists() -> st.SearchStrategy[MemberList]:
    """``/members`` answers, with or without waiting requests."""
    member = st.builds(MemberEntry, valid_names(), st.sampled_from([*STATUSES, "offline"]), st.booleans())
    return st.builds(
        MemberList,
        valid_names(),
        st.lists(member, min_size=1, max_size=5).map(tuple),
        st.lists(valid_names(), max_size=3).map(tuple),
    )


def history_events() -> st.SearchStrategy[object]:
    """Replayed messages: ``history=True`` and ``at`` in whole milliseconds."""
    return st.one_of(
        st.builds(Message, valid_names(), chat_lines(), st.just(True), whole_ms_times, _maybe_group()),
        st.builds(Emote, valid_names(), chat_lines(), st.just(True), whole_ms_times, _maybe_group()),
        st.builds(
            PrivateMessage, valid_names(), valid_names(), chat_lines(), st.booleans(), st.just(True), whole_ms_times
        ),
    )


def server_events() -> st.SearchStrategy[object]:
    """Every kind of server event, with valid names and control-free chat text."""
    return st.one_of(
        st.just(Greeting()),
        welcomes(),
        st.builds(Entered, valid_names()),
        st.builds(Left, valid_names(), _maybe_text()),
        st.builds(Message, valid_names(), chat_lines(), group=_maybe_group()),
        st.builds(Emote, valid_names(), chat_lines(), group=_maybe_group()),
        st.builds(PrivateMessage, valid_names(), valid_names(), chat_lines(), st.booleans()),
        history_events(),
        st.builds(StatusChanged, valid_names(), st.sampled_from(STATUSES), _maybe_text()),
        who_lists(),
        whois_events(),
        st.builds(Renamed, valid_names(), valid_names()),
        notice_events(),
        st.builds(Typing, valid_names(), st.booleans(), st.booleans(), _maybe_group()),
        st.builds(Mention, valid_names(), chat_lines(), _maybe_group()),
        group_events(),
        group_lists(),
        member_lists(),
        st.builds(Announcement, valid_names(), chat_lines()),
        st.builds(ShutdownWarning, st.integers(1, 86_400), _maybe_text()),
        st.just(ShutdownCancelled()),
        st.builds(HistoryStart, st.integers(0, 1000)),
        st.just(HistoryEnd()),
        error_events(),
        st.builds(ModeSwitched, st.sampled_from(["json", "text"])),
        st.just(ShuttingDown()),
    )


def event_time(event: object, ts: float) -> float:
    """The ``ts`` a JSON record of ``event`` sent at ``ts`` carries: a history event's
    own ``at``, else ``ts``."""
    at = getattr(event, "at", None)
    return at if getattr(event, "history", False) and at is not None else ts
