"""``pollchat-server`` subcommands that do not run the server (operator tools).

Each module has ``register(subparsers)``, which adds its parser and sets
``run=function(args, stdin) -> int`` as the parser default. ``pollchat.server.cli`` calls
:func:`register_all`; ``main`` runs ``args.run`` when a subcommand was given. Errors are
raised as :class:`~pollchat.errors.ConfigError` (one line, exit 2) or another
:class:`~pollchat.errors.PollchatError` (one line, exit 1).
"""

from __future__ import annotations

import argparse

from pollchat.server.subcommands import accounts, backup, export, hash_password, migrate

MODULES = (hash_password, accounts, backup, export, migrate)


def register_all(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add every subcommand's parser."""
    for module in MODULES:
        module.register(subparsers)
