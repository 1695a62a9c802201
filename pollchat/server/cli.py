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
import sys
from pathlib import Path
from typing import TextIO

from pollchat import __version__, texts
from pollchat.cliargs import OneLineParser, non_negative_float, whole_number
from pollchat.config import DEFAULT_PORT, ServerConfig, default_data_dir
from pollchat.core.passwords import DEFAULT_ITERATIONS, MAX_ITERATIONS
from pollchat.errors import ConfigError, PollchatError
from pollchat.server.accounts_file import load_accounts_file
from pollchat.server.app import Server
from pollchat.server.files import PrivateRotatingFileHandler, exposure_warnings
from pollchat.server.subcommands import register_all
from pollchat.store.database import DATABASE_NAME, Database
from pollchat.store.lock import DataDirLock

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
  {PROG} --max-users 20                 listen on 0.0.0.0:{DEFAULT_PORT}
  printf '4\\n' | {PROG}                  answer the max-users prompt from a pipe
  {PROG} --max-users 4 --accounts accounts.toml
  {PROG} --max-users 4 --replay 0 --no-game   the seed-004 login flow, byte for byte
  {PROG} hash-password > hash.txt       make a password_hash for the accounts file
  {PROG} --max-users 20 --backup-every 60 --backup-keep 24   hourly snapshots
  {PROG} backup pollchat-copy.db        copy the database, also while the server runs
  {PROG} restore pollchat-copy.db       put a copy back (server stopped)
  {PROG} export --group '#familia' --out familia.txt   save a group's conversation

then, from another terminal:
  pollchat-client localhost     or     nc localhost {DEFAULT_PORT}
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = OneLineParser(
        prog=PROG,
        description="Run the pollchat chat server (seed-004 line protocol on TCP).",
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
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=whole_number(0, 65535), default=DEFAULT_PORT, help="TCP port; 0 picks a free one (default: %(default)s)"
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
        "--kdf-iterations",
        type=whole_number(1, MAX_ITERATIONS),
        default=DEFAULT_ITERATIONS,
        metavar="N",
        help="PBKDF2 iterations for new passwords (default: %(default)s; lower only for tests)",
    )
    parser.add_argument(
        "--max-output",
        type=whole_number(1024),
        default=1024 * 1024,
        metavar="BYTES",
        help="unsent bytes a client may fall behind before it is dropped (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-after",
        type=whole_number(1),
        default=300,
        metavar="SECONDS",
        help="silence after which an active user becomes inactive (default: %(default)s)",
    )
    parser.add_argument(
        "--replay",
        type=whole_number(0, 500),
        default=20,
        metavar="N",
        help="public messages replayed at login; 0 turns it off (default: %(default)s)",
    )
    parser.add_argument(
        "--no-game",
        dest="games",
        action="store_false",
        help="do not offer the guess-the-number game to a user who logs in alone",
    )
    parser.add_argument(
        "--history-keep",
        type=whole_number(1),
        default=_default("history_keep"),
        metavar="N",
        help="main-chat messages kept in the database; older ones are pruned (default: %(default)s)",
    )
    parser.add_argument(
        "--private-keep",
        type=whole_number(0),
        default=_default("private_keep"),
        metavar="N",
        help="private messages kept per conversation; older ones are pruned once read; 0 keeps all "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--group-keep",
        type=whole_number(0),
        default=_default("group_keep"),
        metavar="N",
        help="messages kept per group; older ones are pruned; 0 keeps all (default: %(default)s)",
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
    _add_protection_flags(parser)
    _add_backup_flags(parser)
    _add_group_flags(parser)
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def _default(name: str) -> object:
    """The :class:`ServerConfig` default of field ``name`` (one source of truth)."""
    return {field.name: field.default for field in dataclasses.fields(ServerConfig)}[name]


def _add_protection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("protection (every limit: 0 turns it off, unless said otherwise)")
    group.add_argument(
        "--max-connections-per-address",
        type=whole_number(0),
        default=_default("max_connections_per_address"),
        metavar="N",
        help="open connections allowed from one peer address; 0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--login-timeout",
        type=non_negative_float,
        default=_default("login_timeout"),
        metavar="SECONDS",
        help="a connection that has not logged in by then is closed; 0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--rate-limit",
        type=non_negative_float,
        default=_default("rate_limit"),
        metavar="LINES_PER_SECOND",
        help="lines per second a connection may send on average; past it the client is warned, then "
        "disconnected; 0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--rate-burst",
        type=whole_number(1),
        default=_default("rate_burst"),
        metavar="N",
        help="lines a connection may send at once within --rate-limit; at least 1 (default: %(default)s)",
    )
    group.add_argument(
        "--keepalive",
        type=non_negative_float,
        default=_default("keepalive"),
        metavar="SECONDS",
        help="silence before a peer is probed and dropped if dead; 0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--throttle-after",
        type=whole_number(0),
        default=_default("throttle_after"),
        metavar="N",
        help="failed logins from one address for one account before further attempts are delayed; "
        "0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--lockout-after",
        type=whole_number(0),
        default=_default("lockout_after"),
        metavar="N",
        help="failed logins from one address for one account before that pair is locked out; "
        "0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--address-lockout-after",
        type=whole_number(0),
        default=_default("address_lockout_after"),
        metavar="N",
        help="failed logins from one address, any account, before the address is locked out; "
        "0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--lockout-seconds",
        type=non_negative_float,
        default=_default("lockout_seconds"),
        metavar="SECONDS",
        help="how long a lockout lasts (default: %(default)s)",
    )
    group.add_argument(
        "--offline-quota",
        type=whole_number(0),
        default=_default("offline_quota"),
        metavar="N",
        help="unread private messages an offline user may have waiting; past it the sender is told the "
        "mailbox is full; 0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--min-password-length",
        type=whole_number(0),
        default=_default("min_password_length"),
        metavar="N",
        help="shortest password a registration or /passwd may set, in characters; existing passwords "
        "and the accounts file's still work; 0 turns it off (default: %(default)s)",
    )


def _add_group_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("groups (0 turns a limit off)")
    group.add_argument(
        "--max-groups-per-owner",
        type=whole_number(0),
        default=_default("max_groups_per_owner"),
        metavar="N",
        help="groups one account may own (default: %(default)s)",
    )
    group.add_argument(
        "--max-group-members",
        type=whole_number(0),
        default=_default("max_group_members"),
        metavar="N",
        help="members a group may have, its owner included (default: %(default)s)",
    )
    group.add_argument(
        "--max-group-requests",
        type=whole_number(0),
        default=_default("max_group_requests"),
        metavar="N",
        help="join requests that may wait in one private group (default: %(default)s)",
    )


def _add_backup_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backups")
    group.add_argument(
        "--backup-every",
        type=non_negative_float,
        default=_default("backup_every"),
        metavar="MINUTES",
        help="take a database snapshot in DATA_DIR/backups every MINUTES (fractions allowed); "
        "0 turns it off (default: %(default)s)",
    )
    group.add_argument(
        "--backup-keep",
        type=whole_number(0),
        default=_default("backup_keep"),
        metavar="N",
        help="snapshots kept, older ones are deleted; 0 keeps them all (default: %(default)s)",
    )


def config_from_args(args: argparse.Namespace, max_users: int) -> ServerConfig:
    """The :class:`ServerConfig` the server flags in ``args`` describe."""
    return ServerConfig(
        max_users=max_users,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or default_data_dir(),
        kdf_iterations=args.kdf_iterations,
        max_output=args.max_output,
        idle_after=args.idle_after,
        replay=args.replay,
        games=args.games,
        history_keep=args.history_keep,
        private_keep=args.private_keep,
        group_keep=args.group_keep,
        offline_quota=args.offline_quota,
        max_connections_per_address=args.max_connections_per_address,
        login_timeout=args.login_timeout,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        keepalive=args.keepalive,
        throttle_after=args.throttle_after,
        lockout_after=args.lockout_after,
        address_lockout_after=args.address_lockout_after,
        lockout_seconds=args.lockout_seconds,
        backup_every=args.backup_every,
        backup_keep=args.backup_keep,
        log_file=args.log_file,
        max_groups_per_owner=args.max_groups_per_owner,
        max_group_members=args.max_group_members,
        max_group_requests=args.max_group_requests,
        min_password_length=args.min_password_length,
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


def _serve(args: argparse.Namespace, stdin: TextIO) -> int:
    # Everything that can fail on bad input is checked before the prompt's answer is used
    # and before anything is written to disk.
    preconfigured = load_accounts_file(args.accounts) if args.accounts else []
    max_users = args.max_users if args.max_users is not None else _ask_max_users(stdin)
    if len(preconfigured) > max_users:
        raise ConfigError(texts.TOO_FEW_SEATS)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    config = config_from_args(args, max_users)
    # One server per data directory, checked before the database is opened (or migrated).
    # The lock file is deleted again if the start fails, so a refused database leaves the
    # directory as it was.
    lock = DataDirLock.acquire(config.data_dir)
    database: Database | None = None
    try:
        database = Database.open(config.data_dir / DATABASE_NAME)
        log_path = log_file_path(config)
        logging.getLogger().addHandler(file_log_handler(log_path))
        server = Server(config, preconfigured, database, lock=lock)  # closes both in close()
    except BaseException:
        if database is not None:
            database.close()
        lock.release()
        raise
    server.install_signal_handlers()  # before announcing: a script may signal at once
    host, port = server.address
    # The first line on stdout; scripts and tests wait for it. Nothing is logged before it
    # (stderr is often merged into stdout).
    print(texts.LISTENING.format(host=host, port=port), flush=True)
    log.info("pollchat %s listening on %s:%d (pid %d); log file %s", __version__, host, port, os.getpid(), log_path)
    log.info(
        "max users %d (%d preconfigured, %d registered seats); database %s",
        max_users,
        len(preconfigured),
        max_users - len(preconfigured),
        database.path,
    )
    for warning in exposure_warnings(config.data_dir, (database.path, log_path)):  # issue 14
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
    if stdin.isatty():  # an operator at the server's terminal: the console (issue 5)
        server.attach_console(stdin.fileno(), sys.stdout)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
