"""Moderation decisions: kick, ban, unban and announce, over the hub's sessions.

Like the hub, :class:`Moderation` decides and never performs I/O: each action returns
an :class:`AdminOutcome`, what the actor is told, the effects for everyone else and the
connections to close once those are queued. The ban itself is written through the
account directory. Argument parsing, address bans and logging are the server's
(:mod:`pollchat.server.admin`), shared by the admin slash commands and the operator
console.

Rules: nobody kicks or bans their own account (the console's operator has none); a
banned session is told by whom, until when and why, then ends, and everyone else sees
it leave with that reason; an expired ban is no ban (``/unban`` of it is an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pollchat.core.accounts import Ban
from pollchat.core.effects import Delivery, Effect, ToEveryone
from pollchat.core.hub import Hub, reason_suffix
from pollchat.protocol.events import Announcement, Error, Notice
from pollchat.protocol.names import name_key
from pollchat.texts import ErrorCode, NoticeCode, ban_period

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class AdminOutcome(Generic[H]):
    """The result of an admin action.

    Attributes:
        reply: what the admin is told (a notice on success, an error otherwise).
        deliveries: the effects for everyone else, in order.
        disconnect: connections to close once the effects are carried out.
    """

    reply: Notice | Error
    deliveries: tuple[Effect[H], ...] = ()
    disconnect: tuple[H, ...] = ()


class Moderation(Generic[H]):
    """The admin actions over ``hub``'s sessions and accounts."""

    def __init__(self, hub: Hub[H]) -> None:
        self.hub = hub

    def kick(self, actor: str, name: str, reason: str = "", *, actor_is_account: bool = True) -> AdminOutcome[H]:
        """An admin (or the operator console, ``actor``) disconnects ``name``'s
        sessions, every one of them (an account may be online on several devices)."""
        target = self.hub.online_by_name(name)
        if isinstance(target, Error):
            return AdminOutcome(target)
        if actor_is_account and target.account.key == name_key(actor):
            return AdminOutcome(Error.of(ErrorCode.NOT_YOURSELF, name="kick"))
        handles = self.hub.roster.handles_for(target)
        told = Delivery(handles, Notice.of(NoticeCode.KICKED, by=actor, reason=reason_suffix(reason)))
        left: list[Effect[H]] = []
        for handle in handles:  # the account's left notice comes with its last session
            left += self.hub.leave(handle, f"disconnected by {actor}{reason_suffix(reason)}")
        reply = Notice.of(NoticeCode.KICK_DONE, name=target.account.name)
        return AdminOutcome(reply, (told, *left), handles)

    def ban(
        self, actor: str, name: str, until: float | None, reason: str = "", *, actor_is_account: bool = True
    ) -> AdminOutcome[H]:
        """Ban ``name`` until ``until`` (epoch seconds; ``None`` for good), persisted;
        every session of theirs is disconnected with the reason."""
        hub = self.hub
        account = hub.accounts.find(name)
        if account is None:
            return AdminOutcome(Error.of(ErrorCode.NO_SUCH_USER, name=name[:40]))
        if actor_is_account and account.key == name_key(actor):
            return AdminOutcome(Error.of(ErrorCode.NOT_YOURSELF, name="ban"))
        ban = Ban(until, reason, actor)
        hub.accounts.ban(account, ban, hub.clock())
        reply = Notice.of(NoticeCode.BAN_DONE, name=account.name, until=ban_period(ban.until))
        session = hub.roster.by_key(account.key)
        if session is None:
            return AdminOutcome(reply)
        deliveries: list[Effect[H]] = []
        disconnect: list[H] = []
        for handle in hub.roster.handles_for(session):
            ended = self.ban_session(actor, handle, ban)
            deliveries += ended.deliveries
            disconnect += ended.disconnect
        return AdminOutcome(reply, tuple(deliveries), tuple(disconnect))

    def ban_session(self, actor: str, handle: H, ban: Ban) -> AdminOutcome[H]:
        """Tell ``handle`` it is banned by ``actor`` and end its session; the ban itself
        (of its account, or of its address) is the caller's to keep."""
        session = self.hub.session_of(handle)
        if session is None:
            return AdminOutcome(Error.of(ErrorCode.NOT_ONLINE, name="?"))
        told = Delivery(
            (handle,),
            Notice.of(NoticeCode.BANNED_NOW, by=actor, until=ban_period(ban.until), reason=reason_suffix(ban.reason)),
        )
        left = self.hub.leave(handle, f"banned by {actor}{reason_suffix(ban.reason)}")
        return AdminOutcome(Notice.of(NoticeCode.KICK_DONE, name=session.account.name), (told, *left), (handle,))

    def unban(self, actor: str, name: str) -> AdminOutcome[H]:
        """Lift the ban on ``name``."""
        accounts = self.hub.accounts
        account = accounts.find(name)
        if account is None:
            return AdminOutcome(Error.of(ErrorCode.NO_SUCH_USER, name=name[:40]))
        in_force = accounts.ban_of(account, self.hub.clock()) is not None
        if not accounts.unban(account) or not in_force:  # an expired ban is no ban
            return AdminOutcome(Error.of(ErrorCode.NOT_BANNED, name=account.name))
        return AdminOutcome(Notice.of(NoticeCode.UNBAN_DONE, name=account.name))

    def announce(self, actor: str, text: str) -> list[Effect[H]]:
        """An admin's marked line to everyone online (the admin included)."""
        return [ToEveryone(self.hub.everyone(), Announcement(actor, text))]
