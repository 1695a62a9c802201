"""``pollchat-server``: run the chat server, or an operator tool (``subcommands``).

Exit status: 0 after a clean shutdown, 1 on an unexpected error, 2 on a usage or
configuration error (always one line on stderr, prefixed ``pollchat-server:``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from pollchat import __version__, texts
from pollchat.cliargs import OneLineParser, whole_number
from pollchat.config import DEFAULT_PORT, ServerConfig, default_data_dir
from pollchat.core.passwords import DEFAULT_ITERATIONS, MAX_ITERATIONS
from pollchat.errors import ConfigError, PollchatError
from pollchat.server.accounts_file import load_accounts_file
from pollchat.server.app import Server
from pollchat.server.subcommands import register_all
from pollchat.store.database import DATABASE_NAME, Database

PROG = "pollchat-server"
log = logging.getLogger("pollchat.server")

EPILOG = f"""\
examples:
  {PROG} --max-users 20                 listen on 0.0.0.0:{DEFAULT_PORT}
  printf '4\\n' | {PROG}                  answer the max-users prompt from a pipe
  {PROG} --max-users 4 --accounts accounts.toml
  {PROG} --max-users 4 --replay 0 --no-game   the seed-004 login flow, byte for byte
  {PROG} hash-password > hash.txt       make a password_hash for the accounts file

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
        default=100_000,
        metavar="N",
        help="messages kept in the database; older ones are pruned (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="log verbosity on stderr (default: %(default)s)",
    )
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


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
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    data_dir = args.data_dir or default_data_dir()
    config = ServerConfig(
        max_users=max_users,
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        kdf_iterations=args.kdf_iterations,
        max_output=args.max_output,
        idle_after=args.idle_after,
        replay=args.replay,
        games=args.games,
        history_keep=args.history_keep,
    )
    database = Database.open(data_dir / DATABASE_NAME)
    try:
        server = Server(config, preconfigured, database)
    except BaseException:
        database.close()
        raise
    server.install_signal_handlers()  # before announcing: a script may signal at once
    host, port = server.address
    # The first line on stdout; scripts and tests wait for it.
    print(texts.LISTENING.format(host=host, port=port), flush=True)
    log.info(
        "max users %d (%d preconfigured, %d registered seats); database %s",
        max_users,
        len(preconfigured),
        max_users - len(preconfigured),
        database.path,
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
