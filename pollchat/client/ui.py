"""The terminal UI's screen state and keys: what the curses front end reports, what is on
screen besides the chat, and what the front end must do after each call (pure values,
driven by :class:`pollchat.client.app.App`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Key(enum.Enum):
    """Special keys, as the front end reports them (text arrives as ``str``)."""

    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
    HOME = "home"
    END = "end"
    PGUP = "pgup"
    PGDN = "pgdn"
    BACKSPACE = "backspace"
    DELETE = "delete"
    ENTER = "enter"
    TAB = "tab"
    BTAB = "btab"
    ESC = "esc"
    F1 = "f1"
    F2 = "f2"
    F3 = "f3"
    F4 = "f4"
    KILL_LINE = "kill_line"


class Pane(enum.Enum):
    """The three panes, in Tab order."""

    ONLINE = "online"
    CHATS = "chats"
    CHAT = "chat"


class Phase(enum.Enum):
    """Where the client is in its life."""

    LOGIN = "login"  # the login form, nothing under way
    CONNECTING = "connecting"  # opening a connection, waiting to retry, or logging in
    CHATTING = "chatting"  # logged in


@dataclass
class LineEditor:
    """One line of editable text with a cursor (an index in code points)."""

    text: str = ""
    cursor: int = 0

    def insert(self, text: str) -> None:
        """Insert ``text`` at the cursor."""
        self.text = self.text[: self.cursor] + text + self.text[self.cursor :]
        self.cursor += len(text)

    def backspace(self) -> bool:
        """Delete the character before the cursor; whether anything changed."""
        if self.cursor == 0:
            return False
        self.text = self.text[: self.cursor - 1] + self.text[self.cursor :]
        self.cursor -= 1
        return True

    def delete(self) -> bool:
        """Delete the character under the cursor; whether anything changed."""
        if self.cursor >= len(self.text):
            return False
        self.text = self.text[: self.cursor] + self.text[self.cursor + 1 :]
        return True

    def move(self, key: Key) -> bool:
        """Apply a cursor key (LEFT, RIGHT, HOME, END); whether it was one."""
        if key is Key.LEFT:
            self.cursor = max(0, self.cursor - 1)
        elif key is Key.RIGHT:
            self.cursor = min(len(self.text), self.cursor + 1)
        elif key is Key.HOME:
            self.cursor = 0
        elif key is Key.END:
            self.cursor = len(self.text)
        else:
            return False
        return True

    def set(self, text: str) -> None:
        """Replace the text; the cursor goes to the end."""
        self.text, self.cursor = text, len(text)

    def clear(self) -> None:
        """Empty the line."""
        self.set("")


@dataclass
class LoginForm:
    """The login/register form. ``field`` is 0 (log in or register), 1 (name) or 2
    (password); the password editor is never drawn."""

    register: bool = False
    name: LineEditor = field(default_factory=LineEditor)
    password: LineEditor = field(default_factory=LineEditor)
    field: int = 1
    error: str = ""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client logs in with; kept in memory only."""

    register: bool
    name: str
    password: str = field(repr=False)


@dataclass
class Output:
    """What the front end must do after a call (see :meth:`App.drain`)."""

    lines: list[str] = field(default_factory=list)
    bell: bool = False
    close: bool = False
    save_config: bool = False
    quit: bool = False


@dataclass
class UiState:
    """What is on screen besides the chat itself.

    Attributes:
        focus: the pane that receives keys.
        online_selected, chats_selected: the highlighted row in each list.
        filter: the online pane's search box.
        input: the input box.
        scroll: rows the conversation is scrolled up from its end (0: following).
        scroll_max, page: the largest useful ``scroll`` and the conversation's height in
            rows, as last drawn (the renderer reports them).
        help: the help overlay is shown.
        new_chat: the input box asks for the name of a new chat.
        status, status_until: a transient message for the bottom bar and until when.
        paste: pasted lines waiting for the user to say send (Enter) or not (Esc): a
            paste of more than :data:`~pollchat.client.keys.PASTE_ASK` lines.
        groups: the group finder is shown (F3); ``groups_selected`` is its picked row.
        search: the search results are shown (after ``/search``); ``search_selected``
            is the picked one.
        jump: the id of a message to bring on screen in the open conversation (a search
            result picked), 0 for none; ``marked``: the id of the message shown marked.
    """

    focus: Pane = Pane.CHAT
    online_selected: int = 0
    chats_selected: int = 0
    filter: LineEditor = field(default_factory=LineEditor)
    input: LineEditor = field(default_factory=LineEditor)
    history: list[str] = field(default_factory=list)
    history_index: int = 0
    scroll: int = 0
    scroll_max: int = 0
    page: int = 10
    help: bool = False
    new_chat: bool = False
    status: str = ""
    status_until: float = 0.0
    paste: list[str] = field(default_factory=list)
    groups: bool = False
    groups_selected: int = 0
    search: bool = False
    search_selected: int = 0
    jump: int = 0
    marked: int = 0
