"""``pollchat-server hash-password``: a password hash for the accounts file."""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from pollchat.cliargs import kdf_iterations_argument
from pollchat.core.passwords import DEFAULT_ITERATIONS, MAX_ITERATIONS, hash_password
from pollchat.errors import ConfigError
from pollchat.protocol.session import has_control_characters


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``hash-password`` parser."""
    parser = subparsers.add_parser(
        "hash-password",
        help="read a password and print its hash for the accounts file",
        description="Read a password (from a terminal without echo, or one line of stdin) and print "
        "its PBKDF2-SHA256 hash in Django's format, for password_hash in the accounts file.",
    )
    kdf_iterations_argument(
        parser,
        flag="--iterations",
        default=DEFAULT_ITERATIONS,
        maximum=MAX_ITERATIONS,
        help="PBKDF2 iterations (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def read_new_password(stdin: TextIO) -> str:
    """A new password: asked twice without echo on a terminal, else one line of stdin.

    Raises:
        ConfigError: the two entries differ, or the password is empty, not UTF-8, or
            has a control character (clients could never type it).
    """
    if stdin.isatty():
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            raise ConfigError("the passwords do not match")
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise ConfigError("empty password")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("the password is not valid UTF-8") from None
    if has_control_characters(password):
        raise ConfigError("the password has a control character; clients cannot send it")
    return password


def run(args: argparse.Namespace, stdin: TextIO) -> int:
    """Print the hash of the password read from ``stdin``."""
    print(hash_password(read_new_password(stdin), args.iterations))
    return 0
