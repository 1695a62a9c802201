"""One place builds the chat: the object graph every server and every test runs.

:func:`build_chat` makes the history log, the hub, the group chat and the chat service
over one open database, each given what it needs at construction (no object is patched
afterwards): the history log is the hub's record sink; the service applies the core's
effects through the ``output`` it is given. :func:`build_server_loop` adds the event
loop's side: the worker pool and the loop adapter.

:class:`pollchat.server.app.Server` builds its chat here, and so do the unit tests that
drive the service without sockets (``tests/unit/test_service.py``), so both run the same
wiring.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pollchat.config import ServerConfig
from pollchat.errors import ConfigError, StoreError
from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.group_chat import GroupChat
from pollchat.core.groups import GroupLimits, Groups
from pollchat.core.hub import Hub
from pollchat.core.passwords import hash_password
from pollchat.core.receipts import Receipts
from pollchat.core.seats import SeatBudget
from pollchat.server.bans import NetworkBans
from pollchat.server.barrier import CommitBarrier
from pollchat.server.chat import LoopAdapter
from pollchat.server.connection import Connection
from pollchat.server.history import HistoryLog
from pollchat.server.irc import IrcGateway
from pollchat.server.loop import EventLoop
from pollchat.server.peer import Peer
from pollchat.server.registrations import RegistrationCommit
from pollchat.server.service import ChatService, Output
from pollchat.server.timers import Timers
from pollchat.server.workers import PasswordPool, WorkerPool
from pollchat.store.database import Database
from pollchat.store.ports import Store

if TYPE_CHECKING:
    from pollchat.server.cluster.node import ClusterSettings

P = TypeVar("P", bound=Peer)


def build_chat(
    config: ServerConfig,
    preconfigured: list[Account],
    database: Store,
    *,
    pool: PasswordPool,
    timers: Timers,
    output: Output[P],
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    on_shutdown: Callable[[], None] | None = None,
    dummy_hash: str | None = None,
    budget: SeatBudget | None = None,
) -> ChatService[P]:
    """The chat service over ``database``, with its hub, groups and history log.

    Args:
        config: the settings.
        preconfigured: the accounts file's accounts, already synced with the store
            (:meth:`~pollchat.store.database.Database.sync_preconfigured`: stable ids).
        database: the open store.
        pool: runs password work off the loop.
        timers: the loop's timer heap; its clock (monotonic seconds) also paces the
            history's retries.
        output: where events go (the event loop, or a
            :class:`~pollchat.server.service.PeerOutput`).
        clock: wall-clock seconds since the epoch.
        rng: the game's random numbers.
        on_shutdown: begins the graceful shutdown (the end of an admin's countdown).
        dummy_hash: the hash checked for unknown accounts; by default one of a random
            password at ``config.kdf_iterations`` (about 0.14 s of CPU at the default).
        budget: the seat budget; by default ``config.max_users`` with a reserved seat
            per preconfigured account (a cluster node passes one its engine referees).

    Returns:
        The service; its ``hub``, ``groups`` and ``history`` are the rest of the graph.
    """
    history = HistoryLog(
        database,
        config.history_keep,
        private_keep=config.private_keep,
        group_keep=config.group_keep,
        clock=timers.clock,
        timers=timers,  # an idle server retries a failed write too
    )
    hub: Hub[P] = Hub(
        AccountDirectory(preconfigured, database),
        budget or SeatBudget(config.max_users, len(preconfigured)),
        clock=clock,
        idle_after=config.idle_after,
        offline_quota=config.offline_quota,
        history=history,
        sessions_per_account=config.sessions_per_account,
        ignores=database,
        announce_limit=config.announce_limit,
    )
    limits = GroupLimits(config.max_groups_per_owner, config.max_group_members, config.max_group_requests)
    return ChatService(
        hub,
        GroupChat(hub, Groups(database, limits)),
        history,
        pool,
        timers,
        output,
        config,
        dummy_hash=dummy_hash or hash_password(secrets.token_urlsafe(16), config.kdf_iterations),
        clock=clock,
        on_shutdown=on_shutdown,
        rng=rng,
        networks=NetworkBans(database, clock()),
        count_accounts=database.count_accounts,
        receipts=Receipts(database),
    )


def build_server_loop(
    config: ServerConfig,
    preconfigured: list[Account],
    database: Store,
    loop: EventLoop,
    *,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    on_shutdown: Callable[[], None] | None = None,
    on_reload: Callable[[], None] | None = None,
    cluster: ClusterSettings | None = None,
) -> tuple[LoopAdapter, WorkerPool]:
    """The chat on ``loop``: a worker pool for password work, the service (its output
    is the loop), the IRC gateway's request handler (with ``config.irc``) and the loop
    adapter, made ``loop``'s handler.

    The loop is made first (the pool and the service need its timers and its
    wake-up), so the adapter is given to it here, the one place that does. With the
    SQLite engine, registrations are group-committed once per pass
    (:mod:`pollchat.server.registrations`), the loop's first before-flush hook.

    With ``cluster``, the service is one node of a cluster
    (:class:`~pollchat.server.cluster.node.ClusterNode`, needs ``hiredis``): its seats
    are the engine's, its broadcasts go over the engine's bus, and the node starts
    connecting at once (``service.cluster.stop()`` leaves).

    Returns:
        The loop adapter (its ``service`` is the chat) and the worker pool (to shut down).
    """
    pool = WorkerPool(loop, config.hash_workers)
    budget: SeatBudget | None = None
    if cluster is not None:
        from pollchat.server.cluster.node import RefereedSeats  # hiredis: only in a cluster

        budget = RefereedSeats(config.max_users, len(preconfigured))
    service: ChatService[Connection] = build_chat(
        config,
        preconfigured,
        database,
        pool=pool,
        timers=loop.timers,
        output=loop,
        clock=clock,
        rng=rng,
        on_shutdown=on_shutdown,
        budget=budget,
    )
    attach = getattr(database, "attach", None)
    if attach is not None:  # a write-behind store (PostgreSQL): its driver runs on this loop
        try:
            attach(loop, loop.timers)
        except StoreError as exc:
            pool.shutdown()
            raise ConfigError(str(exc)) from None
        service.barrier = CommitBarrier(database, loop.output.to_flush, loop.close, loop.output.broadcasts.settle)  # type: ignore[arg-type]
        service.store_available = lambda: bool(getattr(database, "available", True))
        await_id = getattr(database, "await_id", None)
        if await_id is not None:  # a burst of registrations waits for the next block of ids
            service.await_account_id = lambda then: bool(await_id("account", then))
    if config.irc:  # the IRC gateway's server half: it hooks itself into the service
        IrcGateway(service, config.irc_main_channel)
    adapter = LoopAdapter(loop, service, on_shutdown=on_shutdown, on_reload=on_reload)
    if isinstance(database, Database):  # the SQLite engine: one fsync per pass for its registrations
        database.group_commit = True
        service.registration_commit = RegistrationCommit(database.commit_registrations, service.registration_failed)
        # First: the pass's new accounts are committed and admitted before anything else
        # of the pass is committed or sent.
        loop.before_flush.insert(0, service.registration_commit.before_flush)
    loop.handler = adapter
    if cluster is not None:
        from pollchat.server.cluster.node import ClusterNode

        shared = database if hasattr(database, "apply_remote") else None  # a view per node: kept current
        node = ClusterNode(
            loop, service, cluster, config.max_users - len(preconfigured), clock=clock, store=shared  # type: ignore[arg-type]
        )
        service.cluster = node
        node.on_refused = on_shutdown  # nodes of another version run this cluster: stop
        if shared is not None:  # a login, or a #group, this node's view lacks asks the database
            service.fetch_account = shared.fetch_account  # type: ignore[attr-defined]
            service.fetch_group = shared.fetch_group  # type: ignore[attr-defined]
        loop.before_flush.insert(0, node.read_more)  # a burst's second entry, if it is there already
        loop.after_flush.append(node.publish)  # last: the pass's records, one XADD
        node.start()
    return adapter, pool
