"""The hub: who is online, and what each chat event means for everyone else.

The hub decides; it never performs I/O. Each method returns the :class:`Delivery`
values the server must carry out: an event and the connections ("handles") that receive
it. A handle is whatever object the caller uses for a connection (the server passes its
connection objects); the hub only stores and compares them, so nothing is ever looked up
by file descriptor. Messages worth keeping are appended to :attr:`Hub.records`, which the
server drains into the database once per loop pass.

Sessions are kept in login order, which is the order of seed 004's active-users list.
The wall clock is injected (``clock``), so idle times and statuses are testable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import islice
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pollchat.core.accounts import Account, AccountDirectory, Ban
from pollchat.core.game import GuessingGame
from pollchat.core.history import HistoryRecord, Mailbox, RecordKind
from pollchat.core.mentions import mentioned_keys
from pollchat.core.presence import Presence, Status
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    Error,
    Left,
    Mention,
    Message,
    Notice,
    PrivateMessage,
    Renamed,
    ServerEvent,
    StatusChanged,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.config import DEFAULT_IDLE_AFTER
from pollchat.protocol.names import mixed_scripts, name_key, normalize_name
from pollchat.protocol.render import NameList, format_time
from pollchat.texts import ErrorCode, NoticeCode

H = TypeVar("H")


class Everyone(Sequence[H]):
    """The targets of a delivery to everyone logged in, but ``exclude``: the online
    handles, in login order, when the hub decided.

    It iterates, counts and compares (equal to the tuple of the same handles) like the
    tuple it stands for, so any front end can carry it out target by target. The
    server does better: it keeps its own lists of logged-in connections per output mode,
    told of every login and leave by the hub (:meth:`Hub.observe`), so they hold the
    same handles at that moment, and appends a whole loop pass's broadcast bytes to each
    connection once (``EventLoop.broadcast``).

    Making one costs no walk over the sessions: it is a view of the first ``count``
    handles of the hub's list in login order, which the hub only ever appends to (a
    leave makes a new list), so a chat line or a login among 10,000 users copies no list
    of 9,999.
    """

    __slots__ = ("handles", "count", "exclude")

    def __init__(self, handles: Sequence[H], exclude: H | None = None, count: int | None = None) -> None:
        self.handles = handles
        self.count = len(handles) if count is None else count
        self.exclude = exclude

    def __iter__(self) -> Iterator[H]:
        exclude, handles = self.exclude, islice(self.handles, self.count)
        if exclude is None:
            return handles
        return (h for h in handles if h is not exclude)

    def __len__(self) -> int:
        if self.exclude is None:
            return self.count
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, Everyone)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Everyone({tuple(self)!r})"


@dataclass(frozen=True, slots=True)
class Delivery(Generic[H]):
    """Send ``event`` to each of ``targets`` (render it once, share the bytes).

    ``targets`` is a tuple, or :class:`Everyone` for a delivery to every logged-in
    session (but one), which the server may carry out per loop pass."""

    targets: tuple[H, ...] | Everyone[H]
    event: ServerEvent


@dataclass(frozen=True, slots=True)
class Admission(Generic[H]):
    """The result of a login or registration attempt.

    Attributes:
        refusal: why it was refused, or ``None`` if the session is now online.
        deliveries: what to send (the welcome and the entered notices) when admitted.
        account: the admitted account (with its id), when admitted.
        alone: nobody else was online (the server may offer the game).
        detail: format arguments of the refusal's text (a ban's end and reason).
    """

    refusal: ErrorCode | None
    deliveries: tuple[Delivery[H], ...] = ()
    account: Account | None = None
    alone: bool = False
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AdminOutcome(Generic[H]):
    """The result of an admin action.

    Attributes:
        reply: what the admin is told (a notice on success, an error otherwise).
        deliveries: what everyone else is sent.
        disconnect: connections to close once the deliveries are queued.
    """

    reply: Notice | Error
    deliveries: tuple[Delivery[H], ...] = ()
    disconnect: tuple[H, ...] = ()


@dataclass(slots=True)
class OnlineSession(Generic[H]):
    """A logged-in session: its handle, account, presence, game and focus."""

    handle: H
    account: Account
    presence: Presence
    game: GuessingGame | None = field(default=None)
    focus: int | None = None
    """The id of the group plain lines go to (``/focus #name``), or ``None``: the main chat."""


class Hub(Generic[H]):
    """The main chat room and everything said in it.

    Args:
        accounts: the account directory.
        budget: the seat budget; its ``preconfigured`` count must match ``accounts``.
        clock: wall-clock seconds since the epoch (``time.time`` in the server; the hub
            never reads the clock itself, so tests drive time by hand).
        idle_after: seconds of silence before an active user becomes inactive.
        offline_quota: unread private messages an offline account may have waiting;
            past it ``/msg`` to it is refused (0: no limit). Needs :attr:`mailbox`.
    """

    def __init__(
        self,
        accounts: AccountDirectory,
        budget: SeatBudget,
        *,
        clock: Callable[[], float],
        idle_after: float = DEFAULT_IDLE_AFTER,
        offline_quota: int = 0,
    ) -> None:
        self.accounts = accounts
        self.budget = budget
        self.clock = clock
        self.idle_after = idle_after
        self.offline_quota = offline_quota
        self.mailbox: Mailbox | None = None
        """Where messages are kept (the history log); while it cannot write, a private
        message to an offline account is not promised (issue 14). ``None``: always fine."""
        self.records: list[HistoryRecord] = []
        self.closing = False
        """Set while a shutdown countdown runs: new logins are refused."""
        self.messages = 0
        """Chat lines, actions and private messages so far (for the console's stats)."""
        self._by_key: dict[str, OnlineSession[H]] = {}  # insertion order = login order
        self._by_handle: dict[H, OnlineSession[H]] = {}
        self._by_id: dict[int, OnlineSession[H]] = {}
        # Kept between logins and leaves, so that a login among 10,000 costs no walk over
        # every session (docs/performance.md, issue 13): the names in login order with
        # their renderings (None: make them again), the handles in login order (None:
        # make them again), and whether a game may be running anywhere.
        self._names: NameList | None = NameList()
        self._handle_order: list[H] | None = []
        self._maybe_playing = False
        self._on_online: Callable[[H], None] | None = None
        self._on_offline: Callable[[H], None] | None = None

    def observe(self, online: Callable[[H], None], offline: Callable[[H], None]) -> None:
        """Call ``online(handle)`` as a session starts (before its admission's deliveries
        are returned) and ``offline(handle)`` as one ends (before its left notice is
        returned), so a caller can keep its own list of who :class:`Everyone` stands
        for (the server's per-mode broadcast lists)."""
        self._on_online, self._on_offline = online, offline

    # --- queries ---------------------------------------------------------------------------

    def online_names(self) -> tuple[str, ...]:
        """Names of everyone online, in login order."""
        names = self._names
        if names is None:
            names = self._names = NameList(session.account.name for session in self._by_key.values())
        return names

    def session_of(self, handle: H) -> OnlineSession[H] | None:
        """The online session on ``handle``, if it is logged in."""
        return self._by_handle.get(handle)

    def session_by_id(self, account_id: int) -> OnlineSession[H] | None:
        """The online session of account ``account_id``, if it is logged in."""
        return self._by_id.get(account_id)

    def handles_of(self, account_ids: Iterable[int], exclude: H | None = None) -> list[H]:
        """The handles of those of ``account_ids`` who are online, in that order,
        without ``exclude``. On a group line's fan-out path: one dict lookup each."""
        by_id = self._by_id
        return [s.handle for s in map(by_id.get, account_ids) if s is not None and s.handle is not exclude]


    def take_records(self) -> list[HistoryRecord]:
        """The messages to store since the last call (the caller writes them)."""
        records, self.records = self.records, []
        return records

    # --- login and registration --------------------------------------------------------------

    def check_registration(self, name: str) -> ErrorCode | None:
        """Cheap checks before a registration's password is hashed: the name is free,
        does not look like another account's (:meth:`_lookalike`) and a registered seat
        is open. Returns the refusal, or ``None`` to go on."""
        if self.closing:
            return ErrorCode.SERVER_CLOSING
        if self.accounts.find(name) is not None:
            return ErrorCode.NAME_TAKEN
        refusal = self._lookalike(name)
        if refusal is not None:
            return refusal
        if not self.budget.has_seat(AccountKind.REGISTERED):
            return ErrorCode.SERVER_FULL
        return None

    def login(self, handle: H, account: Account | None, password_ok: bool) -> Admission[H]:
        """Finish a login whose password check gave ``password_ok``.

        ``account`` is the account looked up before the check (``None`` if unknown: the
        check then ran against a dummy hash, and the reply is the same as for a wrong
        password, so nobody learns which names exist). The account is looked up again,
        since it may have been renamed or deleted while the password was checked.
        """
        if account is None or not password_ok:
            return Admission(ErrorCode.WRONG_PASSWORD)
        current = self.accounts.find(account.name)
        if current is None or current.id != account.id or current.password_hash != account.password_hash:
            return Admission(ErrorCode.WRONG_PASSWORD)
        ban = self.accounts.ban_of(current, self.clock())
        if ban is not None:  # told only to someone who knows the password
            return Admission(ErrorCode.BANNED, detail={"until": ban_period(ban), "reason": _reason(ban.reason)})
        return self._admit(handle, current)

    def register(self, handle: H, name: str, password_hash: str) -> Admission[H]:
        """Finish a registration whose password was hashed to ``password_hash``.

        The checks of :meth:`check_registration` are repeated, since another connection
        may have taken the name or the last seat while the hash was computed. The
        account is created only if the session is admitted (a refused registration
        creates nothing).
        """
        refusal = self.check_registration(name)
        if refusal is not None:
            return Admission(refusal)
        account = self.accounts.register(name, password_hash)
        if account is None:
            return Admission(ErrorCode.NAME_TAKEN)
        return self._admit(handle, account)

    def _lookalike(self, name: str, account: Account | None = None) -> ErrorCode | None:
        """Issue 14: a new name (registration, ``/nick``) may not mix Latin, Cyrillic and
        Greek letters, nor look like another account's name (UTS #39 skeletons)."""
        if mixed_scripts(name):
            return ErrorCode.MIXED_SCRIPT_NAME
        if self.accounts.lookalike(name, exclude=account) is not None:
            return ErrorCode.LOOKALIKE_NAME
        return None

    def _admit(self, handle: H, account: Account) -> Admission[H]:
        if handle in self._by_handle:
            raise RuntimeError("this connection is already logged in")
        if self.closing:
            return Admission(ErrorCode.SERVER_CLOSING)
        if account.key in self._by_key:
            return Admission(ErrorCode.ALREADY_ONLINE)
        if not self.budget.has_seat(account.kind):
            return Admission(ErrorCode.SERVER_FULL)
        others = self._everyone(handle)  # taken before this session joins the list
        deliveries: list[Delivery[H]] = [Delivery(others, Entered(account.name))]
        if self._maybe_playing:  # someone arrived: games for the lonely end
            self._maybe_playing = False
            for other in self._by_key.values():
                if other.game is not None:
                    other.game = None
                    deliveries.append(self._notice(other.handle, NoticeCode.GAME_OVER, name=account.name))
        self.budget.take(account.kind)
        now = self.clock()
        session = OnlineSession(handle, account, Presence(online_since=now, last_active=now))
        key = account.key
        self._by_key[account.name if key == account.name else key] = session  # one string for both when equal
        self._by_handle[handle] = session
        self._by_id[account.id] = session
        if self._handle_order is not None:
            self._handle_order.append(handle)  # earlier Everyone views see only their count
        if self._names is not None:
            self._names = self._names.plus(account.name)
        if self._on_online is not None:
            self._on_online(handle)
        welcome = Delivery((handle,), Welcome(account.name, self.online_names()))
        return Admission(None, (welcome, *deliveries), account, alone=not others)

    # --- activity and presence ------------------------------------------------------------------

    def touch(self, handle: H) -> list[Delivery[H]]:
        """``handle`` said something: it is no longer idle, and a user the idle monitor
        made inactive is active again (announced to everyone)."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        presence = session.presence
        presence.last_active = self.clock()
        if presence.automatic and presence.status is Status.INACTIVE:
            return self._set_status(session, Status.ACTIVE, "", automatic=False)
        return []

    def check_idle(self, handle: H) -> tuple[list[Delivery[H]], float | None]:
        """The idle monitor's tick for ``handle``.

        Returns:
            The deliveries (a status change if the user just became inactive) and when
            to check again (epoch seconds), or ``None`` if ``handle`` is not logged in.
        """
        session = self._by_handle.get(handle)
        if session is None:
            return [], None
        now = self.clock()
        presence = session.presence
        deadline = presence.idle_deadline(self.idle_after)
        if now < deadline:
            return [], deadline
        deliveries: list[Delivery[H]] = []
        if presence.status is Status.ACTIVE:
            deliveries = self._set_status(session, Status.INACTIVE, "", automatic=True)
        return deliveries, now + self.idle_after

    def set_status(self, handle: H, status: Status, message: str = "") -> list[Delivery[H]]:
        """``/status`` and ``/away``: set by hand, announced to every logged-in user."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        return self._set_status(session, status, message, automatic=False)

    def _set_status(self, session: OnlineSession[H], status: Status, message: str, *, automatic: bool) -> list[Delivery[H]]:
        presence = session.presence
        presence.status, presence.message, presence.automatic = status, message, automatic
        return [Delivery(self._everyone(), StatusChanged(session.account.name, status.value, message))]

    def who(self, handle: H, describe: Callable[[H], tuple[int, str]] | None = None) -> list[Delivery[H]]:
        """``/who`` for ``handle``: see :meth:`who_list`."""
        return [Delivery((handle,), self.who_list(describe))]

    def who_list(self, describe: Callable[[H], tuple[int, str]] | None = None) -> WhoList:
        """Everyone online with status and idle time, in login order.

        Args:
            describe: for an admin, gives each handle's ``(connection id, peer address)``.
        """
        now = self.clock()
        entries = []
        for s in self._by_key.values():
            connection, address = describe(s.handle) if describe is not None else (0, "")
            entries.append(
                WhoEntry(s.account.name, s.presence.status.value, s.presence.message, s.presence.idle(now), connection, address)
            )
        return WhoList(tuple(entries))

    def whois(self, handle: H, name: str) -> list[Delivery[H]]:
        """``/whois NAME``: status, times and account kind, online or not."""
        account = self.accounts.find(name)
        if account is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        session = self._by_key.get(account.key)
        if session is None:
            info = Whois(account.name, account.kind.value, False, "offline", "", self.accounts.last_seen(account), None)
        else:
            presence = session.presence
            info = Whois(
                account.name,
                account.kind.value,
                True,
                presence.status.value,
                presence.message,
                presence.online_since,
                presence.idle(self.clock()),
            )
        return [Delivery((handle,), info)]

    # --- messages ---------------------------------------------------------------------------------

    def chat(self, handle: H, text: str, *, may_guess: bool = True) -> list[Delivery[H]]:
        """A chat line from ``handle``: everyone else online receives it (and it is kept
        in history). While the sender plays the game, a typed line (``may_guess``) is a
        guess instead."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        if session.game is not None and may_guess:
            return self._guess(session, text)
        self.record(session, RecordKind.CHAT, text)
        deliveries = [Delivery(self._everyone(session.handle), Message(session.account.name, text))]
        return deliveries + self.mentions(session, text)

    def action(self, handle: H, text: str) -> list[Delivery[H]]:
        """``/me text``: ``* NAME text`` to everyone else (kept in history)."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        self.record(session, RecordKind.ACTION, text)
        deliveries = [Delivery(self._everyone(session.handle), Emote(session.account.name, text))]
        return deliveries + self.mentions(session, text)

    def mentions(
        self, sender: OnlineSession[H], text: str, group: str = "", among: Collection[int] | None = None
    ) -> list[Delivery[H]]:
        """A :class:`Mention` for each online account ``text`` names as ``@name``
        (:mod:`pollchat.core.mentions`), other than the sender; in a group, only for
        the account ids in ``among`` (its members)."""
        if "@" not in text:
            return []
        deliveries = []
        for key in mentioned_keys(text):
            target = self._by_key.get(key)
            if target is None or target is sender or (among is not None and target.account.id not in among):
                continue
            deliveries.append(Delivery((target.handle,), Mention(sender.account.name, text, group)))
        return deliveries

    def private(self, handle: H, name: str, text: str) -> list[Delivery[H]]:
        """``/msg NAME text``: only NAME receives it; the sender gets a copy as
        confirmation, and a notice if NAME is offline (the message waits in history;
        while :attr:`mailbox` cannot write, the notice says it may be lost) or
        away/busy. An unknown NAME is an error naming it; so is an offline NAME with
        ``offline_quota`` unread messages (the message is not kept)."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        recipient = self.accounts.find(name)
        if recipient is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        if recipient.key == session.account.key:
            return [self._error(handle, ErrorCode.MESSAGE_TO_SELF)]
        sender = session.account
        target = self._by_key.get(recipient.key)
        if target is None and self._mailbox_full(recipient):
            return [self._error(handle, ErrorCode.MAILBOX_FULL, name=recipient.name, limit=self.offline_quota)]
        unsaved = target is None and self.mailbox is not None and not self.mailbox.healthy
        self.messages += 1
        self.records.append(
            HistoryRecord(
                self.clock(), RecordKind.PRIVATE, sender.id, sender.name, text, recipient.id, recipient.name, warned=unsaved
            )
        )
        deliveries = [Delivery((handle,), PrivateMessage(sender.name, recipient.name, text, outgoing=True))]
        if target is None:
            # Issue 14: "they will see it" only while the history can be written.
            notice = NoticeCode.PRIVATE_OFFLINE_UNSAVED if unsaved else NoticeCode.PRIVATE_OFFLINE
            deliveries.append(self._notice(handle, notice, name=recipient.name))
            return deliveries
        deliveries.insert(0, Delivery((target.handle,), PrivateMessage(sender.name, recipient.name, text)))
        status = target.presence.status
        if status in (Status.AWAY, Status.BUSY):
            if target.presence.message:
                notice = self._notice(
                    handle, NoticeCode.RECIPIENT_AWAY, name=recipient.name, status=status.value, message=target.presence.message
                )
            else:
                notice = self._notice(handle, NoticeCode.RECIPIENT_AWAY_NO_MESSAGE, name=recipient.name, status=status.value)
            deliveries.append(notice)
        return deliveries

    def _mailbox_full(self, recipient: Account) -> bool:
        """Issue 14: ``recipient`` (offline) has ``offline_quota`` unread private
        messages already, counted since its last logout."""
        if not self.offline_quota or self.mailbox is None:
            return False
        since = self.accounts.last_seen(recipient) or 0.0
        return self.mailbox.unread(recipient.id, since) >= self.offline_quota

    def record(self, session: OnlineSession[H], kind: RecordKind, text: str, group_id: int | None = None) -> None:
        """Keep ``session``'s main-chat (or, with ``group_id``, group) line in history
        and count it for the console's stats."""
        self.messages += 1
        account = session.account
        self.records.append(HistoryRecord(self.clock(), kind, account.id, account.name, text, group_id=group_id))

    def typing(self, handle: H, active: bool, name: str | None = None) -> list[Delivery[H]]:
        """``/typing on|off [NAME]``: tell the other members of the conversation (the
        main chat, or NAME's private conversation with the sender) that the sender is
        typing. Not stored, not counted as a message. An unknown or offline NAME is
        ignored: typing is a hint, never worth an error."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        event = Typing(session.account.name, active, private=name is not None)
        if name is None:
            return [Delivery(self._everyone(session.handle), event)]
        account = self.accounts.find(name)
        target = self._by_key.get(account.key) if account is not None else None
        if target is None or target is session:
            return []
        return [Delivery((target.handle,), event)]

    # --- the game -------------------------------------------------------------------------------------

    def play(self, handle: H, secret: int, guess: str | None = None) -> list[Delivery[H]]:
        """``/play [N]``: start a game while alone (``secret`` is the number to find),
        stop a running one, or (with ``N``) guess."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        if session.game is not None:
            if guess is not None:
                return self._guess(session, guess)
            session.game = None
            return [self._notice(handle, NoticeCode.GAME_STOPPED)]
        if len(self._by_key) > 1:
            return [self._error(handle, ErrorCode.NOT_ALONE)]
        session.game = GuessingGame(secret)
        self._maybe_playing = True
        deliveries = [self._notice(handle, NoticeCode.GAME_START, top=session.game.top)]
        if guess is not None:
            deliveries += self._guess(session, guess)
        return deliveries

    def guess(self, handle: H, line: str) -> list[Delivery[H]]:
        """A typed line taken as a guess of the game ``handle`` is playing (the caller
        checked :attr:`OnlineSession.game`)."""
        session = self._by_handle.get(handle)
        if session is None or session.game is None:
            return []
        return self._guess(session, line)

    def _guess(self, session: OnlineSession[H], line: str) -> list[Delivery[H]]:
        assert session.game is not None
        code, detail = session.game.guess(line)
        if session.game.finished:
            session.game = None
        return [self._notice(session.handle, code, **detail)]

    # --- account changes ----------------------------------------------------------------------------

    def rename(self, handle: H, new_name: str) -> list[Delivery[H]]:
        """``/nick NEWNAME``: rename a registered account; everyone sees it. The same
        rules as registration; changing only the case of one's own name is allowed."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        old = session.account
        name = normalize_name(new_name)
        if name is None:
            return [self._error(handle, ErrorCode.BAD_NAME, name=new_name[:40])]
        if old.kind is AccountKind.PRECONFIGURED:
            return [self._error(handle, ErrorCode.PRECONFIGURED_ACCOUNT, name=old.name)]
        if name == old.name:
            return []
        if name_key(name) != old.key and self.accounts.find(name) is not None:
            return [self._error(handle, ErrorCode.NAME_TAKEN)]
        refusal = self._lookalike(name, old)
        if refusal is not None:
            return [self._error(handle, refusal)]
        renamed = self.accounts.rename(old, name)
        if renamed is None:
            return [self._error(handle, ErrorCode.NAME_TAKEN)]
        session.account = renamed
        self._names = None
        # Rebuild the key index in place of the old key, keeping login order.
        self._by_key = {(renamed.key if key == old.key else key): s for key, s in self._by_key.items()}
        return [Delivery(self._everyone(), Renamed(old.name, renamed.name))]

    def change_password(self, handle: H, password_hash: str) -> list[Delivery[H]]:
        """``/passwd``, after the old password was verified and the new one hashed."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        if session.account.kind is AccountKind.PRECONFIGURED:
            return [self._error(handle, ErrorCode.PRECONFIGURED_ACCOUNT, name=session.account.name)]
        session.account = self.accounts.set_password(session.account, password_hash)
        return [self._notice(handle, NoticeCode.PASSWORD_CHANGED)]

    def unregister(self, handle: H) -> list[Delivery[H]]:
        """``/unregister``, after the password was verified: delete the account (its name
        becomes free), say goodbye, and end the session (others see it leave)."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        account = session.account
        if account.kind is AccountKind.PRECONFIGURED:
            return [self._error(handle, ErrorCode.PRECONFIGURED_ACCOUNT, name=account.name)]
        goodbye = self._notice(handle, NoticeCode.UNREGISTERED, name=account.name)
        deliveries = [goodbye, *self.leave(handle, record_last_seen=False)]
        self.accounts.delete(account)
        return deliveries

    def leave(self, handle: H, reason: str = "", *, record_last_seen: bool = True) -> list[Delivery[H]]:
        """End ``handle``'s session, if any: free its seat, remember when it was last
        seen, and tell everyone else (with the ``/quit`` message as ``reason``).

        Idempotent: a second call for the same handle returns no deliveries, so the
        left notice goes out exactly once however the connection ended."""
        session = self._by_handle.pop(handle, None)
        if session is None:
            return []
        del self._by_key[session.account.key]
        self._by_id.pop(session.account.id, None)
        self._handle_order = self._names = None
        if self._on_offline is not None:
            self._on_offline(handle)
        self.budget.release(session.account.kind)
        if record_last_seen:
            self.accounts.set_last_seen(session.account, self.clock())
        return [Delivery(self._everyone(), Left(session.account.name, reason))]

    # --- admin actions ---------------------------------------------------------------------------------

    def kick(self, actor: str, name: str, reason: str = "", *, actor_is_account: bool = True) -> AdminOutcome[H]:
        """An admin (or the operator console, ``actor``) disconnects ``name``'s session."""
        target = self._online_by_name(name)
        if isinstance(target, Error):
            return AdminOutcome(target)
        if actor_is_account and target.account.key == name_key(actor):
            return AdminOutcome(Error.of(ErrorCode.NOT_YOURSELF, name="kick"))
        told = Delivery((target.handle,), Notice.of(NoticeCode.KICKED, by=actor, reason=_reason(reason)))
        left = self.leave(target.handle, f"disconnected by {actor}{_reason(reason)}")
        reply = Notice.of(NoticeCode.KICK_DONE, name=target.account.name)
        return AdminOutcome(reply, (told, *left), (target.handle,))

    def ban(
        self, actor: str, name: str, until: float | None, reason: str = "", *, actor_is_account: bool = True
    ) -> AdminOutcome[H]:
        """Ban ``name`` until ``until`` (epoch seconds; ``None`` for good), persisted; a
        session of theirs is disconnected with the reason."""
        account = self.accounts.find(name)
        if account is None:
            return AdminOutcome(Error.of(ErrorCode.NO_SUCH_USER, name=name[:40]))
        if actor_is_account and account.key == name_key(actor):
            return AdminOutcome(Error.of(ErrorCode.NOT_YOURSELF, name="ban"))
        ban = Ban(until, reason, actor)
        self.accounts.ban(account, ban, self.clock())
        reply = Notice.of(NoticeCode.BAN_DONE, name=account.name, until=ban_period(ban))
        session = self._by_key.get(account.key)
        if session is None:
            return AdminOutcome(reply)
        ended = self.ban_session(actor, session.handle, ban)
        return AdminOutcome(reply, ended.deliveries, ended.disconnect)

    def ban_session(self, actor: str, handle: H, ban: Ban) -> AdminOutcome[H]:
        """Tell ``handle`` it is banned by ``actor`` and end its session; the ban itself
        (of its account, or of its address) is the caller's to keep."""
        session = self._by_handle.get(handle)
        if session is None:
            return AdminOutcome(Error.of(ErrorCode.NOT_ONLINE, name="?"))
        told = Delivery(
            (handle,),
            Notice.of(NoticeCode.BANNED_NOW, by=actor, until=ban_period(ban), reason=_reason(ban.reason)),
        )
        left = self.leave(handle, f"banned by {actor}{_reason(ban.reason)}")
        return AdminOutcome(Notice.of(NoticeCode.KICK_DONE, name=session.account.name), (told, *left), (handle,))

    def unban(self, actor: str, name: str) -> AdminOutcome[H]:
        """Lift the ban on ``name``."""
        account = self.accounts.find(name)
        if account is None:
            return AdminOutcome(Error.of(ErrorCode.NO_SUCH_USER, name=name[:40]))
        in_force = self.accounts.ban_of(account, self.clock()) is not None
        if not self.accounts.unban(account) or not in_force:  # an expired ban is no ban
            return AdminOutcome(Error.of(ErrorCode.NOT_BANNED, name=account.name))
        return AdminOutcome(Notice.of(NoticeCode.UNBAN_DONE, name=account.name))

    def announce(self, actor: str, text: str) -> list[Delivery[H]]:
        """An admin's marked line to everyone online (the admin included)."""
        return [Delivery(self._everyone(), Announcement(actor, text))]

    def everyone(self) -> Everyone[H]:
        """Every logged-in handle, in login order."""
        return self._everyone()

    def _online_by_name(self, name: str) -> OnlineSession[H] | Error:
        account = self.accounts.find(name)
        if account is None:
            return Error.of(ErrorCode.NO_SUCH_USER, name=name[:40])
        session = self._by_key.get(account.key)
        if session is None:
            return Error.of(ErrorCode.NOT_ONLINE, name=account.name)
        return session

    # --- helpers ----------------------------------------------------------------------------------------

    def _everyone(self, exclude: H | None = None) -> Everyone[H]:
        """Every logged-in handle but ``exclude``, in login order: a view of the list
        that logins append to (a leave drops it, to be made again when next needed)."""
        order = self._handle_order
        if order is None:  # the handles dict is in login order too; copied at C speed
            order = self._handle_order = list(self._by_handle)
        return Everyone(order, exclude, len(order))

    @staticmethod
    def _error(handle: H, code: ErrorCode, **detail: object) -> Delivery[H]:
        return Delivery((handle,), Error.of(code, **detail))

    @staticmethod
    def _notice(handle: H, code: NoticeCode, **detail: object) -> Delivery[H]:
        return Delivery((handle,), Notice.of(code, **detail))


__all__ = ["AdminOutcome", "Admission", "Delivery", "Everyone", "Hub", "OnlineSession", "ban_period"]


def ban_period(ban: Ban) -> str:
    """``until 2026-11-21 12:00 UTC`` or ``for good``, for ban texts."""
    return f"until {format_time(ban.until)} UTC" if ban.until is not None else "for good"


def _reason(reason: str) -> str:
    return f": {reason}" if reason else ""
