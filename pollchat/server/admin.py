"""Admin actions, shared by the admin slash commands and the operator console.

Each action takes the actor's name (an admin account, or ``operator`` at the console)
and the command's arguments, asks the core's :class:`~pollchat.core.moderation.Moderation`
(address bans: :class:`~pollchat.server.bans.NetworkBans`), carries out the effects and
closes the connections the decision says to close, and returns what the actor is told. The shutdown
countdown (seed 000: "warning that the server stops in 30 seconds") runs on the loop's
timer heap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from pollchat.core.accounts import Ban
from pollchat.core.addressbans import Network, parse_network
from pollchat.core.effects import Effect
from pollchat.core.hub import Hub
from pollchat.core.moderation import AdminOutcome, Moderation
from pollchat.protocol.commands import parse_duration
from pollchat.protocol.events import Error, Notice, ShutdownCancelled, ShutdownWarning
from pollchat.protocol.session import has_control_characters
from pollchat.server.bans import NetworkBans
from pollchat.server.peer import Peer
from pollchat.server.timers import Timer, Timers
from pollchat.texts import ErrorCode, NoticeCode, ban_period

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Peer)

DEFAULT_COUNTDOWN = 30
"""Seconds of a ``/shutdown`` without a number (seed 000)."""
WARNINGS = (10, 5, 3, 2, 1)
"""Seconds before the end at which everyone is warned again, so nobody is surprised
by the end of a long countdown."""
MAX_COUNTDOWN = 24 * 3600


class ShutdownCountdown:
    """Warns everyone, then calls ``finish``; cancellable.

    Args:
        timers: the loop's timer heap.
        warn: sends an event to everyone online.
        finish: begins the graceful shutdown.
        on_change: told ``True`` when a countdown starts and ``False`` when it is
            cancelled (the hub refuses new logins meanwhile).
    """

    def __init__(
        self,
        timers: Timers,
        warn: Callable[[ShutdownWarning | ShutdownCancelled], None],
        finish: Callable[[], None],
        on_change: Callable[[bool], None],
    ) -> None:
        self.timers = timers
        self.warn = warn
        self.finish = finish
        self.on_change = on_change
        self._timers: list[Timer] = []

    @property
    def running(self) -> bool:
        """A countdown is under way."""
        return bool(self._timers)

    def start(self, seconds: int, reason: str = "") -> None:
        """Start (or restart) a countdown of ``seconds``: a warning now and at each of
        :data:`WARNINGS` still ahead, then ``finish``."""
        self._cancel_timers()
        self.on_change(True)
        self.warn(ShutdownWarning(seconds, reason))
        for left in WARNINGS:
            if left < seconds:
                self._timers.append(self.timers.call_later(seconds - left, self._warner(left, reason)))
        self._timers.append(self.timers.call_later(seconds, self._finish))

    def cancel(self) -> bool:
        """Stop the countdown; ``False`` if none was running."""
        if not self.running:
            return False
        self._cancel_timers()
        self.on_change(False)
        self.warn(ShutdownCancelled())
        return True

    def _warner(self, left: int, reason: str) -> Callable[[], None]:
        return lambda: self.warn(ShutdownWarning(left, reason))

    def _finish(self) -> None:
        self._timers.clear()
        self.finish()

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


class Deliverer(Protocol[P]):
    """Where admin actions' effects and closes go: the chat service
    (:class:`~pollchat.server.service.ChatService` over the same kind of
    :class:`~pollchat.server.peer.Peer` as the hub)."""

    def deliver(self, effects: Iterable[Effect[P]]) -> None:
        """Carry out the core's effects, in order."""

    def close(self, peer: P, reason: str) -> None:
        """Close ``peer`` after its queued lines."""


class AdminActions(Generic[P]):
    """The admin actions of one chat server, over peers of type ``P``.

    Args:
        hub: the main chat room.
        out: where deliveries and closes go.
        countdown: the shutdown countdown.
        clock: wall-clock seconds (when a timed ban ends).
        networks: the address bans (``None``: ``/ban`` takes names only).

    ``/ban`` and ``/unban`` take an address or a CIDR network (``192.0.2.7``,
    ``198.51.100.0/24``, ``2001:db8:1:2::/64``) as well as a name: a ban that a new
    account cannot escape. An existing account's name wins over an address-like
    reading of it; a prefix (``/32``) is never a name.
    """

    def __init__(
        self,
        hub: Hub[P],
        out: Deliverer[P],
        countdown: ShutdownCountdown,
        *,
        clock: Callable[[], float],
        networks: NetworkBans | None = None,
    ) -> None:
        self.hub = hub
        self.moderation: Moderation[P] = Moderation(hub)
        self.out = out
        self.countdown = countdown
        self.clock = clock
        self.networks = networks
        self.everywhere: Callable[[int, str], None] | None = None
        """Set by a cluster node: tells every other node of an admin's ``/shutdown``
        (seconds and reason; 0 seconds: cancelled), so the whole cluster stops."""

    def kick(self, actor: str, name: str, reason: str = "", *, console: bool = False) -> Notice | Error:
        """Disconnect ``name``'s session (``console``: the actor is the operator, no account)."""
        if has_control_characters(reason):
            return Error.of(ErrorCode.CONTROL_CHARACTERS)
        return self._carry_out(actor, "kick", self.moderation.kick(actor, name, reason, actor_is_account=not console))

    def ban(self, actor: str, name: str, rest: str = "", *, console: bool = False) -> Notice | Error:
        """Ban ``name``; ``rest`` is ``[DURATION] [reason]``."""
        if has_control_characters(rest):
            return Error.of(ErrorCode.CONTROL_CHARACTERS)
        first, more = (rest.split(maxsplit=1) + ["", ""])[:2]
        duration = parse_duration(first) if first else None
        if first and duration is None and first[:1].isdigit():
            return Error.of(ErrorCode.BAD_DURATION, text=first[:20])
        reason = more.strip() if duration is not None else rest.strip()
        until = self.clock() + duration if duration is not None else None
        network = self._network(name)
        if network is not None:
            return self._ban_network(actor, network, Ban(until, reason, actor))
        return self._carry_out(
            actor, "ban", self.moderation.ban(actor, name, until, reason, actor_is_account=not console)
        )

    def unban(self, actor: str, name: str) -> Notice | Error:
        """Lift the ban on ``name`` (an account, an address or a network)."""
        network = self._network(name)
        if network is not None and self.networks is not None:
            if not self.networks.unban(network, self.clock()):
                return Error.of(ErrorCode.NOT_BANNED, name=str(network))
            reply = Notice.of(NoticeCode.UNBAN_DONE, name=str(network))
            log.warning("admin %s: %s", actor, reply.text)
            return reply
        return self._carry_out(actor, "unban", self.moderation.unban(actor, name))

    def _network(self, name: str) -> Network | None:
        """``name`` read as an address or network, unless it names an account."""
        if self.networks is None or self.hub.accounts.find(name) is not None:
            return None
        return parse_network(name)

    def _ban_network(self, actor: str, network: Network, ban: Ban) -> Notice | Error:
        """Persist the ban, then disconnect every session from ``network``."""
        assert self.networks is not None
        now = self.clock()
        self.networks.ban(network, ban, now)
        reply = Notice.of(NoticeCode.BAN_DONE, name=str(network), until=ban_period(ban.until))
        log.warning("admin %s: %s", actor, reply.text)
        for handle in self.hub.everyone():
            session = self.hub.session_of(handle)
            if session is not None and self.networks.match(handle.address, now) is not None:
                self._carry_out(actor, "ban", self.moderation.ban_session(actor, handle, ban))
        return reply

    def announce(self, actor: str, text: str) -> Error | None:
        """A marked line to everyone online; an error if ``text`` has control characters
        (the console's input is not checked like a client's lines are)."""
        if has_control_characters(text):
            return Error.of(ErrorCode.CONTROL_CHARACTERS)
        log.info("admin %s: announce %r", actor, text)
        self.out.deliver(self.moderation.announce(actor, text))
        return None

    def shutdown(self, actor: str, rest: str = "", *, everywhere: bool = False) -> Notice | Error:
        """``[SECONDS] [reason]`` starts the countdown; ``cancel`` stops it.
        ``everywhere`` (an admin's ``/shutdown``, not the operator's console): in a
        cluster, every node counts down and stops (:attr:`everywhere`)."""
        if has_control_characters(rest):
            return Error.of(ErrorCode.CONTROL_CHARACTERS)
        first, more = (rest.split(maxsplit=1) + ["", ""])[:2]
        if first.lower() == "cancel" and not more:
            if not self.countdown.cancel():
                return Error.of(ErrorCode.NO_SHUTDOWN)
            log.warning("admin %s cancelled the shutdown", actor)
            if everywhere and self.everywhere is not None:
                self.everywhere(0, "")
            return Notice.of(NoticeCode.SHUTDOWN_CANCELLED_DONE)
        seconds, reason = DEFAULT_COUNTDOWN, rest.strip()
        if first.isascii() and first.isdigit():  # else the whole rest is the reason
            seconds, reason = int(first[:9]), more.strip()
            if not 1 <= seconds <= MAX_COUNTDOWN:
                return Error.of(ErrorCode.USAGE, usage="/shutdown [SECONDS] [reason] | /shutdown cancel")
        log.warning("admin %s: shutdown in %d s%s", actor, seconds, f" ({reason})" if reason else "")
        if everywhere and self.everywhere is not None:
            self.everywhere(seconds, reason)
        self.countdown.start(seconds, reason)
        return Notice.of(NoticeCode.SHUTDOWN_STARTED, seconds=seconds)

    def _carry_out(self, actor: str, action: str, outcome: AdminOutcome[P]) -> Notice | Error:
        if isinstance(outcome.reply, Notice):
            log.warning("admin %s: %s", actor, outcome.reply.text)
        self.out.deliver(outcome.deliveries)
        for peer in outcome.disconnect:
            self.out.close(peer, f"{action} by {actor}")
        return outcome.reply
