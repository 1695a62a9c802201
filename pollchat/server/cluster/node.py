"""One node of a cluster: this server's sessions shared with the others over Redis.

:class:`ClusterNode` is the one object the chat service calls in a cluster
(:class:`~pollchat.server.service.ClusterPort`), at three points:

* :meth:`ClusterNode.take_seat`: a login whose password was checked asks the engine's
  seat script (:data:`~pollchat.server.cluster.scripts.TAKE_SEAT`) before the hub
  admits it; the answer comes back on the loop thread, like the password check's;
* :meth:`ClusterNode.seat_unused`: the hub refused it after all (the seat goes back);
* :meth:`ClusterNode.route`: every effect the core decides passes here first. What is
  for everyone (:class:`~pollchat.core.effects.ToEveryone`: notices, main-chat lines,
  statuses) is not shown yet: it becomes a record of this pass's bus entry, and every
  node, this one included, shows it when it reads the entry back from the stream, so
  all nodes show one order. Events for sessions on other nodes become ``to`` records;
  what is for this node's connections is returned, to be applied as before.

Sessions on other nodes are in this node's hub as :class:`RemotePeer` handles, so
``/who``, the welcome's list, ``/whois``, ``/msg`` and mentions see them; they are
never in the loop's broadcast lists. The local seat budget does not refuse anyone
(:class:`RefereedSeats`): the engine is the referee.

One ``XADD`` per loop pass publishes the pass's records (:meth:`publish`, an
after-flush hook; a login's records leave at once, before its welcome is queued), and one per node that has sessions to reach gets their events on
its delivery stream (``inbox:INSTANCE``); a second Redis connection keeps one
``XREAD BLOCK`` outstanding on the bus and this node's delivery stream and applies
each entry in stream order (:meth:`_on_entries`), dropping duplicates and
logging gaps (:class:`~pollchat.server.cluster.records.Sequences`). While the engine
is away, logins get ``the cluster is unavailable, try again shortly`` and what is for
everyone is shown to this node's users only; when it is back, :data:`SYNC` puts this
node's sessions back and reading resumes.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, cast

import hiredis

from pollchat.core.accounts import Account
from pollchat.core.effects import Delivery, Effect, JoinedEveryone, LeftEveryone, ToEveryone, ToGroup
from pollchat.core.presence import Presence, Status
from pollchat.core.roster import Everyone, OnlineSession
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.errors import ConfigError
from pollchat.protocol.events import (
    Emote,
    Entered,
    Error,
    GroupEvent,
    Left,
    Mention,
    Message,
    Notice,
    PrivateMessage,
    Renamed,
    ServerEvent,
    StatusChanged,
    Typing,
)
from pollchat.protocol.names import name_key
from pollchat.server.cluster import scripts
from pollchat.server.cluster.linger import Linger
from pollchat.server.cluster.records import BusFormatError, Entry, Sequences, decode_event, encode_event, parse_entry
from pollchat import __version__
from pollchat.server.cluster.redis import LINK_DOWN, LoopPort, RedisLink, Reply, is_error, parse_redis_url
from pollchat.server.cluster.scripts import Script
from pollchat.server.timers import Timer
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

if TYPE_CHECKING:
    from pollchat.server.service import ChatService

log = logging.getLogger(__name__)

BUS_LENGTH = 100_000
"""Entries the bus keeps (``XADD MAXLEN ~``): minutes of traffic at thousands of
lines a second, so a node that lost its connection for a moment reads on from where
it was; past that it logs a gap."""

READ_COUNT = 1000
"""Entries taken per ``XREAD``."""

HOLD_MAX = 10_000
"""Records (lines, notices, private events) a node holds while the engine is away, to
publish when it is back; past this a sender is told its line reached this node only."""

INBOX_LENGTH = 10_000
"""Entries a node's delivery stream keeps."""

RECORDS_PER_ENTRY = 500
"""Held records are published in entries of at most this many."""


@dataclass(frozen=True)
class ClusterSettings:
    """How this node joins its cluster (``pollchat-server --cluster ...``).

    Attributes:
        url: ``redis://HOST:PORT/DB``.
        node_name: this node's name in logs and session ids (default: host name and
            port); no ``/``, ``#`` or whitespace.
        heartbeat: seconds between heartbeats.
        expiry: seconds after its last heartbeat when a node counts as dead and is
            reaped (its users shown offline, their seats freed).
    """

    url: str
    node_name: str
    heartbeat: float = 1.0
    expiry: float = 5.0

    def check(self) -> tuple[str, int, int]:
        """The engine's ``(host, port, db)``.

        Raises:
            ConfigError: a bad URL, node name or timing (one line)."""
        address = parse_redis_url(self.url)
        if not self.node_name or any(ch in self.node_name for ch in "/#\t \n"):
            raise ConfigError(f"--node-name {self.node_name!r}: a name without spaces, '/' or '#'")
        if not 0 < self.heartbeat < self.expiry:
            raise ConfigError("--cluster-heartbeat must be above 0 and below --cluster-expiry")
        return address


def format_refusal(theirs: str, url: str) -> str:
    """The one line a node of bus format :data:`~.scripts.BUS_FORMAT` says when the live
    nodes of the cluster at ``url`` use format ``theirs``."""
    return (
        f"the cluster at {url} runs nodes of bus format {theirs}, and this pollchat ({__version__}) speaks "
        f"format {scripts.BUS_FORMAT}: nodes of different versions cannot share a cluster (rolling upgrades are "
        "not supported): stop every node, upgrade them all, then start them"
    )


def claim_format(url: str, timeout: float = 2.0) -> None:
    """Before a node starts: check (or set, if no node is alive) the cluster's bus
    format with :data:`~.scripts.CLAIM_FORMAT`, over a short blocking connection. An
    engine that cannot be reached is not an error here: the node serves without it and
    checks again when its link comes up (:meth:`ClusterNode._commands_up`).

    Raises:
        ConfigError: live nodes of another format use this engine (one line, from
            :func:`format_refusal`)."""
    host, port, db = parse_redis_url(url)
    reader = hiredis.Reader()
    script = scripts.CLAIM_FORMAT
    request = hiredis.pack_command(cast(Any, ("SELECT", db))) + hiredis.pack_command(
        cast(Any, ("EVAL", script.source, 2, scripts.FORMAT, scripts.NODES, scripts.BUS_FORMAT, ""))
    )
    replies: list[Any] = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            while len(replies) < 2:
                data = sock.recv(4096)
                if not data:
                    return
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(reply)
    except OSError:
        return  # not there yet: checked when the node's link comes up
    answer = replies[1]
    if isinstance(answer, list) and answer[0] == b"other":
        raise ConfigError(format_refusal(answer[1].decode(errors="replace"), url))


def default_node_name(port: int) -> str:
    """The host name and the line protocol's port, such as ``chat1:3490``."""
    host = socket.gethostname().split(".")[0] or "node"
    return f"{host}:{port}".replace(" ", "-")


class NodeLoop(LoopPort, Protocol):
    """What a node needs of the event loop (:class:`~pollchat.server.loop.EventLoop`):
    its links' needs, and holding the broadcasts while bus lines linger."""

    broadcast_flushes: int

    @property
    def broadcast_cost(self) -> float: ...

    def hold_broadcasts(self, until: float) -> None: ...


class RefereedSeats(SeatBudget):
    """A seat budget that counts and never refuses: in a cluster the engine's seat
    script is the referee (:data:`~pollchat.server.cluster.scripts.TAKE_SEAT`), and this
    node's hub holds sessions of other nodes too."""

    __slots__ = ()

    def has_seat(self, kind: AccountKind) -> bool:
        return True

    def take(self, kind: AccountKind) -> None:
        self._online[kind] += 1


@dataclass(slots=True)
class Seat:
    """A seat this node holds in the engine for one of its connections."""

    sid: str
    key: str
    kind: AccountKind
    name: str
    account_id: int = 0
    first: bool = True
    """The seat script said this is the account's first session anywhere (``ok``)."""
    announced: bool = False
    """The hub's entered notice for it went out (or was dropped) in its join's pass."""
    left: ServerEvent | None = None
    """The hub's left notice for it, held until the release script says whether this
    was the account's last session anywhere (several devices per account)."""
    deciding: bool = False
    """Its left notice waits for the release script's answer."""
    entry_announced: bool = True
    """Its account's entered notice went to everyone (``--announce-limit``), so its
    left notice must too."""

    @property
    def value(self) -> str:
        """What the ``online`` hash holds for it."""
        return f"{self.sid}\t{self.kind.value}\t{self.account_id}\t{self.name}\t{self.key}"


class RemotePeer:
    """A session on another node, as this node's hub sees it: a handle with the
    :class:`~pollchat.server.peer.Peer` interface whose :meth:`send` forwards the event
    over the bus and whose :meth:`close` asks its node to end it."""

    __slots__ = ("node", "sid", "session", "timer", "bucket", "dropped", "_closing")

    codec = None
    """No front end here (the IRC gateway asks a session's codec what it speaks: nothing
    it knows, so it is told through :meth:`send`)."""

    def __init__(self, node: ClusterNode, sid: str) -> None:
        self.node = node
        self.sid = sid
        self.session: Any = None
        self.timer: Timer | None = None
        self.bucket: Any = None
        self.dropped = 0
        self._closing = False

    @property
    def id(self) -> int:
        try:
            return int(self.sid.rsplit("/", 1)[1])
        except (IndexError, ValueError):
            return 0

    @property
    def peer(self) -> str:
        return self.sid.split("#", 1)[0]

    address = host = peer

    @property
    def closing(self) -> bool:
        return self._closing

    peer_eof = closing

    @property
    def close_reason(self) -> str:
        return "on another node"

    def send(self, event: ServerEvent) -> None:
        self.node.forward((self.sid,), event)

    def encode(self, event: ServerEvent) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        pass

    def switch_mode(self, mode: str) -> None:
        pass

    def close(self, reason: str, *, flush: bool = True) -> None:
        if not self._closing:
            self._closing = True
            self.node.close_remote(self.sid, reason)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"RemotePeer({self.sid})"


class ClusterNode:
    """This server's membership of a cluster (see the module docstring).

    Args:
        loop: the event loop (selector, timers, after-flush hooks).
        service: the chat service; the node applies remote events through its output.
        settings: the engine's URL, this node's name, heartbeat and expiry.
        registered_seats: seats shared by registered accounts (``max_users`` minus the
            preconfigured accounts): the same on every node.
        clock: wall-clock seconds (presence of remote sessions).
        store: the write-behind view store (:class:`~pollchat.store.pgviews.PgViewStore`),
            whose view writes this node publishes and whose view applies the other
            nodes' (``None``: a store every node reads directly).
    """

    def __init__(
        self,
        loop: NodeLoop,
        service: ChatService[Any],
        settings: ClusterSettings,
        registered_seats: int,
        *,
        clock: Callable[[], float] = time.time,
        store: SharedStore | None = None,
    ) -> None:
        host, port, db = settings.check()
        self.store = store
        if store is not None:
            store.changes = []  # every view write from now on is a record to publish
            # a write the database refused corrected the view (a group another node
            # made first): the service's caches follow, as after another node's call
            store.on_corrected = lambda call: self._store_applied(call, ())
            # lines said in this node's group of a name another node had taken first
            store.on_lines_lost = lambda group, lines: service.deliver(service.groups.lost(group, lines))
        self.loop = loop
        self.service = service
        self.hub = service.hub
        self.settings = settings
        self.registered_seats = registered_seats
        self.clock = clock
        self.origin = f"{settings.node_name}#{secrets.token_hex(4)}"
        """This process's name on the bus: the node name and a random instance, so a
        restarted node is a new origin (its sequence starts again)."""
        self.commands = RedisLink(loop, host, port, db, f"pollchat-{self.origin}-commands", on_up=self._commands_up, on_down=self._down)
        self.reader = RedisLink(loop, host, port, db, f"pollchat-{self.origin}-bus", on_up=self._maybe_read, on_down=self._reader_down)
        self.available = False
        """In sync with the engine: logins may take seats, what is for everyone goes over the bus."""
        self._pending: dict[object, Seat] = {}  # seats taken, admission not yet applied
        self._local: dict[object, Seat] = {}  # this node's logged-in connections
        self._by_sid: dict[str, object] = {}  # sid -> this node's connection
        self._remote: dict[str, RemotePeer] = {}  # sid -> a session on another node
        self._records: list[list[Any]] = []  # this pass's bus records
        self._held: list[list[Any]] = []  # records of passes while the engine was away
        self._seq = 0
        self._sequences = Sequences()
        self._last_id = b"0-0"
        self._inbox = scripts.INBOX + self.origin
        self._inbox_id = b"0-0"
        self._inbox_seq: dict[str, int] = {}  # per destination node
        self._reading = False
        self._synced_once = False
        self._resyncing = False
        self._heartbeat: Timer | None = None
        self._remote_ids = itertools.count(-1_000_000_000, -1)  # ids for remote guests
        self._group_members: dict[int, tuple[Sequence[object], tuple[object, ...]]] = {}
        self._groups_changed = False  # a group command changed something this pass
        service.groups.groups.reload_on_miss = True  # a group made on another node a moment ago
        service.admin.everywhere = self._shutdown_everywhere
        self.cluster_stopping = False
        """An admin's ``/shutdown`` countdown for the whole cluster is under way."""
        self.refused: str | None = None
        """Why this node refused to join: live nodes of another bus format (one line)."""
        self.on_refused: Callable[[], None] | None = None
        """Called once :attr:`refused` is set: the server shuts down (exit status 2)."""
        self._read_more = False  # this pass applied entries: read_more() tries once more
        self.linger = Linger()
        """Whether bus lines wait a moment for another node's entry (a burst)."""
        self._lines = False  # the entry being applied showed main-chat lines
        self.published = 0
        """Bus entries this node wrote."""
        self.applied = 0
        """Bus entries this node applied (its own included)."""
        self.gaps = 0
        """Entries found missing between two of one origin (trimmed or lost)."""

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect both links and start the heartbeat (each retries by itself)."""
        log.info("cluster: node %s joining %s", self.origin, self.settings.url)
        self.commands.start()
        self.reader.start()
        self._heartbeat = self.loop.timers.call_later(self.settings.heartbeat, self._beat)

    def stop(self) -> None:
        """Leave the cluster: mark this node expired (the next heartbeat of another node
        reaps it: its users' seats freed, their left notices sent once), close both links."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self.commands.up:
            self.commands.command("ZADD", scripts.NODES, 0, self.origin)  # tried at once, not waited for
        self.reader.stop()
        self.commands.stop()

    # --- the chat service's port ------------------------------------------------------------

    def take_seat(
        self, peer: object, name: str, kind: AccountKind, answer: Callable[[ErrorCode | None], None], account_id: int = 0
    ) -> None:
        """Ask the engine for a seat for ``peer`` logging in as ``name`` (of ``kind``;
        ``account_id``: its id, 0 for a registration or a guest); ``answer`` gets ``None``
        (taken: admit it, then :meth:`route` sees it join, or call :meth:`seat_unused`)
        or the refusal: ``ALREADY_ONLINE`` (one session per account, online on some
        node), ``TOO_MANY_SESSIONS`` (its sessions on every node reach
        ``--sessions-per-account``), ``SERVER_FULL``, or ``CLUSTER_UNAVAILABLE`` while
        the engine is away."""
        if not self.available:
            answer(ErrorCode.CLUSTER_UNAVAILABLE)
            return
        seat = Seat(f"{self.origin}/{getattr(peer, 'id', 0)}", name_key(name), kind, name, account_id)

        def taken(reply: Reply) -> None:
            if reply in (b"ok", b"more"):
                if getattr(peer, "closing", False):
                    self._release(seat)
                    answer(None)  # the service sees the connection closing and stops
                    return
                self._pending[peer] = seat
                seat.first = reply == b"ok"
                if reply == b"ok":  # its only session anywhere: one this node still shows has ended
                    self._evict_stale(seat.key)
                answer(None)
            elif reply == b"online":
                answer(ErrorCode.ALREADY_ONLINE)
            elif reply == b"many":
                answer(ErrorCode.TOO_MANY_SESSIONS)
            elif reply == b"full":
                answer(ErrorCode.SERVER_FULL)
            else:
                if reply == b"gone":
                    self._resync(announce=True)
                elif reply is not LINK_DOWN:
                    log.error("cluster: seat script: %r", reply)
                answer(ErrorCode.CLUSTER_UNAVAILABLE)

        self._eval(
            scripts.TAKE_SEAT,
            [scripts.ONLINE, scripts.REGISTERED, scripts.NODES, scripts.NODE + self.origin, scripts.SESSIONS],
            [seat.key, kind.value, seat.value, self.registered_seats, self.origin, self.hub.sessions_per_account, seat.sid],
            taken,
        )

    def seat_unused(self, peer: object) -> None:
        """The seat taken for ``peer`` was not used (the hub refused the login, or it
        failed): give it back."""
        seat = self._pending.pop(peer, None)
        if seat is not None:
            self._release(seat)

    def route(self, effects: Iterable[Effect[Any]]) -> list[Effect[Any]]:
        """The effects for this node's connections, now; the rest become this pass's
        bus records (see the module docstring)."""
        local: list[Effect[Any]] = []
        records = self._records
        # Several devices per account: whether a login is the account's first session
        # and a logout its last is the seat scripts' word, not this hub's view (which
        # hears of another node's devices a moment late): the notices follow them.
        devices = self.hub.sessions_per_account > 1 and self.available and not self.service.stopping
        joined: dict[object, Seat] = {}
        leaving: dict[str, Seat] = {}
        admitted = False  # a login or registration of this node: its records leave now
        for effect in effects:
            if not self._groups_changed and isinstance(getattr(effect, "event", None), GroupEvent):
                self._groups_changed = effect.event.change not in _GROUP_QUERIES  # type: ignore[union-attr]
            if isinstance(effect, ToEveryone):
                if devices and isinstance(effect.event, Entered) and effect.exclude in joined:
                    seat = joined[effect.exclude]
                    seat.announced = True
                    if not seat.first:
                        continue  # another device of the account came first, on some node
                elif devices and isinstance(effect.event, Left) and effect.event.name in leaving:
                    leaving.pop(effect.event.name).left = effect.event  # said once the release answers
                    continue
                if self.available:
                    records.append(["all", self._sid_of(effect.exclude), encode_event(effect.event)])
                    continue
                # The engine is away: this node's users see it now, the others later
                # (marked as shown here already), while the held records fit.
                skip = effect.targets.skip
                if skip:  # of those who ignore the sender, the sessions here
                    effect = ToEveryone(Everyone(effect.targets.handles, effect.exclude, effect.targets.size, _here(skip)), effect.event)
                local.append(effect)
                if self._can_hold():
                    records.append(["all", self._sid_of(effect.exclude), encode_event(effect.event), 1])
                elif isinstance(effect.event, (Message, Emote)) and effect.exclude is not None:
                    local.append(Delivery((effect.exclude,), Error.of(ErrorCode.CLUSTER_LINE_LOCAL)))
            elif isinstance(effect, Delivery):
                targets = effect.targets
                remote = [t.sid for t in targets if isinstance(t, RemotePeer)]
                if not remote:
                    local.append(effect)
                    continue
                self.forward(remote, effect.event)
                here = tuple(t for t in targets if not isinstance(t, RemotePeer))
                if here:
                    local.append(Delivery(here, effect.event))
            elif isinstance(effect, ToGroup):
                local.extend(self._to_group(effect))
            elif isinstance(effect, JoinedEveryone):
                if isinstance(effect.handle, RemotePeer):
                    continue
                new = self._joined(effect.handle)
                admitted = admitted or new is not None
                if new is not None and devices:
                    joined[effect.handle] = new
                local.append(effect)
            elif isinstance(effect, LeftEveryone):
                if isinstance(effect.handle, RemotePeer):
                    continue
                gone = self._left(effect.handle, decide=devices)
                if gone is not None and devices:
                    leaving[gone.name] = gone
                local.append(effect)
        for seat in joined.values():
            # this hub still showed a device that has left (and the announce limit allows it)
            if seat.first and not seat.announced and self.hub.announcer.announces(self.hub.roster.accounts_online):
                seat.entry_announced = True
                records.append(["all", seat.sid, encode_event(Entered(seat.name))])
        if admitted:
            # The join and entered records go to the engine before the welcome (among
            # the effects returned) is even queued: whatever the user, or anyone told
            # by them, says after the welcome comes after them in the stream. Written,
            # not waited for: no round trip is added to a login.
            self.publish()
        return local

    def forward(self, sids: Sequence[str], event: ServerEvent) -> None:
        """Send ``event`` to sessions on other nodes (held while the engine is away,
        dropped past :data:`HOLD_MAX`)."""
        if sids and self._can_hold():
            self._records.append(["to", list(sids), encode_event(event)])

    def close_remote(self, sid: str, reason: str) -> None:
        """Ask the node holding session ``sid`` to end it (an admin's kick or ban: the
        left notice was published by whoever decided it)."""
        if self._can_hold():
            self._records.append(["close", sid, reason])

    def login_checked(self, host: str, key: str, ok: bool) -> None:
        """A password check here: every other node's login throttle counts it too
        (``login`` record), so guesses spread over nodes are throttled as on one."""
        if self._can_hold():
            self._records.append(["login", host, key, ok])

    def _shutdown_everywhere(self, seconds: int, reason: str) -> None:
        """An admin's ``/shutdown`` here (``seconds`` 0: cancelled): every other node
        starts (or stops) the same countdown when it reads the ``shutdown`` record."""
        self.cluster_stopping = seconds > 0
        if self._can_hold():
            self._records.append(["shutdown", seconds, reason])

    def _can_hold(self) -> bool:
        """A record may be added: the engine is there, or the held ones fit."""
        return self.available or len(self._held) + len(self._records) < HOLD_MAX

    # --- our sessions --------------------------------------------------------------------------

    def _joined(self, handle: object) -> Seat | None:
        seat = self._pending.pop(handle, None)
        session = self.hub.session_of(handle)
        if seat is None or session is None:
            return None
        account = session.account
        seat.name, seat.account_id = account.name, account.id  # as the hub spells it
        seat.entry_announced = session.announced
        self._local[handle] = seat
        self._by_sid[seat.sid] = handle
        self._records.append(self._join_record(seat, account))
        return seat

    @staticmethod
    def _join_record(seat: Seat, account: Account) -> list[Any]:
        return ["join", seat.sid, account.id, seat.kind.value, account.name, account.guest]

    def _left(self, handle: object, *, decide: bool = False) -> Seat | None:
        seat = self._local.pop(handle, None)
        if seat is None:
            return None
        self._by_sid.pop(seat.sid, None)
        self._records.append(["leave", seat.sid])  # held if need be: presence needs it
        if self.service.stopping and not self.cluster_stopping and self._leave_announced(seat):
            # its own users are not told; the others are
            self._records.append(["all", None, encode_event(Left(seat.name, "")), 1])
        seat.deciding = decide
        self._release(seat)
        return seat

    def _leave_announced(self, seat: Seat) -> bool:
        """Whether ``seat``'s session leaving (the hub has let it go) is told to
        everyone: its entry was, or the count is within ``--announce-limit``."""
        return self.hub.announcer.leave_announced(self.hub.roster.accounts_online + 1, seat.entry_announced)

    def _release(self, seat: Seat) -> None:
        def released(reply: Reply) -> None:
            event = left_notice(reply, seat.left, seat.name)
            if event is not None and seat.left is None and not self._leave_announced(seat):
                event = None  # the hub's view of the devices was late, and the announce limit says no
            if event is not None:
                self.service.deliver([ToEveryone(self.hub.roster.everyone(), event)])

        self._eval(
            scripts.RELEASE_SEAT,
            [scripts.ONLINE, scripts.REGISTERED, scripts.NODE + self.origin, scripts.SESSIONS],
            [seat.key, seat.sid],
            released if seat.deciding else None,
        )

    def _sid_of(self, handle: object) -> str | None:
        if handle is None:
            return None
        if isinstance(handle, RemotePeer):
            return handle.sid
        seat = self._local.get(handle)
        return seat.sid if seat is not None else None

    def _to_group(self, effect: ToGroup[Any]) -> list[Effect[Any]]:
        members = effect.members
        cached = self._group_members.get(effect.group)
        if cached is not None and cached[0] is members:
            here = cached[1]
        else:  # the same tuple while the group's online members stay the same: batching holds
            here = tuple(m for m in members if not isinstance(m, RemotePeer))
            self._group_members[effect.group] = (members, here)
        skip = ignoring = effect.targets.skip
        if skip and any(isinstance(h, RemotePeer) for h in skip):  # ignorers on other nodes: not ours to skip
            skip = _here(skip)
            effect = ToGroup(effect.group, Everyone(effect.targets.handles, effect.exclude, effect.targets.size, skip),
                             effect.event)
        if len(here) == len(members):
            return [effect]
        exclude = effect.exclude
        self.forward(
            [m.sid for m in members if isinstance(m, RemotePeer) and m is not exclude and m not in ignoring], effect.event
        )
        if not here:
            return []
        here_exclude = exclude if not isinstance(exclude, RemotePeer) else None
        return [ToGroup(effect.group, Everyone(here, here_exclude, skip=skip), effect.event)]

    # --- sessions of other nodes in this node's hub ----------------------------------------

    def _add_remote(self, sid: str, account: Account) -> None:
        if sid in self._remote:
            return
        if self.hub.sessions_per_account == 1:
            self._evict_stale(account.key)
        online = self.hub.roster.by_key(account.key)
        if online is not None and not online.account.guest and online.account.id == account.id:
            if self.hub.sessions_per_account == 1:
                return  # held here (the engine gave it back to this node): ours wins locally
            # another device of an account online already (here or on a third node):
            # it shares that session's account and presence, and takes no seat
            peer = RemotePeer(self, sid)
            self.hub.roster.add(OnlineSession(peer, online.account, online.presence, announced=online.announced))
            self._remote[sid] = peer
            return
        if online is not None and self.hub.sessions_per_account == 1:
            return  # held here: ours wins locally
        if account.guest or account.id == 0 or self.hub.roster.by_id(account.id) is not None:
            # a guest's id is only its node's (negative, counted per node): give it one of ours
            account = Account(account.name, "", account.kind, id=next(self._remote_ids), guest=account.guest)
        self.hub.ignores.load(account.id)  # this hub decides for it too: /msg, mentions, group lines
        peer = RemotePeer(self, sid)
        now = self.clock()
        # Whether its node announced it: decided as that node did, from this node's count
        # (the nodes' counts differ only by the logins on their way through the bus).
        announced = self.hub.announcer.announces(self.hub.roster.accounts_online + 1)
        self.hub.roster.add(OnlineSession(peer, account, Presence(online_since=now, last_active=now), announced=announced))
        self.hub.budget.take(account.kind)
        self._remote[sid] = peer

    def _drop_remote(self, sid: str) -> RemotePeer | None:
        peer = self._remote.pop(sid, None)
        if peer is not None:
            self.hub.leave(peer, record_last_seen=False)  # its notices come from its node
        return peer

    def _evict_stale(self, key: str) -> None:
        """The engine gave ``key``'s seat to a new session: a remote session of it this
        node still shows has ended (its leave is on its way); the engine's view wins."""
        session = self.hub.roster.by_key(key)
        if session is not None and isinstance(session.handle, RemotePeer):
            self._drop_remote(session.handle.sid)

    # --- publishing ------------------------------------------------------------------------------

    def publish(self) -> None:
        """The end of a loop pass: one ``XADD`` with the pass's records (the store's
        view writes of the pass included)."""
        store = self.store
        if store is not None and store.changes:
            self._records += store.changes
            store.changes = []
        if self._groups_changed:  # the other nodes read the groups again
            self._groups_changed = False
            self._records.append(["groups"])
        records = self._records
        if not records and not (self._held and self.available):
            return
        self._records = []
        if not self.available:
            self._held += records
            return
        if self._held:  # the engine is back: what was held goes first, in order
            records, self._held = self._held + records, []
        bus: list[list[Any]] = []
        inboxes: dict[str, list[list[Any]]] = {}
        for record in records:  # a few sessions' events go to their nodes' delivery streams
            if record[0] == "to":
                by_node: dict[str, list[str]] = {}
                for sid in record[1]:
                    by_node.setdefault(_node_of(sid), []).append(sid)
                for origin, sids in by_node.items():
                    inboxes.setdefault(origin, []).append(["to", sids, record[2]])
            elif record[0] == "close":
                inboxes.setdefault(_node_of(record[1]), []).append(record)
            else:
                bus.append(record)
        for start in range(0, len(bus), RECORDS_PER_ENTRY):
            self._seq += 1
            self._xadd(scripts.BUS, BUS_LENGTH, Entry(self.origin, self._seq, tuple(bus[start : start + RECORDS_PER_ENTRY])))
        for origin, items in inboxes.items():
            for start in range(0, len(items), RECORDS_PER_ENTRY):
                seq = self._inbox_seq[origin] = self._inbox_seq.get(origin, 0) + 1
                entry = Entry(self.origin, seq, tuple(items[start : start + RECORDS_PER_ENTRY]))
                self._xadd(scripts.INBOX + origin, INBOX_LENGTH, entry)

    def _xadd(self, stream: str, length: int, entry: Entry) -> None:
        self.published += 1
        self.commands.command("XADD", stream, "MAXLEN", "~", length, "*", *entry.fields(), callback=self._added)

    def _added(self, reply: Reply) -> None:
        if isinstance(reply, hiredis.ReplyError):
            log.error("cluster: XADD refused: %s", reply)

    # --- reading the bus ----------------------------------------------------------------------

    def _maybe_read(self) -> None:
        if self.available and self.reader.up and not self._reading:
            self._reading = True
            self.reader.command(
                "XREAD", "COUNT", READ_COUNT, "BLOCK", 0, "STREAMS", scripts.BUS, self._inbox,
                self._last_id, self._inbox_id, callback=self._on_entries,
            )

    def _reader_down(self) -> None:
        self._reading = False

    def _on_entries(self, reply: Reply) -> None:
        self._reading = False
        if is_error(reply):
            if reply is not LINK_DOWN:
                log.error("cluster: XREAD: %s", reply)
            return
        batches: list[tuple[bool, Any]] = []
        for stream, entries in reply or ():
            inbox = stream != scripts.BUS.encode()
            if entries:
                if inbox:
                    self._inbox_id = entries[-1][0]
                else:
                    self._last_id = entries[-1][0]
                batches.append((inbox, entries))
        # The next read goes out before these are applied: a burst written as several
        # entries (one per node that took lines) may then be answered by this pass's
        # end, and read_more() applies it before the flush, in the stream's order.
        self._maybe_read()
        self._read_more = bool(batches)
        loop = self.loop
        for inbox, entries in batches:
            for entry_id, fields in entries:
                self._lines = False
                try:
                    self.apply(parse_entry(fields), inbox=inbox)
                except BusFormatError as exc:
                    log.error("cluster: bus entry %s skipped: %s", entry_id.decode(errors="replace"), exc)
                if self._lines:  # a burst's other entries may be a moment behind: linger?
                    until = self.linger.arrived(loop.timers.clock(), loop.broadcast_cost, loop.broadcast_flushes)
                    loop.hold_broadcasts(until)

    def read_more(self) -> None:
        """Before the pass's flush: if this pass applied entries, the read sent before
        they were applied may be answered already; one non-blocking ``recv`` takes that
        answer (applied now, so its lines leave in this flush, not the next pass's).
        Never waits: a lone line is not delayed."""
        if self._read_more:
            self._read_more = False
            self.reader.poll()

    def apply(self, entry: Entry, *, inbox: bool = False) -> None:
        """Apply one entry of the bus, or of this node's delivery stream (``inbox``: its
        own sequence per sender), see :mod:`~pollchat.server.cluster.records`."""
        fresh, missed = self._sequences.check(entry.origin + (">" if inbox else ""), entry.seq)
        if not fresh:
            return
        if missed:
            self.gaps += missed
            log.warning("cluster: %d bus entries of %s missing (trimmed or lost): reading the views again", missed, entry.origin)
            self.reload_views()
        self.applied += 1
        own = entry.origin == self.origin
        for record in entry.records:
            try:
                self._apply_record(record, own)
            except (BusFormatError, IndexError, TypeError, ValueError) as exc:
                log.error("cluster: record %.80r of %s skipped: %s", record, entry.origin, exc)

    def _apply_record(self, record: list[Any], own: bool) -> None:
        kind = record[0]
        output = self.service.output
        if kind == "all":
            if own and len(record) > 3 and record[3]:
                return  # held while the engine was away: shown here then
            event = decode_event(record[2])
            if not own:
                self._follow_presence(event)
                if isinstance(event, Notice) and event.code is NoticeCode.ANNOUNCEMENTS_OFF:
                    self.hub.announcer.heard_told()  # everyone was told: this node need not
            exclude = self._by_sid.get(record[1]) if record[1] else None
            if record[1] and self.hub.ignores.anyone and isinstance(event, (Message, Emote)):
                skip = self._ignoring(exclude if exclude is not None else self._remote.get(record[1]))
                if skip:  # sessions here whose accounts ignore the sender (as on one node)
                    output.broadcast(event, exclude, skip)
                    self._lines = True
                    return
            output.broadcast(event, exclude)
            if isinstance(event, (Message, Emote)):
                self._lines = True
        elif kind == "to":
            event = decode_event(record[2])
            targets = [h for h in map(self._by_sid.get, record[1]) if h is not None]
            if targets:
                if self.hub.ignores.anyone:
                    targets = self._unless_a_guest_ignores(targets, event)
                if targets:
                    output.fan_out(targets, event)
            elif isinstance(event, PrivateMessage) and not event.outgoing and not event.history:
                self._mail_kept(event)
        elif kind == "join":
            if not own:
                _, sid, account_id, seat_kind, name, guest = record
                self._add_remote(str(sid), Account(str(name), "", AccountKind(seat_kind), id=int(account_id), guest=bool(guest)))
        elif kind == "leave":
            if not own:
                self._drop_remote(str(record[1]))
        elif kind == "close":
            self._close_local(str(record[1]), str(record[2]))
        elif kind == "reaped":
            sid, name = str(record[1]), str(record[2])
            still_online = len(record) > 3 and record[3]  # the account has another session
            peer = self._remote.get(sid)
            session = self.hub.session_of(peer) if peer is not None else None
            announced = session is None or session.announced
            if not still_online and len(record) > 5 and record[5] == self.origin:
                self._record_last_seen(sid, float(record[4]))  # this node's heartbeat reaped it
            if self._drop_remote(sid) is not None and not still_online:
                if self.hub.announcer.leave_announced(self.hub.roster.accounts_online + 1, announced):
                    output.broadcast(Left(name, ""), None)
        elif kind == "login":
            if not own:
                _, host, key, ok = record
                throttle = self.service.throttle
                if ok:
                    throttle.succeeded(str(host), str(key))
                else:
                    throttle.failed(str(host), str(key), self.service.timers.clock())
        elif kind == "shutdown":
            if not own:
                seconds, reason = int(record[1]), str(record[2])
                countdown = self.service.admin.countdown
                self.cluster_stopping = seconds > 0
                if seconds > 0:
                    log.warning("cluster: shutdown of every node in %d s%s", seconds, f" ({reason})" if reason else "")
                    countdown.start(seconds, reason)
                elif countdown.cancel():
                    log.warning("cluster: the shutdown of every node was cancelled")
        elif kind == "groups":
            if not own:
                self.service.groups.groups.reload()
        elif kind == "store":
            if not own and self.store is not None:
                self._store_applied(self.store.apply_remote(record), record[2])
        elif kind == "gone":
            origin = str(record[1])
            self._sequences.forget(origin)
            self._sequences.forget(origin + ">")
            self._inbox_seq.pop(origin, None)
            for sid in [s for s in self._remote if s.startswith(origin + "/")]:
                self._drop_remote(sid)
        else:
            raise BusFormatError(f"unknown record {kind!r}")

    def _unless_a_guest_ignores(self, targets: list[object], event: ServerEvent) -> list[object]:
        """Of ``targets`` (this node's connections), those not logged in as a guest who
        ignores ``event``'s sender. A guest's ignore list is never stored, so only its
        own node has it: a private message, mention, group line or typing hint another
        node decided to send is held back here instead (the sender was shown it as
        delivered, as on one node). Accounts' lists are on every node: their senders'
        nodes decided."""
        if isinstance(event, (PrivateMessage, Message, Emote, Mention)):
            if isinstance(event, PrivateMessage) and event.outgoing:
                return targets  # a copy of the guest's own message
            sender = event.sender
        elif isinstance(event, Typing):
            sender = event.name
        else:
            return targets
        session = self.hub.roster.by_key(name_key(sender))
        if session is None:
            return targets
        # Who ignores the sender is indexed (usually nobody); guests' ids are negative
        # (Hub), so most lines are let through without a look at each target.
        guests = {ignorer for ignorer in self.hub.ignores.ignorers(session.account.id) if ignorer < 0}
        if not guests:
            return targets
        kept = []
        for handle in targets:
            target = self.hub.session_of(handle)
            if target is None or target.account.id not in guests:
                kept.append(handle)
        return kept

    def _record_last_seen(self, sid: str, last_beat: float) -> None:
        """Session ``sid`` of a dead node was reaped by this node's heartbeat, and its
        account has no other session: record the account's last seen as the dead
        node's last heartbeat (``last_beat``, seconds; 0: unknown, nothing recorded),
        the last moment it was known to be there, as its own node would have at logout.
        Once, by the reaper: the store's record takes it to the other nodes' views, and
        at the next login the private messages read before the node died no longer
        count as arrived while away."""
        peer = self._remote.get(sid)
        session = self.hub.session_of(peer) if peer is not None else None
        if session is None or session.account.guest or session.account.id <= 0 or last_beat <= 0:
            return
        self.hub.accounts.set_last_seen(session.account, last_beat)

    def _mail_kept(self, message: PrivateMessage) -> None:
        """A private message came for sessions this node no longer holds: the recipient
        left here a moment ago, before the sender's node heard of it (each node decides
        "online or offline" from its own view). The sender's node stored the message as
        it stores every one, so it waits as offline mail (read at the next login, counted
        since the recipient's last logout); what is missing is the sender's notice that
        the recipient is offline, which this node sends now, as one node would have
        (unless the recipient is online on another node: that node delivered it)."""
        if self.hub.roster.by_key(name_key(message.recipient)) is not None:
            return
        sender = self.hub.roster.by_key(name_key(message.sender))
        if sender is None:
            return
        notice = Notice.of(NoticeCode.PRIVATE_OFFLINE, name=message.recipient)
        self.service.deliver([Delivery(self.hub.roster.handles_for(sender), notice)])

    def _ignoring(self, sender: object) -> frozenset[object]:
        """The handles of the sessions whose accounts ignore ``sender``'s account."""
        session = self.hub.roster.by_handle(sender) if sender is not None else None
        if session is None:
            return frozenset()
        return _here(self.hub.ignoring(session.account.id))

    def _store_applied(self, call: str, args: Sequence[Any]) -> None:
        """Another node's view write (``call`` with ``args``, as on the bus) was applied
        to the store's view: refresh what the service caches of it (the groups, the
        address bans, an online account's ignore list, who has receipts off)."""
        if call in _GROUP_CALLS:
            self.service.groups.groups.reload()
        elif call in ("set_address_ban", "clear_address_ban") and self.service.networks is not None:
            self.service.networks.reload(self.clock())
        elif call in ("_ignore_added", "_ignore_removed"):
            self.hub.ignores.refresh(int(args[0]))
        elif call == "_receipts_set":
            self.service.commands.receipts.reload()

    def reload_views(self) -> None:
        """Entries of the bus were lost (a gap) or this node was reaped: what the
        store's view and the service's caches hold may be stale; read them again."""
        if self.store is None:
            self.service.groups.groups.reload()
            return

        def reloaded() -> None:
            self.service.groups.groups.reload()
            if self.service.networks is not None:
                self.service.networks.reload(self.clock())
            self.service.commands.receipts.reload()
            for session in list(self.hub.roster.sessions()):
                self.hub.ignores.refresh(session.account.id)

        self.store.reload_views(reloaded)

    def _follow_presence(self, event: ServerEvent) -> None:
        """Keep a remote session as its node announces it: status, last line, name."""
        if isinstance(event, StatusChanged):
            session = self.hub.roster.by_key(name_key(event.name))
            status = Status.parse(event.status)
            if session is not None and isinstance(session.handle, RemotePeer) and status is not None:
                session.presence.status, session.presence.message = status, event.message
        elif isinstance(event, (Message, Emote)) and not event.group:
            session = self.hub.roster.by_key(name_key(event.sender))
            if session is not None and isinstance(session.handle, RemotePeer):
                session.presence.last_active = self.clock()
        elif isinstance(event, Renamed) and not event.history:
            session = self.hub.roster.by_key(name_key(event.old))
            if session is not None and isinstance(session.handle, RemotePeer):
                old = session.account
                session.account = replace(old, name=event.new)
                self.hub.roster.renamed(session, old)

    def _close_local(self, sid: str, reason: str) -> None:
        """Another node's admin ended this node's session ``sid`` (and told everyone)."""
        handle = self._by_sid.get(sid)
        if handle is None:
            return
        effects = self.hub.leave(handle, reason)
        # The left notice went out from the node that decided; the seat is freed here.
        self.service.deliver([e for e in effects if not isinstance(e, ToEveryone)])
        cast(Any, handle).close(reason)

    # --- the engine's connection -------------------------------------------------------------

    def _commands_up(self) -> None:
        def claimed(reply: Reply) -> None:
            if isinstance(reply, list) and reply[0] == b"other":
                self.refused = format_refusal(reply[1].decode(errors="replace"), self.settings.url)
                log.error("cluster: %s", self.refused)  # never available: no seat, no bus
                if self.on_refused is not None:
                    self.on_refused()
                return
            if is_error(reply):
                if reply is not LINK_DOWN:
                    log.error("cluster: format check: %s", reply)
                return
            for script in (scripts.TAKE_SEAT, scripts.RELEASE_SEAT, scripts.HEARTBEAT, scripts.SYNC):
                self.commands.command("SCRIPT", "LOAD", script.source)  # EVALSHA finds them from now on
            self._resync(announce=False)

        # First of all, on every connection: nodes of two versions never share a cluster.
        self._eval(scripts.CLAIM_FORMAT, [scripts.FORMAT, scripts.NODES], [scripts.BUS_FORMAT, self.origin], claimed)

    def _down(self) -> None:
        if self.available:
            log.warning("cluster: engine unavailable: logins refused, chat stays on this node until it is back")
        self.available = False
        for peer in list(self._pending):
            self._pending.pop(peer)

    def _resync(self, *, announce: bool) -> None:
        """Run the sync script with every seat this node holds; ``announce``: this node
        was reaped, so tell everyone its users are here again."""
        if self._resyncing:  # one at a time: a second would announce the users twice
            return
        self._resyncing = True
        seats = [*self._local.items(), *self._pending.items()]
        args: list[object] = [self.origin, self.settings.expiry, self.registered_seats, self.hub.sessions_per_account]
        for _, seat in seats:
            args += [seat.key, seat.kind.value, seat.value, seat.sid]

        def synced(reply: Reply) -> None:
            self._resyncing = False
            if is_error(reply):
                if reply is not LINK_DOWN:
                    log.error("cluster: sync script: %s", reply)
                return
            last_id, online, conflicts, inbox_id = reply
            if _stream_id(inbox_id) < _stream_id(self._inbox_id):
                self._inbox_id = b"0-0"  # the engine lost this node's delivery stream: read it anew
            self._synced(last_id, online, {c.decode() for c in conflicts}, seats, announce)

        self._eval(
            scripts.SYNC,
            [scripts.ONLINE, scripts.REGISTERED, scripts.NODES, scripts.NODE + self.origin, scripts.BUS, self._inbox,
             scripts.SESSIONS, scripts.BEATS],
            args,
            synced,
        )

    def _synced(
        self, last_id: bytes, online: list[bytes], conflicts: set[str], seats: list[tuple[object, Seat]], announce: bool
    ) -> None:
        if not self._synced_once or _stream_id(last_id) < _stream_id(self._last_id):
            self._last_id = last_id  # first sync, or the engine's stream started again
        self._synced_once = True
        self.available = True
        for value in online[1::2]:
            sid, kind, id_text, name = value.decode().split("\t")[:4]
            if sid.startswith(self.origin + "/") or sid in self._remote:
                continue
            account_id, guest = int(id_text), False
            if account_id == 0:  # a registration under way when the engine was asked
                account = self.hub.accounts.find(name)
                account_id, guest = (account.id, False) if account is not None else (0, True)
            self._add_remote(sid, Account(name, "", AccountKind(kind), id=account_id, guest=guest))
        for handle, seat in seats:
            if seat.sid in conflicts:
                log.warning("cluster: %s is online elsewhere now (the engine's view wins): ended here", seat.name)
                self._pending.pop(handle, None)
                if handle in self._local:
                    self._local.pop(handle)
                    self._by_sid.pop(seat.sid, None)
                    self.service.send(handle, _unavailable())
                    self.service.close(handle, "online on another node")
            elif announce and handle in self._local:
                session = self.hub.session_of(handle)
                if session is not None:
                    self._records.append(self._join_record(seat, session.account))
                    if session.announced or self.hub.announcer.announces(self.hub.roster.accounts_online):
                        self._records.append(["all", seat.sid, encode_event(Entered(session.account.name))])
        log.info(
            "cluster: node %s in sync with the engine (%d sessions online in the cluster)%s",
            self.origin,
            len(online) // 2,
            ", its users announced again" if announce else "",
        )
        self.publish()
        self._maybe_read()

    def _beat(self) -> None:
        self._heartbeat = self.loop.timers.call_later(self.settings.heartbeat, self._beat)
        if not self.available:
            return

        def beaten(reply: Reply) -> None:
            if reply == 0:
                log.warning("cluster: this node was reaped (frozen or cut off past the expiry): syncing again")
                self._resync(announce=True)
                self.reload_views()  # entries of the bus may have been trimmed meanwhile
            elif is_error(reply) and reply is not LINK_DOWN:
                log.error("cluster: heartbeat script: %s", reply)

        self._eval(
            scripts.HEARTBEAT,
            [scripts.ONLINE, scripts.REGISTERED, scripts.NODES, scripts.BUS, scripts.REAPER, scripts.SESSIONS,
             scripts.BEATS],
            [self.origin, self.settings.expiry, BUS_LENGTH, scripts.NODE, scripts.INBOX],
            beaten,
        )

    def _eval(self, script: Script, keys: list[str], args: list[object], callback: Callable[[Reply], None] | None) -> None:
        """Run ``script`` by its SHA-1, loading it with ``EVAL`` after a ``NOSCRIPT``
        (an engine restarted since: its script cache is empty)."""

        def answered(reply: Reply) -> None:
            if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
                self.commands.command("EVAL", script.source, len(keys), *keys, *args, callback=callback or _log_error)
            elif callback is not None:
                callback(reply)
            elif isinstance(reply, hiredis.ReplyError):
                log.error("cluster: %s script: %s", script.name, reply)

        self.commands.command("EVALSHA", script.sha, len(keys), *keys, *args, callback=answered)


_GROUP_QUERIES = frozenset({GroupChange.TOPIC_IS, GroupChange.NO_TOPIC})
"""Group events that change nothing (answers to a look)."""

_GROUP_CALLS = frozenset({
    "create_group", "add_member", "remove_member", "delete_group", "rename_group", "set_topic",
    "add_group_ban", "remove_group_ban", "add_request", "remove_request", "forget_account", "delete", "rename",
})
"""Store calls after which the service's groups are read again from the view."""


class SharedStore(Protocol):
    """What a cluster node needs of a view store (:class:`~pollchat.store.pgviews.PgViewStore`)."""

    changes: list[list[Any]] | None
    on_corrected: Callable[[str], None] | None
    on_lines_lost: Callable[[str, list[Any]], None] | None

    def apply_remote(self, record: Sequence[Any]) -> str:
        """Apply another node's view write; the call's name."""

    def reload_views(self, then: Callable[[], None]) -> None:
        """Read the views that may be stale again from the database, then call ``then``."""


def left_notice(reply: Reply, held: ServerEvent | None, name: str) -> ServerEvent | None:
    """The left notice to publish for a session of an account with several devices
    once the release script answered ``reply`` (``held``: the hub's own notice, if its
    view took the session for the account's last; ``name``: the account's):

    * ``2`` (the account's last session anywhere): ``held``, or ``name`` left (the hub
      still showed a device of another node that has left at the same moment);
    * ``1`` (a device stays online, on some node) or ``0`` (the engine no longer had
      the session: reaped, and the reaper's entry said it): none;
    * the engine away or an error: ``held``, the hub's view being all there is."""
    if reply == 2:
        return held if held is not None else Left(name, "")
    if reply in (0, 1):
        return None
    return held


def _here(handles: Iterable[object]) -> frozenset[object]:
    """Of ``handles``, this node's connections (not the sessions of other nodes)."""
    return frozenset(h for h in handles if not isinstance(h, RemotePeer))


def _log_error(reply: Reply) -> None:
    if isinstance(reply, hiredis.ReplyError):
        log.error("cluster: %s", reply)


def _unavailable() -> ServerEvent:
    return Error.of(ErrorCode.CLUSTER_UNAVAILABLE)


def _node_of(sid: str) -> str:
    """The node instance of session id ``NAME#INSTANCE/CONNECTION``."""
    return sid.rsplit("/", 1)[0]


def _stream_id(value: bytes) -> tuple[int, int]:
    ms, _, seq = value.partition(b"-")
    return int(ms or 0), int(seq or 0)
