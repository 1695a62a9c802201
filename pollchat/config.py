"""Server settings: one frozen dataclass with every default in one place.

The command line (``pollchat.server.cli``) builds a :class:`ServerConfig` from its flags;
tests build one directly. Nothing here imports the rest of pollchat.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 3490
"""Seed 004: "The server (listener socket) binds itself to port 3490"."""
DEFAULT_WEB_PORT = 9000
"""Seed 003: the browser chat on port 9000 (HTTP for the page, WebSocket at ``/ws``)."""
DEFAULT_TLS_PORT = 3491
"""The line protocol over TLS: the plain port plus one, as IRC's 6667/6697 pair
is by convention."""
RESERVED_DESCRIPTORS = 64
"""Descriptors kept free of connections: the database and its WAL, logs, listeners, the
wake-up pair, the hashing threads, a backup child's pipes."""
DEFAULT_MAX_LINE = 4096
"""Bytes in one input line, terminator excluded. IRC allows 512 (RFC
2812 section 2.3); chat users paste longer text, and 4 KiB still bounds memory per
connection."""
DEFAULT_MAX_FAILURES = 3
"""Failed login/registration attempts allowed on one connection before it is closed
(docs/protocol.md: after the third the connection is closed)."""
DEFAULT_IDLE_AFTER = 300.0
"""Seconds of silence before an active user turns inactive (seed 003's inactivity monitor)."""


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/pollchat``, else ``~/.local/share/pollchat`` (XDG Base Directory)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return Path(base) / "pollchat"


DEFAULT_IRC_PORT = 6667
"""The IRC gateway's plain port (RFC 7194 names 6697 for TLS; 6667 is the customary plain one)."""
DEFAULT_IRC_TLS_PORT = 6697
"""The IRC gateway's TLS port (RFC 7194)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server needs to start.

    Attributes:
        max_users: cap on simultaneous logged-in sessions (>= 1).
        host, port: where to listen; port 0 picks a free port.
        data_dir: where ``pollchat.db`` lives (created on first start).
        kdf_iterations: PBKDF2 iterations for new password hashes.
        max_line: longest accepted input line, bytes.
        max_output: unsent bytes a connection may have queued before it is dropped as a
            slow consumer.
        max_failures: failed login attempts before a connection is closed (0 = no limit).
        hash_workers: threads that run PBKDF2 off the event loop.
        linger: seconds a closing connection gets to take its last lines.
        idle_after: seconds of silence before an active user becomes inactive.
        replay: public messages replayed at login (0: none).
        games: offer the guess-the-number game to a user who logs in alone.
        history_keep: main-chat messages kept in the database; older ones are pruned.
        private_keep: private messages kept per conversation (a pair of accounts);
            older ones are pruned once their recipient has read them (0 = all kept).
        group_keep: messages kept per group, live or deleted (0 = all kept).
        offline_quota: unread private messages an offline account may have waiting;
            past it, messages to it are refused (0 = no limit).
        announce_limit: the most accounts online for which entered and left notices go
            to everyone (0 = always, seed 004; :mod:`pollchat.core.announce`).
        sessions_per_account: sessions (devices) one account may have online at once;
            1 is seed 004's rule (a second login gets ``Password already used``).
        max_connections_per_address: open connections allowed from one peer address
            (an IPv6 peer's /64 network; 0 = no limit).
        max_connections: open connections allowed in all (Redis's ``maxclients``);
            ``None``: the open-file limit less :data:`RESERVED_DESCRIPTORS`; 0 = no cap
            but the system's.
        max_output_total: unsent output bytes allowed across all connections; past it the
            largest consumers are dropped first (0 = no limit).
        login_timeout: seconds a connection may stay without logging in (0 = forever).
        rate_limit: lines per second a connection may send on average (0 = no limit);
            ``rate_burst`` lines may come at once. Past it the client is warned, then
            disconnected if it keeps on.
        keepalive: seconds of silence before TCP keepalive probes a peer (0 = off).
        throttle_after: failed logins from one address for one account before each
            further attempt is delayed (0 = no delays).
        lockout_after: failed logins from one address for one account before that pair
            is locked out for ``lockout_seconds`` (0 = never).
        address_lockout_after: failed logins from one address (any account) before the
            address is locked out for ``lockout_seconds`` (0 = never).
        lockout_seconds: how long a lockout lasts.
        register_rate: new accounts one address may register per hour (0 = no limit).
        max_accounts: registered accounts the server keeps at most (0 = no limit).
        account_throttle_after: failed logins for one account, from any address, before
            each further attempt for it is delayed (slowed, never locked; 0 = off).
        backup_every: minutes between automatic database snapshots (0 = none).
        backup_keep: snapshots kept in ``data_dir/backups``.
        log_file: the rotating log file (``None``: ``data_dir/pollchat.log``).
        max_groups_per_owner, max_group_members, max_group_requests: the group limits
            (see :class:`pollchat.core.groups.GroupLimits`).
        tls_cert, tls_key: PEM certificate chain and private key; with both, the line
            protocol is also served over TLS on ``tls_port``.
        tls_port: the TLS listener's port (0 picks a free one).
        tls_only: no plain-text listener (needs ``tls_cert``).
        web: serve the web client and its WebSocket endpoint (seed 003).
        web_host: the web listener's address (``None``: ``host``).
        web_port: the web listener's port (0 picks a free one). With TLS it serves HTTPS
            and WSS with the same certificate.
        web_allow_origins: origins besides the server's own page that may open the
            WebSocket (cross-site WebSocket hijacking defence).
        web_host_names: the only ``Host`` names (and addresses) the web listener
            answers, without ports; others get 421 (a DNS rebinding defence). Empty:
            any.
        proxy_protocol_from: addresses and CIDR networks of trusted TCP proxies
            (HAProxy, nginx ``stream``): a connection from one must begin with a PROXY
            protocol header (:mod:`pollchat.protocol.proxy`), and the client address in
            it is the connection's for every per-address rule, ban and log line. Empty:
            none is read.
        irc: serve the IRC gateway (issue 23, ``docs/irc.md``) on ``irc_port`` (and
            with TLS on ``irc_tls_port``).
        irc_port, irc_tls_port: the IRC listeners' ports (0 picks a free one).
        irc_guests: an IRC client without credentials comes in as a guest.
        irc_server_name: the server name IRC clients see (``None``: the host name).
        irc_main_channel: the main chat's IRC channel.
        irc_autojoin: IRC clients are joined to the main channel after registration.
        min_password_length: the shortest password a registration or ``/passwd`` may
            set, in characters (0 = any); existing passwords and the accounts file's
            are not checked.
        input_budget: frames and lines one connection may send per second on
            average, before and after login, in bursts of 10 seconds' worth; past it
            reading pauses, and a connection over it for 10 s is closed (0 = off;
            :mod:`pollchat.server.flood`).
        address_input_budget: the same for all connections of one address together,
            kept across reconnects (0 = off).
    """

    max_users: int
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".")
    kdf_iterations: int = 600_000
    max_line: int = DEFAULT_MAX_LINE
    max_output: int = 1024 * 1024
    max_failures: int = DEFAULT_MAX_FAILURES
    hash_workers: int = max(2, os.cpu_count() or 2)
    linger: float = 2.0
    idle_after: float = DEFAULT_IDLE_AFTER
    replay: int = 20
    games: bool = True
    history_keep: int = 100_000
    private_keep: int = 1_000
    group_keep: int = 10_000
    offline_quota: int = 500
    sessions_per_account: int = 1
    announce_limit: int = 0
    max_connections_per_address: int = 20
    max_connections: int | None = None
    max_output_total: int = 256 * 1024 * 1024
    login_timeout: float = 30.0
    rate_limit: float = 10.0
    rate_burst: int = 30
    keepalive: float = 60.0
    throttle_after: int = 3
    lockout_after: int = 10
    address_lockout_after: int = 30
    lockout_seconds: float = 900.0
    account_throttle_after: int = 20
    register_rate: int = 5
    max_accounts: int = 10_000
    backup_every: float = 0.0
    backup_keep: int = 7
    log_file: Path | None = None
    max_groups_per_owner: int = 10
    max_group_members: int = 200
    max_group_requests: int = 20
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_port: int = DEFAULT_TLS_PORT
    tls_only: bool = False
    web: bool = True
    web_host: str | None = None
    web_port: int = DEFAULT_WEB_PORT
    web_allow_origins: tuple[str, ...] = ()
    web_host_names: tuple[str, ...] = ()
    proxy_protocol_from: tuple[str, ...] = ()
    irc: bool = True
    irc_port: int = DEFAULT_IRC_PORT
    irc_tls_port: int = DEFAULT_IRC_TLS_PORT
    irc_guests: bool = False
    irc_server_name: str | None = None
    irc_main_channel: str = "#lobby"
    irc_autojoin: bool = True
    min_password_length: int = 1
    input_budget: float = 1000.0
    address_input_budget: float = 5000.0
