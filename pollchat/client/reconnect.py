"""When to try the server again: exponential backoff with jitter (pure, no clock).

Seed 000 asks that "the client can wait until the server is available". After a failed
connection or a dropped session the TUI waits :meth:`Backoff.next_delay` seconds, shows
``reconnecting in Ns``, and tries again; a successful login calls :meth:`Backoff.reset`.

The delay for attempt ``n`` (0-based) is drawn from ``[c * (1 - jitter), c]`` where
``c = min(cap, base * factor ** n)``: it grows, is capped, and never drops below half
(with the default jitter) of the nominal value, while the randomness keeps a crowd of
clients cut off by one server restart from coming back in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def backoff_delay(
    attempt: int,
    rand: float,
    *,
    base: float = 1.0,
    factor: float = 2.0,
    cap: float = 30.0,
    jitter: float = 0.5,
) -> float:
    """Seconds to wait before try number ``attempt`` (0 for the first retry).

    Args:
        attempt: how many retries came before this one (>= 0).
        rand: a number in ``[0, 1)`` (``random.random()``); 0 gives the shortest delay
            of the range, values near 1 the longest.
        base: seconds before the first retry, before jitter.
        factor: growth per attempt.
        cap: the longest nominal delay, seconds.
        jitter: the fraction of the nominal delay that is random, from 0 (none) to 1.

    Returns:
        A delay in ``[nominal * (1 - jitter), nominal]`` seconds.
    """
    exponent = min(max(attempt, 0), 64)  # 2**64 s is past any cap; avoids overflow
    nominal = min(cap, base * factor**exponent)
    rand = min(max(rand, 0.0), 1.0)
    return nominal * (1.0 - jitter) + nominal * jitter * rand


@dataclass
class Backoff:
    """The retry policy of one client: counts attempts, hands out delays.

    Attributes:
        base, factor, cap, jitter: see :func:`backoff_delay`.
        rand: the random source, ``random.random`` by default (tests inject their own).
        attempts: retries handed out since the last :meth:`reset`.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def next_delay(self) -> float:
        """The delay before the next try, in seconds; counts one more attempt."""
        delay = backoff_delay(
            self.attempts, self.rand(), base=self.base, factor=self.factor, cap=self.cap, jitter=self.jitter
        )
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """The connection works again (logged in): the next failure starts from ``base``."""
        self.attempts = 0
