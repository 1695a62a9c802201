"""``pollchat-server accounts FILE ACTION``: edit the preconfigured accounts file safely.

Actions: ``add NAME [--role admin|user] [--iterations N]``, ``list``, ``remove NAME``,
``set-role NAME admin|user`` and ``passwd NAME [--iterations N]``. Passwords are read as
``hash-password`` reads them (twice without echo on a terminal, else one line of stdin)
and only their hashes are stored.

Every change first loads and validates the whole file with
:func:`~pollchat.server.accounts_file.load_accounts_file` (a file that does not load is
never touched), then writes the new file atomically with
:func:`~pollchat.server.accounts_file.save_accounts_file`. Comments are not kept. The
server reads the file only at start-up, so it must be restarted to apply a change.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from pollchat.cliargs import kdf_iterations_argument
from pollchat.core.accounts import Account
from pollchat.core.passwords import DEFAULT_ITERATIONS, MAX_ITERATIONS, hash_password
from pollchat.core.seats import AccountKind
from pollchat.errors import ConfigError
from pollchat.protocol.names import name_key, normalize_name
from pollchat.server.accounts_file import (
    ROLE_ADMIN,
    ROLE_USER,
    ROLES,
    load_accounts_file,
    role_of,
    save_accounts_file,
)
from pollchat.server.subcommands.hash_password import read_new_password

RESTART = "restart the server to apply"

EPILOG = """\
examples:
  pollchat-server accounts accounts.toml add alice --role admin   asks for the password twice
  printf 'secret\\n' | pollchat-server accounts accounts.toml add bob
  pollchat-server accounts accounts.toml list
  pollchat-server accounts accounts.toml set-role bob admin
  pollchat-server accounts accounts.toml passwd alice
  pollchat-server accounts accounts.toml remove bob

The file is read and checked before every change (a file that does not load is left
alone), then replaced atomically with its mode kept (0600 for a new file). Comments in
the file are not kept. The server reads the file only at start-up: restart it to apply
changes. A name that starts with '-' goes after '--': remove -- -bob
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``accounts`` parser and its actions."""
    parser = subparsers.add_parser(
        "accounts",
        help="add, list, remove accounts in the accounts file, or change their role or password",
        description="Edit the preconfigured accounts file (the --accounts FILE of the server) "
        "without writing hashes by hand. Passwords are read like hash-password reads them: twice "
        "without echo on a terminal, else one line of stdin.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("accounts_path", type=Path, metavar="FILE", help="the accounts file (TOML)")
    actions = parser.add_subparsers(dest="accounts_action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="add an account (creates FILE if missing); reads its password",
        description="Add an account to FILE, creating FILE (mode 0600) if it does not exist.",
    )
    add.add_argument("name", metavar="NAME", help="1-32 letters, digits, '_', '-', '.'; unique in any case")
    add.add_argument("--role", choices=ROLES, default=ROLE_USER, help="(default: %(default)s)")
    _iterations_argument(add)
    add.set_defaults(run=run_add)

    listing = actions.add_parser(
        "list", help="print each account's name and role (never a hash)", description="Print one line per "
        "account: its name and its role, in file order. Hashes are never printed."
    )
    listing.set_defaults(run=run_list)

    remove = actions.add_parser("remove", help="remove an account", description="Remove an account from FILE.")
    remove.add_argument("name", metavar="NAME", help="the account (any case)")
    remove.set_defaults(run=run_remove)

    set_role = actions.add_parser(
        "set-role", help="make an account an admin or a plain user", description="Change an account's role."
    )
    set_role.add_argument("name", metavar="NAME", help="the account (any case)")
    set_role.add_argument("role", choices=ROLES, metavar="ROLE", help="admin or user")
    set_role.set_defaults(run=run_set_role)

    passwd = actions.add_parser(
        "passwd", help="give an account a new password", description="Read a new password for an account."
    )
    passwd.add_argument("name", metavar="NAME", help="the account (any case)")
    _iterations_argument(passwd)
    passwd.set_defaults(run=run_passwd)


def _iterations_argument(parser: argparse.ArgumentParser) -> None:
    kdf_iterations_argument(
        parser,
        flag="--iterations",
        default=DEFAULT_ITERATIONS,
        maximum=MAX_ITERATIONS,
        help="PBKDF2 iterations of the new hash (default: %(default)s)",
    )


# --- actions ---------------------------------------------------------------------------------


def run_add(args: argparse.Namespace, stdin: TextIO) -> int:
    """Add an account; the file is created if missing."""
    path: Path = args.accounts_path
    name = _valid_name(args.name)
    accounts = load_accounts_file(path) if _exists(path) else []
    for account in accounts:
        if account.key == name_key(name):
            raise ConfigError(f"{path} already has an account {account.name!r}")
    password_hash = hash_password(read_new_password(stdin), args.iterations)
    accounts.append(Account(name, password_hash, AccountKind.PRECONFIGURED, admin=args.role == ROLE_ADMIN))
    save_accounts_file(path, accounts)
    print(f"added {args.role} account {name} to {path}; {RESTART}")
    return 0


def run_list(args: argparse.Namespace, stdin: TextIO) -> int:
    """Print each account's name and role."""
    accounts = load_accounts_file(args.accounts_path)
    width = max((len(account.name) for account in accounts), default=0)
    for account in accounts:
        print(f"{account.name:<{width}}  {role_of(account)}")
    return 0


def run_remove(args: argparse.Namespace, stdin: TextIO) -> int:
    """Remove an account."""
    path: Path = args.accounts_path
    accounts = load_accounts_file(path)
    index = _find(accounts, args.name, path)
    removed = accounts.pop(index)
    save_accounts_file(path, accounts)
    print(f"removed account {removed.name} from {path}; {RESTART}")
    return 0


def run_set_role(args: argparse.Namespace, stdin: TextIO) -> int:
    """Change an account's role (nothing is written if it has that role already)."""
    path: Path = args.accounts_path
    accounts = load_accounts_file(path)
    index = _find(accounts, args.name, path)
    account = accounts[index]
    if role_of(account) == args.role:
        print(f"{account.name} is already {_a(args.role)} in {path}; nothing changed")
        return 0
    accounts[index] = Account(account.name, account.password_hash, account.kind, admin=args.role == ROLE_ADMIN)
    save_accounts_file(path, accounts)
    print(f"{account.name} is now {_a(args.role)} in {path}; {RESTART}")
    return 0


def run_passwd(args: argparse.Namespace, stdin: TextIO) -> int:
    """Give an account a new password."""
    path: Path = args.accounts_path
    accounts = load_accounts_file(path)
    index = _find(accounts, args.name, path)
    account = accounts[index]
    password_hash = hash_password(read_new_password(stdin), args.iterations)
    accounts[index] = Account(account.name, password_hash, account.kind, admin=account.admin)
    save_accounts_file(path, accounts)
    print(f"changed the password of {account.name} in {path}; {RESTART}")
    return 0


# --- helpers ---------------------------------------------------------------------------------


def _valid_name(raw: str) -> str:
    name = normalize_name(raw)
    if name is None:
        raise ConfigError(f"invalid account name {raw!r} (1-32 letters, digits, '_', '-', '.')")
    return name


def _find(accounts: list[Account], raw: str, path: Path) -> int:
    """The index of the account called ``raw`` (any case).

    Raises:
        ConfigError: the name is invalid or there is no such account.
    """
    key = name_key(_valid_name(raw))
    for index, account in enumerate(accounts):
        if account.key == key:
            return index
    raise ConfigError(f"{path} has no account {raw!r}")


def _exists(path: Path) -> bool:
    """False only when nothing is at ``path`` (a dangling link counts as nothing), so
    every other problem is reported by the loader."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _a(role: str) -> str:
    return "an admin" if role == ROLE_ADMIN else "a user"
