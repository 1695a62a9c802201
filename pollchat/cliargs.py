"""Command-line helpers shared by ``pollchat-server`` and ``pollchat-client``.

The house style: usage errors are one line on stderr, prefixed with the program name,
exit status 2. Imports nothing from pollchat (tests/unit/test_layers.py: the client uses
it too and may not reach ``pollchat.core``), so values owned by other layers, such as the
PBKDF2 iteration bounds, are passed in by the caller.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are a single line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` that accepts whole numbers from ``low`` to ``high``.

    Raises (from the returned function):
        argparse.ArgumentTypeError: not a whole number, or out of range.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def non_negative_float(text: str) -> float:
    """An argparse ``type=`` that accepts a finite number >= 0 (``30``, ``0.5``, ``1e3``).

    Raises:
        argparse.ArgumentTypeError: not a number, negative, infinite or NaN.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text}")
    return value


def kdf_iterations_argument(
    parser: argparse._ActionsContainer,
    *,
    default: int,
    maximum: int,
    flag: str = "--kdf-iterations",
    help: str = "PBKDF2 iterations for new passwords (default: %(default)s; lower only for tests)",
) -> argparse.Action:
    """Declare the flag that sets the PBKDF2 iteration count of new password hashes.

    One declaration for every tool that hashes passwords (``pollchat-server
    --kdf-iterations``, ``hash-password --iterations``, ``accounts add|passwd
    --iterations``), so they accept and refuse the same values: a whole number from 1 to
    ``maximum`` (the bound :func:`pollchat.core.passwords.parse_hash` accepts in a stored
    hash), shown as ``N``.

    Args:
        parser: the parser or argument group to add the flag to.
        default: iterations when the flag is absent (the caller's own default, e.g.
            ``ServerConfig.kdf_iterations`` or ``pollchat.core.passwords.DEFAULT_ITERATIONS``).
        maximum: the largest accepted value (``pollchat.core.passwords.MAX_ITERATIONS``).
        flag: the option's name; the subcommands keep their historical ``--iterations``.
        help: the ``--help`` text; ``%(default)s`` shows the default.

    Returns:
        The argparse action (its ``dest`` is derived from ``flag``).
    """
    return parser.add_argument(flag, type=whole_number(1, maximum), default=default, metavar="N", help=help)
