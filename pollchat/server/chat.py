"""The chat layer: connection input through the protocol session and the hub, back out.

This is the :class:`~pollchat.server.loop.Handler` the event loop calls. It owns no
sockets: it feeds received bytes to the connection's framer and
:class:`~pollchat.protocol.session.Session`, carries out the session's actions, sends
password work to the worker pool, and turns the hub's deliveries into queued bytes.

Fan-out renders each event once per mode (text always, JSON only if a recipient is in
JSON mode) and hands the bytes to :meth:`EventLoop.fan_out`, which appends the same
bytes to every recipient's output buffer without a call per recipient.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.group_chat import GroupChat
from pollchat.core.hub import Admission, Delivery, Hub
from pollchat.core.lockout import LoginThrottle
from pollchat.core.passwords import hash_password, verify_password
from pollchat.core.ratelimit import TokenBucket
from pollchat.protocol.commands import Command
from pollchat.protocol.events import (
    Error,
    Greeting,
    HistoryEnd,
    HistoryStart,
    ModeSwitched,
    Notice,
    ServerEvent,
    ShuttingDown,
    Typing,
)
from pollchat.protocol.names import name_key
from pollchat.protocol.render import encode_json, encode_text, render_text
from pollchat.protocol.session import (
    Action,
    Authenticate,
    Chat,
    Disconnect,
    Reply,
    Session,
    SwitchMode,
    Verb,
)
from pollchat.server.admin import AdminActions, ShutdownCountdown
from pollchat.server.commands import Commands, history_event
from pollchat.server.connection import Connection
from pollchat.server.history import HistoryLog
from pollchat.server.loop import EventLoop
from pollchat.server.workers import WorkerPool
from pollchat.texts import ErrorCode, NoticeCode

log = logging.getLogger(__name__)


class ChatServer:
    """Protocol and chat logic on top of the event loop.

    Args:
        loop: the event loop (its handler must be this object).
        hub: the main chat room.
        pool: the password worker pool.
        history: the message log (replay at login, ``/history``).
        groups: the group commands (issue 4), over ``hub``.
        config: the settings (iterations, replay, game, failure and protection limits).
        dummy_hash: a hash checked for unknown accounts, so that "no such account" costs
            as long as "wrong password" and replies identically.
        clock: wall-clock seconds for event timestamps.
        on_shutdown: begins the graceful shutdown (signals, the admin countdown).
        rng: the game's random numbers (tests pass a seeded one).
    """

    def __init__(
        self,
        loop: EventLoop,
        hub: Hub[Connection],
        pool: WorkerPool,
        history: HistoryLog,
        groups: GroupChat[Connection],
        config: ServerConfig,
        *,
        dummy_hash: str,
        clock: Callable[[], float] = time.time,
        on_shutdown: Callable[[], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.loop = loop
        self.hub = hub
        self.pool = pool
        self.config = config
        self.dummy_hash = dummy_hash
        self.clock = clock
        self.on_shutdown = on_shutdown
        self.stopping = False
        self.history = history
        self.groups = groups
        self.throttle = LoginThrottle(
            config.throttle_after, config.lockout_after, config.address_lockout_after, config.lockout_seconds
        )
        self._per_address: dict[str, int] = {}
        self.commands = Commands(self, rng)
        self.admin = AdminActions(
            self,
            ShutdownCountdown(
                loop.timers,
                warn=lambda event: self.deliver([Delivery(self.hub.everyone(), event)]),
                finish=on_shutdown or (lambda: None),
                on_change=self._set_closing,
            ),
        )
        loop.after_flush.append(history.flush)

    def _set_closing(self, closing: bool) -> None:
        self.hub.closing = closing

    # --- loop callbacks ---------------------------------------------------------------------

    def on_connect(self, conn: Connection) -> None:
        config = self.config
        conn.session = Session(config.max_failures, config.min_password_length)
        host = _host(conn)
        self._per_address[host] = self._per_address.get(host, 0) + 1
        if config.max_connections_per_address and self._per_address[host] > config.max_connections_per_address:
            log.warning("connection #%d from %s refused: too many connections from that address", conn.id, conn.peer)
            self.send(conn, Error.of(ErrorCode.TOO_MANY_CONNECTIONS))
            self.loop.close(conn, "too many connections from its address")
            return
        if config.rate_limit:
            conn.bucket = TokenBucket(config.rate_limit, config.rate_burst, self.loop.timers.clock())
        if config.login_timeout:
            conn.timer = self.loop.timers.call_later(config.login_timeout, lambda: self._login_timed_out(conn))
        self.send(conn, Greeting())

    def _login_timed_out(self, conn: Connection) -> None:
        if conn.closing or self.hub.session_of(conn) is not None:
            return
        self.send(conn, Error.of(ErrorCode.LOGIN_TIMEOUT, seconds=_whole(self.config.login_timeout)))
        self.loop.close(conn, "no login in time")

    def on_data(self, conn: Connection, data: bytes) -> None:
        session = conn.session
        assert session is not None
        for item in conn.framer.feed(data):
            if conn.closing:
                return
            if conn.bucket is not None and not self._within_rate(conn):
                continue
            self._apply(conn, session.feed(item))
        if session.backlog_full and not conn.closing:
            self.loop.pause_reading(conn)

    def on_eof(self, conn: Connection) -> None:
        assert conn.session is not None
        self._apply(conn, conn.session.feed_eof())

    def _within_rate(self, conn: Connection) -> bool:
        """Take a token for one line; over the limit the line is dropped, the first drop
        warns, and ``rate_burst`` drops in a row disconnect (flooding)."""
        assert conn.bucket is not None
        if conn.bucket.take(self.loop.timers.clock()):
            conn.dropped = 0
            return True
        conn.dropped += 1
        if conn.dropped == 1:
            log.info("connection #%d %s: over the rate limit, dropping lines", conn.id, conn.peer)
            self.send(conn, Notice.of(NoticeCode.RATE_WARNING, rate=_whole(self.config.rate_limit)))
        elif conn.dropped > self.config.rate_burst:
            log.warning("connection #%d %s: flooding, disconnected", conn.id, conn.peer)
            self.send(conn, Error.of(ErrorCode.FLOODING))
            self.loop.close(conn, "flooding")
        return False

    def on_closed(self, conn: Connection) -> None:
        host = _host(conn)
        left = self._per_address.get(host, 1) - 1
        if left > 0:
            self._per_address[host] = left
        else:
            self._per_address.pop(host, None)
        if conn.timer is not None:
            conn.timer.cancel()
        session = self.hub.session_of(conn)
        if session is not None:
            log.info("%s logged out (connection #%d: %s)", session.account.name, conn.id, conn.close_reason)
        deliveries = self.hub.leave(conn)  # frees the seat, whatever happens next
        if not self.stopping:
            self.deliver(deliveries)

    def on_signal(self, signum: int) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM) and self.on_shutdown is not None:
            log.info("received %s", signal.Signals(signum).name)
            self.on_shutdown()

    def on_slow_consumer(self, conn: Connection) -> None:
        self.send(conn, Error.of(ErrorCode.TOO_SLOW))

    # --- sending ----------------------------------------------------------------------------

    def send(self, conn: Connection, event: ServerEvent) -> None:
        """Queue ``event`` for ``conn`` alone."""
        self.loop.queue(conn, encode_json(event, self.clock()) if conn.json_mode else encode_text(event))

    def deliver(self, deliveries: Iterable[Delivery[Connection]]) -> None:
        """Carry out hub deliveries: render each event once, queue it to each target."""
        fan_out = self.loop.fan_out
        for delivery in deliveries:
            if not delivery.targets:
                continue
            event, ts = delivery.event, self.clock()
            # A typing hint is for UIs (JSON mode); on nc it would only be noise.
            text = None if isinstance(event, Typing) else encode_text(event)
            fan_out(delivery.targets, text, lambda event=event, ts=ts: encode_json(event, ts))

    def shut_down_all(self) -> None:
        """Tell every connection the server is stopping and close it after a flush.

        Everyone is leaving at once, so no left notices are sent: the shutdown line is
        each connection's last."""
        self.stopping = True
        open_connections = [conn for conn in self.loop.connections if not conn.closing]
        self.deliver([Delivery(tuple(open_connections), ShuttingDown())])
        for conn in open_connections:
            self.loop.close(conn, "server shutting down")

    # --- session actions ------------------------------------------------------------------------

    def _apply(self, conn: Connection, actions: list[Action]) -> None:
        for action in actions:
            if conn.closing:
                return
            match action:
                case Chat(text):
                    self.deliver(self.hub.touch(conn))
                    self.deliver(self.groups.say(conn, text))
                case Command():
                    self.deliver(self.hub.touch(conn))
                    self.commands.run(conn, action)
                case Reply(event):
                    self.send(conn, event)
                case Authenticate():
                    self._authenticate(conn, action)
                case SwitchMode(mode):
                    conn.json_mode = mode == "json"
                    self.send(conn, ModeSwitched(mode))
                case Disconnect(None):
                    self.loop.close(conn, "peer closed")
                case Disconnect(event):
                    self.send(conn, event)
                    self.loop.close(conn, render_text(event))

    def _authenticate(self, conn: Connection, action: Authenticate) -> None:
        if action.verb is Verb.LOGIN:
            host, key = _host(conn), name_key(action.name)
            wait = self.throttle.wait(host, key, self.loop.timers.clock())
            if wait == math.inf:  # locked out: refused without a look at the password
                self._refused(conn, action, ErrorCode.WRONG_PASSWORD)
                return
            self.throttle.begin(host, key)  # counted while under way: no parallel guessing
            if wait > 0:  # growing delays after repeated failures (brute force)
                self.loop.timers.call_later(wait, lambda: self._verify(conn, action))
            else:
                self._verify(conn, action)
            return
        refusal = self.hub.check_registration(action.name)
        if refusal is not None:
            self._refused(conn, action, refusal)
            return
        self.pool.submit(
            hash_password,
            action.password,
            self.config.kdf_iterations,
            on_done=lambda f: self._finish(conn, action, lambda: self.hub.register(conn, action.name, f.result())),
        )

    def _verify(self, conn: Connection, action: Authenticate) -> None:
        host, key = _host(conn), name_key(action.name)
        if conn.closing:
            self.throttle.end(host, key)
            return
        account = self.hub.accounts.find(action.name)
        encoded = account.password_hash if account is not None else self.dummy_hash

        def checked(future: Future[bool]) -> None:
            self.throttle.end(host, key)
            self._finish(conn, action, lambda: self._login(conn, action, account, future.result()))

        self.pool.submit(verify_password, action.password, encoded, on_done=checked)

    def _login(self, conn: Connection, action: Authenticate, account: Account | None, ok: bool) -> Admission[Connection]:
        """Admit a checked login, and count it for brute-force protection."""
        host, key = _host(conn), name_key(action.name)
        if ok and account is not None:
            self.throttle.succeeded(host, key)
        elif self.throttle.failed(host, key, self.loop.timers.clock()):
            log.warning("failed logins from %s for %r: locked out for %gs", host, action.name, self.config.lockout_seconds)
        return self.hub.login(conn, account, ok)

    def _finish(self, conn: Connection, action: Authenticate, decide: Callable[[], Admission[Connection]]) -> None:
        """On the loop thread, once the password work is done."""
        if conn.closing:  # gone meanwhile: no seat taken, no account created
            return
        try:
            admission = decide()
        except Exception:  # e.g. the database refused the new account (disk full)
            log.exception("login or registration failed for connection #%d", conn.id)
            self.send(conn, Error.of(ErrorCode.INTERNAL))
            self.loop.close(conn, "internal error")
            return
        assert conn.session is not None
        if admission.refusal is not None:
            self._refused(conn, action, admission.refusal, **admission.detail)
            return
        log.info("%s %s (connection #%d %s)", action.name, _DONE[action.verb], conn.id, conn.peer)
        self.deliver(admission.deliveries)
        self._welcome_back(conn, admission)
        self._resume(conn, conn.session.auth_succeeded())

    def _welcome_back(self, conn: Connection, admission: Admission[Connection]) -> None:
        """After the welcome: replay recent history, count private messages that came
        while the user was away, offer the game to the lonely, start the idle monitor."""
        account = admission.account
        assert account is not None
        if self.config.replay:
            records = self.history.recent_public(self.config.replay)
            self.send_history(conn, [history_event(r, account.id) for r in records])
        waiting = self.history.count_private_since(account.id, self.hub.accounts.last_seen(account) or 0.0)
        if waiting:
            self.send(conn, Notice.of(NoticeCode.OFFLINE_MESSAGES, count=waiting))
        self.deliver(self.groups.welcome(conn))
        if self.config.games and admission.alone:
            self.send(conn, Notice.of(NoticeCode.GAME_OFFER))
        if conn.timer is not None:
            conn.timer.cancel()  # the login deadline
        self._schedule_idle_check(conn, self.hub.idle_after)

    def _schedule_idle_check(self, conn: Connection, delay: float) -> None:
        conn.timer = self.loop.timers.call_later(max(0.0, delay), lambda: self._idle_check(conn))

    def _idle_check(self, conn: Connection) -> None:
        deliveries, next_check = self.hub.check_idle(conn)
        self.deliver(deliveries)
        if next_check is not None and not conn.closing:
            self._schedule_idle_check(conn, next_check - self.clock())

    def send_history(self, conn: Connection, events: list[ServerEvent], *, empty_notice: bool = False) -> None:
        """Send ``events`` (oldest first) between a history header and footer (nothing,
        or a "no messages" notice, when there are none).

        The block is one connection's reply, queued in one pass, so it is bounded: only
        the newest events that fit in half of ``--max-output`` are sent (500 lines of
        4 KiB would otherwise make a reader that keeps up look like a slow consumer)."""
        budget = self.config.max_output // 2
        kept: list[bytes] = []
        for event in reversed(events):
            data = encode_json(event, self.clock()) if conn.json_mode else encode_text(event)
            budget -= len(data)
            if budget < 0:
                break
            kept.append(data)
        if not kept:
            if empty_notice:
                self.send(conn, Notice.of(NoticeCode.HISTORY_EMPTY))
            return
        self.send(conn, HistoryStart(len(kept)))
        for data in reversed(kept):
            self.loop.queue(conn, data)
        self.send(conn, HistoryEnd())


    def _refused(self, conn: Connection, action: Authenticate, refusal: ErrorCode, **detail: object) -> None:
        log.info(
            "%s refused for %r from %s (connection #%d): %s",
            action.verb.value,
            action.name,
            conn.peer,
            conn.id,
            refusal.code,
        )
        assert conn.session is not None
        self._resume(conn, conn.session.auth_failed(refusal, **detail))

    def _resume(self, conn: Connection, actions: list[Action]) -> None:
        if not conn.peer_eof:
            self.loop.resume_reading(conn)
        self._apply(conn, actions)
        if conn.session is not None and conn.session.backlog_full and not conn.closing:
            self.loop.pause_reading(conn)


_DONE = {Verb.LOGIN: "logged in", Verb.REGISTER: "registered and logged in"}


def _host(conn: Connection) -> str:
    """The peer's address without the port (the unit of per-address limits)."""
    return conn.peer.rpartition(":")[0] or conn.peer


def _whole(value: float) -> str:
    return f"{value:g}"
