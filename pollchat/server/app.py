"""Lifetime of a server: listeners, loop, and the chat built on them, until shutdown.

The chat's object graph is made in one place, :mod:`pollchat.server.build`.

:class:`Server` is what the CLI runs and what integration tests step with
:meth:`Server.run_once`. Shutdown (SIGINT, SIGTERM or an admin's countdown)
goes through the loop: stop accepting, tell every connection ``server is shutting
down``, flush for at most ``linger`` seconds, then close the sockets, the worker pool and
the database.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import random
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from pollchat import __version__, texts
from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.hub import Hub
from pollchat.errors import ConfigError
from pollchat.protocol.codec import LineCodec
from pollchat.protocol.irc import IrcCodec
from pollchat.protocol.proxy import parse_networks
from pollchat.protocol.web import WebCodec
from pollchat.server.backups import BackupScheduler
from pollchat.server.build import build_server_loop
from pollchat.server.memory import fix_mmap_threshold
from pollchat.server.connection import Connection
from pollchat.server.console import OperatorConsole
from pollchat.server.loop import EventLoop, Listener
from pollchat.server.rlimits import connection_capacity
from pollchat.server.service import ChatService
from pollchat.server.static import load_site
from pollchat.server.timers import Timers
from pollchat.server.tls import server_context
from pollchat.store.ports import Store
from pollchat.store.lock import DataDirLock

if TYPE_CHECKING:
    from pollchat.server.cluster.node import ClusterSettings

log = logging.getLogger(__name__)


class Server:
    """A pollchat server, bound and ready to run.

    Args:
        config: the settings.
        preconfigured: accounts from the accounts file.
        database: the open store of registered accounts (closed by :meth:`close`).
        timers: the loop's timer queue (tests inject a fake clock).
        clock: wall-clock seconds, for timestamps, idle times and history.
        rng: random numbers for the game (tests pass a seeded ``random.Random``).
        lock: the data-directory lock the caller took (:mod:`pollchat.store.lock`);
            :meth:`close` releases it.
        cluster: join this cluster (``--cluster``; docs/scaling.md), or ``None``.

    Raises:
        ConfigError: more preconfigured accounts than ``max_users``
            (``login users > max users, change settings``), or the address cannot be
            bound (in use, not available, no permission).
    """

    def __init__(
        self,
        config: ServerConfig,
        preconfigured: list[Account],
        database: Store,
        *,
        timers: Timers | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        lock: DataDirLock | None = None,
        cluster: ClusterSettings | None = None,
    ) -> None:
        if len(preconfigured) > config.max_users:
            raise ConfigError(texts.TOO_FEW_SEATS)
        if config.max_connections is None:  # as many as the descriptors allow
            config = dataclasses.replace(config, max_connections=connection_capacity())
        self.config = config
        self.database = database
        if config.tls_only and config.tls_cert is None:
            raise ConfigError("--tls-only needs --tls-cert and --tls-key")
        if (config.tls_cert is None) != (config.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        tls = server_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
        self.loop = EventLoop(
            max_output=config.max_output,
            max_output_total=config.max_output_total,
            linger=config.linger,
            keepalive=config.keepalive,
            timers=timers,
            clock=clock,
        )
        max_line = config.max_line
        # Every listener reads the PROXY header of the trusted proxies' connections.
        try:
            proxies = tuple(network for text in config.proxy_protocol_from for network in parse_networks(text))
        except ValueError as exc:
            raise ConfigError(f"--proxy-protocol-from: {exc}") from None
        listen = functools.partial(self.loop.listen, proxy_from=proxies)
        self.listener: socket.socket | None = None
        self.tls_listener: Listener | None = None
        if not config.tls_only:
            self.listener = _listen(config.host, config.port)
            listen(self.listener, lambda: LineCodec(max_line))
        if tls is not None:
            self.tls_listener = listen(_listen(config.host, config.tls_port), lambda: LineCodec(max_line), tls=tls)
        self.web_listener: Listener | None = None
        if config.web:  # seed 003: the browser client, HTTPS/WSS when TLS is on
            site, origins = load_site(), frozenset(config.web_allow_origins)
            try:
                web_socket = _listen(config.web_host or config.host, config.web_port)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (the web client's port: pick another with --web-port, or --no-web)") from None
            names = frozenset(config.web_host_names)  # only these Host names: a DNS-rebinding page is refused
            self.web_listener = listen(web_socket, lambda: WebCodec(max_line, site, origins, names), tls=tls)
        self.irc_listener: Listener | None = None
        self.irc_tls_listener: Listener | None = None
        if config.irc:  # issue 23: the IRC gateway
            channel = config.irc_main_channel
            if not channel.startswith("#") or len(channel) < 2 or any(ch in channel for ch in " ,\x07:"):
                raise ConfigError(f"--irc-main-channel {channel!r}: a channel name is # then a name (no spaces or commas)")
            server_name = config.irc_server_name or socket.gethostname() or "pollchat"
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(clock()))

            def make_irc_codec() -> IrcCodec:
                return IrcCodec(
                    server_name,
                    config.irc_main_channel,
                    autojoin=config.irc_autojoin,
                    guests=config.irc_guests,
                    version=f"pollchat-{__version__}",
                    created=started,
                )

            try:
                if not config.tls_only:  # --tls-only: no password crosses the network in clear
                    self.irc_listener = listen(_listen(config.host, config.irc_port), make_irc_codec)
                if tls is not None:
                    irc_tls_socket = _listen(config.host, config.irc_tls_port)
                    self.irc_tls_listener = listen(irc_tls_socket, make_irc_codec, tls=tls)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (the IRC gateway's port: pick another with --irc-port, or --no-irc)") from None
        preconfigured = database.sync_preconfigured(preconfigured)  # stable ids for history
        self.chat, self.pool = build_server_loop(
            config,
            preconfigured,
            database,
            self.loop,
            clock=clock,
            rng=rng,
            on_shutdown=self.shutdown,
            on_reload=self.reload_tls,
            cluster=cluster,
        )
        self.service: ChatService[Connection] = self.chat.service
        self.hub: Hub[Connection] = self.service.hub
        for group, name in self.chat.groups.drop_lost_accounts():
            log.warning("#%s: %s is no longer an account (not in the accounts file): removed", group, name)
        self.stopping = False
        self._deadline = 0.0
        self._closed = False
        # --- operations: data-directory lock and rotating snapshots (pollchat.server.backups) ---
        self.lock = lock
        self.backups = BackupScheduler(self.loop.timers, config.data_dir, config.backup_every, config.backup_keep)
        self.backups.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` of the plain line protocol (of the TLS one with
        ``--tls-only``); the port is the real one when 0 was asked."""
        if self.listener is None:
            tls_address = self.tls_address
            assert tls_address is not None
            return tls_address
        host, port = self.listener.getsockname()[:2]
        return host, port

    @property
    def tls_address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` of the TLS listener; ``None`` without TLS."""
        return self.tls_listener.address if self.tls_listener is not None else None

    @property
    def web_address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` of the web listener; ``None`` with ``--no-web``."""
        return self.web_listener.address if self.web_listener is not None else None

    @property
    def irc_address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` of the IRC gateway; ``None`` with ``--no-irc``."""
        return self.irc_listener.address if self.irc_listener is not None else None

    @property
    def irc_tls_address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` of the IRC gateway over TLS; ``None`` without TLS."""
        return self.irc_tls_listener.address if self.irc_tls_listener is not None else None

    @property
    def web_url(self) -> str | None:
        """The address to open in a browser, e.g. ``http://127.0.0.1:9000/`` (a
        wildcard bind is shown as 127.0.0.1: this machine)."""
        address = self.web_address
        if address is None:
            return None
        host, port = address
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        scheme = "https" if self.tls_listener is not None else "http"
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/"

    def reload_tls(self) -> None:
        """Load the certificate and key again (SIGHUP: a renewed certificate). New
        connections get the new ones; established connections are not touched. A file
        that fails to load keeps the old context, logged."""
        config = self.config
        if self.tls_listener is None or config.tls_cert is None or config.tls_key is None:
            log.info("SIGHUP: no TLS certificate to reload")
            return
        try:
            context = server_context(config.tls_cert, config.tls_key)
            self.tls_listener.tls = context
            if self.web_listener is not None:
                self.web_listener.tls = context
        except ConfigError as exc:
            log.error("SIGHUP: keeping the old certificate: %s", exc)
            return
        log.info("SIGHUP: reloaded the TLS certificate %s", config.tls_cert)

    def install_signal_handlers(self) -> None:
        """Route SIGINT and SIGTERM through the loop's wake-up socket (main thread only).

        The Python-level handlers do nothing; the C handler writes the signal number to
        the wake-up socket (``signal.set_wakeup_fd``, PEP 475's advice for event loops),
        which wakes ``select()`` at once.
        """
        signal.set_wakeup_fd(self.loop.wakeup_fd, warn_on_full_buffer=False)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)

    def run_once(self, timeout: float | None = None) -> None:
        """One loop pass (see :meth:`EventLoop.run_once`)."""
        self.loop.run_once(timeout)

    def after_start(self) -> None:
        """Start-up is over: what it made (modules, tables, the settings) is collected
        once and frozen out of the garbage collector's view (``gc.freeze``), so the
        collections that thousands of connections trigger do not walk it again; and
        large short-lived buffers get mappings of their own from now on
        (:func:`~pollchat.server.memory.fix_mmap_threshold`), so they do not fragment
        the heap the connections live in."""
        gc.collect()
        gc.freeze()
        fix_mmap_threshold()

    def serve_forever(self) -> None:
        """Serve until shut down (after :meth:`after_start`), then release everything
        (:meth:`close`)."""
        self.after_start()
        try:
            while not self.finished:
                self.loop.run_once(self._remaining() if self.stopping else None)
        finally:
            self.close()

    @property
    def finished(self) -> bool:
        """True once a shutdown has flushed every connection or run out of time."""
        return self.stopping and (not self.loop.connections or self._remaining() == 0)

    def shutdown(self) -> None:
        """Begin a graceful shutdown (loop thread): SIGINT, SIGTERM and the end of an
        admin's countdown all come here. A second call (a second Ctrl+C) stops waiting
        for slow clients and closes everything at once."""
        if self.stopping:
            log.warning("second shutdown request: closing now")
            self._deadline = 0.0
            return
        log.info("shutting down: %d connection(s) to close", len(self.loop.connections))
        self.stopping = True
        self._deadline = time.monotonic() + self.config.linger
        self.loop.stop_accepting()
        self.chat.shut_down_all()

    def attach_console(self, fd: int, out: TextIO) -> OperatorConsole:
        """Read operator commands from the terminal ``fd`` (see :mod:`.console`)."""
        console = OperatorConsole(self.chat, out)
        console.attach(fd)
        return console

    def close(self) -> None:
        """Close sockets, stop the workers and close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.chat.history.close()  # one last try to write the history; what is lost is counted
        if self.service.cluster is not None:  # while the loop's selector is open
            self.service.cluster.stop()
        self.loop.close_all()
        self.pool.shutdown()
        self.database.close()
        # --- operations: end a running snapshot child, then free the data directory ---
        self.backups.stop()
        if self.lock is not None:
            self.lock.release()
        log.info("stopped")

    def _remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())


LISTEN_BACKLOG = 4096
"""Connections the kernel may hold for each listener until the loop accepts them (Linux
clamps it to ``net.core.somaxconn``, 4096 since 5.4). With 128, a login storm of 1,024
connects at once overflowed the queue: the kernel dropped the overflow's handshakes
and each client retried its SYN after 1 s, then 3 s (2,000 clients took 5.2 s to connect
where the C floor, with 4096, took under 1 s; docs/performance.md)."""


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv6 when ``host`` has a colon), with
    :data:`LISTEN_BACKLOG`. Raises :class:`ConfigError` when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
