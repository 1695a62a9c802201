"""The preconfigured accounts file (TOML), read once at start-up.

Format (``docs/operations.md``)::

    [[account]]
    name = "user1"
    password_hash = "pbkdf2_sha256$600000$<salt>$<base64 hash>"

Seed 004 kept these accounts in the program as clear-text ``user,password`` strings;
here only hashes are accepted (make them with ``pollchat-server hash-password``). Any
problem -- unreadable file, TOML syntax, a plain ``password`` key, a bad hash, an invalid
or duplicate name, an unknown key -- raises :class:`~pollchat.errors.ConfigError` with one
line naming the file and the account.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pollchat.core.accounts import Account
from pollchat.core.passwords import parse_hash
from pollchat.core.seats import AccountKind
from pollchat.errors import ConfigError
from pollchat.protocol.names import name_key, normalize_name

_ACCOUNT_KEYS = {"name", "password_hash"}


def load_accounts_file(path: Path) -> list[Account]:
    """Read and validate the accounts file at ``path``.

    Returns:
        The preconfigured accounts, in file order.
    Raises:
        ConfigError: on any problem, with a one-line message.
    """
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read accounts file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"accounts file {path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"accounts file {path}: not UTF-8 text (byte {exc.start})") from None
    return parse_accounts(document, str(path))


def parse_accounts(document: dict[str, object], source: str) -> list[Account]:
    """Validate a parsed accounts document (see module docstring).

    Args:
        document: what ``tomllib`` returned.
        source: the file name, for messages.
    Raises:
        ConfigError: on any problem.
    """
    unknown = set(document) - {"account"}
    if unknown:
        raise ConfigError(f"accounts file {source}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    entries = document.get("account", [])
    if not isinstance(entries, list):
        raise ConfigError(f"accounts file {source}: 'account' must be an array of tables ([[account]])")
    accounts: list[Account] = []
    seen: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        label = f"account #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"accounts file {source}: {label} is not a table")
        raw_name = entry.get("name")
        if isinstance(raw_name, str):
            label = f"account {raw_name!r}"
        if "password" in entry:
            raise ConfigError(
                f"accounts file {source}: {label} has a plain 'password'; store a 'password_hash' "
                "made with 'pollchat-server hash-password' instead"
            )
        extra = set(entry) - _ACCOUNT_KEYS
        if extra:
            raise ConfigError(f"accounts file {source}: {label} has unknown key(s): {', '.join(sorted(extra))}")
        name = normalize_name(raw_name) if isinstance(raw_name, str) else None
        if name is None:
            raise ConfigError(
                f"accounts file {source}: {label} has an invalid name (1-32 letters, digits, '_', '-', '.')"
            )
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str):
            raise ConfigError(f"accounts file {source}: {label} has no 'password_hash'")
        try:
            parse_hash(password_hash)
        except ValueError as exc:
            raise ConfigError(f"accounts file {source}: {label} has a bad password_hash: {exc}") from None
        key = name_key(name)
        if key in seen:
            raise ConfigError(f"accounts file {source}: {label} duplicates account {seen[key]!r}")
        seen[key] = name
        accounts.append(Account(name, password_hash, AccountKind.PRECONFIGURED))
    return accounts
