"""How many new accounts one address may make: a token bucket per address, so
one address cannot mint names faster than an operator can ban them.

Eighteen connections made 355 permanent accounts in 25 s at the default KDF; every
account is a row forever and a name nobody else can take. ``per_hour`` registrations
refill per address per hour, up to ``per_hour`` at once (a family behind one router can
sign up together). Times are passed in (monotonic seconds), so it is pure.

Memory is bounded: an address whose bucket is full again is forgotten, and at most
:data:`MAX_ADDRESSES` are kept (the oldest dropped first).
"""

from __future__ import annotations

from collections import OrderedDict

from pollchat.core.ratelimit import TokenBucket

MAX_ADDRESSES = 100_000
"""Addresses remembered at most."""


class RegistrationLimit:
    """Registrations allowed per address.

    Args:
        per_hour: new accounts one address may make per hour (and at once); 0 turns the
            limit off.
    """

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, address: str, now: float) -> bool:
        """Count one registration from ``address`` at ``now``; ``False`` if over the limit."""
        if not self.per_hour:
            return True
        bucket = self._buckets.pop(address, None)
        if bucket is None:
            bucket = TokenBucket(self.per_hour / 3600.0, self.per_hour, now)
        allowed = bucket.take(now)
        self._buckets[address] = bucket  # newest last
        self._forget(now)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget(self, now: float) -> None:
        # Full buckets carry no information; the oldest entries go first.
        while self._buckets:
            address, bucket = next(iter(self._buckets.items()))
            refilled = bucket.tokens + (now - bucket.stamp) * bucket.rate >= bucket.burst
            if not refilled and len(self._buckets) <= MAX_ADDRESSES:
                break
            del self._buckets[address]
