"""Group chat: who may do what to a group, and who is told (seed 001).

Like the hub, :class:`GroupChat` decides and never performs I/O: each method takes the
caller's handle and the command's arguments and returns the effects
(:mod:`pollchat.core.effects`) to carry out. A command is written once, for the
caller's online session (the ``_with_session`` decorator finds it from the handle and
turns a failed check into the caller's error). State lives in
:class:`~pollchat.core.groups.Groups` (written through to the store); online sessions
come from the :class:`~pollchat.core.hub.Hub`.

Rules:

* Group names follow the account-name rules after an optional ``#``.
* Owner powers (accept, reject, kick, ban, unban, rename, delete, set the topic) belong
  to the owner and to admins; nobody can remove or ban the owner.
* A group's lines and changes go to its online members only. A change that concerns
  someone offline (a request answered, a removal, a deletion) is kept in the store and
  told at their next login.
* The owner leaving hands the group to the longest-standing member, or deletes it if
  nobody is left.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from pollchat.core.accounts import Account
from pollchat.core.groups import Group, Groups, PendingChange, Visibility
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.effects import Delivery, Effect, ToGroup
from pollchat.core.hub import Hub
from pollchat.core.roster import Everyone, OnlineSession
from pollchat.protocol.commands import COMMANDS
from pollchat.protocol.events import (
    Emote,
    Error,
    GroupEntry,
    GroupEvent,
    GroupList,
    MemberEntry,
    MemberList,
    Message,
    Notice,
    ServerEvent,
    Typing,
)
from pollchat.protocol.names import normalize_name
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

H = TypeVar("H")

GROUP_LINE_USAGE = "#group text"
"""Usage shown for a ``#group`` line without text."""

CLEAR_TOPIC = "-"
"""``/topic #group -`` clears the topic."""


class _Refused(Exception):
    """A check failed; ``event`` is the error to send to the asker."""

    def __init__(self, event: Error) -> None:
        super().__init__(event.text)
        self.event = event


S = TypeVar("S", bound="GroupChat[Any]")
Args = ParamSpec("Args")


def _with_session(
    method: Callable[Concatenate[S, OnlineSession[Any], Args], list[Effect[Any]]],
) -> Callable[Concatenate[S, Any, Args], list[Effect[Any]]]:
    """A group command written for a session, called with a handle.

    The command a client runs is ``method(handle, *args)``: it runs for ``handle``'s
    online session (nothing happens for a handle that is not logged in), and a check
    it fails (:class:`_Refused`) becomes its error, sent to ``handle`` alone."""

    @functools.wraps(method)
    def command(self: S, handle: Any, /, *args: Args.args, **kwargs: Args.kwargs) -> list[Effect[Any]]:
        session = self.hub.session_of(handle)
        if session is None:
            return []
        try:
            return method(self, session, *args, **kwargs)
        except _Refused as refused:
            return [Delivery((handle,), refused.event)]

    return command


def group_name(argument: str) -> str | None:
    """The group name in a command argument (``#familia`` or ``familia``), NFC
    normalised, or ``None`` if it is not a valid name."""
    return normalize_name(argument.removeprefix("#"))


class GroupChat(Generic[H]):
    """The group commands, over ``hub``'s online sessions and the ``groups`` directory.

    Args:
        hub: who is online (and the clock, accounts and history records).
        groups: the live groups.
    """

    def __init__(self, hub: Hub[H], groups: Groups) -> None:
        self.hub = hub
        self.groups = groups
        # group id -> (roster version, groups version, its online members' handles):
        # a burst of lines to one group walks its members once, not once per line.
        self._online_cache: dict[int, tuple[int, int, tuple[H, ...]]] = {}

    # --- creating, joining, leaving ----------------------------------------------------------

    @_with_session
    def create(self, session: OnlineSession[H], argument: str, visibility_word: str = "public") -> list[Effect[H]]:
        """``/create #name [public|private]``: a new group owned by the asker."""
        name = group_name(argument)
        if name is None:
            raise _Refused(Error.of(ErrorCode.BAD_GROUP_NAME, name=argument[:40]))
        try:
            visibility = Visibility(visibility_word.lower())
        except ValueError:
            raise _Refused(Error.of(ErrorCode.USAGE, usage=COMMANDS["create"].usage)) from None
        existing = self.groups.find(name)
        if existing is not None:
            raise _Refused(Error.of(ErrorCode.GROUP_EXISTS, group=existing.name))
        account = session.account
        limit = self.groups.limits.groups_per_owner
        if limit and self.groups.owned_count(account.id) >= limit:
            raise _Refused(Error.of(ErrorCode.TOO_MANY_GROUPS, limit=limit))
        group = self.groups.create(name, visibility, account.id, account.name, self.hub.clock())
        return [Delivery((session.handle,), GroupEvent(group.name, GroupChange.CREATED, text=visibility.value))]

    @_with_session
    def join(self, session: OnlineSession[H], argument: str) -> list[Effect[H]]:
        """``/join #name``: join a public group, or ask to join a private one (the owner
        and online admins are asked; the asker is told it is pending)."""
        group = self._find(argument)
        account = session.account
        if account.id in group.members:
            raise _Refused(Error.of(ErrorCode.ALREADY_MEMBER, group=group.name))
        if account.id in group.bans:
            raise _Refused(Error.of(ErrorCode.GROUP_BANNED, group=group.name))
        if group.visibility is Visibility.PUBLIC:
            self._check_room(group)
            self.groups.add_member(group, account.id, account.name, self.hub.clock())
            joined = Delivery(self._online(group), GroupEvent(group.name, GroupChange.JOINED, account.name))
            return [joined, *self._topic_for(session.handle, group)]
        if account.id in group.requests:
            raise _Refused(Error.of(ErrorCode.REQUEST_PENDING, group=group.name))
        limit = self.groups.limits.requests_per_group
        if limit and len(group.requests) >= limit:
            raise _Refused(Error.of(ErrorCode.TOO_MANY_REQUESTS, group=group.name, limit=limit))
        self.groups.request(group, account.id, account.name, self.hub.clock())
        asked = Delivery((session.handle,), GroupEvent(group.name, GroupChange.REQUESTED))
        return [asked, Delivery(self._managers(group), GroupEvent(group.name, GroupChange.REQUEST, account.name))]

    @_with_session
    def accept(self, session: OnlineSession[H], name: str, argument: str) -> list[Effect[H]]:
        """``/accept NAME #group``: the owner (or an admin) lets a requester in."""
        return self._answer(session, name, argument, accept=True)

    @_with_session
    def reject(self, session: OnlineSession[H], name: str, argument: str) -> list[Effect[H]]:
        """``/reject NAME #group``: the owner (or an admin) turns a request down."""
        return self._answer(session, name, argument, accept=False)

    def _answer(self, session: OnlineSession[H], name: str, argument: str, *, accept: bool) -> list[Effect[H]]:
        group = self._managed(session, argument)
        account = self._account(name)
        if account.id not in group.requests:
            raise _Refused(Error.of(ErrorCode.NO_REQUEST, name=account.name, group=group.name))
        by = session.account.name
        if not accept:
            self.groups.drop_request(group, account.id)
            done = Delivery((session.handle,), GroupEvent(group.name, GroupChange.REQUEST_REJECTED, account.name, by))
            return [*self._tell(account.id, GroupEvent(group.name, GroupChange.REJECTED, by=by)), done]
        self._check_room(group)
        self.groups.add_member(group, account.id, account.name, self.hub.clock())
        told = self._tell(account.id, GroupEvent(group.name, GroupChange.ACCEPTED, by=by))
        joined_event = GroupEvent(group.name, GroupChange.JOINED, account.name)
        joined = Delivery(self._online(group, also=(session.handle,)), joined_event)
        return [*told, joined]

    @_with_session
    def leave(self, session: OnlineSession[H], argument: str) -> list[Effect[H]]:
        """``/leave #group``: the membership goes (the entry disappears for everyone);
        an owner's group passes to the longest-standing member, or is deleted if empty."""
        group = self._find(argument)
        if session.account.id not in group.members:
            raise _Refused(Error.of(ErrorCode.NOT_MEMBER, group=group.name))
        return self._remove(group, session.account, session.handle)

    def _remove(self, group: Group, account: Account, handle: H | None) -> list[Effect[H]]:
        """``account`` leaves ``group`` (by itself, or its account was deleted)."""
        audience = self._online(group)  # the leaver included
        requesters = list(group.requests)
        successor = self.groups.remove_member(group, account.id, self.hub.clock())
        deliveries: list[Effect[H]] = [Delivery(audience, GroupEvent(group.name, GroupChange.LEFT, account.name))]
        if group.deleted:
            gone = GroupEvent(group.name, GroupChange.DISBANDED)
            deliveries.append(Delivery(audience, gone))
            for requester in requesters:  # a request's outcome is always told
                deliveries += self._tell(requester, gone)
        elif successor is not None:
            told = self._online(group, also=(handle,) if handle is not None else ())
            new_owner = GroupEvent(group.name, GroupChange.OWNER, successor.name)
            deliveries.append(Delivery(told, new_owner))
            deliveries += self._queue_if_offline(successor.account_id, new_owner)
        if handle is not None:
            deliveries += self._unfocus(account.id, group)
        return deliveries

    # --- reading ----------------------------------------------------------------------------------

    @_with_session
    def list_groups(self, session: OnlineSession[H]) -> list[Effect[H]]:
        """``/groups``: the asker's groups, the public ones and those it asked to join
        (an admin sees every group), by name."""
        account = session.account
        entries = []
        for group in self.groups:
            if account.id == group.owner_id:
                role = "owner"
            elif account.id in group.members:
                role = "member"
            elif account.id in group.requests:
                role = "pending"
            elif group.visibility is Visibility.PUBLIC or account.admin:
                role = ""
            else:
                continue
            # A private group's topic is for its members (and admins), not for whoever asks.
            shown = role in ("owner", "member") or group.visibility is Visibility.PUBLIC or account.admin
            topic = group.topic if shown else ""
            entries.append(GroupEntry(group.name, group.visibility.value, len(group.members), role, topic))
        return [Delivery((session.handle,), GroupList(tuple(entries)))]

    @_with_session
    def members(self, session: OnlineSession[H], argument: str) -> list[Effect[H]]:
        """``/members #group``: members with their online status, longest-standing
        first; the owner and admins also see who is waiting to join. A private group's
        members are shown to its members (and admins) only."""
        group = self._readable(session, argument)
        entries = []
        for member in group.members.values():
            online = self.hub.session_by_id(member.account_id)
            status = online.presence.status.value if online is not None else "offline"
            entries.append(MemberEntry(member.name, status, member.account_id == group.owner_id))
        pending = tuple(r.name for r in group.requests.values()) if self._may_manage(session, group) else ()
        return [Delivery((session.handle,), MemberList(group.name, tuple(entries), pending))]

    @_with_session
    def topic(self, session: OnlineSession[H], argument: str, text: str | None = None) -> list[Effect[H]]:
        """``/topic #group [text]``: show the topic, or (owner, admin) set it."""
        if text is None:
            return self._topic_for(session.handle, self._readable(session, argument), always=True)
        group = self._managed(session, argument)
        if text == CLEAR_TOPIC:
            self.groups.set_topic(group, "")
            event = GroupEvent(group.name, GroupChange.TOPIC_CLEARED, by=session.account.name)
        else:
            self.groups.set_topic(group, text)
            event = GroupEvent(group.name, GroupChange.TOPIC, by=session.account.name, text=text)
        return [Delivery(self._online(group, also=(session.handle,)), event)]

    def readable(self, handle: H, argument: str) -> Group | list[Effect[H]]:
        """The group ``handle`` may read (``/history #group``), or the error deliveries."""
        session = self.hub.session_of(handle)
        if session is None:
            return []
        try:
            return self._readable(session, argument)
        except _Refused as refused:
            return [Delivery((handle,), refused.event)]

    # --- talking -----------------------------------------------------------------------------------

    def say(self, handle: H, text: str, *, may_guess: bool = True) -> list[Effect[H]]:
        """A chat line: ``#group text`` goes to that group (if the sender is a member);
        any other line goes to the focused group, or else to the main chat (the hub).
        ``#name`` of no existing group is refused (``NOT_IN_GROUP_LINE``): a mistyped
        group name must not send a private line to everyone (``/say`` does that)."""
        session = self.hub.session_of(handle)
        if session is None:
            return []
        if session.game is not None and may_guess:  # routed once: a game takes every line
            return self.hub.guess(handle, text)
        try:
            group, text = self._addressed(session, text)
        except _Refused as refused:
            return [Delivery((handle,), refused.event)]
        if group is None:
            return self.hub.chat(handle, text, may_guess=False)
        return self._group_line(session, group, RecordKind.CHAT, text)

    @_with_session
    def message(self, session: OnlineSession[H], argument: str, text: str) -> list[Effect[H]]:
        """``/msg #group text`` (IRC's ``PRIVMSG #channel``): a line to a group, or an
        error if the group does not exist -- never the main chat, so a client that
        writes to a group just deleted cannot leak the line to everyone."""
        group = self._find(argument)
        if session.account.id not in group.members:
            raise _Refused(Error.of(ErrorCode.NOT_MEMBER_LINE, group=group.name))
        return self._group_line(session, group, RecordKind.CHAT, text)

    def act(self, handle: H, text: str) -> list[Effect[H]]:
        """``/me text``: routed as :meth:`say` routes a line (``/me #group waves`` goes
        to #group), but never a game guess, and ``/me #name ...`` for a group that does
        not exist is an error rather than a main-chat action (clients send ``/me #name``
        from a group's conversation, which may have just been deleted or renamed)."""
        session = self.hub.session_of(handle)
        if session is None:
            return []
        try:
            group, text = self._addressed(session, text, strict=True)
        except _Refused as refused:
            return [Delivery((handle,), refused.event)]
        if group is None:
            return self.hub.action(handle, text)
        return self._group_line(session, group, RecordKind.ACTION, text)

    def _addressed(self, session: OnlineSession[H], text: str, *, strict: bool = False) -> tuple[Group | None, str]:
        """The group a line is for and the text to send: ``#group text`` (any
        whitespace after the name, as commands split words), else the focused group,
        else ``None`` (the main chat). ``#name`` of no group is an error:
        ``NO_SUCH_GROUP`` if ``strict``, else ``NOT_IN_GROUP_LINE``."""
        stripped = text.lstrip()
        if stripped.startswith("#"):
            word, *rest_words = stripped.split(maxsplit=1)
            rest = rest_words[0] if rest_words else ""
            name = group_name(word)
            group = self.groups.find(word.removeprefix("#")) if name is not None else None
            if group is None and name is not None:
                raise _Refused(Error.of(ErrorCode.NO_SUCH_GROUP if strict else ErrorCode.NOT_IN_GROUP_LINE, group=name))
            if group is not None:
                if session.account.id not in group.members:
                    raise _Refused(Error.of(ErrorCode.NOT_MEMBER_LINE, group=group.name))
                if not rest.strip():
                    raise _Refused(Error.of(ErrorCode.USAGE, usage=GROUP_LINE_USAGE))
                return group, rest.strip()
        focused = self.groups.get(session.focus) if session.focus is not None else None
        return focused, text

    def _group_line(self, session: OnlineSession[H], group: Group, kind: RecordKind, text: str) -> list[Effect[H]]:
        account = session.account
        self.hub.record(session, kind, text, group.id)
        event_class = Message if kind is RecordKind.CHAT else Emote
        event = event_class(account.name, text, group=group.name)
        deliveries: list[Effect[H]] = [self._to_group(group, event, session)]
        return deliveries + self.hub.mentions(session, text, group.name, among=group.members)

    @_with_session
    def focus(self, session: OnlineSession[H], argument: str | None) -> list[Effect[H]]:
        """``/focus #group``: plain lines go to that group; ``/focus`` alone: back to
        the main chat."""
        if argument is None:
            session.focus = None
            return [Delivery((session.handle,), Notice.of(NoticeCode.FOCUS_MAIN))]
        group = self._find(argument)
        if session.account.id not in group.members:
            raise _Refused(Error.of(ErrorCode.NOT_MEMBER, group=group.name))
        session.focus = group.id
        return [Delivery((session.handle,), Notice.of(NoticeCode.FOCUS_GROUP, group=group.name))]

    def typing(self, handle: H, active: bool, argument: str) -> list[Effect[H]]:
        """``/typing on|off #group``: a hint to the group's other online members;
        ignored for a group the sender is not in (typing is never worth an error)."""
        session = self.hub.session_of(handle)
        name = group_name(argument)
        group = self.groups.find(argument.removeprefix("#")) if name is not None else None
        if session is None or group is None or session.account.id not in group.members:
            return []
        event = Typing(session.account.name, active, group=group.name)
        return [self._to_group(group, event, session, typing=True)]

    # --- owner powers -----------------------------------------------------------------------------

    @_with_session
    def kick(self, session: OnlineSession[H], name: str, argument: str) -> list[Effect[H]]:
        """``/kick NAME #group``: remove a member (told, even if offline)."""
        group = self._managed(session, argument)
        account = self._target(session, name, group, "kick")
        if account.id not in group.members:
            raise _Refused(Error.of(ErrorCode.NOT_A_MEMBER, name=account.name, group=group.name))
        event = GroupEvent(group.name, GroupChange.KICKED, account.name, session.account.name)
        audience = self._online(group, also=(session.handle,))
        self.groups.remove_member(group, account.id, self.hub.clock())
        return self._removal(audience, event, account.id, group)

    @_with_session
    def ban(self, session: OnlineSession[H], name: str, argument: str) -> list[Effect[H]]:
        """``/ban NAME #group``: remove (if a member) and keep out: a banned account can
        neither join nor ask to, whatever it is called later."""
        group = self._managed(session, argument)
        account = self._target(session, name, group, "ban")
        event = GroupEvent(group.name, GroupChange.BANNED, account.name, session.account.name)
        target = self.hub.session_by_id(account.id)
        extra = (session.handle,) if target is None else (session.handle, *self.hub.roster.handles_for(target))
        audience = self._online(group, also=extra)
        self.groups.ban(group, account.id, session.account.name, self.hub.clock())
        return self._removal(audience, event, account.id, group)

    @_with_session
    def unban(self, session: OnlineSession[H], name: str, argument: str) -> list[Effect[H]]:
        """``/unban NAME #group``: lift a group ban."""
        group = self._managed(session, argument)
        account = self._account(name)
        if account.id not in group.bans:
            raise _Refused(Error.of(ErrorCode.GROUP_NOT_BANNED, name=account.name, group=group.name))
        self.groups.unban(group, account.id)
        return [Delivery((session.handle,), GroupEvent(group.name, GroupChange.UNBANNED, account.name))]

    @_with_session
    def rename(self, session: OnlineSession[H], old: str, new: str) -> list[Effect[H]]:
        """``/rename #old #new`` (seed 001): every online member is told."""
        group = self._managed(session, old)
        name = group_name(new)
        if name is None:
            raise _Refused(Error.of(ErrorCode.BAD_GROUP_NAME, name=new[:40]))
        existing = self.groups.find(name)
        if existing is not None and existing is not group:
            raise _Refused(Error.of(ErrorCode.GROUP_EXISTS, group=existing.name))
        old_name = group.name
        if name == old_name:
            raise _Refused(Error.of(ErrorCode.SAME_GROUP_NAME, group=old_name))
        self.groups.rename(group, name)
        event = GroupEvent(old_name, GroupChange.RENAMED, by=session.account.name, text=name)
        return [Delivery(self._online(group, also=(session.handle,)), event)]

    @_with_session
    def delete(self, session: OnlineSession[H], argument: str) -> list[Effect[H]]:
        """``/delete #group``: gone for every member (offline ones are told at login);
        its messages stay in the database for ``export``."""
        group = self._managed(session, argument)
        event = GroupEvent(group.name, GroupChange.DELETED, by=session.account.name)
        audience = self._online(group, also=(session.handle,))
        members, requesters = list(group.members), list(group.requests)
        self.groups.delete(group, self.hub.clock())
        deliveries: list[Effect[H]] = [Delivery(audience, event)]
        for account_id in members:
            deliveries += self._queue_if_offline(account_id, event)
            deliveries += self._unfocus(account_id, group)
        for account_id in requesters:  # a request's outcome is always told
            deliveries += self._tell(account_id, event)
        return deliveries

    # --- logins and account changes -------------------------------------------------------------

    def welcome(self, handle: H) -> list[Effect[H]]:
        """Right after a login: the changes that happened while the account was away,
        the join requests waiting for a group it owns, and the names of its groups."""
        session = self.hub.session_of(handle)
        if session is None:
            return []
        account = session.account
        events: list[ServerEvent] = [
            GroupEvent(p.group, GroupChange[p.change.upper()], p.name, p.by)
            for p in self.groups.store.take_changes(account.id)
            if p.change.upper() in GroupChange.__members__
        ]
        mine = self.groups.of_member(account.id)
        for group in mine:
            if group.owner_id == account.id:
                events += [GroupEvent(group.name, GroupChange.REQUEST, r.name) for r in group.requests.values()]
        if mine:
            events.append(Notice.of(NoticeCode.YOUR_GROUPS, names=", ".join("#" + g.name for g in mine)))
        return [Delivery((handle,), event) for event in events]

    def drop_lost_accounts(self) -> list[tuple[str, str]]:
        """At start-up: remove from every group the members whose account no longer
        exists (a preconfigured account taken out of the accounts file), handing an
        owned group to the next member, or deleting it if nobody is left; drop their
        requests too. Nobody is online yet, so nothing is sent.

        Returns:
            ``(group name, account name)`` of each membership removed, for the log.
        """
        removed = []
        for group in list(self.groups):
            for member in list(group.members.values()):
                if not self._exists(member.account_id, member.name) and not group.deleted:
                    self.groups.remove_member(group, member.account_id, self.hub.clock())
                    removed.append((group.name, member.name))
            for requester in list(group.requests.values()):
                if not group.deleted and not self._exists(requester.account_id, requester.name):
                    self.groups.drop_request(group, requester.account_id)
        return removed

    def _exists(self, account_id: int, name: str) -> bool:
        account = self.hub.accounts.find(name)
        return account is not None and account.id == account_id

    def account_renamed(self, account_id: int, new_name: str) -> None:
        """``/nick``: member lists show the new name (bans follow the account id)."""
        self.groups.account_renamed(account_id, new_name)

    def forget_guest(self, account: Account) -> list[Effect[H]]:
        """A guest (see :meth:`~pollchat.core.hub.Hub.guest`) is leaving: it stops being a
        member of, or asking to join, any group, without a word to the members (they are
        told it quit); a group it owned passes to its longest-standing member, who is
        told, or is deleted with its last member."""
        deliveries: list[Effect[H]] = []
        self.groups.forget_requests(account.id)
        for group in self.groups.of_member(account.id):
            successor = self.groups.remove_member(group, account.id, self.hub.clock())
            if successor is not None and not group.deleted:
                new_owner = GroupEvent(group.name, GroupChange.OWNER, successor.name)
                deliveries.append(Delivery(self._online(group), new_owner))
        return deliveries

    def account_deleted(self, account: Account) -> list[Effect[H]]:
        """``/unregister``: the account leaves each of its groups (owned ones change
        hands or go) and its requests are dropped. Call before the hub ends its session."""
        deliveries: list[Effect[H]] = []
        for group in self.groups.of_member(account.id):
            deliveries += self._remove(group, account, None)
        self.groups.forget_requests(account.id)
        return deliveries

    # --- the history cannot be written -------------------------------------------------

    def unsaved(self, records: Iterable[HistoryRecord]) -> list[Effect[H]]:
        """The history log could not write ``records``: tell the online sender of each
        private message and group line, once per conversation, that it is not saved yet
        (main-chat lines reached everyone online and are not reported; nor are private
        messages whose sender was warned when sending, ``warned``)."""
        told: dict[tuple[int, str], None] = {}
        for record in records:
            if record.warned:
                continue
            if record.kind is RecordKind.PRIVATE and record.recipient is not None:
                where = record.recipient
            elif record.group_id is not None:
                group = self.groups.get(record.group_id)
                where = "#" + group.name if group is not None else ""
            else:
                continue
            if where:
                told.setdefault((record.sender_id, where))
        deliveries: list[Effect[H]] = []
        for sender_id, where in told:
            session = self.hub.session_by_id(sender_id)
            if session is not None:
                deliveries.append(Delivery(self.hub.roster.handles_for(session), Notice.of(NoticeCode.NOT_SAVED, where=where)))
        return deliveries

    def lost(self, group: str, records: Iterable[HistoryRecord]) -> list[Effect[H]]:
        """Group lines sent to a group that turned out not to exist (``records``: a
        cluster node's own group of the name ``group``, which another node had made
        first; they were not kept): tell each online sender, once, how many of theirs."""
        counts: dict[int, int] = {}
        for record in records:
            counts[record.sender_id] = counts.get(record.sender_id, 0) + 1
        deliveries: list[Effect[H]] = []
        for sender_id, count in counts.items():
            session = self.hub.session_by_id(sender_id)
            if session is not None:
                event = Notice.of(NoticeCode.GROUP_LINES_LOST, count=count, group=group)
                deliveries.append(Delivery(self.hub.roster.handles_for(session), event))
        return deliveries

    # --- helpers -----------------------------------------------------------------------------------

    def _find(self, argument: str) -> Group:
        name = group_name(argument)
        if name is None:
            raise _Refused(Error.of(ErrorCode.BAD_GROUP_NAME, name=argument[:40]))
        group = self.groups.find(argument.removeprefix("#"))  # as typed: Groups.find also tries the NFKC key
        if group is None:
            raise _Refused(Error.of(ErrorCode.NO_SUCH_GROUP, group=name))
        return group

    def _readable(self, session: OnlineSession[H], argument: str) -> Group:
        group = self._find(argument)
        account = session.account
        if group.visibility is Visibility.PRIVATE and account.id not in group.members and not account.admin:
            raise _Refused(Error.of(ErrorCode.NOT_MEMBER, group=group.name))
        return group

    def _managed(self, session: OnlineSession[H], argument: str) -> Group:
        group = self._find(argument)
        if not self._may_manage(session, group):
            raise _Refused(Error.of(ErrorCode.NOT_GROUP_OWNER, group=group.name))
        return group

    @staticmethod
    def _may_manage(session: OnlineSession[H], group: Group) -> bool:
        return session.account.id == group.owner_id or session.account.admin

    def _account(self, name: str) -> Account:
        account = self.hub.find_account(name)
        if account is None:
            raise _Refused(Error.of(ErrorCode.NO_SUCH_USER, name=name[:40]))
        return account

    def _target(self, session: OnlineSession[H], name: str, group: Group, command: str) -> Account:
        account = self._account(name)
        if account.id == session.account.id:
            raise _Refused(Error.of(ErrorCode.NOT_YOURSELF, name=command))
        if account.id == group.owner_id:
            raise _Refused(Error.of(ErrorCode.OWNER_PROTECTED, name=account.name, group=group.name))
        return account

    def _check_room(self, group: Group) -> None:
        if self.groups.is_full(group):
            raise _Refused(Error.of(ErrorCode.GROUP_FULL, group=group.name, limit=self.groups.limits.members_per_group))

    def _online(self, group: Group, *, exclude: H | None = None, also: Iterable[H] = ()) -> tuple[H, ...]:
        """Handles of ``group``'s online members in joining order (without ``exclude``),
        then any of ``also`` not among them."""
        handles = self.hub.handles_of(group.members, exclude)
        if also:
            handles += [handle for handle in also if handle not in handles]
        return tuple(handles)

    def _to_group(self, group: Group, event: ServerEvent, session: OnlineSession[H], *, typing: bool = False) -> ToGroup[H]:
        """``event`` from ``session`` to ``group``'s online members but the sender's
        connection and the sessions of those who ignore the sender (and, for a typing
        hint, the sender's other sessions: typing is per account). The members tuple is
        made again only after a login, a session's end or a membership change (the
        versions of the roster and of the groups), so consecutive lines share it."""
        sender = session.handle
        hub = self.hub
        skip: Collection[H]
        if typing and hub.roster.count_for(session.account.id) > 1:
            skip = hub.ignoring(session.account.id, hub.roster.handles_for(session, sender))
        else:
            skip = hub.ignoring(session.account.id) if hub.ignores.anyone else ()
        versions = (self.hub.roster.version, self.groups.version)
        cached = self._online_cache.get(group.id)
        if cached is None or cached[:2] != versions:
            if len(self._online_cache) > 1024 and cached is None:
                self._online_cache.clear()  # bounded: stale groups' tuples go
            members = tuple(self.hub.handles_of(group.members))
            self._online_cache[group.id] = (*versions, members)
        else:
            members = cached[2]
        return ToGroup(group.id, Everyone(members, sender, skip=skip), event)

    def _managers(self, group: Group) -> tuple[H, ...]:
        """The owner, if online, and every online admin: who hears a join request."""
        owner = self.hub.session_by_id(group.owner_id)
        handles = list(self.hub.roster.handles_for(owner)) if owner is not None else []
        handles += [h for h in self.hub.everyone() if h not in handles and self._is_admin(h)]
        return tuple(handles)

    def _is_admin(self, handle: H) -> bool:
        session = self.hub.session_of(handle)
        return session is not None and session.account.admin

    def _tell(self, account_id: int, event: GroupEvent) -> list[Effect[H]]:
        """``event`` to the account now, or at its next login if it is offline."""
        online = self.hub.session_by_id(account_id)
        if online is not None:
            return [Delivery(self.hub.roster.handles_for(online), event)]
        return self._queue_if_offline(account_id, event)

    def _queue_if_offline(self, account_id: int, event: GroupEvent) -> list[Effect[H]]:
        if self.hub.session_by_id(account_id) is None:
            change = PendingChange(event.change.code, event.group, event.name, event.by, self.hub.clock())
            self.groups.store.queue_change(account_id, change)
        return []

    def _removal(self, audience: tuple[H, ...], event: GroupEvent, account_id: int, group: Group) -> list[Effect[H]]:
        """A kick or ban: ``event`` to ``audience``, kept for the account if it is
        offline, and its focus back to the main chat if it was on ``group``."""
        return [Delivery(audience, event), *self._queue_if_offline(account_id, event), *self._unfocus(account_id, group)]

    def _unfocus(self, account_id: int, group: Group) -> list[Effect[H]]:
        """If ``account_id`` is online with ``group`` focused, return it to the main chat."""
        online = self.hub.session_by_id(account_id)
        if online is None:
            return []
        focused = [s for s in self.hub.roster.sessions_for(online) if s.focus == group.id]  # focus is per session
        for each in focused:
            each.focus = None
        return [Delivery(tuple(s.handle for s in focused), Notice.of(NoticeCode.FOCUS_MAIN))] if focused else []

    def _topic_for(self, handle: H, group: Group, *, always: bool = False) -> list[Effect[H]]:
        if group.topic:
            return [Delivery((handle,), GroupEvent(group.name, GroupChange.TOPIC_IS, text=group.topic))]
        return [Delivery((handle,), GroupEvent(group.name, GroupChange.NO_TOPIC))] if always else []


__all__ = ["GroupChat", "group_name"]
