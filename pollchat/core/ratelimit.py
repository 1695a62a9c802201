"""A token bucket: how many lines a connection may send, on average and at once.

``rate`` tokens per second refill up to ``burst``; each line takes one. Times are passed
in (monotonic seconds), so the bucket is pure and tests need no clock.
"""

from __future__ import annotations


class TokenBucket:
    """One connection's allowance.

    Args:
        rate: tokens added per second (> 0).
        burst: the most tokens held (>= 1); a full bucket lets ``burst`` lines through
            at once.
        now: the time the bucket is created (it starts full).
    """

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        """Take one token at ``now``; ``False`` if none is left (the line is over the limit)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
