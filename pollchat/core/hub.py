"""The hub: the main chat room, and what each chat event means for everyone else.

The hub decides; it never performs I/O and never calls back into its caller. Each
method returns the effects (:mod:`pollchat.core.effects`) the server must carry out, in
order: deliveries of an event to a few connections ("handles"), deliveries to everyone
logged in, and the start and end of a session (so a server's own list of logged-in
connections follows the :class:`~pollchat.core.roster.Roster`). Messages worth keeping
are pushed into a :class:`~pollchat.core.history.RecordSink` as they are said.

Who is online lives in the roster, in login order (seed 004's active-users list); the
admin actions (kick, ban, announce) are in :mod:`pollchat.core.moderation`. The wall
clock is injected (``clock``), so idle times and statuses are testable.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.announce import Announcer
from pollchat.core.effects import Delivery, Effect, JoinedEveryone, LeftEveryone, ToEveryone
from pollchat.core.game import GuessingGame
from pollchat.core.history import HistoryRecord, RecordKind, RecordList, RecordSink
from pollchat.core.ignores import IgnoreStore, Ignores
from pollchat.core.mentions import mentioned_keys
from pollchat.core.presence import Presence, Status
from pollchat.core.roster import Everyone, OnlineSession, Roster
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.errors import StoreError
from pollchat.protocol.events import (
    Emote,
    Entered,
    Error,
    Left,
    Mention,
    Message,
    Notice,
    PrivateMessage,
    Renamed,
    StatusChanged,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.config import DEFAULT_IDLE_AFTER
from pollchat.protocol.names import mixed_scripts, name_key, normalize_name
from pollchat.protocol.namelist import NameList
from pollchat.texts import ErrorCode, NoticeCode, ban_period

log = logging.getLogger(__name__)

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Admission(Generic[H]):
    """The result of a login or registration attempt.

    Attributes:
        refusal: why it was refused, or ``None`` if the session is now online.
        deliveries: the effects to carry out when admitted: the session joins
            everyone, then the welcome, the entered notices and any game's end.
        account: the admitted account (with its id), when admitted.
        alone: nobody else was online (the server may offer the game).
        detail: format arguments of the refusal's text (a ban's end and reason).
    """

    refusal: ErrorCode | None
    deliveries: tuple[Effect[H], ...] = ()
    account: Account | None = None
    alone: bool = False
    detail: dict[str, object] = field(default_factory=dict)


class Hub(Generic[H]):
    """The main chat room and everything said in it.

    Args:
        accounts: the account directory.
        budget: the seat budget; its ``preconfigured`` count must match ``accounts``.
        clock: wall-clock seconds since the epoch (``time.time`` in the server; the hub
            never reads the clock itself, so tests drive time by hand).
        idle_after: seconds of silence before an active user becomes inactive.
        offline_quota: unread private messages an offline account may have waiting;
            past it ``/msg`` to it is refused (0: no limit).
        history: where messages worth keeping go, and what says whether a private
            message to an offline account can be promised (the server's history log);
            by default a :class:`~pollchat.core.history.RecordList`.
        sessions_per_account: how many sessions (devices) one account may have online
            at once (``--sessions-per-account``, at least 1). With 1, seed 004's rule:
            a second login gets ``Password already used``. Above 1, each session gets
            what is sent to its account, the account takes one seat, and ``has
            entered`` / ``has left`` are told once (first in, last out).
        ignores: where ignore lists are kept (the store); ``None``: in memory only.
        announce_limit: the most accounts online for which entered and left notices
            go to everyone (``--announce-limit``, :mod:`pollchat.core.announce`); 0:
            always, as seed 004 does.
    """

    def __init__(
        self,
        accounts: AccountDirectory,
        budget: SeatBudget,
        *,
        clock: Callable[[], float],
        idle_after: float = DEFAULT_IDLE_AFTER,
        offline_quota: int = 0,
        history: RecordSink | None = None,
        sessions_per_account: int = 1,
        ignores: IgnoreStore | None = None,
        announce_limit: int = 0,
    ) -> None:
        if sessions_per_account < 1:
            raise ValueError("sessions per account must be at least 1")
        self.accounts = accounts
        self.sessions_per_account = sessions_per_account
        self.ignores = Ignores(ignores)
        """The online accounts' ignore lists (``/ignore``)."""
        self.budget = budget
        self.clock = clock
        self.idle_after = idle_after
        self.offline_quota = offline_quota
        self.history: RecordSink = history if history is not None else RecordList()
        self.closing = False
        """Set while a shutdown countdown runs: new logins are refused."""
        self.messages = 0
        """Chat lines, actions and private messages so far (for the console's stats)."""
        self.roster: Roster[H] = Roster()
        self.announcer = Announcer(announce_limit)
        """Whether entered and left notices go to everyone (``--announce-limit``)."""
        self._maybe_playing = False  # a game may be running somewhere (none: no walk at a login)
        self._guest_ids = itertools.count(1)  # guests' ids are -1, -2, ...: never an account's

    # --- queries ---------------------------------------------------------------------------

    def online_names(self) -> NameList:
        """Names of everyone online, in login order."""
        return self.roster.names()

    def session_of(self, handle: H) -> OnlineSession[H] | None:
        """The online session on ``handle``, if it is logged in."""
        return self.roster.by_handle(handle)

    def online(self, name: str) -> OnlineSession[H] | None:
        """The online session of the account (or guest) called ``name``, if any."""
        return self.roster.by_key(name_key(name))

    def find_account(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or the online guest of that name."""
        account = self.accounts.find(name)
        if account is None:
            session = self.roster.by_key(name_key(name))
            if session is not None:
                account = session.account
        return account

    def session_by_id(self, account_id: int) -> OnlineSession[H] | None:
        """The online session of account ``account_id``, if it is logged in."""
        return self.roster.by_id(account_id)

    def handles_of(self, account_ids: Iterable[int], exclude: H | None = None) -> list[H]:
        """The handles of those of ``account_ids`` who are online, in that order,
        without ``exclude`` (:meth:`Roster.handles_of <pollchat.core.roster.Roster.handles_of>`)."""
        return self.roster.handles_of(account_ids, exclude)

    # --- login and registration --------------------------------------------------------------

    def check_registration(self, name: str) -> ErrorCode | None:
        """Cheap checks before a registration's password is hashed: the name is free,
        does not look like another account's (:meth:`_lookalike`) and a registered seat
        is open. Returns the refusal, or ``None`` to go on."""
        if self.closing:
            return ErrorCode.SERVER_CLOSING
        if self.find_account(name) is not None:
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
            return Admission(ErrorCode.BANNED, detail={"until": ban_period(ban.until), "reason": reason_suffix(ban.reason)})
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

    def guest(self, handle: H, name: str) -> Admission[H]:
        """Admit ``handle`` as the guest ``name`` (a front end's anonymous user, such as
        an IRC client without credentials when the server allows it): no account is
        stored; the name may belong to no account, nor look like one; the guest takes a
        registered account's seat and has a negative id, never reused while the server
        runs (history and group membership refer to it)."""
        if self.closing:
            return Admission(ErrorCode.SERVER_CLOSING)
        valid = normalize_name(name)
        if valid is None:
            return Admission(ErrorCode.BAD_NAME, detail={"name": name[:40]})
        if self.find_account(valid) is not None:
            return Admission(ErrorCode.NAME_TAKEN)
        refusal = self._lookalike(valid)
        if refusal is not None:
            return Admission(refusal)
        account = Account(valid, "", AccountKind.REGISTERED, id=-next(self._guest_ids), guest=True)
        return self._admit(handle, account)

    def _lookalike(self, name: str, account: Account | None = None) -> ErrorCode | None:
        """A new name (registration, ``/nick``) may not mix Latin, Cyrillic and Greek
        letters, nor look like another account's name (UTS #39 skeletons), so nobody
        can pass for someone else."""
        if mixed_scripts(name):
            return ErrorCode.MIXED_SCRIPT_NAME
        if self.accounts.lookalike(name, exclude=account) is not None:
            return ErrorCode.LOOKALIKE_NAME
        return None

    def _admit(self, handle: H, account: Account) -> Admission[H]:
        if self.roster.by_handle(handle) is not None:
            raise RuntimeError("this connection is already logged in")
        if self.closing:
            return Admission(ErrorCode.SERVER_CLOSING)
        online = self.roster.by_key(account.key)
        if online is not None:
            return self._admit_another(handle, online)
        if not self.budget.has_seat(account.kind):
            return Admission(ErrorCode.SERVER_FULL)
        self.ignores.load(account.id)  # may raise StoreError: nothing taken or decided yet
        others = self.roster.everyone(handle)  # taken before this session joins the list
        decision = self.announcer.entry(self.roster.accounts_online + 1)
        entered: list[Effect[H]] = []
        if decision.announce:
            entered.append(ToEveryone(others, Entered(account.name)))
        elif decision.tell_others:
            entered.append(ToEveryone(others, self._announcements_off()))
        if self._maybe_playing:  # someone arrived: games for the lonely end
            self._maybe_playing = False
            for other in self.roster.sessions():
                if other.game is not None:
                    other.game = None
                    entered.append(self._notice(other.handle, NoticeCode.GAME_OVER, name=account.name))
        self.budget.take(account.kind)
        now = self.clock()
        session = OnlineSession(handle, account, Presence(online_since=now, last_active=now), announced=decision.announce)
        self.roster.add(session)
        # A NameList iterates, compares and hashes as the tuple of its names, and renders
        # without a copy of them (Welcome's field is typed as that tuple for its readers).
        names = cast("tuple[str, ...]", self.online_names())
        welcome: list[Effect[H]] = [Delivery((handle,), Welcome(account.name, names))]
        if decision.tell_newcomer:
            welcome.append(Delivery((handle,), self._announcements_off()))
        return Admission(None, (JoinedEveryone(handle), *welcome, *entered), account, alone=not others)

    def _announcements_off(self) -> Notice:
        """The line that says entered and left notices are off (``--announce-limit``)."""
        return Notice.of(NoticeCode.ANNOUNCEMENTS_OFF, limit=self.announcer.limit)

    def _admit_another(self, handle: H, online: OnlineSession[H]) -> Admission[H]:
        """One more session (another device) of the online account of ``online``: it
        takes no seat and nobody is told (the account is online already); it shares the
        account's presence. Refused past :attr:`sessions_per_account`: with the limit 1
        as seed 004 says (``Password already used``), above it with the limit named."""
        limit = self.sessions_per_account
        if self.roster.count_for(online.account.id) >= limit:
            if limit == 1:
                return Admission(ErrorCode.ALREADY_ONLINE)
            return Admission(ErrorCode.TOO_MANY_SESSIONS, detail={"limit": limit})
        account = online.account
        self.roster.add(OnlineSession(handle, account, online.presence, announced=online.announced))
        names = cast("tuple[str, ...]", self.online_names())
        welcome = Delivery((handle,), Welcome(account.name, names))
        return Admission(None, (JoinedEveryone(handle), welcome), account, alone=self.roster.accounts_online == 1)

    # --- activity and presence ------------------------------------------------------------------

    def touch(self, handle: H) -> list[Effect[H]]:
        """``handle`` said something: it is no longer idle, and a user the idle monitor
        made inactive is active again (announced to everyone)."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        presence = session.presence
        presence.last_active = self.clock()
        if presence.automatic and presence.status is Status.INACTIVE:
            return self._set_status(session, Status.ACTIVE, "", automatic=False)
        return []

    def check_idle(self, handle: H) -> tuple[list[Effect[H]], float | None]:
        """The idle monitor's tick for ``handle``.

        Returns:
            The deliveries (a status change if the user just became inactive) and when
            to check again (epoch seconds), or ``None`` if ``handle`` is not logged in.
        """
        session = self.roster.by_handle(handle)
        if session is None:
            return [], None
        now = self.clock()
        presence = session.presence
        deadline = presence.idle_deadline(self.idle_after)
        if now < deadline:
            return [], deadline
        deliveries: list[Effect[H]] = []
        if presence.status is Status.ACTIVE:
            deliveries = self._set_status(session, Status.INACTIVE, "", automatic=True)
        return deliveries, now + self.idle_after

    def set_status(self, handle: H, status: Status, message: str = "") -> list[Effect[H]]:
        """``/status`` and ``/away``: set by hand, announced to every logged-in user."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        return self._set_status(session, status, message, automatic=False)

    def _set_status(self, session: OnlineSession[H], status: Status, message: str, *, automatic: bool) -> list[Effect[H]]:
        presence = session.presence
        presence.status, presence.message, presence.automatic = status, message, automatic
        return [ToEveryone(self.roster.everyone(), StatusChanged(session.account.name, status.value, message))]

    def who(self, handle: H, describe: Callable[[H], tuple[int, str]] | None = None) -> list[Effect[H]]:
        """``/who`` for ``handle``: see :meth:`who_list`."""
        return [Delivery((handle,), self.who_list(describe))]

    def who_list(self, describe: Callable[[H], tuple[int, str]] | None = None) -> WhoList:
        """Everyone online with status and idle time, in login order.

        Args:
            describe: for an admin, gives each handle's ``(connection id, peer address)``.
        """
        now = self.clock()
        entries = []
        for s in self.roster.sessions():
            connection, address = describe(s.handle) if describe is not None else (0, "")
            entries.append(
                WhoEntry(s.account.name, s.presence.status.value, s.presence.message, s.presence.idle(now), connection, address)
            )
        return WhoList(tuple(entries))

    def whois(self, handle: H, name: str) -> list[Effect[H]]:
        """``/whois NAME``: status, times and account kind, online or not."""
        account = self.find_account(name)
        if account is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        session = self.roster.by_key(account.key)
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

    def chat(self, handle: H, text: str, *, may_guess: bool = True) -> list[Effect[H]]:
        """A chat line from ``handle``: everyone else online receives it (and it is kept
        in history). While the sender plays the game, a typed line (``may_guess``) is a
        guess instead."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        if session.game is not None and may_guess:
            return self._guess(session, text)
        self.record(session, RecordKind.CHAT, text)
        skip = self.ignoring(session.account.id) if self.ignores.anyone else _NO_HANDLES
        deliveries: list[Effect[H]] = [ToEveryone(self.roster.everyone(session.handle, skip), Message(session.account.name, text))]
        return deliveries + self.mentions(session, text)

    def action(self, handle: H, text: str) -> list[Effect[H]]:
        """``/me text``: ``* NAME text`` to everyone else (kept in history)."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        self.record(session, RecordKind.ACTION, text)
        skip = self.ignoring(session.account.id) if self.ignores.anyone else _NO_HANDLES
        deliveries: list[Effect[H]] = [ToEveryone(self.roster.everyone(session.handle, skip), Emote(session.account.name, text))]
        return deliveries + self.mentions(session, text)

    def ignoring(self, account_id: int, also: Iterable[H] = ()) -> frozenset[H]:
        """The handles of every session of the online accounts that ignore
        ``account_id``, with ``also``: what a line of ``account_id``'s leaves out. While
        nobody ignores it (the usual case), one dict lookup and an empty set."""
        ignorers = self.ignores.ignorers(account_id)
        if not ignorers:
            return frozenset(also) if also else _NO_HANDLES
        return frozenset(self.roster.handles_of(ignorers)).union(also)

    def mentions(
        self, sender: OnlineSession[H], text: str, group: str = "", among: Collection[int] | None = None
    ) -> list[Effect[H]]:
        """A :class:`Mention` for each online account ``text`` names as ``@name``
        (:mod:`pollchat.core.mentions`), other than the sender and those who ignore
        the sender, to every session of each; in a group, only for the account ids in
        ``among`` (its members)."""
        if "@" not in text:
            return []
        deliveries: list[Effect[H]] = []
        sender_id = sender.account.id
        for key in mentioned_keys(text):
            target = self.roster.by_key(key)
            if target is None or target.account.id == sender_id or (among is not None and target.account.id not in among):
                continue
            if self.ignores.ignores(target.account.id, sender_id):
                continue
            deliveries.append(Delivery(self.roster.handles_for(target), Mention(sender.account.name, text, group)))
        return deliveries

    def private(self, handle: H, name: str, text: str, *, to_self: bool = False) -> list[Effect[H]]:
        """``/msg NAME text``: only NAME receives it; the sender gets a copy as
        confirmation, and a notice if NAME is offline (the message waits in history;
        while :attr:`history` cannot write, the notice says it may be lost) or
        away/busy. An unknown NAME is an error naming it; so is an offline NAME with
        ``offline_quota`` unread messages (the message is not kept).

        Every session of NAME receives it, and every session of the sender the copy,
        so the conversation reads the same on each device. If NAME ignores the sender,
        NAME's sessions get nothing, and the sender is not told (it is kept like any
        other, and left out of NAME's history replay).

        NAME may be the sender itself only with ``to_self`` (an IRC ``PRIVMSG`` to
        one's own nick, which IRC servers deliver): it is kept as a private message
        from the account to itself and every session of the account receives it as a
        recipient does; otherwise it is the ``message_to_self`` error line (the line
        protocol's ``/msg`` to oneself)."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        recipient = self.find_account(name)
        if recipient is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        sender = session.account
        if recipient.key == sender.key:
            if not to_self:
                return [self._error(handle, ErrorCode.MESSAGE_TO_SELF)]
            self.messages += 1
            self.history.add(HistoryRecord(self.clock(), RecordKind.PRIVATE, sender.id, sender.name, text, sender.id, sender.name))
            return [Delivery(self._own_handles(session), PrivateMessage(sender.name, sender.name, text))]
        target = self.roster.by_key(recipient.key)
        if target is None and self._quota_reached(recipient):
            return [self._error(handle, ErrorCode.MAILBOX_FULL, name=recipient.name, limit=self.offline_quota)]
        unsaved = target is None and not self.history.healthy
        self.messages += 1
        self.history.add(
            HistoryRecord(
                self.clock(), RecordKind.PRIVATE, sender.id, sender.name, text, recipient.id, recipient.name, warned=unsaved
            )
        )
        echo = PrivateMessage(sender.name, recipient.name, text, outgoing=True)
        deliveries: list[Effect[H]] = [Delivery(self._own_handles(session), echo)]
        if target is None:
            # "They will see it" is promised only while the history can be written.
            code = NoticeCode.PRIVATE_OFFLINE_UNSAVED if unsaved else NoticeCode.PRIVATE_OFFLINE
            deliveries.append(self._notice(handle, code, name=recipient.name))
            return deliveries
        if not self.ignores.ignores(target.account.id, sender.id):
            deliveries.insert(0, Delivery(self.roster.handles_for(target), PrivateMessage(sender.name, recipient.name, text)))
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

    def _quota_reached(self, recipient: Account) -> bool:
        """``recipient`` (offline) has ``offline_quota`` unread private
        messages already, counted since its last logout."""
        if not self.offline_quota:
            return False
        since = self.accounts.last_seen(recipient) or 0.0
        return self.history.unread(recipient.id, since) >= self.offline_quota

    def record(self, session: OnlineSession[H], kind: RecordKind, text: str, group_id: int | None = None) -> None:
        """Keep ``session``'s main-chat (or, with ``group_id``, group) line in history
        and count it for the console's stats."""
        self.messages += 1
        account = session.account
        self.history.add(HistoryRecord(self.clock(), kind, account.id, account.name, text, group_id=group_id))

    def typing(self, handle: H, active: bool, name: str | None = None) -> list[Effect[H]]:
        """``/typing on|off [NAME]``: tell the other members of the conversation (the
        main chat, or NAME's private conversation with the sender) that the sender is
        typing. Not stored, not counted as a message. An unknown or offline NAME is
        ignored: typing is a hint, never worth an error."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        event = Typing(session.account.name, active, private=name is not None)
        account_id = session.account.id
        if name is None:  # not to the sender's other sessions: typing is per account
            others = self.roster.handles_for(session, handle) if self.roster.count_for(account_id) > 1 else ()
            return [ToEveryone(self.roster.everyone(handle, self.ignoring(account_id, others)), event)]
        account = self.accounts.find(name)
        target = self.roster.by_key(account.key) if account is not None else None
        if target is None or target.account.id == account_id or self.ignores.ignores(target.account.id, account_id):
            return []
        return [Delivery(self.roster.handles_for(target), event)]

    # --- ignore lists -----------------------------------------------------------------------------------

    def ignore(self, handle: H, name: str | None = None) -> list[Effect[H]]:
        """``/ignore NAME``: NAME's chat lines, actions, private messages, mentions and
        typing hints are no longer delivered to any of the user's sessions (NAME is
        not told); kept by the store. ``/ignore`` alone lists whom the user ignores.
        Ignoring oneself or an unknown name is an error line."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        me = session.account
        if name is None:
            names = self.ignores.names(me.id)
            if not names:
                return [self._notice(handle, NoticeCode.IGNORE_NONE)]
            return [self._notice(handle, NoticeCode.IGNORE_LIST, names=", ".join(names))]
        other = self.find_account(name)
        if other is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        if other.key == me.key:
            return [self._error(handle, ErrorCode.IGNORE_SELF)]
        if not self.ignores.add(me.id, other.id, other.name, self.clock()):
            return [self._notice(handle, NoticeCode.ALREADY_IGNORED, name=other.name)]
        return [Delivery(self.roster.handles_for(session), Notice.of(NoticeCode.IGNORED, name=other.name))]

    def unignore(self, handle: H, name: str) -> list[Effect[H]]:
        """``/unignore NAME``: deliver NAME's lines to the user again."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        other = self.find_account(name)
        if other is None:
            return [self._error(handle, ErrorCode.NO_SUCH_USER, name=name[:40])]
        if not self.ignores.remove(session.account.id, other.id):
            return [self._error(handle, ErrorCode.NOT_IGNORED, name=other.name)]
        return [Delivery(self.roster.handles_for(session), Notice.of(NoticeCode.UNIGNORED, name=other.name))]

    # --- the game -------------------------------------------------------------------------------------

    def play(self, handle: H, secret: int, guess: str | None = None) -> list[Effect[H]]:
        """``/play [N]``: start a game while alone (``secret`` is the number to find),
        stop a running one, or (with ``N``) guess."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        if session.game is not None:
            if guess is not None:
                return self._guess(session, guess)
            session.game = None
            return [self._notice(handle, NoticeCode.GAME_STOPPED)]
        if self.roster.accounts_online > 1:
            return [self._error(handle, ErrorCode.NOT_ALONE)]
        session.game = GuessingGame(secret)
        self._maybe_playing = True
        deliveries: list[Effect[H]] = [self._notice(handle, NoticeCode.GAME_START, top=session.game.top)]
        if guess is not None:
            deliveries += self._guess(session, guess)
        return deliveries

    def guess(self, handle: H, line: str) -> list[Effect[H]]:
        """A typed line taken as a guess of the game ``handle`` is playing (the caller
        checked :attr:`OnlineSession.game`)."""
        session = self.roster.by_handle(handle)
        if session is None or session.game is None:
            return []
        return self._guess(session, line)

    def _guess(self, session: OnlineSession[H], line: str) -> list[Effect[H]]:
        assert session.game is not None
        code, detail = session.game.guess(line)
        if session.game.finished:
            session.game = None
        return [self._notice(session.handle, code, **detail)]

    # --- account changes ----------------------------------------------------------------------------

    def rename(self, handle: H, new_name: str) -> list[Effect[H]]:
        """``/nick NEWNAME``: rename a registered account; everyone sees it. The same
        rules as registration; changing only the case of one's own name is allowed."""
        session = self.roster.by_handle(handle)
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
        if name_key(name) != old.key and self.find_account(name) is not None:
            return [self._error(handle, ErrorCode.NAME_TAKEN)]
        refusal = self._lookalike(name, old)
        if refusal is not None:
            return [self._error(handle, refusal)]
        renamed = replace(old, name=name) if old.guest else self.accounts.rename(old, name)
        if renamed is None:
            return [self._error(handle, ErrorCode.NAME_TAKEN)]
        session.account = renamed
        self.roster.renamed(session, old)
        return [ToEveryone(self.roster.everyone(), Renamed(old.name, renamed.name))]

    def change_password(self, handle: H, password_hash: str) -> list[Effect[H]]:
        """``/passwd``, after the old password was verified and the new one hashed."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        if session.account.kind is AccountKind.PRECONFIGURED:
            return [self._error(handle, ErrorCode.PRECONFIGURED_ACCOUNT, name=session.account.name)]
        account = self.accounts.set_password(session.account, password_hash)
        for each in self.roster.sessions_for(session):
            each.account = account
        return [self._notice(handle, NoticeCode.PASSWORD_CHANGED)]

    def unregister(self, handle: H) -> list[Effect[H]]:
        """``/unregister``, after the password was verified: delete the account (its name
        becomes free), say goodbye, and end the session (others see it leave)."""
        session = self.roster.by_handle(handle)
        if session is None:
            return []
        account = session.account
        if account.kind is AccountKind.PRECONFIGURED:
            return [self._error(handle, ErrorCode.PRECONFIGURED_ACCOUNT, name=account.name)]
        goodbye = Delivery(self.roster.handles_for(session), Notice.of(NoticeCode.UNREGISTERED, name=account.name))
        deliveries: list[Effect[H]] = [goodbye]
        for each in self.roster.sessions_for(session):  # the account is gone on every device
            deliveries += self.leave(each.handle, record_last_seen=False)
        self.accounts.delete(account)
        return deliveries

    def leave(self, handle: H, reason: str = "", *, record_last_seen: bool = True) -> list[Effect[H]]:
        """End ``handle``'s session, if any. If it was its account's last, free the
        seat, remember when it was last seen, and tell everyone else (with the
        ``/quit`` message as ``reason``) if its entry was announced or the count is
        within ``announce_limit``; a session that leaves others of its account online
        ends silently.

        Idempotent: a second call for the same handle returns no deliveries, so the
        left notice goes out exactly once however the connection ended."""
        session = self.roster.remove(handle)
        if session is None:
            return []
        if self.roster.by_id(session.account.id) is not None:  # still online on another device
            return [LeftEveryone(handle)]
        self.ignores.unload(session.account.id)
        self.budget.release(session.account.kind)
        announce = self.announcer.leave(self.roster.accounts_online + 1, session.announced)
        if record_last_seen and not session.account.guest:
            try:
                self.accounts.set_last_seen(session.account, self.clock())
            except StoreError as exc:  # bookkeeping: a full disk costs the record, not the notice
                log.warning("could not record when %s was last seen: %s", session.account.name, exc)
        if not announce:
            return [LeftEveryone(handle)]
        return [LeftEveryone(handle), ToEveryone(self.roster.everyone(), Left(session.account.name, reason))]

    def unignored(self, records: list[HistoryRecord], account_id: int) -> list[HistoryRecord]:
        """``records`` without those sent by accounts ``account_id`` (online) ignores:
        what a history replay shows it. The same list while it ignores nobody."""
        ignored = self.ignores.of(account_id)
        if not ignored:
            return records
        return [record for record in records if record.sender_id not in ignored]

    def everyone(self) -> Everyone[H]:
        """Every logged-in handle, in login order (a view: see :class:`~pollchat.core.roster.Everyone`)."""
        return self.roster.everyone()

    def online_by_name(self, name: str) -> OnlineSession[H] | Error:
        """The session of the account (or online guest) named ``name`` (any case), or the
        error to tell whoever asked: no such account, or not online."""
        account = self.find_account(name)
        if account is None:
            return Error.of(ErrorCode.NO_SUCH_USER, name=name[:40])
        session = self.roster.by_key(account.key)
        if session is None:
            return Error.of(ErrorCode.NOT_ONLINE, name=account.name)
        return session

    # --- helpers ----------------------------------------------------------------------------------------

    def _own_handles(self, session: OnlineSession[H]) -> tuple[H, ...]:
        """``session``'s handle first, then its account's other sessions' (what the
        sender of a private message gets the copy on)."""
        handle = session.handle
        if self.roster.count_for(session.account.id) < 2:
            return (handle,)
        return (handle, *self.roster.handles_for(session, handle))

    @staticmethod
    def _error(handle: H, code: ErrorCode, **detail: object) -> Delivery[H]:
        return Delivery((handle,), Error.of(code, **detail))

    @staticmethod
    def _notice(handle: H, code: NoticeCode, **detail: object) -> Delivery[H]:
        return Delivery((handle,), Notice.of(code, **detail))


__all__ = ["Admission", "Hub", "reason_suffix"]

_NO_HANDLES: frozenset = frozenset()


def reason_suffix(reason: str) -> str:
    """``: reason`` for the ``{reason}`` placeholder of a kick's or ban's text, or
    nothing without a reason."""
    return f": {reason}" if reason else ""
