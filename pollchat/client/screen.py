"""Drawing the TUI: a pure function from the client's state and a size to screen cells.

:func:`render` takes an :class:`~pollchat.client.app.App` (chat state, UI state, login
form, connection state), a terminal size in cells and the time, and returns a
:class:`Screen`: rows of styled text segments, each row exactly ``width`` cells wide
(measured with :mod:`pollchat.client.textwidth`), and where the cursor goes. It never
touches curses: the front end (:mod:`pollchat.client.tui`) maps style names to colours
or attributes and paints the segments; tests compare :meth:`Screen.text` with snapshots.

Layouts, by size:

* wide (at least :data:`WIDE_MIN`): a notification bar; three boxed panes -- online
  people with a search box, chats, the open conversation with an input box; a bar of
  key hints or the connection state;
* compact (at least :data:`COMPACT_MIN`): the same bars around one pane at a time
  (Tab switches), the conversation by default;
* smaller: a "terminal too small" message and nothing else.

Status is never shown by colour alone: every person has a marker (``+`` active, ``!``
busy, ``~`` away, ``z`` inactive, ``-`` offline); focus is shown with ``[ ]`` around the
pane title and ``›`` on the picked row; the open chat has ``▸``; a group is ``#name``,
and ``✗`` marks one the user is no longer in. ``🔒 TLS`` in the top bar means the client
talks to the server over TLS only (``--tls``); a plain connection shows nothing there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache

from pollchat import texts
from pollchat.client.app import App
from pollchat.client.groups import group_detail
from pollchat.client.links import find_links
from pollchat.client.state import (
    MAIN,
    Conversation,
    Entry,
    EntryKind,
    NoticeKind,
    Person,
    clean,
)
from pollchat.client.textwidth import (
    clusters,
    fit,
    split_by_cells,
    text_width,
    truncate,
    wrap,
)
from pollchat.client.ui import Pane, Phase
from pollchat.protocol.render import format_duration

WIDE_MIN = (72, 14)
"""Smallest (width, height) for the three-pane layout."""
COMPACT_MIN = (30, 8)
"""Smallest (width, height) drawn at all; below it the screen says it is too small."""
TIME_WIDTH = 8
"""Cells of the ``[HH:MM] `` prefix of conversation lines."""

MARKERS = {"active": "+", "busy": "!", "away": "~", "inactive": "z", "offline": "-"}
"""The status marker of each status (drawn before the name, with the status colour)."""
STYLES = (
    "normal", "bar", "notify", "title", "title_focus", "border", "dim", "time", "own", "name",
    "mention", "error", "warn", "typing", "selected", "unread", "activity", "input",
    "placeholder", "status_active", "status_busy", "status_away", "status_inactive", "status_offline",
    "link",
)
"""Every style name a :class:`Segment` may carry."""
_CONTINUATION = ""  # the right half of a 2-cell character


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text drawn with one style (a name from :data:`STYLES`); ``link`` is the
    ``http(s)`` URL the text shows ("" for none: see :mod:`pollchat.client.links`)."""

    text: str
    style: str = "normal"
    link: str = ""


@dataclass
class Screen:
    """A rendered screen.

    Attributes:
        width, height: the size in cells.
        rows: ``height`` rows of segments, each row exactly ``width`` cells wide.
        cursor: ``(row, column)`` of the text cursor, or ``None`` to hide it.
        scroll_max: the largest useful scroll offset of the conversation, in rows.
        page: rows of conversation visible (what PgUp/PgDn move by).
        jump_scroll: the scroll offset that brings the message ``ui.jump`` names on
            screen (its first row near the top), once it is there; else ``None``.
    """

    width: int
    height: int
    rows: list[list[Segment]]
    cursor: tuple[int, int] | None = None
    scroll_max: int = 0
    page: int = 0
    jump_scroll: int | None = None

    def lines(self) -> list[str]:
        """The text of each row (a 2-cell character is one string character)."""
        return ["".join(segment.text for segment in row) for row in self.rows]

    def text(self) -> str:
        """All rows, newline-separated, trailing spaces kept (for snapshots)."""
        return "\n".join(self.lines())


@dataclass
class Canvas:
    """A grid of cells to draw on; each cell holds one character cluster, a style and
    the URL it links to ("" for none)."""

    width: int
    height: int
    cells: list[list[list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cells = [[[" ", "normal", ""] for _ in range(self.width)] for _ in range(self.height)]

    def _set(self, y: int, x: int, piece: str, cells: int, style: str, link: str = "") -> None:
        row = self.cells[y]
        for cx in (x, x + cells - 1):  # do not leave half of a wide character behind
            if row[cx][0] == _CONTINUATION and cx > 0:
                row[cx - 1][0] = " "
            if cx + 1 < self.width and row[cx + 1][0] == _CONTINUATION:
                row[cx + 1][0] = " "
        row[x] = [piece, style, link]
        if cells == 2:
            row[x + 1] = [_CONTINUATION, style, link]

    def put(self, y: int, x: int, text: str, style: str = "normal", width: int | None = None, align: str = "left",
            link: str = "") -> int:
        """Write ``text`` at row ``y``, column ``x``; returns the cells written.

        With ``width``, the text is truncated and padded to exactly that many cells
        (see :func:`~pollchat.client.textwidth.fit`); without, it is clipped at the
        right edge. A 2-cell character that would cross the edge is left out. ``link``
        marks the cells as showing that URL."""
        if not 0 <= y < self.height or x >= self.width:
            return 0
        limit = self.width - x if width is None else min(width, self.width - x)
        if limit <= 0:
            return 0
        if width is not None:
            text = fit(text, limit, align)
        col = x
        for piece, cells in clusters(text):
            if cells == 0:
                continue  # a lone zero-width character (a stray combining mark)
            if col + cells > x + limit:
                break
            if col >= 0:
                self._set(y, col, piece, cells, style, link)
            col += cells
        return col - x

    def fill(self, y: int, x: int, width: int, ch: str = " ", style: str = "normal") -> None:
        """Fill ``width`` cells of row ``y`` from ``x`` with the 1-cell ``ch``."""
        for col in range(max(0, x), min(self.width, x + width)):
            self._set(y, col, ch, 1, style)

    def box(self, y: int, x: int, height: int, width: int, title: str = "", style: str = "border",
            title_style: str = "title") -> None:
        """Draw a single-line box; ``title`` goes on its top border."""
        if height < 2 or width < 2:
            return
        self.put(y, x, "┌" + "─" * (width - 2) + "┐", style)
        for row in range(y + 1, y + height - 1):
            self.put(row, x, "│", style)
            self.put(row, x + width - 1, "│", style)
        self.put(y + height - 1, x, "└" + "─" * (width - 2) + "┘", style)
        if title and width > 4:
            self.put(y, x + 1, truncate(title, width - 2), title_style)

    def to_rows(self) -> list[list[Segment]]:
        """The grid as rows of segments (adjacent cells of one style and link merged)."""
        rows: list[list[Segment]] = []
        for row in self.cells:
            segments: list[Segment] = []
            text: list[str] = []
            style: str | None = None
            link = ""
            for piece, cell_style, cell_link in row:
                if piece == _CONTINUATION:
                    continue
                if (cell_style != style or cell_link != link) and text:
                    segments.append(Segment("".join(text), style or "normal", link))
                    text = []
                style, link = cell_style, cell_link
                text.append(piece)
            if text:
                segments.append(Segment("".join(text), style or "normal", link))
            rows.append(segments)
        return rows


# --- small formatters ---------------------------------------------------------------------------


def _day_and_time(ts: float, tz: tzinfo | None) -> str:
    """``YYYY-MM-DD HH:MM`` of ``ts`` in ``tz`` (a search result may be old)."""
    try:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "----------  --:--"


def local_time(ts: float, tz: tzinfo | None) -> str:
    """``HH:MM`` of ``ts`` (seconds since the epoch) in ``tz`` (``None``: local time)."""
    try:
        return datetime.fromtimestamp(ts, tz).strftime("%H:%M")
    except (OverflowError, OSError, ValueError):
        return "--:--"


def person_label(person: Person, now: float) -> tuple[str, str, str]:
    """``(marker, name, suffix)`` of a person in the online pane: the suffix is the idle
    time for away and inactive people (``" (5m)"``) and how long ago an offline one was
    last seen."""
    if not person.online:
        ago = "" if person.last_seen is None else f" ({format_duration(int(now - person.last_seen))})"
        return MARKERS["offline"], person.name, ago
    idle = person.idle_at(now)
    suffix = f" ({format_duration(idle)})" if person.status in ("away", "inactive") and idle is not None else ""
    return MARKERS.get(person.status, "?"), person.name, suffix


def status_text(person: Person | None, now: float) -> str:
    """``+ active``, ``~ away: lunch (5m)``, ``- offline (2d)``: for a chat's title."""
    if person is None or not person.online:
        seen = ""
        if person is not None and person.last_seen is not None:
            seen = f" ({format_duration(int(now - person.last_seen))})"
        return f"{MARKERS['offline']} {texts.CLIENT_TUI_STATUS_OFFLINE}{seen}"
    marker, _, suffix = person_label(person, now)
    message = f": {person.message}" if person.message else ""
    return f"{marker} {person.status}{message}{suffix}"


def typing_text(names: list[str]) -> str:
    """``bob is typing...``, ``bob and carol are typing...``, or several people."""
    if not names:
        return ""
    if len(names) == 1:
        return texts.TYPING.format(name=names[0])
    if len(names) == 2:
        return texts.CLIENT_TUI_TYPING_TWO.format(first=names[0], second=names[1])
    return texts.CLIENT_TUI_TYPING_MANY


def conversation_rows(
    entries: list[Entry], width: int, tz: tzinfo | None, marked: int = 0, mark: Callable[[Entry], str] | None = None
) -> list[list[Segment]]:
    """The lines of a conversation wrapped to ``width`` cells: ``[HH:MM] name: text``
    (``you`` for one's own lines), ``* name action``, ``-- notice``, ``! error``;
    history between dividers; continuation lines indented under the text. The message
    with id ``marked`` (a search result jumped to) is drawn in the ``selected`` style;
    ``mark`` gives the text put after a line (a private message's ``✓`` or ``✓✓``)."""
    rows: list[list[Segment]] = []
    body_width = max(1, width - TIME_WIDTH)
    previous_history = False
    for entry in entries:
        if entry.history and not previous_history:
            rows.append([Segment(_divider(texts.CLIENT_TUI_HISTORY_BEGIN, width), "dim")])
        elif previous_history and not entry.history:
            rows.append([Segment(_divider(texts.CLIENT_TUI_HISTORY_END, width), "dim")])
        previous_history = entry.history
        check = mark(entry) if mark is not None else ""
        drawn = _entry_rows(entry, width, body_width, tz, check)
        if marked and entry.id == marked:
            rows.extend([Segment(s.text, "selected", s.link) for s in row] for row in drawn)
        else:
            rows.extend(list(row) for row in drawn)
    return rows


def entry_row(entries: list[Entry], width: int, tz: tzinfo | None, message_id: int) -> int | None:
    """The row of :func:`conversation_rows` where the message with id ``message_id``
    starts, or ``None`` if it is not among ``entries``."""
    body_width = max(1, width - TIME_WIDTH)
    row, previous_history = 0, False
    for entry in entries:
        if entry.history != previous_history:
            row += 1  # a divider
        previous_history = entry.history
        if entry.id == message_id:
            return row
        row += len(_entry_rows(entry, width, body_width, tz))
    return None


def _divider(label: str, width: int) -> str:
    text = f" {label} "
    room = width - text_width(text)
    if room < 2:
        return fit(label, width)
    return "─" * (room // 2) + text + "─" * (room - room // 2)


@lru_cache(maxsize=16384)
def _entry_rows(
    entry: Entry, width: int, body_width: int, tz: tzinfo | None, check: str = ""
) -> tuple[tuple[Segment, ...], ...]:
    """One entry's rows (cached: entries are immutable, and redraws happen per key).

    A multi-line notice or error (the answer to ``/help``, ``/who``, ``/groups``...) is
    a block: its lines keep their leading spaces and columns, one row each, aligned
    under the first line's text; a line wider than the pane is cut, not word-wrapped,
    and goes on below its own indentation. Other lines are word-wrapped. Web links get
    the ``link`` style and their URL (:mod:`pollchat.client.links`)."""
    sender = texts.CLIENT_TUI_YOU if entry.own else entry.sender
    if entry.kind is EntryKind.MESSAGE:
        head, head_style = f"{sender}: ", "own" if entry.own else "name"
    elif entry.kind is EntryKind.ACTION:
        head, head_style = f"* {sender} ", "own" if entry.own else "name"
    elif entry.kind is EntryKind.ERROR:
        head, head_style = "! ", "error"
    else:
        head, head_style = "-- ", "dim"
    text_style = {EntryKind.ERROR: "error", EntryKind.SYSTEM: "dim"}.get(entry.kind, "normal")
    if entry.mention:
        text_style = "mention"
    stamp = f"[{local_time(entry.ts, tz)}] "
    parts = (entry.text + check).split("\n")  # a receipt's check after the text
    block = len(parts) > 1 and entry.kind in (EntryKind.SYSTEM, EntryKind.ERROR)
    rows: list[tuple[Segment, ...]] = []
    for index, part in enumerate(parts):
        body = head + part if index == 0 else (" " * len(head) + part if block else part)
        lines = _cut_block_line(body, body_width) if block else wrap(body, body_width)
        spans = find_links(body)
        offset = 0
        for number, line in enumerate(lines):
            first = index == 0 and number == 0
            prefix = Segment(stamp if first else " " * TIME_WIDTH, "time")
            found = body.find(line.lstrip(" "), offset) if spans else -1
            start = found - (len(line) - len(line.lstrip(" "))) if found >= 0 else -1
            if found >= 0:
                offset = found + len(line.lstrip(" "))
            if first and line.startswith(head):
                rest = _linked(line[len(head) :], start + len(head) if start >= 0 else -1, body, spans, text_style)
                rows.append((prefix, Segment(head, head_style), *rest))
            else:
                rows.append((prefix, *_linked(line, start, body, spans, text_style)))
    return tuple(rows)


def _cut_block_line(line: str, cells: int) -> list[str]:
    """A line of a block cut into rows of at most ``cells`` cells without moving its
    columns: a row that fits is kept as it is (leading spaces too); the rest of a
    longer one goes on the next rows, indented two cells deeper than the line."""
    cells = max(1, cells)
    if text_width(line) <= cells:
        return [line]
    indent = " " * min(len(line) - len(line.lstrip(" ")) + 2, cells // 2)
    rows: list[str] = []
    row, used, room = "", 0, cells
    for piece, size in clusters(line):
        if size > cells:
            piece, size = "?", 1
        if used + size > room:
            rows.append(row)
            lead = indent if size <= cells - len(indent) else ""
            row, used, room = lead, 0, cells - len(lead)
            if piece == " ":
                continue
        row += piece
        used += size
    rows.append(row)
    return rows


def _linked(text: str, start: int, body: str, spans: list[tuple[int, int]], style: str) -> list[Segment]:
    """``text``, found at index ``start`` of ``body`` (-1: not found), as segments of
    ``style``, the parts inside a link span of ``body`` as ``link`` segments with the
    span's URL (a URL wrapped over two rows is linked on both)."""
    if start < 0 or not spans:
        return [Segment(text, style)]
    segments: list[Segment] = []
    position, end = start, start + len(text)
    for link_start, link_end in spans:
        if link_end <= position or link_start >= end:
            continue
        if link_start > position:
            segments.append(Segment(body[position:link_start], style))
        piece_end = min(link_end, end)
        segments.append(Segment(body[max(position, link_start) : piece_end], "link", body[link_start:link_end]))
        position = piece_end
    if position < end:
        segments.append(Segment(body[position:end], style))
    return segments


# --- the screen ---------------------------------------------------------------------------------


def render(app: App, width: int, height: int, now: float, tz: tzinfo | None = None) -> Screen:
    """Draw ``app`` on a ``width`` x ``height`` terminal at time ``now``.

    Args:
        app: the client (read only).
        width, height: the terminal size in cells (any size; tiny ones get a message).
        now: the current time, seconds since the epoch (idle times, countdowns, typing).
        tz: the time zone for ``[HH:MM]`` (``None``: the local one; tests pass UTC).

    Returns:
        The :class:`Screen`; every row is exactly ``width`` cells wide.
    """
    width, height = max(0, width), max(0, height)
    canvas = Canvas(width, height)
    screen = Screen(width, height, [])
    if width < COMPACT_MIN[0] or height < COMPACT_MIN[1]:
        _too_small(canvas)
    else:
        wide = width >= WIDE_MIN[0] and height >= WIDE_MIN[1]
        _top_bar(canvas, app, now)
        _bottom_bar(canvas, app, now, wide)
        if app.phase is Phase.LOGIN or not app.logged_in_once:
            screen.cursor = _login(canvas, app, now)
        elif wide:
            screen.cursor = _wide(canvas, app, now, tz, screen)
        else:
            screen.cursor = _compact(canvas, app, now, tz, screen)
        if app.ui.groups and app.logged_in_once and app.phase is not Phase.LOGIN:
            _finder(canvas, app)
            screen.cursor = None
        elif app.ui.search and app.logged_in_once and app.phase is not Phase.LOGIN:
            _search_results(canvas, app, tz)
            screen.cursor = None
        if app.ui.help:
            _help(canvas)
            screen.cursor = None
    screen.rows = canvas.to_rows()
    return screen


def _too_small(canvas: Canvas) -> None:
    lines = [
        *wrap(texts.CLIENT_TUI_TOO_SMALL.format(width=canvas.width, height=canvas.height), max(1, canvas.width)),
        *wrap(texts.CLIENT_TUI_TOO_SMALL_NEED.format(width=COMPACT_MIN[0], height=COMPACT_MIN[1]), max(1, canvas.width)),
    ]
    top = max(0, (canvas.height - len(lines)) // 2)
    for offset, line in enumerate(lines):
        canvas.put(top + offset, 0, line, "warn", width=canvas.width, align="center")


def _top_bar(canvas: Canvas, app: App, now: float) -> None:
    chat = app.chat
    canvas.fill(0, 0, canvas.width, " ", "bar")
    # The lock: every connection of this client is TLS with a verified certificate (no
    # fallback exists), so it is shown from the login form on -- before the password is
    # typed -- and never for plain TCP.
    lock = f"│ {texts.CLIENT_TUI_TLS_MARK} " if app.tls else ""
    if not app.logged_in_once or chat.me is None:
        canvas.put(0, 0, f" pollchat │ {app.host}:{app.port} {lock}", "bar", width=canvas.width)
        return
    status = chat.my_status if app.phase is Phase.CHATTING else texts.CLIENT_TUI_STATUS_OFFLINE
    me = f" {chat.me} {MARKERS.get(status, '?')} {status} {lock}"
    missed = chat.missed()
    right = " " + (texts.CLIENT_TUI_MISSED.format(count=missed) if missed else texts.CLIENT_TUI_NOTHING_NEW) + " "
    notice = _notification(app, now)
    x = canvas.put(0, 0, me, "bar")
    right_x = canvas.width - text_width(right)
    if right_x > x + 1:
        canvas.put(0, right_x, right, "notify" if missed and app.config.highlight else "bar")
    room = right_x - x - 3
    if notice and room > 4:
        canvas.put(0, x, "│ ", "bar")
        canvas.put(0, x + 2, notice, "notify" if app.config.highlight else "bar", width=room)


def _notification(app: App, now: float) -> str:
    notices = app.chat.live_notifications(now)
    if not notices:
        return ""
    last = notices[-1]
    if last.kind is NoticeKind.MENTION:
        conv = app.chat.conversations.get(last.where)
        where = texts.CLIENT_TUI_MAIN_CHAT if last.where == MAIN else conv.label if conv is not None else ""
        text = texts.CLIENT_TUI_MENTION.format(name=last.who, where=where)
    elif last.kind is NoticeKind.PRIVATE:
        text = texts.CLIENT_TUI_PRIVATE.format(name=last.who)
    else:
        text = last.text
    more = texts.CLIENT_TUI_MORE_NOTICES.format(count=len(notices) - 1) if len(notices) > 1 else ""
    return f"🔔 {text}{more}"


def _bottom_bar(canvas: Canvas, app: App, now: float, wide: bool) -> None:
    y = canvas.height - 1
    connection = app.connection_text(now)
    if connection and app.logged_in_once:
        canvas.put(y, 0, f" {connection}", "warn", width=canvas.width)
    elif app.ui.paste and app.logged_in_once:
        canvas.put(y, 0, " " + texts.CLIENT_TUI_PASTE_ASK.format(count=len(app.ui.paste)), "warn", width=canvas.width)
    elif app.paste_pending and app.logged_in_once:
        canvas.put(y, 0, " " + texts.CLIENT_TUI_PASTE_SENDING.format(count=app.paste_pending), "warn", width=canvas.width)
    elif app.ui.status and now < app.ui.status_until:
        canvas.put(y, 0, f" {app.ui.status}", "warn", width=canvas.width)
    else:
        if not app.logged_in_once:  # Left and Right move the cursor in the name field
            hints = texts.CLIENT_TUI_LOGIN_HINTS_NAME if app.form.field == 1 else texts.CLIENT_TUI_LOGIN_HINTS
        else:
            hints = texts.CLIENT_TUI_HINTS if wide else texts.CLIENT_TUI_HINTS_SHORT
        canvas.put(y, 0, f" {hints}", "dim", width=canvas.width)


def _login(canvas: Canvas, app: App, now: float) -> tuple[int, int] | None:
    form = app.form
    width = min(canvas.width - 2, 60)
    inner = width - 4
    rows = [
        ("", "normal"),
        (texts.CLIENT_TUI_LOGIN_ACTION.format(login=" " if form.register else "*", register="*" if form.register else " "),
         "normal"),
        (texts.CLIENT_TUI_LOGIN_NAME, "normal"),
        (texts.CLIENT_TUI_LOGIN_PASSWORD, "normal"),
        ("", "normal"),
    ]
    status = app.connection_text(now)
    messages = [(line, "error") for line in wrap(form.error, inner)] if form.error else []
    if status:
        messages += [(line, "warn") for line in wrap(status, inner)]
    height = min(canvas.height - 2, len(rows) + len(messages) + 2)
    top = max(1, (canvas.height - height) // 2)
    left = max(0, (canvas.width - width) // 2)
    canvas.box(top, left, height, width, f" {texts.CLIENT_TUI_LOGIN_TITLE.format(host=app.host, port=app.port)} ")
    cursor = None
    for index, (text, style) in enumerate(rows + messages):
        y = top + 1 + index
        if y >= top + height - 1:
            break
        canvas.put(y, left + 1, "›" if index - 1 == form.field and index <= 3 else " ", "title")
        x = left + 2
        if index == 2:
            label = canvas.put(y, x, text, "normal")
            field_width = inner - label
            start = max(0, text_width(form.name.text[: form.name.cursor]) - field_width + 1)
            canvas.put(y, x + label, split_by_cells(form.name.text, start, field_width), "input", width=field_width)
            if form.field == 1:
                cursor = (y, x + label + text_width(form.name.text[: form.name.cursor]) - start)
        elif index == 3:
            label = canvas.put(y, x, text, "normal")
            canvas.put(y, x + label, texts.CLIENT_TUI_LOGIN_HIDDEN, "placeholder", width=inner - label)
            if form.field == 2:
                cursor = (y, x + label)
        else:
            canvas.put(y, x, text, style, width=inner)
    return cursor


def _wide(canvas: Canvas, app: App, now: float, tz: tzinfo | None, screen: Screen) -> tuple[int, int] | None:
    W, H = canvas.width, canvas.height
    left = max(16, min(26, W * 22 // 100))
    middle = max(18, min(28, W * 24 // 100))
    right = W - left - middle - 4
    top, bottom = 1, H - 2
    x_mid, x_right = left + 1, left + middle + 2
    border = "border"
    canvas.put(top, 0, "┌" + "─" * left + "┬" + "─" * middle + "┬" + "─" * right + "┐", border)
    canvas.put(bottom, 0, "└" + "─" * left + "┴" + "─" * middle + "┴" + "─" * right + "┘", border)
    for y in range(top + 1, bottom):
        for x in (0, x_mid, x_right, W - 1):
            canvas.put(y, x, "│", border)
    focus = app.ui.focus
    _title(canvas, top, 1, left, texts.CLIENT_TUI_ONLINE_TITLE.format(count=app.chat.online_total()), focus is Pane.ONLINE)
    _title(canvas, top, x_mid + 1, middle, _chats_title(app), focus is Pane.CHATS)
    _title(canvas, top, x_right + 1, right, _chat_title(app, now), focus is Pane.CHAT)
    rows = bottom - top - 1
    cursor = _online(canvas, app, now, top + 1, 1, left, rows, focus is Pane.ONLINE)
    _chats(canvas, app, top + 1, x_mid + 1, middle, rows, focus is Pane.CHATS)
    conv_rows = rows - 4
    _conversation(canvas, app, now, tz, screen, top + 1, x_right + 1, right, conv_rows)
    _typing_row(canvas, app, now, top + 1 + conv_rows, x_right + 1, right)
    box_y = top + 1 + conv_rows + 1
    canvas.box(box_y, x_right + 1, 3, right, f" {texts.CLIENT_TUI_NEW_CHAT_PROMPT} " if app.ui.new_chat else "")
    input_cursor = _input(canvas, app, box_y + 1, x_right + 2, right - 2, focus is Pane.CHAT)
    return cursor if focus is Pane.ONLINE else input_cursor if focus is Pane.CHAT else None


def _compact(canvas: Canvas, app: App, now: float, tz: tzinfo | None, screen: Screen) -> tuple[int, int] | None:
    W, H = canvas.width, canvas.height
    focus = app.ui.focus
    if focus is Pane.ONLINE:
        title = texts.CLIENT_TUI_ONLINE_TITLE.format(count=app.chat.online_total())
    elif focus is Pane.CHATS:
        title = _chats_title(app)
    else:
        title = _chat_title(app, now)
    canvas.put(1, 0, "─" * W, "border")
    _title(canvas, 1, 0, W, title, True)
    if focus is Pane.ONLINE:
        return _online(canvas, app, now, 2, 0, W, H - 3, True)
    if focus is Pane.CHATS:
        _chats(canvas, app, 2, 0, W, H - 3, True)
        return None
    conv_rows = H - 5
    _conversation(canvas, app, now, tz, screen, 2, 0, W, conv_rows)
    _typing_row(canvas, app, now, 2 + conv_rows, 0, W)
    if app.ui.new_chat:
        canvas.put(2 + conv_rows, 0, texts.CLIENT_TUI_NEW_CHAT_PROMPT, "title", width=W)
    return _input(canvas, app, H - 2, 0, W, True)


def _title(canvas: Canvas, y: int, x: int, width: int, title: str, focused: bool) -> None:
    text = f"[ {title} ]" if focused else f" {title} "
    canvas.put(y, x + 1, truncate(text, max(0, width - 2)), "title_focus" if focused else "title")


def _chats_title(app: App) -> str:
    groups = app.chat.group_count()
    return texts.CLIENT_TUI_CHATS_TITLE_GROUPS.format(count=groups) if groups else texts.CLIENT_TUI_CHATS_TITLE


def _chat_title(app: App, now: float) -> str:
    conv = app.chat.current
    if conv.key == MAIN:
        return texts.CLIENT_TUI_MAIN_TITLE.format(count=app.chat.online_total())
    if conv.group:
        return texts.CLIENT_TUI_GROUP_TITLE.format(name=conv.name, detail=group_detail(conv))
    return texts.CLIENT_TUI_PRIVATE_TITLE.format(name=conv.name, status=status_text(app.chat.person(conv.name), now))


def _online(canvas: Canvas, app: App, now: float, y: int, x: int, width: int, rows: int, focused: bool
            ) -> tuple[int, int] | None:
    editor = app.ui.filter
    cursor = None
    if editor.text:
        label = canvas.put(y, x, " " + texts.CLIENT_TUI_FILTER, "dim")
        room = width - label
        start = max(0, text_width(editor.text[: editor.cursor]) - room + 1)
        canvas.put(y, x + label, split_by_cells(editor.text, start, room), "input", width=room)
        cursor = (y, x + label + text_width(editor.text[: editor.cursor]) - start)
    else:
        canvas.put(y, x, " " + texts.CLIENT_TUI_FILTER_EMPTY, "placeholder", width=width)
        cursor = (y, x + 1)
    canvas.put(y + 1, x, "─" * width, "border")
    people = app.chat.people_list(editor.text)
    list_rows = rows - 2
    if not people:
        canvas.put(y + 2, x, " " + texts.CLIENT_TUI_NOBODY, "dim", width=width)
        return cursor if focused else None
    selected = min(app.ui.online_selected, len(people) - 1)
    lines: list[tuple[Person | None, int]] = []
    shown_offline_header = False
    for index, person in enumerate(people):
        if not person.online and not shown_offline_header:
            lines.append((None, -1))
            shown_offline_header = True
        lines.append((person, index))
    chosen_line = next((n for n, (_, index) in enumerate(lines) if index == selected), 0)
    first = max(0, min(chosen_line - list_rows + 1, len(lines) - list_rows)) if chosen_line >= list_rows else 0
    for offset, (row, index) in enumerate(lines[first : first + list_rows]):
        row_y = y + 2 + offset
        if row is None:  # the divider before the offline people
            canvas.put(row_y, x, _divider(texts.CLIENT_TUI_OFFLINE_HEADER, width), "dim")
            continue
        person = row
        marker, name, suffix = person_label(person, now)
        if app.chat.ignored and app.chat.is_ignored(person.name):
            suffix += texts.CLIENT_TUI_IGNORED_MARK
        picked = focused and index == selected
        status = person.status if person.online else "offline"
        canvas.put(row_y, x, "›" if picked else " ", "selected" if picked else "normal")
        canvas.put(row_y, x + 1, marker, f"status_{status}" if status in MARKERS else "normal")
        name_room = width - 3 - text_width(suffix)
        style = "selected" if picked else ("dim" if not person.online else "normal")
        used = canvas.put(row_y, x + 3, truncate(name, max(1, name_room)), style)
        canvas.put(row_y, x + 3 + used, truncate(suffix, width - 3 - used, ""), "dim")
    return cursor if focused else None


def _chats(canvas: Canvas, app: App, y: int, x: int, width: int, rows: int, focused: bool) -> None:
    chats = app.chat.chat_order()
    selected = min(app.ui.chats_selected, len(chats))
    total = len(chats) + 1
    first = max(0, min(selected - rows + 1, total - rows)) if selected >= rows else 0
    for offset in range(min(rows, total - first)):
        index = first + offset
        row_y = y + offset
        picked = focused and index == selected
        if index == len(chats):
            canvas.put(row_y, x, "›" if picked else " ", "selected" if picked else "normal")
            canvas.put(row_y, x + 1, " " + texts.CLIENT_TUI_NEW_CHAT, "selected" if picked else "dim", width=width - 1)
            continue
        _chat_row(canvas, app, chats[index], row_y, x, width, picked)


def _chat_row(canvas: Canvas, app: App, conv: Conversation, y: int, x: int, width: int, picked: bool) -> None:
    is_open = conv.key == app.chat.open_key
    marker = "›" if picked else "▸" if is_open else " "
    canvas.put(y, x, marker, "selected" if picked else "title")
    badges: list[tuple[str, str]] = []
    if conv.unread:
        badges.append((f" ✉({conv.unread})", "mention" if conv.mentions else "unread"))
    if conv.activity:
        badges.append((" ●", "activity"))
    if conv.gone:
        badges.append((texts.CLIENT_TUI_GROUP_GONE_MARK, "dim"))
    badge_width = sum(text_width(text) for text, _ in badges)
    pin = "📌 " if app.chat.is_pinned(conv.key) else ""
    name = texts.CLIENT_TUI_MAIN_CHAT if conv.key == MAIN else conv.label
    label = f" {pin}{name}"
    room = max(1, width - 1 - badge_width)
    style = "selected" if picked else ("unread" if conv.unread else "dim" if conv.gone else "normal")
    used = canvas.put(y, x + 1, truncate(label, room), style)
    col = x + 1 + used
    for text, badge_style in badges:
        col += canvas.put(y, col, truncate(text, x + width - col, ""), badge_style)


def _conversation(canvas: Canvas, app: App, now: float, tz: tzinfo | None, screen: Screen, y: int, x: int, width: int,
                  rows: int) -> None:
    if rows <= 0:
        return
    conv = app.chat.current
    entries = conv.entries
    lines = conversation_rows(entries, width, tz, marked=app.ui.marked,
                              mark=lambda entry: app.chat.receipt_mark(conv, entry))
    screen.scroll_max = max(0, len(lines) - rows)
    screen.page = rows
    scroll = min(max(0, app.ui.scroll), screen.scroll_max)
    if app.ui.jump:
        start = entry_row(entries, width, tz, app.ui.jump)
        if start is not None:  # the message's first row a little below the top
            scroll = min(screen.scroll_max, max(0, len(lines) - rows - max(0, start - 2)))
            screen.jump_scroll = scroll
    end = len(lines) - scroll
    visible = lines[max(0, end - rows) : end]
    for offset, segments in enumerate(visible):
        col = x
        for segment in segments:
            col += canvas.put(y + offset, col, truncate(segment.text, x + width - col, ""), segment.style,
                              link=segment.link)
    if scroll:
        label = f" {texts.CLIENT_TUI_MORE_BELOW.format(count=scroll)} "
        canvas.put(y + rows - 1, x, _divider(label.strip(), width), "warn")


def _typing_row(canvas: Canvas, app: App, now: float, y: int, x: int, width: int) -> None:
    names = app.chat.typing_names(app.chat.open_key, now)
    canvas.put(y, x, " " + typing_text(names) if names else "", "typing", width=width)


def _input(canvas: Canvas, app: App, y: int, x: int, width: int, focused: bool) -> tuple[int, int] | None:
    editor = app.ui.input
    prompt = "> "
    room = width - text_width(prompt)
    canvas.put(y, x, prompt, "title")
    if app.ui.paste:
        preview = texts.CLIENT_TUI_PASTE_PREVIEW.format(first=app.ui.paste[0], more=len(app.ui.paste) - 1)
        canvas.put(y, x + 2, preview, "input", width=room)
        return None
    if not editor.text:
        conv = app.chat.current
        if app.phase is not Phase.CHATTING:
            hint = texts.CLIENT_TUI_PLACEHOLDER_OFFLINE
        elif app.ui.new_chat:
            hint = ""
        elif conv.key == MAIN:
            hint = texts.CLIENT_TUI_PLACEHOLDER_MAIN
        elif conv.gone:
            hint = texts.CLIENT_TUI_PLACEHOLDER_GONE.format(name=conv.name, reason=conv.gone)
        elif conv.group:
            hint = texts.CLIENT_TUI_PLACEHOLDER_GROUP.format(name=conv.name)
        else:
            hint = texts.CLIENT_TUI_PLACEHOLDER_PRIVATE.format(name=conv.name)
        canvas.put(y, x + 2, hint, "placeholder", width=room)
        return (y, x + 2) if focused else None
    before = text_width(editor.text[: editor.cursor])
    start = max(0, before - room + 1)
    canvas.put(y, x + 2, split_by_cells(editor.text, start, room), "input", width=room)
    return (y, x + 2 + before - start) if focused else None


def _help(canvas: Canvas) -> None:
    for y in range(1, canvas.height - 1):
        canvas.fill(y, 0, canvas.width, " ", "normal")
    lines = texts.CLIENT_TUI_HELP.split("\n")
    inner = min(canvas.width - 4, max(text_width(line) for line in lines))
    height = min(canvas.height, len(lines) + 2)
    width = inner + 4
    top = max(0, (canvas.height - height) // 2)
    left = max(0, (canvas.width - width) // 2)
    for y in range(top, top + height):
        canvas.fill(y, left, width, " ", "normal")
    canvas.box(top, left, height, width, f" {texts.CLIENT_TUI_HELP_TITLE} ", "title", "title_focus")
    for offset, line in enumerate(lines[: height - 2]):
        canvas.put(top + 1 + offset, left + 2, line, "normal", width=inner)


def _finder(canvas: Canvas, app: App) -> None:
    """The group finder (F3): every group the server's ``/groups`` listed, one a row,
    in columns: name, member count, the user's part in it (owner, member, asked, or
    ``-``: not in it), topic (a private group's only for its members)."""
    listed = app.chat.group_directory
    width = min(canvas.width - 2, 76)
    height = canvas.height - 2
    top, left = 1, max(0, (canvas.width - width) // 2)
    for y in range(top, top + height):
        canvas.fill(y, 0, canvas.width, " ", "normal")
    canvas.box(top, left, height, width, f" {texts.CLIENT_TUI_GROUPS_TITLE} ", "title", "title_focus")
    inner = width - 4
    x = left + 2
    canvas.put(top + height - 2, x, texts.CLIENT_TUI_GROUPS_HINTS, "dim", width=inner)
    if listed is None or not listed:
        text = texts.CLIENT_TUI_GROUPS_ASKING if listed is None else texts.CLIENT_TUI_GROUPS_NONE
        canvas.put(top + 1, x, text, "dim", width=inner)
        return
    name_width = min(max(text_width(f"#{entry.name}") for entry in listed), max(8, inner // 3))
    canvas.put(top + 1, x + 1 + name_width + 1, texts.CLIENT_TUI_GROUPS_HEADER, "dim")
    rows = height - 5
    selected = min(app.ui.groups_selected, len(listed) - 1)
    first = max(0, selected - rows + 1)
    for offset, entry in enumerate(listed[first : first + rows]):
        y = top + 2 + offset
        picked = first + offset == selected
        style = "selected" if picked else "normal"
        canvas.put(y, x, "›" if picked else " ", style)
        col = x + 1 + canvas.put(y, x + 1, f"#{entry.name}", style, width=name_width) + 1
        col += canvas.put(y, col, str(entry.members), style, width=7, align="right") + 2
        role = texts.CLIENT_TUI_GROUPS_ROLES.get(entry.role, entry.role)
        col += canvas.put(y, col, role, "title" if entry.role in ("owner", "member") else "dim", width=6) + 1
        if entry.visibility == "private":
            col += canvas.put(y, col, texts.CLIENT_TUI_GROUPS_PRIVATE + " ", "dim", width=max(0, min(
                x + inner - col, text_width(texts.CLIENT_TUI_GROUPS_PRIVATE) + 1)))
        canvas.put(y, col, entry.topic, style, width=max(0, x + inner - col))


def _search_results(canvas: Canvas, app: App, tz: tzinfo | None) -> None:
    """The search results view (after ``/search``): one result a row, newest first:
    its time, where it was said (the main chat, ``#group``, a person), who, the text."""
    found = app.chat.search_results
    width = min(canvas.width - 2, 100)
    height = canvas.height - 2
    top, left = 1, max(0, (canvas.width - width) // 2)
    for y in range(top, top + height):
        canvas.fill(y, 0, canvas.width, " ", "normal")
    title = texts.CLIENT_TUI_SEARCH_TITLE.format(query=found.query if found is not None else "")
    canvas.box(top, left, height, width, f" {truncate(title, width - 6)} ", "title", "title_focus")
    inner = width - 4
    x = left + 2
    canvas.put(top + height - 2, x, texts.CLIENT_TUI_SEARCH_HINTS, "dim", width=inner)
    results = found.results if found is not None else ()
    if not results:
        canvas.put(top + 1, x, texts.CLIENT_TUI_SEARCH_NONE, "dim", width=inner)
        return
    places = [texts.CLIENT_TUI_SEARCH_MAIN if not r.conversation else r.conversation.removeprefix("@") for r in results]
    place_width = min(max(text_width(place) for place in places), max(8, inner // 4))
    rows = height - 4
    selected = min(app.ui.search_selected, len(results) - 1)
    first = max(0, selected - rows + 1)
    for offset, result in enumerate(results[first : first + rows]):
        y = top + 1 + offset
        picked = first + offset == selected
        style = "selected" if picked else "normal"
        canvas.put(y, x, "›" if picked else " ", style)
        col = x + 1 + canvas.put(y, x + 1, f"[{_day_and_time(result.sent, tz)}]", "time") + 1
        col += canvas.put(y, col, places[first + offset], "title", width=place_width) + 1
        who = texts.CLIENT_TUI_YOU if app.chat.is_me(result.sender) else result.sender
        body = f"* {who} {clean(result.text)}" if result.kind == "action" else f"{who}: {clean(result.text)}"
        canvas.put(y, col, truncate(body, max(0, x + inner - col)), style, width=max(0, x + inner - col))
