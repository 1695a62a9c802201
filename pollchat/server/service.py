"""The chat service: every client's login workflow, protections and chat, over any front end.

It speaks to clients only through the small :class:`~pollchat.server.peer.Peer`
protocol (``send``, ``close``, a few state slots) and to the many through a fan-out
port, so the line protocol on TCP, a WebSocket in a browser or a TLS connection all get
the same seats, login flow, throttle, rate limit, history and commands. The loop
adapter (:class:`pollchat.server.chat.LoopAdapter`) calls, per connection:

* :meth:`ChatService.connected` at accept (per-address limit, login deadline),
* :meth:`ChatService.ready` once the front end's handshake is done (the greeting),
* :meth:`ChatService.received` with decoded lines, :meth:`ChatService.eof` at the end
  of input, :meth:`ChatService.disconnected` once it began closing,
* :meth:`ChatService.too_slow` when its output buffer overflowed.

Password work goes to the worker pool; answers come back on the loop thread.

The core's effects (:mod:`pollchat.core.effects`) are applied here, in order, through
an :class:`Output`: the event loop, or :class:`PeerOutput` for a front end without
lists of its own. :func:`pollchat.server.build.build_chat` makes a service with
everything it needs.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, Protocol, TypeVar

from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.group_chat import GroupChat, group_name
from pollchat.core.effects import Delivery, Effect, JoinedEveryone, LeftEveryone, ToEveryone, ToGroup
from pollchat.core.hub import Admission, Hub
from pollchat.core.seats import AccountKind
from pollchat.core.lockout import LoginThrottle
from pollchat.core.passwords import hash_password, verify_password
from pollchat.core.ratelimit import TokenBucket
from pollchat.core.receipts import Receipts
from pollchat.core.registration import RegistrationLimit
from pollchat.protocol.commands import COMMANDS, Command, group_argument
from pollchat.protocol.events import (
    Error,
    Greeting,
    HistoryEnd,
    HistoryStart,
    ModeSwitched,
    Notice,
    ServerEvent,
    ShuttingDown,
)
from pollchat.protocol.codec import Input
from pollchat.protocol.requests import REQUEST_TYPES, ReplyEnd, ReplyStart, Request
from pollchat.protocol.names import name_key
from pollchat.protocol.render import render_text
from pollchat.protocol.session import (
    Authenticate,
    Chat,
    Disconnect,
    Reply,
    Session,
    SessionStep,
    SwitchMode,
    Verb,
)
from pollchat.server.admin import AdminActions, ShutdownCountdown
from pollchat.server.bans import NetworkBans
from pollchat.server.commands import MAX_HISTORY, Commands, history_event
from pollchat.server.history import HistoryLog
from pollchat.server.peer import Peer
from pollchat.server.registrations import RegistrationCommit
from pollchat.server.timers import Timers
from pollchat.server.workers import PasswordPool
from pollchat.texts import ErrorCode, NoticeCode, ban_period

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Peer)
P_contra = TypeVar("P_contra", bound=Peer, contravariant=True)


class Output(Protocol[P_contra]):
    """Where the service's events go: to a few peers, or to every logged-in peer but
    one (:meth:`pollchat.server.loop.EventLoop` is one, :class:`PeerOutput` another).

    ``join_everyone`` and ``leave_everyone`` keep the output's list of logged-in peers
    equal to the hub's roster: the service calls them for the core's
    :class:`~pollchat.core.effects.JoinedEveryone` and
    :class:`~pollchat.core.effects.LeftEveryone` effects, in their order."""

    def fan_out(self, targets: Iterable[P_contra], event: ServerEvent) -> None:
        """Queue ``event`` to each of ``targets``, rendered once per encoding in use."""

    def broadcast(self, event: ServerEvent, exclude: P_contra | None = None, skip: Collection[P_contra] = ()) -> None:
        """Queue ``event`` to every peer that joined, but ``exclude`` and those in
        ``skip`` (usually empty: those who ignore the sender)."""

    def to_group(
        self,
        group: object,
        members: Sequence[P_contra],
        event: ServerEvent,
        exclude: P_contra | None = None,
        skip: Collection[P_contra] = (),
    ) -> None:
        """Queue ``event`` to each of a group's online ``members`` but ``exclude`` and
        those in ``skip`` (the same ``members`` object for consecutive lines while
        nothing changed)."""

    def join_everyone(self, peer: P_contra) -> None:
        """``peer`` logged in: it receives broadcasts from now on."""

    def leave_everyone(self, peer: P_contra) -> None:
        """``peer`` logged out: it receives no more broadcasts."""


class ClusterPort(Protocol):
    """What the service asks of a cluster (:class:`pollchat.server.cluster.node.ClusterNode`),
    when it runs as one node of several."""

    def take_seat(
        self, peer: object, name: str, kind: AccountKind, answer: Callable[[ErrorCode | None], None], account_id: int = 0
    ) -> None:
        """Take a cluster-wide seat for ``peer`` logging in as ``name`` (account
        ``account_id``, 0 if it has none yet); ``answer`` (on the loop thread) gets
        ``None`` or the refusal."""

    def seat_unused(self, peer: object) -> None:
        """The seat taken for ``peer`` was not used: give it back."""

    def stop(self) -> None:
        """Leave the cluster (the server is stopping)."""

    def login_checked(self, host: str, key: str, ok: bool) -> None:
        """A password check for account ``key`` from ``host`` succeeded or failed here:
        the other nodes count it in their login throttles too."""

    def route(self, effects: Iterable[Effect[Any]]) -> list[Effect[Any]]:
        """Take what is for other nodes, or for everyone, out of ``effects``; return
        what is for this node's peers now."""

    def publish(self) -> None:
        """Send the records taken so far now (normally once per pass, after the flush)."""


class PeerOutput(Generic[P]):
    """An :class:`Output` that sends peer by peer (:meth:`Peer.send`), for a front end
    without an event loop of its own (tests, an embedding): its logged-in peers are
    kept in login order."""

    def __init__(self) -> None:
        self.joined: dict[P, None] = {}

    def fan_out(self, targets: Iterable[P], event: ServerEvent) -> None:
        for peer in targets:
            peer.send(event)

    def broadcast(self, event: ServerEvent, exclude: P | None = None, skip: Collection[P] = ()) -> None:
        self.fan_out([peer for peer in self.joined if peer is not exclude and peer not in skip], event)

    def to_group(
        self, group: object, members: Sequence[P], event: ServerEvent, exclude: P | None = None, skip: Collection[P] = ()
    ) -> None:
        self.fan_out([peer for peer in members if peer is not exclude and peer not in skip], event)

    def join_everyone(self, peer: P) -> None:
        self.joined[peer] = None

    def leave_everyone(self, peer: P) -> None:
        self.joined.pop(peer, None)


class ChatService(Generic[P]):
    """The chat over :class:`~pollchat.server.peer.Peer` objects.

    Args:
        hub: the main chat room (seats, sessions, presence).
        groups: the group commands, over ``hub``.
        history: the message log (replay at login, ``/history``).
        pool: the password worker pool.
        timers: the loop's timer heap (login deadline, idle checks, throttle delays).
        output: where events go (the event loop): a few peers, or everyone logged in.
        config: the settings (iterations, replay, game, failure and protection limits).
        dummy_hash: a hash checked for unknown accounts, so that "no such account" costs
            as long as "wrong password" and replies identically.
        clock: wall-clock seconds (idle times, ban ends).
        on_shutdown: begins the graceful shutdown (the admin countdown's end).
        rng: the game's random numbers (tests pass a seeded one).
        networks: the address bans (``None``: none can be set).
        count_accounts: how many registered accounts exist (for ``--max-accounts``).
        receipts: the read-receipt rules over the store (``None``: in memory only).
    """

    def __init__(
        self,
        hub: Hub[P],
        groups: GroupChat[P],
        history: HistoryLog,
        pool: PasswordPool,
        timers: Timers,
        output: Output[P],
        config: ServerConfig,
        *,
        dummy_hash: str,
        clock: Callable[[], float] = time.time,
        on_shutdown: Callable[[], None] | None = None,
        rng: random.Random | None = None,
        networks: NetworkBans | None = None,
        count_accounts: Callable[[], int] | None = None,
        receipts: Receipts | None = None,
    ) -> None:
        self.hub = hub
        self.networks = networks
        self.count_accounts = count_accounts
        self.groups = groups
        self.history = history
        self.pool = pool
        self.timers = timers
        self.output = output
        self.config = config
        self.dummy_hash = dummy_hash
        self.clock = clock
        self.stopping = False
        self.throttle = LoginThrottle(
            config.throttle_after,
            config.lockout_after,
            config.address_lockout_after,
            config.lockout_seconds,
            config.account_throttle_after,
        )
        self.registrations = RegistrationLimit(config.register_rate)
        self._per_address: dict[str, int] = {}
        self._open = 0  # connections between connected() and disconnected()
        self.admin = AdminActions(
            hub,
            self,
            ShutdownCountdown(
                timers,
                warn=self._warn_everyone,
                finish=on_shutdown or (lambda: None),
                on_change=self._set_closing,
            ),
            clock=clock,
            networks=networks,
        )
        self.commands = Commands(hub, groups, history, pool, self, config, self.admin, rng, receipts)
        self.on_request: Callable[[P, Request], None] | None = None
        """Carries out a front end's typed requests (the IRC gateway sets it); ``None``:
        they are ignored."""
        self.registration_commit: RegistrationCommit[P] | None = None
        """The group commit of registrations (:mod:`pollchat.server.registrations`;
        ``None``: each registration is committed alone, and admitted at once)."""
        self.on_admitted: list[Callable[[P], None]] = []
        """Called with each peer just logged in, after its welcome and its history."""
        self.on_leaving: list[Callable[[P], None]] = []
        """Called with each logged-in peer whose connection is ending, before its seat is
        freed and the others are told (a front end tells what only it knows)."""
        self.await_account_id: Callable[[Callable[[], None]], bool] | None = None
        """A store that takes account ids from reserved blocks (PostgreSQL): ``False`` if
        none is reserved now, and then it calls the callable once it has more; a
        registration waits for that rather than being refused (``None``: never waits)."""
        self.barrier: Any = None
        """The commit barrier (:class:`pollchat.server.barrier.CommitBarrier`) of a
        write-behind store (PostgreSQL): a connection whose request issued writes is
        held until they are committed. ``None`` (SQLite): writes commit when they return."""
        self._registering: set[P] = set()  # cluster registrations waiting for their row's commit
        self.store_available: Callable[[], bool] | None = None
        """Whether the account database can be reached (``None``: always); while it
        cannot, logins and registrations are refused with one line."""
        self.fetch_account: Callable[[str, Callable[[], None]], None] | None = None
        """In a cluster on the view store: ask the database for an account key the view
        does not have, then call back (a login on one node right after a registration
        on another)."""
        self.fetch_group: Callable[[str, Callable[[], None]], None] | None = None
        """In a cluster on the view store: ask the database for a live group whose name
        key the view does not have, then call back (a ``/join #g`` on one node right
        after a ``/create #g`` on another)."""
        self.request_groups: Callable[[Any], Sequence[str]] | None = None
        """The group names (without ``#``) a front end's typed request names (the IRC
        gateway sets it: its channels but the main one), for :attr:`fetch_group`."""
        self._looked_up: SessionStep | None = None  # the step being run again after its lookup
        self._lookups: dict[P, list[Input]] = {}  # peers whose step waits for a lookup: input after it
        self._history_waiters: dict[P, int] = {}  # peers whose private or group line waits for the history batch
        self.cluster: ClusterPort | None = None
        """Set when this server is one node of a cluster (``--cluster``): seats are the
        engine's, and effects pass through it (:meth:`deliver`)."""
        # Bound once: every connection's timer refers to these, not to a closure of its own.
        self._on_login_timeout = self._login_timed_out
        self._on_idle_check = self._idle_check

    def _set_closing(self, closing: bool) -> None:
        self.hub.closing = closing

    # --- a peer's life ------------------------------------------------------------------------

    def connected(self, peer: P) -> None:
        """A new connection: count it against its address, arm the login deadline (which
        also bounds a front end's handshake). Over the per-address limit it is refused
        with one line and closed."""
        config = self.config
        peer.session = Session(config.max_failures, config.min_password_length)
        host = peer.host
        self._per_address[host] = self._per_address.get(host, 0) + 1
        self._open += 1
        banned = self.networks.match(peer.address, self.clock()) if self.networks is not None else None
        if banned is not None:
            log.warning("connection #%d from %s refused: %s is banned", peer.id, peer.peer, banned.network)
            reason = f": {banned.ban.reason}" if banned.ban.reason else ""
            peer.send(Error.of(ErrorCode.ADDRESS_BANNED, until=ban_period(banned.ban.until), reason=reason))
            peer.close("banned address")
            return
        if config.max_connections and self._open > config.max_connections:
            log.warning("connection #%d from %s refused: %d connections open", peer.id, peer.peer, self._open - 1)
            peer.send(Error.of(ErrorCode.SERVER_BUSY))
            peer.close("server-wide connection limit")
            return
        if config.max_connections_per_address and self._per_address[host] > config.max_connections_per_address:
            log.warning("connection #%d from %s refused: too many connections from that address", peer.id, peer.peer)
            peer.send(Error.of(ErrorCode.TOO_MANY_CONNECTIONS))
            peer.close("too many connections from its address")
            return
        if config.rate_limit:
            peer.bucket = TokenBucket(config.rate_limit, config.rate_burst, self.timers.clock())
        if config.login_timeout:
            peer.timer = self.timers.call_later(config.login_timeout, self._on_login_timeout, peer)

    def ready(self, peer: P) -> None:
        """The front end's handshake (if any) is done: greet the client."""
        if not peer.closing:
            peer.send(Greeting())

    def received(self, peer: P, items: Sequence[Input]) -> None:
        """Lines (or line errors) decoded from ``peer``'s input, in order."""
        session = peer.session
        assert session is not None
        for index, item in enumerate(items):
            if peer.closing:
                return
            held = self._lookups.get(peer)
            if held is not None:  # a step waits for the database: these come after it
                held.extend(items[index:])
                return
            if peer.bucket is not None and not isinstance(item, _REPLY_MARKS) and not self._within_rate(peer):
                continue
            self._apply(peer, session.feed(item))
        if session.backlog_full and not peer.closing:
            peer.pause_reading()

    def eof(self, peer: P) -> None:
        """``peer`` ended its input (a TCP FIN, a WebSocket close)."""
        assert peer.session is not None
        self._apply(peer, peer.session.feed_eof())

    def disconnected(self, peer: P) -> None:
        """``peer`` began closing, whatever the reason: free its seat, tell the others."""
        host = peer.host
        self._open -= 1
        left = self._per_address.get(host, 1) - 1
        if left > 0:
            self._per_address[host] = left
        else:
            self._per_address.pop(host, None)
        if peer.timer is not None:
            peer.timer.cancel()
        self._lookups.pop(peer, None)
        session = self.hub.session_of(peer)
        if peer in self._registering:  # a registration not admitted yet: nobody saw it enter
            self.hub.leave(peer, record_last_seen=False)
            return
        if session is not None:
            log.info("%s logged out (connection #%d: %s)", session.account.name, peer.id, peer.close_reason)
            self.leaving(peer)
        effects = self.hub.leave(peer)  # frees the seat, whatever happens next
        if self.stopping:  # nobody is told, but the broadcast lists still follow the roster
            effects = [effect for effect in effects if isinstance(effect, LeftEveryone)]
        self.deliver(effects)

    def leaving(self, peer: P) -> None:
        """``peer``'s session is about to end: run the :attr:`on_leaving` hooks, and a
        guest stops being a member of any group (see
        :meth:`~pollchat.core.group_chat.GroupChat.forget_guest`)."""
        session = self.hub.session_of(peer)
        if session is None or self.stopping:
            return
        for hook in self.on_leaving:
            hook(peer)
        if session.account.guest:
            self.deliver(self.groups.forget_guest(session.account))

    def too_slow(self, peer: P) -> None:
        """``peer``'s output passed ``--max-output``: its last line says why it goes."""
        peer.send(Error.of(ErrorCode.TOO_SLOW))

    def shut_down(self, peers: Iterable[P]) -> None:
        """Tell every peer the server is stopping and close it after a flush.

        Everyone is leaving at once, so no left notices are sent: the shutdown line is
        each connection's last."""
        self.stopping = True
        open_peers = tuple(peer for peer in peers if not peer.closing)
        self.deliver([Delivery(open_peers, ShuttingDown())])
        for peer in open_peers:
            peer.close("server shutting down")

    # --- the output port (also used by Commands and AdminActions) --------------------------------

    def _warn_everyone(self, event: ServerEvent) -> None:
        """A shutdown countdown's warning to everyone online here (in a cluster, each
        node warns its own users: a node's countdown is its own)."""
        if self.cluster is not None:
            self.output.broadcast(event)
        else:
            self.deliver([ToEveryone(self.hub.everyone(), event)])

    def send(self, peer: P, event: ServerEvent) -> None:
        """Queue ``event`` for ``peer`` alone."""
        peer.send(event)

    def deliver(self, effects: Iterable[Effect[P]]) -> None:
        """Carry out the core's effects, in order: each event rendered once per
        encoding in use; one to everyone logged in goes out as one broadcast, one to a
        group's members as one group line (batched per pass by the loop). In a cluster,
        what is for everyone or for other nodes goes over the cluster's bus first
        (:meth:`ClusterPort.route`)."""
        if self.cluster is not None:
            effects = self.cluster.route(effects)
        output = self.output
        for effect in effects:
            match effect:
                case Delivery(targets, event):
                    if targets:
                        output.fan_out(targets, event)
                case ToEveryone(targets, event):
                    if targets.skip:  # someone ignores the sender (rare)
                        output.broadcast(event, targets.exclude, targets.skip)
                    else:
                        output.broadcast(event, targets.exclude)
                case ToGroup(group, targets, event):
                    if targets.skip:
                        output.to_group(group, targets.handles, event, targets.exclude, targets.skip)
                    else:
                        output.to_group(group, targets.handles, event, targets.exclude)
                case JoinedEveryone(peer):
                    output.join_everyone(peer)
                case LeftEveryone(peer):
                    output.leave_everyone(peer)

    def before_flush(self) -> None:
        """Before a loop pass's output is flushed: commit the history if the pass holds
        a private message or a group line (acknowledged to its sender: stored first),
        and tell the senders of what could not be stored in this same pass."""
        self.history.commit_acknowledged()
        if self._history_waiters:
            waiters, self._history_waiters = self._history_waiters, {}
            for peer, mark in waiters.items():
                self.barrier.hold(peer, mark)
        self.deliver(self.groups.unsaved(self.history.take_unsaved()))

    def after_pass(self) -> None:
        """The end of a loop pass, after the sockets were flushed: write the pass's
        history in one batch, and tell the senders of private and group lines the
        history could not keep."""
        self.deliver(self.groups.unsaved(self.history.flush()))

    def close(self, peer: P, reason: str) -> None:
        """Close ``peer`` after its queued lines."""
        peer.close(reason)

    def send_history(self, peer: P, events: list[ServerEvent], *, empty_notice: bool = False) -> None:
        """Send ``events`` (oldest first) between a history header and footer (nothing,
        or a "no messages" notice, when there are none).

        The block is one connection's reply, queued in one pass, so it is bounded: only
        the newest events that fit in half of ``--max-output`` are sent (500 lines of
        4 KiB would otherwise make a reader that keeps up look like a slow consumer)."""
        budget = self.config.max_output // 2
        kept: list[bytes] = []
        for event in reversed(events):
            data = peer.encode(event)
            budget -= len(data)
            if budget < 0:
                break
            kept.append(data)
        if not kept:
            if empty_notice:
                peer.send(Notice.of(NoticeCode.HISTORY_EMPTY))
            return
        peer.send(HistoryStart(len(kept)))
        for data in reversed(kept):
            peer.write(data)
        peer.send(HistoryEnd())

    # --- protections ---------------------------------------------------------------------------

    def _login_timed_out(self, peer: P) -> None:
        if peer.closing or self.hub.session_of(peer) is not None:
            return
        peer.send(Error.of(ErrorCode.LOGIN_TIMEOUT, seconds=_whole(self.config.login_timeout)))
        peer.close("no login in time")

    def _within_rate(self, peer: P) -> bool:
        """Take a token for one line; over the limit the line is dropped, the first drop
        warns, and ``rate_burst`` drops in a row disconnect (flooding)."""
        assert peer.bucket is not None
        if peer.bucket.take(self.timers.clock()):
            peer.dropped = 0
            return True
        peer.dropped += 1
        if peer.dropped == 1:
            log.info("connection #%d %s: over the rate limit, dropping lines", peer.id, peer.peer)
            peer.send(Notice.of(NoticeCode.RATE_WARNING, rate=_whole(self.config.rate_limit)))
        elif peer.dropped > self.config.rate_burst:
            log.warning("connection #%d %s: flooding, disconnected", peer.id, peer.peer)
            peer.send(Error.of(ErrorCode.FLOODING))
            peer.close("flooding")
        return False

    # --- session steps -------------------------------------------------------------------------

    def _apply(self, peer: P, steps: list[SessionStep]) -> None:
        barrier = self.barrier
        if barrier is None:
            self._run_steps(peer, steps)
            return
        mark, lines, start = barrier.mark(), self.history.acknowledged, barrier.begin(peer)
        try:
            self._run_steps(peer, steps)
        finally:
            barrier.hold(peer, mark, start)  # acknowledged means committed
            if self.history.acknowledged != lines:  # its line is written in before_flush
                self._history_waiters.setdefault(peer, mark)
                barrier.hold_pending(peer)

    def _run_steps(self, peer: P, steps: list[SessionStep]) -> None:
        for index, step in enumerate(steps):
            if peer.closing:
                return
            missing = self._missing(step)
            if missing is not None:
                # /msg or /whois of a name, or a step naming a #group, that this node's
                # view lacks (a cluster): ask the database first; this step and the rest
                # wait, in order, reading paused.
                fetch, key = missing
                looked_up, rest = step, steps[index:]
                peer.pause_reading()
                self._lookups[peer] = []  # lines decoded meanwhile wait too (received())

                def found() -> None:
                    later = self._lookups.pop(peer, [])
                    self._looked_up = looked_up
                    try:
                        if not peer.closing:
                            self._resume(peer, rest)
                    finally:
                        self._looked_up = None
                    if later and not peer.closing:
                        if peer in self._lookups:  # a later step of the same line asks too
                            self._lookups[peer][:0] = later
                        else:
                            self.received(peer, later)

                fetch(key, found)
                return
            match step:
                case Chat(text):
                    self.deliver(self.hub.touch(peer))
                    try:
                        self.deliver(self.groups.say(peer, text))
                    except Exception:  # a bug costs this line, not the session
                        self._step_failed(peer, "a chat line")
                case Command():
                    if not COMMANDS[step.name].passive:  # /who, /history... are no sign of life
                        self.deliver(self.hub.touch(peer))
                    try:
                        self.commands.run(peer, step)
                    except Exception:  # e.g. the package data went away under a running server
                        self._step_failed(peer, "/" + step.name)
                case Reply(event):
                    peer.send(event)
                case Authenticate():
                    self._authenticate(peer, step)
                case SwitchMode(mode):
                    peer.switch_mode(mode)
                    peer.send(ModeSwitched(mode))
                case _ if isinstance(step, REQUEST_TYPES):
                    if self.on_request is not None:
                        self.on_request(peer, step)
                case Disconnect(event):
                    if event is None:
                        peer.close("peer closed")
                    else:
                        peer.send(event)
                        peer.close(render_text(event))

    def _missing(self, step: SessionStep) -> tuple[Callable[[str, Callable[[], None]], None], str] | None:
        """What ``step`` names that this node's view lacks, to be looked up in the
        database first (in a cluster only: another node made it a moment ago, or its bus
        record was lost): ``(fetch, key)`` for a ``/msg`` or ``/whois`` of a name neither
        online nor in the view (:attr:`fetch_account`), or for the first ``#group`` of a
        command, a group line or a front end's request that no live group has
        (:attr:`fetch_group`); ``None`` when nothing is missing or it was looked up."""
        if step is self._looked_up:
            return None
        if self.fetch_account is not None and isinstance(step, Command) and step.name in ("msg", "whois") and step.args:
            name = step.args[0]
            if not name.startswith("#") and self.hub.roster.by_key(name_key(name)) is None and self.hub.accounts.find(name) is None:
                return self.fetch_account, name_key(name)
        if self.fetch_group is not None:
            groups = self.groups.groups
            for word in self._group_words(step):
                group = group_name(word)
                if group is not None and groups.find(word.removeprefix("#")) is None:
                    return self.fetch_group, name_key(group)
        return None

    def _group_words(self, step: SessionStep) -> list[str]:
        """The ``#group`` words ``step`` names: a command's group arguments (``/join
        #g``, ``/msg #g text``, ``/kick NAME #g``), the first word of a line or an
        action (``#g text``), a front end's channel (:attr:`request_groups`)."""
        if isinstance(step, Chat):
            text = step.text
        elif isinstance(step, Command):
            spec = COMMANDS[step.name]
            if spec.name == "me" and step.args:
                text = step.args[0]
            else:
                words = [arg for arg in step.args[: spec.words] if arg.startswith("#")]
                extra = group_argument(step)
                return words + [extra] if extra is not None and len(extra.split()) == 1 else words
        elif isinstance(step, REQUEST_TYPES) and self.request_groups is not None:
            return ["#" + name for name in self.request_groups(step)]
        else:
            return []
        stripped = text.lstrip()
        return stripped.split(maxsplit=1)[:1] if stripped.startswith("#") else []

    def _step_failed(self, peer: P, what: str) -> None:
        """An unexpected exception while running ``what`` (a command or a chat line) for
        ``peer``: log its traceback once, answer one ``internal`` error line, and keep
        the session (the user can go on; only that line or command was lost)."""
        log.exception("connection #%d %s: internal error running %s", peer.id, peer.peer, what)
        peer.send(Error.of(ErrorCode.INTERNAL))

    # --- the login workflow --------------------------------------------------------------------

    def _authenticate(self, peer: P, step: Authenticate) -> None:
        if step.verb is not Verb.GUEST and self.store_available is not None and not self.store_available():
            log.warning("%s of %r refused: the account database is unavailable", step.verb.value, step.name)
            self._refused(peer, step, ErrorCode.DATABASE_UNAVAILABLE)
            return
        if step.verb is Verb.LOGIN:
            host, key = peer.host, name_key(step.name)
            now = self.timers.clock()
            wait = self.throttle.wait(host, key, now)
            if wait == math.inf:  # locked out: refused without a look at the password
                seconds = math.ceil(self.throttle.locked_for(host, key, now))
                self._refused(peer, step, ErrorCode.LOCKED_OUT, seconds=seconds)
                return
            self.throttle.begin(host, key)  # counted while under way: no parallel guessing
            if wait > 0:  # growing delays after repeated failures (brute force)
                self.timers.call_later(wait, lambda: self._verify(peer, step))
            else:
                self._verify(peer, step)
            return
        if step.verb is Verb.GUEST:
            self._seated(peer, step, step.name, AccountKind.REGISTERED, lambda: self._finish(peer, step, lambda: self.hub.guest(peer, step.name)))
            return
        refusal = self.hub.check_registration(step.name)
        if refusal is None and self.config.max_accounts and self.count_accounts is not None:
            if self.count_accounts() >= self.config.max_accounts:
                log.warning("registration of %r refused: %d accounts, --max-accounts", step.name, self.config.max_accounts)
                self._refused(peer, step, ErrorCode.NO_NEW_ACCOUNTS, limit=self.config.max_accounts)
                return
        if refusal is None and not self.registrations.allow(peer.host, self.timers.clock()):
            log.warning("registration of %r from %s refused: over --register-rate", step.name, peer.host)
            refusal = ErrorCode.REGISTER_RATE
        if refusal is not None:
            self._refused(peer, step, refusal)
            return
        self.pool.submit(
            hash_password,
            step.password,
            self.config.kdf_iterations,
            on_done=lambda f: self._seated(
                peer, step, step.name, AccountKind.REGISTERED, lambda: self._finish(peer, step, lambda: self.hub.register(peer, step.name, f.result()))
            ),
        )

    def _verify(self, peer: P, step: Authenticate, *, looked_up: bool = False) -> None:
        host, key = peer.host, name_key(step.name)
        if peer.closing:
            self.throttle.end(host, key)
            return
        account = self.hub.accounts.find(step.name)
        if account is None and not looked_up and self.fetch_account is not None:
            self.fetch_account(key, lambda: self._verify(peer, step, looked_up=True))
            return
        encoded = account.password_hash if account is not None else self.dummy_hash

        def checked(future: Future[bool]) -> None:
            self.throttle.end(host, key)
            ok = future.result()

            def finish() -> None:
                self._finish(peer, step, lambda: self._login(peer, step, account, ok))

            if ok and account is not None:  # only a right password asks for a seat
                self._seated(peer, step, account.name, account.kind, finish, account.id)
            else:
                finish()

        self.pool.submit(verify_password, step.password, encoded, on_done=checked)

    def _login(self, peer: P, step: Authenticate, account: Account | None, ok: bool) -> Admission[P]:
        """Admit a checked login, and count it for brute-force protection."""
        host, key = peer.host, name_key(step.name)
        if ok and account is not None:
            self.throttle.succeeded(host, key)
        elif self.throttle.failed(host, key, self.timers.clock()):
            log.warning("failed logins from %s for %r: locked out for %gs", host, step.name, self.config.lockout_seconds)
        if self.cluster is not None:  # every node counts it: guesses cannot be spread over nodes
            self.cluster.login_checked(host, key, ok and account is not None)
        return self.hub.login(peer, account, ok)

    def _seated(
        self, peer: P, step: Authenticate, name: str, kind: AccountKind, admit: Callable[[], None], account_id: int = 0
    ) -> None:
        """Run ``admit`` once this login has a seat: at once on a single server; in a
        cluster, once the engine's seat script said yes (a refusal is answered here)."""
        cluster = self.cluster
        if cluster is None:
            admit()
            return

        def answered(refusal: ErrorCode | None) -> None:
            if refusal in (ErrorCode.ALREADY_ONLINE, ErrorCode.TOO_MANY_SESSIONS) and step.verb is Verb.REGISTER:
                # a registration racing one on another node for this name (its seat is
                # the name's): the seed's line for a name that exists
                refusal = ErrorCode.NAME_TAKEN
            if refusal is None:
                admit()
            elif refusal is ErrorCode.TOO_MANY_SESSIONS and not peer.closing:
                self._refused(peer, step, refusal, limit=self.hub.sessions_per_account)
            elif not peer.closing:
                self._refused(peer, step, refusal)

        cluster.take_seat(peer, name, kind, answered, account_id)

    def _finish(self, peer: P, step: Authenticate, decide: Callable[[], Admission[P]]) -> None:
        """On the loop thread, once the password work (and in a cluster, the seat) is
        done. With the group commit (the SQLite store only; a cluster has none), a
        registration waits for the end of the pass (:meth:`_decide` then runs with the
        pass's other registrations, and :meth:`_admit` after their commit)."""
        if peer.closing:  # gone meanwhile: no seat taken, no account created
            if self.cluster is not None:
                self.cluster.seat_unused(peer)
            return
        if step.verb is Verb.REGISTER and self.registration_commit is not None:
            self.registration_commit.after_pass(lambda: self._decide(peer, step, decide))
            return
        await_id = self.await_account_id
        if step.verb is Verb.REGISTER and await_id is not None and not await_id(lambda: self._finish(peer, step, decide)):
            return  # no account id reserved yet: once the database has given more
            return
        if self.barrier is not None and self.cluster is not None and step.verb is Verb.REGISTER:
            self._register_then_admit(peer, step, decide)
            return
        if self.barrier is not None:  # PostgreSQL: the replies wait for the writes they acknowledge
            mark = self.barrier.mark()
            try:
                self._decide_and_admit(peer, step, decide)
            finally:
                self.barrier.hold(peer, mark)  # a registration's "Access Provided" waits for its row
            return
        self._decide_and_admit(peer, step, decide)

    def _register_then_admit(self, peer: P, step: Authenticate, decide: Callable[[], Admission[P]]) -> None:
        """A registration on a cluster node is admitted (its ``Access Provided``, the
        others' entered notices) only once its account row is committed: another node
        may have registered the name a moment before, and the database's unique index
        is the referee. Refused there, the client is told ``username is already used``
        and is back at the login step, as for any taken name; nobody was told of it."""
        barrier = self.barrier
        mark = barrier.mark()
        decided = self._decide(peer, step, decide)
        if decided is None:
            return
        self._registering.add(peer)

        def committed(refused: bool) -> None:
            self._registering.discard(peer)
            if peer.closing:  # gone meanwhile: its session ended unannounced (disconnected)
                if self.cluster is not None:
                    self.cluster.seat_unused(peer)
                return
            if refused:
                self.hub.leave(peer, record_last_seen=False)  # its effects (a left notice) are dropped
                if self.cluster is not None:
                    self.cluster.seat_unused(peer)
                code = getattr(barrier.store, "refusal_between", lambda low, high: None)(mark, barrier.store.issued)
                if code is ErrorCode.NAME_TAKEN:
                    log.warning("registration of %r (connection #%d): another node registered the name first",
                                step.name, peer.id)
                    self._refused(peer, step, ErrorCode.NAME_TAKEN)
                else:
                    peer.send(Error.of(ErrorCode.INTERNAL))
                    peer.close("internal error")
                return
            admitted = barrier.mark()
            try:
                decided[1]()
            finally:
                barrier.hold(peer, admitted)
            if self.cluster is not None:  # its entry is on the bus before its Access Provided leaves
                self.cluster.publish()

        barrier.after_commit(mark, committed)

    def _decide_and_admit(self, peer: P, step: Authenticate, decide: Callable[[], Admission[P]]) -> None:
        decided = self._decide(peer, step, decide)
        if decided is not None:
            decided[1]()

    def _decide(
        self, peer: P, step: Authenticate, decide: Callable[[], Admission[P]]
    ) -> tuple[P, Callable[[], None]] | None:
        """Run the checks and the store's part of a login or registration; ``None`` if
        it was refused or failed (the peer was told), else the peer and its admission to
        carry out (the welcome, the entered notices...)."""
        if peer.closing:  # gone meanwhile: no seat taken, no account created
            if self.cluster is not None:
                self.cluster.seat_unused(peer)
            return None
        try:
            admission = decide()
        except Exception:  # e.g. the database refused the new account (disk full)
            log.exception("login or registration failed for connection #%d", peer.id)
            if self.cluster is not None:
                self.cluster.seat_unused(peer)
            peer.send(Error.of(ErrorCode.INTERNAL))
            peer.close("internal error")
            return None
        assert peer.session is not None
        if admission.refusal is not None:
            if self.cluster is not None:
                self.cluster.seat_unused(peer)
            self._refused(peer, step, admission.refusal, **admission.detail)
            return None
        return peer, lambda: self._admit(peer, step, admission)

    def registration_failed(self, peer: P) -> None:
        """The group commit that held ``peer``'s new account failed: the account is not
        stored and nobody was told of it. Its session ends without a left notice (no
        one saw it enter), and ``peer`` gets the line a failed registration gets."""
        self.hub.leave(peer, record_last_seen=False)  # its effects (a left notice) are dropped
        if not peer.closing:
            peer.send(Error.of(ErrorCode.INTERNAL))
            peer.close("internal error")

    def _admit(self, peer: P, step: Authenticate, admission: Admission[P]) -> None:
        """The admitted peer's welcome, the others' entered notices, its history."""
        assert peer.session is not None
        log.info("%s %s (connection #%d %s)", step.name, _DONE[step.verb], peer.id, peer.peer)
        self.deliver(admission.deliveries)
        self._welcome_back(peer, admission)
        for hook in self.on_admitted:
            hook(peer)
        self._resume(peer, peer.session.auth_succeeded())

    def _welcome_back(self, peer: P, admission: Admission[P]) -> None:
        """After the welcome: replay recent history, count private messages that came
        while the user was away, offer the game to the lonely, start the idle monitor."""
        account = admission.account
        assert account is not None
        if self.config.replay:
            records = self.hub.unignored(self.history.recent_public(self.config.replay), account.id)
            self.send_history(peer, [history_event(r, account.id) for r in records])
        last_seen = self.hub.accounts.last_seen(account)
        if last_seen is not None:  # renames missed while away (shown in JSON mode only)
            for renamed in self.commands.renames_since(last_seen):
                peer.send(renamed)
        for receipt in self.commands.receipts_at_login(account.id):  # (shown in JSON mode only)
            peer.send(receipt)
        waiting = self.history.count_private_since(account.id, last_seen or 0.0)
        if waiting and self.hub.ignores.of(account.id):  # not those of accounts it ignores (bounded as /history is)
            since = last_seen or 0.0
            shown = self.hub.unignored(self.history.conversation(account.id, MAX_HISTORY), account.id)
            waiting = sum(1 for r in shown if r.recipient_id == account.id and r.ts > since)
        if waiting:
            peer.send(Notice.of(NoticeCode.OFFLINE_MESSAGES, count=waiting))
        self.deliver(self.groups.welcome(peer))
        if self.config.games and admission.alone:
            peer.send(Notice.of(NoticeCode.GAME_OFFER))
        if peer.timer is not None:
            peer.timer.cancel()  # the login deadline
        self._schedule_idle_check(peer, self.hub.idle_after)

    def _schedule_idle_check(self, peer: P, delay: float) -> None:
        peer.timer = self.timers.call_later(max(0.0, delay), self._on_idle_check, peer)

    def _idle_check(self, peer: P) -> None:
        deliveries, next_check = self.hub.check_idle(peer)
        self.deliver(deliveries)
        if next_check is not None and not peer.closing:
            self._schedule_idle_check(peer, next_check - self.clock())

    def _refused(self, peer: P, step: Authenticate, refusal: ErrorCode, **detail: object) -> None:
        log.info(
            "%s refused for %r from %s (connection #%d): %s",
            step.verb.value,
            step.name,
            peer.peer,
            peer.id,
            refusal.code,
        )
        assert peer.session is not None
        self._resume(peer, peer.session.auth_failed(refusal, **detail))

    # --- answers that come later ----------------------------------------------------------------

    def answer_later(self, peer: P) -> None:
        """``peer``'s current request is answered in a later loop pass (a history query
        on PostgreSQL, which the loop does not wait for): what it sends meanwhile waits
        in its session's backlog, so that nothing is answered before it."""
        if peer.session is not None:
            peer.session.await_answer()

    def answer_sent(self, peer: P) -> None:
        """The answer :meth:`answer_later` announced has been queued: what ``peer`` sent
        meanwhile is handled, in order, on a timer due at once (not inside the
        database driver's completion, which must not be re-entered)."""
        if peer.session is not None and peer.session.answering and not peer.closing:
            self.timers.call_later(0, self._take_held, peer)

    def _take_held(self, peer: P) -> None:
        session = peer.session
        if session is None or peer.closing:
            return
        was_full = session.backlog_full
        session.answered()
        while not peer.closing:
            steps = session.next_held()
            if steps is None:  # none left, or a request that awaits its answer again
                break
            self._apply(peer, steps)
        if was_full and not session.backlog_full and not peer.closing and not peer.peer_eof:
            peer.resume_reading()

    def _resume(self, peer: P, steps: list[SessionStep]) -> None:
        if not peer.peer_eof:
            peer.resume_reading()
        self._apply(peer, steps)
        if peer.session is not None and peer.session.backlog_full and not peer.closing:
            peer.pause_reading()


_REPLY_MARKS = (ReplyStart, ReplyEnd)
"""The marks around a labelled IRC message's requests: not lines, so the rate limit
counts the message's requests only (one IRC message costs what it costs unlabelled)."""

_DONE = {Verb.LOGIN: "logged in", Verb.REGISTER: "registered and logged in", Verb.GUEST: "came in as a guest"}


def _whole(value: float) -> str:
    return f"{value:g}"
