"""Command-line helpers shared by ``pollchat-server`` and ``pollchat-client``.

The house style: usage errors are one line on stderr, prefixed with the program name,
exit status 2. Imports nothing from pollchat.
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
