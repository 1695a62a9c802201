"""``pollchat-server``: run the chat server, or an operator tool (``subcommands``).

Exit status: 0 after a clean shutdown, 1 on an unexpected error, 2 on a usage or
configuration error (always one line on stderr, prefixed ``pollchat-server:``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import logging.handlers
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pollchat import __version__, texts
from pollchat.cliargs import OneLineParser, kdf_iterations_argument, non_negative_float, whole_number
from pollchat.config import DEFAULT_IRC_PORT, DEFAULT_PORT, DEFAULT_TLS_PORT, DEFAULT_WEB_PORT, ServerConfig, default_data_dir
from pollchat.core.passwords import MAX_ITERATIONS
from pollchat.protocol.proxy import parse_networks
from pollchat.errors import ConfigError, PollchatError
from pollchat.server.accounts_file import load_accounts_file
from pollchat.server.addresses import WILDCARDS, local_addresses, urls_for_others
from pollchat.server.app import Server
from pollchat.server.cluster import check_cluster_flags
from pollchat.server.files import PrivateRotatingFileHandler, exposure_warnings
from pollchat.server.rlimits import raise_open_file_limit
from pollchat.server.subcommands import register_all
from pollchat.store.database import DATABASE_NAME
from pollchat.store.engines import check_location, open_store
from pollchat.store.ports import Store
from pollchat.store.urls import redact
from pollchat.store.lock import DataDirLock

if TYPE_CHECKING:
    from pollchat.server.cluster.node import ClusterSettings

PROG = "pollchat-server"
log = logging.getLogger("pollchat.server")

LOG_NAME = "pollchat.log"
"""The log file in the data directory (unless ``--log-file``)."""
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUP_COUNT = 5
"""The log file is rotated at :data:`LOG_MAX_BYTES`; this many old ones are kept."""
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

EPILOG = f"""\
examples:
  {PROG} --max-users 20                 listen on 0.0.0.0:{DEFAULT_PORT}, the web client on :{DEFAULT_WEB_PORT}, IRC on :{DEFAULT_IRC_PORT}
  {PROG} --max-users 20 --irc-guests    IRC clients without an account come in as guests
  {PROG} --max-users 20 --tls-cert fullchain.pem --tls-key privkey.pem   also TLS on :{DEFAULT_TLS_PORT}
  printf '4\\n' | {PROG}                  answer the max-users prompt from a pipe
  {PROG} --max-users 4 --accounts accounts.toml
  {PROG} --max-users 4 --replay 0 --no-game   the seed-004 login flow, byte for byte
  {PROG} hash-password > hash.txt       make a password_hash for the accounts file
  {PROG} --max-users 20 --backup-every 60 --backup-keep 24   hourly snapshots
  {PROG} backup pollchat-copy.db        copy the database, also while the server runs
  {PROG} restore pollchat-copy.db       put a copy back (server stopped)
  {PROG} export --group '#familia' --out familia.txt   save a group's conversation

then, from another terminal:
  pollchat-client localhost     or     nc localhost {DEFAULT_PORT}     or a browser at http://localhost:{DEFAULT_WEB_PORT}/
  or an IRC client: irssi -c localhost -p {DEFAULT_IRC_PORT} -n NAME -w NAME:PASSWORD   (docs/irc.md)
"""


SECTION_PROTECTION = "protection (every limit: 0 turns it off, unless said otherwise)"
SECTION_BACKUPS = "backups"
SECTION_GROUPS = "groups (0 turns a limit off)"


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigFlag:
    """One ``pollchat-server`` flag that sets one :class:`ServerConfig` field.

    Attributes:
        flag: the option, e.g. ``"--rate-limit"``.
        field: the :class:`ServerConfig` field it sets (also its ``args`` attribute).
        type: the argparse ``type=`` that parses and checks a typed value.
        help: the ``--help`` text; it ends with ``(default: %(default)s)``.
        metavar: the value's name in ``--help``.
        section: the ``--help`` section (an argument group), ``None`` for the main options.

    The default is never written here: it is the field's default in :class:`ServerConfig`
    (see :func:`flag_default`).
    """

    flag: str
    field: str
    type: Callable[[str], Any]
    help: str
    metavar: str
    section: str | None = None


CONFIG_FLAGS: tuple[ConfigFlag, ...] = (
    # the server's limits and tunables (docs/operations.md has the same list)
    ConfigFlag(
        "--max-output", "max_output", whole_number(1024),
        "unsent bytes a client may fall behind before it is dropped (default: %(default)s)", "BYTES",
    ),
    ConfigFlag(
        "--idle-after", "idle_after", whole_number(1),
        "silence after which an active user becomes inactive (default: %(default)s)", "SECONDS",
    ),
    ConfigFlag(
        "--replay", "replay", whole_number(0, 500),
        "public messages replayed at login; 0 turns it off (default: %(default)s)", "N",
    ),
    ConfigFlag(
        "--history-keep", "history_keep", whole_number(1),
        "main-chat messages kept in the database; older ones are pruned (default: %(default)s)", "N",
    ),
    ConfigFlag(
        "--private-keep", "private_keep", whole_number(0),
        "private messages kept per conversation; older ones are pruned once read; 0 keeps all "
        "(default: %(default)s)", "N",
    ),
    ConfigFlag(
        "--group-keep", "group_keep", whole_number(0),
        "messages kept per group; older ones are pruned; 0 keeps all (default: %(default)s)", "N",
    ),
    ConfigFlag(
        "--announce-limit", "announce_limit", whole_number(0),
        "entered and left notices go to everyone while at most N users are online (in a cluster, "
        "on all nodes); past it a login is not announced, a leave only if its entry was, and users "
        "are told once that the notices are off (/who still lists everyone); 0 announces always, "
        "as seed 004 does (default: %(default)s)", "N",
    ),
    # protection against floods, slow or dead peers and password guessing
    ConfigFlag(
        "--max-connections-per-address", "max_connections_per_address", whole_number(0),
        "open connections allowed from one peer address (an IPv6 peer's /64); 0 turns it off "
        "(default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--max-connections", "max_connections", whole_number(0),
        "open connections allowed in all; past it a new one gets one line and is closed; 0 turns it "
        "off (default: the open-file limit, raised to its maximum at start, less 64)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--max-output-total", "max_output_total", whole_number(0),
        "unsent output allowed across all clients; past it the largest consumers are dropped first; "
        "0 turns it off (default: %(default)s)", "BYTES",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--login-timeout", "login_timeout", non_negative_float,
        "a connection that has not logged in by then is closed; 0 turns it off (default: %(default)s)", "SECONDS",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--rate-limit", "rate_limit", non_negative_float,
        "lines per second a connection may send on average; past it the client is warned, then "
        "disconnected; 0 turns it off (default: %(default)s)", "LINES_PER_SECOND",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--rate-burst", "rate_burst", whole_number(1),
        "lines a connection may send at once within --rate-limit; at least 1 (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--keepalive", "keepalive", non_negative_float,
        "silence before a peer is probed and dropped if dead; 0 turns it off (default: %(default)s)", "SECONDS",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--throttle-after", "throttle_after", whole_number(0),
        "failed logins from one address for one account before further attempts are delayed; "
        "0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--lockout-after", "lockout_after", whole_number(0),
        "failed logins from one address for one account before that pair is locked out; "
        "0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--address-lockout-after", "address_lockout_after", whole_number(0),
        "failed logins from one address, any account, before the address is locked out; "
        "0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--lockout-seconds", "lockout_seconds", non_negative_float,
        "how long a lockout lasts (default: %(default)s)", "SECONDS",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--offline-quota", "offline_quota", whole_number(0),
        "unread private messages an offline user may have waiting; past it the sender is told the "
        "mailbox is full; 0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--sessions-per-account", "sessions_per_account", whole_number(1),
        "sessions (devices) one account may have logged in at once; each gets the account's lines "
        "and private messages, and the account takes one seat; 1 refuses a second login with "
        "'Password already used' as seed 004 does (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--input-budget", "input_budget", non_negative_float,
        "frames and lines one connection may send per second, before and after login, in bursts of "
        "10 seconds' worth; past it reading pauses, and a connection over it for 10 s is closed; "
        "0 turns it off (default: %(default)s)", "UNITS_PER_SECOND",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--address-input-budget", "address_input_budget", non_negative_float,
        "the same for all connections of one address together, kept across reconnects; 0 turns it "
        "off (default: %(default)s)", "UNITS_PER_SECOND",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--min-password-length", "min_password_length", whole_number(0),
        "shortest password a registration or /passwd may set, in characters; existing passwords "
        "and the accounts file's still work; 0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--max-accounts", "max_accounts", whole_number(0),
        "registered accounts the server keeps at most; past it registrations are refused; "
        "0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--register-rate", "register_rate", whole_number(0),
        "new accounts one address may register per hour (and at once); 0 turns it off "
        "(default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    ConfigFlag(
        "--account-throttle-after", "account_throttle_after", whole_number(0),
        "failed logins for one account, from any address, before each further attempt for it is "
        "delayed (slowed, never locked); 0 turns it off (default: %(default)s)", "N",
        SECTION_PROTECTION,
    ),
    # automatic snapshots
    ConfigFlag(
        "--backup-every", "backup_every", non_negative_float,
        "take a database snapshot in DATA_DIR/backups every MINUTES (fractions allowed); "
        "0 turns it off (default: %(default)s)", "MINUTES",
        SECTION_BACKUPS,
    ),
    ConfigFlag(
        "--backup-keep", "backup_keep", whole_number(0),
        "snapshots kept, older ones are deleted; 0 keeps them all (default: %(default)s)", "N",
        SECTION_BACKUPS,
    ),
    # group limits (pollchat.core.groups.GroupLimits)
    ConfigFlag(
        "--max-groups-per-owner", "max_groups_per_owner", whole_number(0),
        "groups one account may own (default: %(default)s)", "N",
        SECTION_GROUPS,
    ),
    ConfigFlag(
        "--max-group-members", "max_group_members", whole_number(0),
        "members a group may have, its owner included (default: %(default)s)", "N",
        SECTION_GROUPS,
    ),
    ConfigFlag(
        "--max-group-requests", "max_group_requests", whole_number(0),
        "join requests that may wait in one private group (default: %(default)s)", "N",
        SECTION_GROUPS,
    ),
)
"""Every flag that sets one numeric :class:`ServerConfig` field, in ``--help`` order:
:func:`build_parser` declares them and :func:`config_from_args` reads them back, both
from this table."""


def _proxy_networks(text: str) -> tuple[str, ...]:
    """``--proxy-protocol-from``'s value: the networks as CIDR text (argparse reports the
    ``ValueError`` of a bad item as a usage error)."""
    try:
        return tuple(str(network) for network in parse_networks(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _default(name: str) -> Any:
    """The :class:`ServerConfig` default of field ``name`` (one source of truth)."""
    return {field.name: field.default for field in dataclasses.fields(ServerConfig)}[name]


def flag_default(row: ConfigFlag) -> Any:
    """The default of ``row``'s flag: its :class:`ServerConfig` field's default, given to
    the flag's own parser as if typed.

    So the default shown in ``--help`` and used is exactly what typing it would give
    (``--idle-after`` takes whole seconds: ``300``, not the field's ``300.0``), and a
    field default that the flag would refuse fails when the parser is built, not later.
    """
    value = _default(row.field)
    if value is None:  # worked out at start (--max-connections: from the open-file limit)
        return None
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return row.type(text)


def _add_config_flags(parser: argparse.ArgumentParser, *, main_options: bool) -> None:
    """Declare the rows of :data:`CONFIG_FLAGS` that are main options (``main_options``)
    or the others, each section in its own argument group, in table order. Two calls, so
    the usage line keeps the main options together, before the sections."""
    sections: dict[str, argparse._ArgumentGroup] = {}
    for row in CONFIG_FLAGS:
        if (row.section is None) != main_options:
            continue
        if row.section is None:
            container: argparse._ActionsContainer = parser
        else:
            if row.section not in sections:
                sections[row.section] = parser.add_argument_group(row.section)
            container = sections[row.section]
        container.add_argument(
            row.flag, dest=row.field, type=row.type, default=flag_default(row), metavar=row.metavar, help=row.help
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = OneLineParser(
        prog=PROG,
        description="Run the pollchat chat server: the seed-004 line protocol on TCP (and TLS), "
        "the web client with its WebSocket, and an IRC gateway for IRC clients.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--max-users",
        type=whole_number(1),
        metavar="N",
        help="simultaneous logged-in users; without it the server asks on stdin",
    )
    parser.add_argument("--host", default=_default("host"), help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=whole_number(0, 65535),
        default=_default("port"),
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--accounts", type=Path, metavar="FILE", help="TOML file of preconfigured accounts (reserved seats)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"where {DATABASE_NAME} is kept (default: $XDG_DATA_HOME/pollchat or ~/.local/share/pollchat)",
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="keep accounts and history in this PostgreSQL database (postgresql://USER@HOST[:PORT]/DB; "
        "the password from PGPASSWORD, PGPASSFILE or ~/.pgpass; needs pip install 'pollchat[postgres]') "
        f"instead of {DATABASE_NAME} in the data directory",
    )
    parser.add_argument(
        "--proxy-protocol-from",
        dest="proxy_protocol_from",
        action="append",
        type=_proxy_networks,
        default=[],
        metavar="CIDR[,CIDR...]",
        help="addresses or networks of TCP proxies (HAProxy send-proxy/send-proxy-v2, nginx "
        "proxy_protocol) whose connections begin with a PROXY protocol header: the client address "
        "in it counts for every per-address limit, ban and log line, on every port; a connection "
        "from them without a valid header is closed (repeatable; default: none)",
    )
    cluster = parser.add_argument_group("cluster (several nodes, one chat: docs/scaling.md)")
    cluster.add_argument(
        "--cluster",
        metavar="URL",
        help="join the cluster whose engine is this Redis (redis://HOST:PORT/DB); needs --database "
        "postgresql://... and pip install 'pollchat[cluster]'",
    )
    cluster.add_argument("--node-name", metavar="NAME", help="this node's name in the cluster (default: host name:port)")
    cluster.add_argument(
        "--cluster-heartbeat",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between this node's heartbeats (default: %(default)s)",
    )
    cluster.add_argument(
        "--cluster-expiry",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="a node silent this long is dead: its users are shown offline, their seats freed (default: %(default)s)",
    )
    kdf_iterations_argument(parser, default=_default("kdf_iterations"), maximum=MAX_ITERATIONS)
    _add_config_flags(parser, main_options=True)
    parser.add_argument(
        "--no-game",
        dest="games",
        action="store_false",
        help="do not offer the guess-the-number game to a user who logs in alone",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="log verbosity on stderr and in the log file (default: %(default)s)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help=f"the rotating log file ({LOG_MAX_BYTES // (1024 * 1024)} MiB, {LOG_BACKUP_COUNT} old ones kept; "
        f"default: {LOG_NAME} in the data directory)",
    )
    _add_config_flags(parser, main_options=False)
    _add_tls_flags(parser)
    _add_web_flags(parser)
    _add_irc_flags(parser)
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "encryption (TLS; see docs/operations.md for certificates, versions and ciphers)"
    )
    group.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help="PEM certificate chain; with --tls-key, also serve the line protocol over TLS",
    )
    group.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    group.add_argument(
        "--tls-port",
        type=whole_number(0, 65535),
        default=_default("tls_port"),
        metavar="PORT",
        help="TCP port of the TLS listener; 0 picks a free one (default: %(default)s)",
    )
    group.add_argument(
        "--tls-only",
        action="store_true",
        help="no plain-text listener: passwords never cross the network in clear",
    )


def _add_web_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web client (seed 003: the chat in a browser; see docs/websocket.md)")
    group.add_argument(
        "--web-port",
        type=whole_number(0, 65535),
        default=_default("web_port"),
        metavar="PORT",
        help="HTTP port of the web client and its WebSocket (/ws); HTTPS with --tls-cert; "
        "0 picks a free one (default: %(default)s)",
    )
    group.add_argument("--web-host", metavar="ADDR", help="address of the web listener (default: --host)")
    group.add_argument("--no-web", dest="web", action="store_false", help="no web client, no WebSocket endpoint")
    group.add_argument(
        "--web-allow-origin",
        dest="web_allow_origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another site allowed to open the WebSocket, e.g. https://chat.example.org (repeatable; "
        "by default only the server's own page may)",
    )
    group.add_argument(
        "--web-host-name",
        dest="web_host_names",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or address browsers reach the web client by, e.g. chat.lan or 192.168.1.10 "
        "(repeatable); any other Host gets 421, which stops DNS rebinding (by default any Host "
        "is served: set it on a LAN server)",
    )


def _add_irc_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("IRC gateway (issue 23: join from irssi, WeeChat, HexChat or a bot; see docs/irc.md)")
    group.add_argument(
        "--irc-port",
        type=whole_number(0, 65535),
        default=_default("irc_port"),
        metavar="PORT",
        help="TCP port of the IRC gateway; 0 picks a free one (default: %(default)s)",
    )
    group.add_argument(
        "--irc-tls-port",
        type=whole_number(0, 65535),
        default=_default("irc_tls_port"),
        metavar="PORT",
        help="TCP port of the IRC gateway over TLS, with --tls-cert (default: %(default)s)",
    )
    group.add_argument("--no-irc", dest="irc", action="store_false", help="no IRC gateway")
    group.add_argument(
        "--irc-guests",
        action="store_true",
        help="let an IRC client without PASS or SASL in as a guest (a name no account has; guests take registered seats)",
    )
    group.add_argument("--irc-server-name", metavar="NAME", help="the server name IRC clients see (default: the host name)")
    group.add_argument(
        "--irc-main-channel",
        default=_default("irc_main_channel"),
        metavar="#NAME",
        help="the IRC channel of the main chat (default: %(default)s)",
    )
    group.add_argument(
        "--no-irc-autojoin",
        dest="irc_autojoin",
        action="store_false",
        help="do not join IRC clients to the main channel after registration (the client joins it)",
    )


def config_from_args(args: argparse.Namespace, max_users: int) -> ServerConfig:
    """The :class:`ServerConfig` the server flags in ``args`` describe (the numeric ones
    through :data:`CONFIG_FLAGS`)."""
    return ServerConfig(
        max_users=max_users,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or default_data_dir(),
        kdf_iterations=args.kdf_iterations,
        games=args.games,
        log_file=args.log_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_port=args.tls_port,
        tls_only=args.tls_only,
        web=args.web,
        web_host=args.web_host,
        web_port=args.web_port,
        web_allow_origins=tuple(args.web_allow_origins),
        web_host_names=tuple(args.web_host_names),
        proxy_protocol_from=tuple(item for items in args.proxy_protocol_from for item in items),
        irc=args.irc,
        irc_port=args.irc_port,
        irc_tls_port=args.irc_tls_port,
        irc_guests=args.irc_guests,
        irc_server_name=args.irc_server_name,
        irc_main_channel=args.irc_main_channel,
        irc_autojoin=args.irc_autojoin,
        **{row.field: getattr(args, row.field) for row in CONFIG_FLAGS},
    )


def log_file_path(config: ServerConfig) -> Path:
    """Where the server logs: ``--log-file``, else ``pollchat.log`` in the data directory."""
    return config.log_file if config.log_file is not None else config.data_dir / LOG_NAME


def file_log_handler(path: Path) -> logging.handlers.RotatingFileHandler:
    """The rotating log-file handler (same format as stderr), mode 0600; a file that
    cannot be written is reported on stderr once, not per record
    (:class:`~pollchat.server.files.PrivateRotatingFileHandler`).

    Raises:
        ConfigError: the file cannot be opened for appending.
    """
    try:
        handler = PrivateRotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUP_COUNT, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open the log file {path}: {exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def main(argv: list[str] | None = None, stdin: TextIO | None = None) -> int:
    """Entry point of ``pollchat-server``. Returns the exit status."""
    args = build_parser().parse_args(argv)
    stdin = stdin or sys.stdin
    try:
        if args.command is not None:
            return args.run(args, stdin)
        return _serve(args, stdin)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except PollchatError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1


def _ask_max_users(stdin: TextIO) -> int:
    """Seed 004's prompt: one line from stdin, a terminal or a pipe."""
    print(texts.MAX_USERS_PROMPT, flush=True)
    answer = stdin.readline()
    if not answer:
        raise ConfigError("no answer to the max-users prompt (give --max-users N)")
    try:
        value = int(answer.strip())
    except ValueError:
        raise ConfigError(f"max users must be a whole number, got {answer.strip()!r}") from None
    if value < 1:
        raise ConfigError(f"max users must be at least 1, got {value}")
    return value


def _web_urls_for_others(server: Server) -> list[str]:
    """For a web listener on every interface, the addresses another machine can open
    (the host name, then network addresses, found by local look-ups only); none for a
    listener bound to one address (its ``web client:`` line already names it)."""
    address, url = server.web_address, server.web_url
    if address is None or url is None or address[0] not in WILDCARDS:
        return []
    scheme = url.split(":", 1)[0]
    host_name = socket.gethostname()
    return urls_for_others(scheme, address[1], host_name, local_addresses(host_name), ipv6=address[0] == "::")


def _cluster_settings(args: argparse.Namespace, port: int) -> ClusterSettings:
    """The ``--cluster`` flags, checked (a bad URL or node name is a one-line error)."""
    from pollchat.server.cluster.node import ClusterSettings, default_node_name

    settings = ClusterSettings(
        args.cluster, args.node_name or default_node_name(port), args.cluster_heartbeat, args.cluster_expiry
    )
    settings.check()
    return settings


def _serve(args: argparse.Namespace, stdin: TextIO) -> int:
    # Everything that can fail on bad input is checked before the prompt's answer is used
    # and before anything is written to disk.
    preconfigured = load_accounts_file(args.accounts) if args.accounts else []
    check_location(args.database)
    check_cluster_flags(args.cluster, args.database)
    if args.cluster is not None:  # nodes of two versions never share a cluster
        from pollchat.server.cluster.node import claim_format

        claim_format(args.cluster)
    if args.database is not None and args.backup_every > 0:
        raise ConfigError("--backup-every snapshots the SQLite file; back up PostgreSQL with pg_dump (docs/operations.md)")
    max_users = args.max_users if args.max_users is not None else _ask_max_users(stdin)
    if len(preconfigured) > max_users:
        raise ConfigError(texts.TOO_FEW_SEATS)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    raise_open_file_limit()  # before the connection cap is derived from it
    config = config_from_args(args, max_users)
    # One server per data directory, checked before the database is opened (or migrated).
    # The lock file is deleted again if the start fails, so a refused database leaves the
    # directory as it was.
    lock = DataDirLock.acquire(config.data_dir)
    database: Store | None = None
    try:
        database = open_store(config.data_dir, args.database)
        log_path = log_file_path(config)
        logging.getLogger().addHandler(file_log_handler(log_path))
        cluster = _cluster_settings(args, config.port) if args.cluster is not None else None
        server = Server(config, preconfigured, database, lock=lock, cluster=cluster)  # closes both in close()
    except BaseException:
        if database is not None:
            database.close()
        lock.release()
        raise
    server.install_signal_handlers()  # before announcing: a script may signal at once
    host, port = server.address
    tls_address = server.tls_address
    # The first line on stdout; scripts and tests wait for it. Nothing is logged before it
    # (stderr is often merged into stdout).
    if server.listener is not None:
        print(texts.LISTENING.format(host=host, port=port), flush=True)
    if tls_address is not None:
        print(texts.TLS_LISTENING.format(host=tls_address[0], port=tls_address[1]), flush=True)
    if server.web_url is not None:
        print(texts.WEB_CLIENT.format(url=server.web_url), flush=True)
        others = _web_urls_for_others(server)
        if others:
            print(texts.WEB_CLIENT_OTHERS.format(urls=" ".join(others)), flush=True)
    for label, address in (("irc", server.irc_address), ("irc tls", server.irc_tls_address)):
        if address is not None:
            print(texts.IRC_LISTENING.format(label=label, host=address[0], port=address[1]), flush=True)
    log.info("pollchat %s listening on %s:%d (pid %d); log file %s", __version__, host, port, os.getpid(), log_path)
    if tls_address is not None:
        log.info("TLS (1.2 or newer) on %s:%d with %s; SIGHUP reloads it", *tls_address, config.tls_cert)
    log.info(
        "max users %d (%d preconfigured, %d registered seats); database %s",
        max_users,
        len(preconfigured),
        max_users - len(preconfigured),
        config.data_dir / DATABASE_NAME if args.database is None else redact(args.database),
    )
    files = (log_path,) if args.database is not None else (config.data_dir / DATABASE_NAME, log_path)
    for warning in exposure_warnings(config.data_dir, files):  # other users must not read the data
        log.warning("%s", warning)
    for name, other in database.name_collisions:
        log.warning(
            "accounts %r and %r have the same name since names are NFKC-normalised; both are kept, "
            "each logs in with its own spelling (a rename of one, with /nick, ends this)",
            name,
            other,
        )
    if config.backup_every > 0:
        log.info(
            "snapshots every %g minute(s) in %s, keeping %s",
            config.backup_every,
            config.data_dir / "backups",
            config.backup_keep or "all",
        )
    if stdin.isatty():  # an operator at the server's terminal: the console
        server.attach_console(stdin.fileno(), sys.stdout)
    server.serve_forever()
    if getattr(server.service.cluster, "refused", None):  # said in the log when it was found
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
