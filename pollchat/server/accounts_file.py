"""The preconfigured accounts file (TOML), read once at start-up.

Format (``docs/operations.md``)::

    [[account]]
    name = "user1"
    role = "admin"        # optional: "admin" or "user" (the default)
    password_hash = "pbkdf2_sha256$600000$<salt>$<base64 hash>"

Seed 004 kept these accounts in the program as clear-text ``user,password`` strings;
here only hashes are accepted (make them with ``pollchat-server hash-password``, or let
``pollchat-server accounts`` edit the file). Any problem -- unreadable file, TOML syntax, a
plain ``password`` key, a bad hash, an invalid or duplicate name, a role other than
``"admin"`` or ``"user"``, an unknown key -- raises :class:`~pollchat.errors.ConfigError`
with one line naming the file and the account.

:func:`render_accounts` and :func:`save_accounts_file` write the format back (used by the
``accounts`` subcommand): ``tomllib`` only reads, so this module has its own small writer.
Comments are not kept.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pollchat.core.accounts import Account
from pollchat.core.passwords import parse_hash
from pollchat.core.seats import AccountKind
from pollchat.errors import ConfigError
from pollchat.fsutil import fsync_directory
from pollchat.protocol.names import name_key, normalize_name

_ACCOUNT_KEYS = {"name", "password_hash", "role"}
ROLE_ADMIN = "admin"
ROLE_USER = "user"
ROLES = (ROLE_ADMIN, ROLE_USER)
NEW_FILE_MODE = 0o600
"""Mode of an accounts file this module creates: it holds password hashes."""


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
        role = entry.get("role", ROLE_USER)
        if not isinstance(role, str) or role not in ROLES:
            raise ConfigError(
                f"accounts file {source}: {label} has an invalid role {_one_line(role)} "
                f'(expected "{ROLE_ADMIN}" or "{ROLE_USER}")'
            )
        key = name_key(name)
        if key in seen:
            raise ConfigError(f"accounts file {source}: {label} duplicates account {seen[key]!r}")
        seen[key] = name
        accounts.append(Account(name, password_hash, AccountKind.PRECONFIGURED, admin=role == ROLE_ADMIN))
    return accounts


def role_of(account: Account) -> str:
    """``"admin"`` or ``"user"``: the ``role`` value of ``account`` in the file."""
    return ROLE_ADMIN if account.admin else ROLE_USER


def _one_line(value: object, limit: int = 60) -> str:
    """A short, single-line ``repr`` of a bad value, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- writing -----------------------------------------------------------------------------

_TOML_ESCAPES = {"\b": r"\b", "\t": r"\t", "\n": r"\n", "\f": r"\f", "\r": r"\r", '"': r"\"", "\\": r"\\"}


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (double quotes), loadable by any TOML 1.0 reader.

    Escapes ``\\``, ``"`` and every control character (U+0000-U+001F, U+007F); other
    characters, non-ASCII included, are written as they are (the file is UTF-8).

    Raises:
        ValueError: ``value`` has a lone surrogate, which no TOML string can hold.
    """
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("a lone surrogate cannot be written to a TOML file")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


FILE_HEADER = """\
# pollchat preconfigured accounts (see docs/operations.md, "Preconfigured accounts").
# Written by 'pollchat-server accounts', which rewrites the whole file: comments are not kept.
# Restart the server to apply changes.
"""


def render_accounts(accounts: Iterable[Account]) -> str:
    """The accounts file text for ``accounts``, in order: a header comment, then one
    ``[[account]]`` table each with ``name``, ``role`` and ``password_hash``."""
    parts = [FILE_HEADER]
    for account in accounts:
        parts.append(
            "\n[[account]]\n"
            f"name = {toml_string(account.name)}\n"
            f"role = {toml_string(role_of(account))}\n"
            f"password_hash = {toml_string(account.password_hash)}\n"
        )
    return "".join(parts)


def save_accounts_file(path: Path, accounts: Iterable[Account]) -> None:
    """Replace the accounts file at ``path`` atomically with ``accounts``.

    The text goes to a temporary file in the same directory, is flushed to disk, and is
    renamed over the target (``os.replace``), so a reader sees the old file or the new
    one, never a mix. An existing file keeps its mode (and, where permitted, its owner);
    a new one gets :data:`NEW_FILE_MODE`. A symbolic link is followed: the file it points
    to is replaced and the link stays.

    Raises:
        ConfigError: the file cannot be written (one line naming it).
    """
    text = render_accounts(accounts)
    target = Path(os.path.realpath(path))
    try:
        try:
            existing: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            existing = None
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            newline="\n",
            dir=target.parent,
            prefix=f".{target.name}.",
            suffix=".tmp",
            delete=False,
        ) as tmp:
            try:
                os.fchmod(tmp.fileno(), existing.st_mode & 0o7777 if existing else NEW_FILE_MODE)
                if existing and (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(tmp.fileno(), existing.st_uid, existing.st_gid)
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        try:
            os.replace(tmp.name, target)
        except BaseException:
            os.unlink(tmp.name)
            raise
        fsync_directory(target.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write accounts file {path}: {exc.strerror or exc}") from None
