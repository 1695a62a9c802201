"""The TUI client's chat state: conversations, unread counts, people, notifications.

Pure: no sockets, no curses, no clock. :meth:`ChatState.apply` takes one decoded server
event (:mod:`pollchat.protocol.events`) with its server time and the current time, both
in seconds since the epoch, and updates the state; it returns the alerts the event
deserves (a mention, a private message) so the front end can ring the bell. The renderer
(:mod:`pollchat.client.screen`) only reads this state.

Conversations are keyed by :func:`~pollchat.protocol.names.name_key` of the other
person's name; the main chat has the key :data:`MAIN`; a group has ``#`` and
the ``name_key`` of its name (see :func:`group_key`: names never contain ``#``, so the
two kinds never collide). Group changes, ``/groups`` answers and server mentions are
applied by :mod:`pollchat.client.groups`. Unread counts only count live
messages from others in a conversation that is not open; replayed history never counts
and never alerts (glirc #107: "don't notify on history playback").
"""

from __future__ import annotations

import re
from dataclasses import replace

from pollchat import texts
from pollchat.client import groups
from pollchat.client.model import (
    DUPLICATE_WINDOW,
    GROUP_MARK,
    MAIN,
    MAX_ENTRIES,
    SERVER_NOTICE_TTL,
    STATUSES,
    TYPING_TTL,
    Alert,
    Conversation,
    Entry,
    EntryKind,
    NoticeKind,
    Notification,
    Person,
    clean,
    group_key,
    mention_pattern,
)
from pollchat.client.model import fold as _fold
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    GroupEntry,
    GroupEvent,
    GroupList,
    Left,
    Mention,
    Message,
    Older,
    PrivateMessage,
    Receipt,
    Renamed,
    SearchResults,
    ServerEvent,
    ShutdownCancelled,
    ShutdownWarning,
    ShuttingDown,
    StatusChanged,
    StoredMessage,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.protocol.names import name_key
from pollchat.protocol.render import format_ts, render_text
from pollchat.texts import NoticeCode

__all__ = [
    "DUPLICATE_WINDOW", "GROUP_MARK", "MAIN", "MAX_ENTRIES", "SERVER_NOTICE_TTL", "STATUSES", "TYPING_TTL",
    "Alert", "ChatState", "Conversation", "Entry", "EntryKind", "NoticeKind", "Notification", "Person",
    "clean", "group_key", "mention_pattern",
]


class ChatState:
    """Everything the client knows about the chat, fed by server events.

    Attributes:
        me: the logged-in user's name (``None`` before the first welcome).
        my_status, my_message: the user's own status and status message.
        conversations: by key; the main chat always exists.
        people: everyone known, by ``name_key`` (the user excluded).
        notifications: oldest first.
        open_key: the conversation on screen.
        pinned: labels of pinned conversations (a name, or ``#group``), in pin order.
        search_results: the last ``/search`` answer, for the results view.
        read_marks: read receipts: by the other person's name key, the time up to which
            they have read the user's private messages to them.
        server_mentions: the server sends ``mention`` events (servers with groups do), so they, not
            the client's own ``@name`` matching, count and notify mentions.
        group_directory: every group the last ``/groups`` answer listed (the user's,
            the public ones, those asked to join), for the group finder; ``None``
            before the first answer.
    """

    def __init__(self) -> None:
        self.me: str | None = None
        self.my_status = "active"
        self.my_message = ""
        self.conversations: dict[str, Conversation] = {MAIN: Conversation(MAIN, "")}
        self.people: dict[str, Person] = {}
        self.notifications: list[Notification] = []
        self.open_key: str = MAIN
        self.pinned: list[str] = []
        self.server_mentions = False
        self.group_directory: tuple[GroupEntry, ...] | None = None  # the last /groups answer
        self.search_results: SearchResults | None = None  # the last /search answer
        self.read_marks: dict[str, float] = {}  # name key -> the user's messages to them read up to then
        self.ignored: set[str] = set()
        """Name keys of the accounts the user ignores (``/ignore``), kept from the
        server's ignore notices (:meth:`ignore_notice`)."""
        self.signed_in = False  # logged in on a connection that is up
        self._typing: dict[tuple[str, str], tuple[str, float]] = {}
        self._mention: re.Pattern[str] | None = None

    # --- queries -------------------------------------------------------------------------------

    @property
    def main(self) -> Conversation:
        """The main chat."""
        return self.conversations[MAIN]

    @property
    def current(self) -> Conversation:
        """The open conversation."""
        return self.conversations.get(self.open_key) or self.main

    def is_me(self, name: str) -> bool:
        """Whether ``name`` is the logged-in user (case-insensitive)."""
        return self.me is not None and name_key(name) == name_key(self.me)

    def missed(self) -> int:
        """Unread messages over every conversation (the top bar's "N missed")."""
        return sum(conv.unread for conv in self.conversations.values())

    def mentions_me(self, text: str) -> bool:
        """Whether ``text`` contains ``@NAME`` for the logged-in user's NAME."""
        if self._mention is None:
            return False
        return self._mention.search(_fold(text)) is not None

    def chat_order(self) -> list[Conversation]:
        """Conversations as the chats pane lists them: the main chat, the pinned ones in
        pin order, then the rest, most recent activity first."""
        pinned_keys = [name_key(name) for name in self.pinned]
        pinned = [self.conversations[key] for key in pinned_keys if key in self.conversations and key != MAIN]
        rest = [
            conv for key, conv in self.conversations.items() if key != MAIN and key not in pinned_keys
        ]
        rest.sort(key=lambda conv: (-conv.last_activity, _fold(conv.name)))
        return [self.main, *pinned, *rest]

    def group_count(self) -> int:
        """Groups the user is in, as the chats pane knows them."""
        return sum(1 for conv in self.conversations.values() if conv.group and not conv.gone)

    def is_ignored(self, name: str) -> bool:
        """The user ignores the account called ``name`` (any case)."""
        return name_key(name) in self.ignored

    def ignore_notice(self, code: NoticeCode, text: str) -> bool:
        """Follow an ignore notice of the server's (``ignored``, ``already_ignored``,
        ``unignored``, ``ignore_list``, ``ignore_none``: docs/protocol.md) in
        :attr:`ignored`; the name is the word the notice's text puts it at (names have no
        spaces or commas). Returns whether ``code`` is one of them."""
        words = text.split(" ")
        if code in (NoticeCode.IGNORED, NoticeCode.ALREADY_IGNORED) and len(words) > 2:
            self.ignored.add(name_key(words[2]))
        elif code is NoticeCode.UNIGNORED:
            self.ignored.discard(name_key(words[-1]))
        elif code is NoticeCode.IGNORE_LIST:
            self.ignored = {name_key(name) for name in text.partition(": ")[2].split(", ") if name}
        elif code is NoticeCode.IGNORE_NONE:
            self.ignored = set()
        else:
            return False
        return True

    def is_pinned(self, key: str) -> bool:
        """Whether the conversation ``key`` is pinned."""
        return any(name_key(name) == key for name in self.pinned)

    def typing_names(self, key: str, now: float) -> list[str]:
        """Who is typing in conversation ``key`` at ``now``, in the order they started."""
        return [name for (conv, _), (name, until) in self._typing.items() if conv == key and until > now]

    def next_typing_expiry(self) -> float | None:
        """The earliest time a typing indicator runs out, or ``None`` if there is none."""
        return min((until for _, until in self._typing.values()), default=None)

    def people_list(self, query: str = "") -> list[Person]:
        """People for the online pane: online first (active, busy, away, inactive, then
        by name), then offline known contacts (most recently seen first). ``query``
        keeps only names containing it (case-insensitive)."""
        folded = _fold(query.strip())
        chosen = [p for p in self.people.values() if not folded or folded in _fold(p.name)]
        online = sorted(
            (p for p in chosen if p.online),
            key=lambda p: (STATUSES.index(p.status) if p.status in STATUSES else len(STATUSES), _fold(p.name)),
        )
        offline = sorted(
            (p for p in chosen if not p.online), key=lambda p: (-(p.last_seen or 0.0), _fold(p.name))
        )
        return online + offline

    def live_notifications(self, now: float) -> list[Notification]:
        """The notifications to show at ``now``, oldest first: server notices expire
        after :data:`SERVER_NOTICE_TTL` even before :meth:`expire` runs."""
        return [n for n in self.notifications if not n.expired(now)]

    def online_count(self) -> int:
        """People online, the user excluded."""
        return sum(1 for p in self.people.values() if p.online)

    def online_total(self) -> int:
        """Everyone online, the user included while logged in: the one count the
        screen shows (the online pane's title and the main chat's agree, as the
        server's ``/who`` does)."""
        return self.online_count() + (1 if self.signed_in else 0)

    def person(self, name: str) -> Person | None:
        """The person called ``name`` (any case), or ``None``."""
        return self.people.get(name_key(name))

    # --- changes -------------------------------------------------------------------------------

    def forget(self, name: str) -> None:
        """``name`` has no account (the server said ``no such user``: renamed or
        deleted): drop them from the people known; a conversation with them stays."""
        self.people.pop(name_key(name), None)
        self._stop_typing(name)

    def open(self, key: str) -> None:
        """Show conversation ``key`` (created empty for a person if needed by the caller):
        its unread count, mentions, activity marker and notifications are cleared."""
        if key not in self.conversations:
            key = MAIN
        self.open_key = key
        conv = self.conversations[key]
        conv.unread = conv.mentions = 0
        conv.activity = False
        self.notifications = [n for n in self.notifications if n.where != key]

    def conversation_with(self, name: str) -> Conversation:
        """The private conversation with ``name``, created if new."""
        key = name_key(name)
        conv = self.conversations.get(key)
        if conv is None:
            conv = self.conversations[key] = Conversation(key, name)
            self._know(name)
        return conv

    def group_conversation(self, name: str) -> Conversation:
        """The conversation of group ``name`` (without ``#``), created if new; its
        display name follows the server's latest spelling."""
        key = group_key(name)
        conv = self.conversations.get(key)
        if conv is None:
            conv = self.conversations[key] = Conversation(key, name, group=True)
        conv.name = name
        return conv

    def set_pinned(self, names: list[str]) -> None:
        """Replace the pinned list (display names)."""
        self.pinned = list(dict.fromkeys(names))

    def toggle_pin(self, key: str) -> bool:
        """Pin or unpin conversation ``key``; returns whether it is pinned now.
        The main chat is always first and cannot be pinned."""
        conv = self.conversations.get(key)
        if conv is None or key == MAIN:
            return False
        if self.is_pinned(key):
            self.pinned = [name for name in self.pinned if name_key(name) != key]
            return False
        self.pinned.append(conv.label)  # "#name" for a group: never a person's name
        return True

    def add_line(self, key: str, text: str, ts: float, kind: EntryKind = EntryKind.SYSTEM) -> None:
        """Add a system or error line to conversation ``key`` (the main chat if gone).
        Marks activity (not unread) when that conversation is not open."""
        conv = self.conversations.get(key) or self.main
        self._append(conv, Entry(kind, ts, clean(text)), unread=False)

    def add_own(self, key: str, text: str, ts: float, kind: EntryKind = EntryKind.MESSAGE) -> None:
        """Show a line the user sent that the server does not echo back (main chat
        lines, ``/me``, ``/shrug``...)."""
        conv = self.conversations.get(key) or self.main
        self._append(conv, Entry(kind, ts, clean(text), self.me or "", own=True), unread=False)

    def expire(self, now: float) -> None:
        """Drop typing indicators and server notices that ran out at ``now``."""
        self._typing = {k: v for k, v in self._typing.items() if v[1] > now}
        self.notifications = self.live_notifications(now)

    def disconnected(self, now: float) -> None:
        """The connection is gone: nobody is known to be online or typing any more."""
        self.signed_in = False
        for person in self.people.values():
            if person.online:
                person.online = False
                person.last_seen = now
        self._typing.clear()

    def apply(self, event: ServerEvent, ts: float, now: float) -> Alert:
        """Update the state with one server event.

        Args:
            event: a decoded event (see :func:`~pollchat.protocol.render.decode_json`).
            ts: its server time (for history, when the message was sent), seconds since
                the epoch.
            now: the client's current time, seconds since the epoch.

        Returns:
            What the user should be alerted to: a live mention of them, or a live
            private message in a conversation that is not open.
        """
        match event:
            case Welcome(name, users):
                self._welcome(name, users, now)
            case Entered(name):
                person = self._know(name)
                person.online, person.status, person.message = True, "active", ""
                person.idle, person.measured_at = 0, now
                self.add_line(MAIN, render_text(event), ts)
            case Left(name):
                person = self._know(name)
                person.online, person.last_seen = False, ts
                self._stop_typing(name)
                self.add_line(MAIN, render_text(event), ts)
            case Message(sender, text, history, _, group, message_id) | Emote(sender, text, history, _, group, message_id):
                kind = EntryKind.ACTION if isinstance(event, Emote) else EntryKind.MESSAGE
                conv = self.group_conversation(group) if group else self.main
                return self._message(conv, kind, sender, text, ts, history, message_id=message_id)
            case PrivateMessage(sender, recipient, text, outgoing, history, _, message_id):
                peer = recipient if outgoing else sender
                conv = self.conversation_with(peer)
                return self._message(conv, EntryKind.MESSAGE, sender, text, ts, history, private=True, message_id=message_id)
            case Older(where, _, messages, more):
                self._older(where, messages, more)
            case SearchResults():
                self.search_results = event
            case Receipt(name, until):
                key = name_key(name)
                self.read_marks[key] = max(until, self.read_marks.get(key, until))
            case StatusChanged(name, status, message):
                if self.is_me(name):
                    self.my_status, self.my_message = status, message
                else:
                    person = self._know(name)
                    person.online, person.status, person.message = True, status, message
                    if status == "active":
                        person.idle, person.measured_at = 0, now
                self.add_line(MAIN, render_text(event), ts)
            case WhoList(users):
                self._who(users, now)
            case Whois(name, _kind, online, status, message, since, idle):
                if not self.is_me(name):
                    person = self._know(name)
                    person.whois_asked = True
                    person.online = online
                    if online:
                        person.status, person.message = status, message
                        person.idle, person.measured_at = idle, now
                    else:
                        person.last_seen = since
            case Renamed(old, new):
                self._rename(old, new)
                self.add_line(MAIN, render_text(event), ts)
            case Typing(name, active, private, group):
                key = group_key(group) if group else name_key(name) if private else MAIN
                if active:
                    self._typing[(key, name_key(name))] = (name, now + TYPING_TTL)
                else:
                    self._typing.pop((key, name_key(name)), None)
            case Announcement() | ShutdownWarning() | ShutdownCancelled():
                text = render_text(event)
                self.add_line(MAIN, text, ts)
                sender = event.sender if isinstance(event, Announcement) else ""
                if isinstance(event, ShutdownCancelled):  # the warnings are void now
                    self.notifications = [n for n in self.notifications if n.kind is not NoticeKind.SHUTDOWN]
                notice = NoticeKind.SHUTDOWN if isinstance(event, ShutdownWarning) else NoticeKind.SERVER
                self.notifications.append(Notification(notice, sender, MAIN, clean(text), now))
            case ShuttingDown():
                self.add_line(MAIN, render_text(event), ts)
            case GroupEvent() | GroupList() | Mention():
                return groups.apply(self, event, ts, now)
        return Alert.NONE

    # --- helpers -------------------------------------------------------------------------------

    def _welcome(self, name: str, users: tuple[str, ...], now: float) -> None:
        if self.me is not None and not self.is_me(name):
            self._rename(self.me, name)
        self.me = name
        self.signed_in = True
        self._mention = mention_pattern(name)
        self.my_status, self.my_message = "active", ""
        online = {name_key(user) for user in users}
        for key, person in self.people.items():
            if person.online and key not in online:
                person.online, person.last_seen = False, now
        for user in users:
            if not self.is_me(user):
                person = self._know(user)
                if not person.online:
                    person.online, person.status, person.message, person.idle = True, "active", "", None

    def _who(self, users: tuple[WhoEntry, ...], now: float) -> None:
        listed = set()
        for entry in users:
            if self.is_me(entry.name):
                self.my_status, self.my_message = entry.status, entry.message
                continue
            person = self._know(entry.name)
            person.online, person.status, person.message = True, entry.status, entry.message
            person.idle, person.measured_at = entry.idle, now
            listed.add(name_key(entry.name))
        for key, person in self.people.items():
            if person.online and key not in listed:
                person.online, person.last_seen = False, now

    def _know(self, name: str) -> Person:
        key = name_key(name)
        person = self.people.get(key)
        if person is None:
            person = self.people[key] = Person(name)
        return person

    def _stop_typing(self, name: str) -> None:
        who = name_key(name)
        self._typing = {k: v for k, v in self._typing.items() if k[1] != who}

    def _rename(self, old: str, new: str) -> None:
        old_key, new_key = name_key(old), name_key(new)
        if self.is_me(old):
            self.me = new
            self._mention = mention_pattern(new)
        if old_key in self.people:
            person = self.people.pop(old_key)
            person.name = new
            self.people[new_key] = person
        if old_key in self.conversations and old_key != new_key and new_key not in self.conversations:
            conv = self.conversations.pop(old_key)
            conv.key, conv.name = new_key, new
            self.conversations[new_key] = conv
            if self.open_key == old_key:
                self.open_key = new_key
        elif old_key in self.conversations:
            self.conversations[old_key].name = new
        self.pinned = [new if name_key(name) == old_key else name for name in self.pinned]
        self._typing = {k: v for k, v in self._typing.items() if k[1] != old_key}
        self.notifications = [
            Notification(n.kind, new if name_key(n.who) == old_key else n.who,
                         new_key if n.where == old_key else n.where, n.text, n.ts)
            for n in self.notifications
        ]

    def _message(
        self,
        conv: Conversation,
        kind: EntryKind,
        sender: str,
        text: str,
        ts: float,
        history: bool,
        private: bool = False,
        message_id: int = 0,
    ) -> Alert:
        own = self.is_me(sender)
        if not own:
            self._know(sender)
        mention = not own and self.mentions_me(text)
        entry = Entry(kind, ts, clean(text), sender, own=own, history=history, mention=mention, id=message_id)
        self._stop_typing_in(conv.key, sender)
        if history:
            self._insert_history(conv, entry)
            return Alert.NONE
        counts = not own and conv.key != self.open_key
        self._append(conv, entry, unread=counts)
        if not counts:
            return Alert.NONE
        if mention and not private and not self.server_mentions:
            # A server that sends ``mention`` events follows each such line with one;
            # that event counts and notifies (groups.apply), so counting here as well
            # would notify twice. Older servers never send them: match locally.
            conv.mentions += 1
            self.notifications.append(Notification(NoticeKind.MENTION, sender, conv.key, entry.text, ts))
            return Alert.MENTION
        if private:
            self.notifications = [
                n for n in self.notifications if not (n.kind is NoticeKind.PRIVATE and n.where == conv.key)
            ]
            self.notifications.append(Notification(NoticeKind.PRIVATE, sender, conv.key, entry.text, ts))
            return Alert.PRIVATE
        return Alert.NONE

    def rekey(self, old_key: str, new_key: str) -> None:
        """A conversation moved from ``old_key`` to ``new_key`` (a group renamed): its
        typing indicators and notifications follow it."""
        self._typing = {(new_key if k[0] == old_key else k[0], k[1]): v for k, v in self._typing.items()}
        self.notifications = [
            replace(n, where=new_key) if n.where == old_key else n for n in self.notifications
        ]

    def mark_mention(self, key: str, sender: str, text: str) -> bool:
        """Highlight the latest live line of ``sender`` saying ``text`` in conversation
        ``key`` as a mention of the user; whether it was already highlighted."""
        conv = self.conversations.get(key)
        if conv is None:
            return False
        shown, who = clean(text), name_key(sender)
        for index in range(len(conv.entries) - 1, max(-1, len(conv.entries) - 50), -1):
            entry = conv.entries[index]
            if not entry.history and entry.text == shown and name_key(entry.sender) == who:
                if entry.mention:
                    return True
                conv.entries[index] = replace(entry, mention=True)
                return False
        return False

    def mark_unread(self, key: str, sender: str, ts: float) -> None:
        """Count one message in ``key`` as unread though it came as history (private
        messages that arrived while the user was offline)."""
        conv = self.conversations.get(key)
        if conv is None or key == self.open_key:
            return
        conv.unread += 1
        conv.activity = True
        self.notifications = [n for n in self.notifications if not (n.kind is NoticeKind.PRIVATE and n.where == key)]
        self.notifications.append(Notification(NoticeKind.PRIVATE, sender, key, "", ts))

    def _stop_typing_in(self, key: str, sender: str) -> None:
        self._typing.pop((key, name_key(sender)), None)

    def _append(self, conv: Conversation, entry: Entry, unread: bool) -> None:
        conv.entries.append(entry)
        if len(conv.entries) > MAX_ENTRIES:
            del conv.entries[: len(conv.entries) - MAX_ENTRIES]
        conv.last_activity = max(conv.last_activity, entry.ts)
        if conv.key != self.open_key:
            conv.activity = True
            if unread:
                conv.unread += 1

    def _insert_history(self, conv: Conversation, entry: Entry, *, older: bool = False) -> None:
        """Put a replayed line in time order, unless it is there already (it then
        learns its id); ``older``: a scrollback page's, looked for among the first lines
        and never trimmed away (the user asked for it)."""
        near = range(min(len(conv.entries), 500)) if older else range(len(conv.entries) - 1, max(-1, len(conv.entries) - 501), -1)
        for index in near:
            old = conv.entries[index]
            if (
                old.kind == entry.kind
                and old.text == entry.text
                and old.own == entry.own
                and name_key(old.sender) == name_key(entry.sender)
                and abs(old.ts - entry.ts) <= DUPLICATE_WINDOW
            ):
                if entry.id and not old.id:
                    conv.entries[index] = replace(old, id=entry.id)
                return
        # in order by id where both lines have one (lines of one millisecond keep the
        # order they were said in), else by time; a scrollback page's line before every
        # line that is not older than it, any other after every line that is not newer
        def key(other: Entry) -> float:
            return other.id - entry.id if other.id and entry.id else other.ts - entry.ts

        if older:
            where = 0
            while where < len(conv.entries) and key(conv.entries[where]) < 0:
                where += 1
        else:
            where = len(conv.entries)
            while where > 0 and key(conv.entries[where - 1]) > 0:
                where -= 1
        conv.entries.insert(where, entry)
        if len(conv.entries) > MAX_ENTRIES and not older:
            del conv.entries[: len(conv.entries) - MAX_ENTRIES]
            conv.older_done = False  # the oldest lines went: there is something older again
        conv.last_activity = max(conv.last_activity, entry.ts)

    # --- scrollback ---------------------------------------------------------------------------

    def scrollback_target(self, key: str) -> str | None:
        """How ``/older`` names conversation ``key``: "" the main chat, ``#group``,
        ``@name``; ``None`` for no such conversation."""
        conv = self.conversations.get(key)
        if conv is None:
            return None
        if key == MAIN:
            return ""
        return f"#{conv.name}" if conv.group else f"@{conv.name}"

    def older_cursor(self, key: str) -> str:
        """Where the next scrollback page of ``key`` starts (``/older``'s BEFORE): the
        id of its oldest line when the server said it, else that line's server time
        (ISO 8601), else ``now``. The user's own main-chat and group lines carry the
        client's clock, not the server's: they are passed over (the page brings them
        again, and they are recognised as already there)."""
        conv = self.conversations.get(key)
        if conv is None:
            return "now"
        for entry in conv.entries:
            if entry.kind not in (EntryKind.MESSAGE, EntryKind.ACTION):
                continue
            if entry.id:
                return str(entry.id)
            if entry.own and not entry.history and (key == MAIN or conv.group):
                continue  # shown when typed, with the client's time
            return format_ts(entry.ts)
        return "now"

    def receipt_mark(self, conv: Conversation, entry: Entry) -> str:
        """The check shown after one of the user's private messages: ``✓`` sent (the
        server's copy is what the client shows), ``✓✓`` read by the other person (a read
        receipt covers it); "" for any other line."""
        if not entry.own or entry.kind is not EntryKind.MESSAGE or conv.group or conv.key == MAIN:
            return ""
        read = self.read_marks.get(conv.key)
        return texts.CLIENT_READ if read is not None and entry.ts <= read else texts.CLIENT_SENT

    def unreported_read(self) -> tuple[str, float] | None:
        """``(name, time)`` for a ``/read`` to send: the open private conversation holds a
        message from the other person newer than the last one reported read."""
        conv = self.current
        if conv.key == MAIN or conv.group:
            return None
        newest = max((e.ts for e in conv.entries if not e.own and e.kind is EntryKind.MESSAGE), default=0.0)
        if newest <= conv.read_reported:
            return None
        conv.read_reported = newest
        return conv.name, newest

    def conversation_of(self, where: str) -> Conversation:
        """The conversation a stored message names (:attr:`StoredMessage.conversation`:
        ``""``, ``#group``, ``@name``), made if it is not there yet."""
        if where.startswith("#"):
            return self.group_conversation(where[1:])
        if where.startswith("@"):
            return self.conversation_with(where[1:])
        return self.main

    @staticmethod
    def find_message(conv: Conversation, message: StoredMessage) -> int | None:
        """The index of ``message`` among ``conv``'s lines: by id, or for a line shown
        live (no id) by sender, text and time (within a second); ``None`` if it is not
        there (yet)."""
        text, who = clean(message.text), name_key(message.sender)
        for index in range(len(conv.entries) - 1, -1, -1):
            entry = conv.entries[index]
            if entry.id == message.id or (
                not entry.id and entry.text == text and name_key(entry.sender) == who and abs(entry.ts - message.sent) <= 1
            ):
                return index
        return None

    def _older(self, where: str, messages: tuple[StoredMessage, ...], more: bool) -> None:
        """A scrollback page: its lines go in before the others (as history, never
        unread), and with ``more`` false the start of the history is marked."""
        conv = self.conversation_of(where)
        conv.older_waiting = False
        for message in messages:
            kind = EntryKind.ACTION if message.kind == "action" else EntryKind.MESSAGE
            own = self.is_me(message.sender)
            if not own:
                self._know(message.sender)
            entry = Entry(
                kind, message.sent, clean(message.text), message.sender, own=own, history=True,
                mention=not own and self.mentions_me(message.text), id=message.id,
            )
            self._insert_history(conv, entry, older=True)
        if not more and not conv.older_done:
            conv.older_done = True
            first = conv.entries[0].ts if conv.entries else 0.0
            conv.entries.insert(0, Entry(EntryKind.SYSTEM, first, texts.CLIENT_HISTORY_START))
