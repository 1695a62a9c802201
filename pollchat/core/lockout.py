"""Brute-force protection for logins (seed 000: "Brute Force attempts").

Failures are counted per source address and per (address, account) pair, never per
account alone: a lockout keyed by the target account would let anyone lock a user out
(atheme #725, "throttle by source, not by target"); keyed by address, an attacker
cannot lock the user out from the user's own address.

For a pair, after ``throttle_after`` failures each further attempt must wait a growing
delay after the last failure (1 s, 2 s, 4 s ... at most :data:`MAX_DELAY`); after
``lockout_after`` failures the pair is locked for ``lockout_seconds``. An address with
``address_lockout_after`` failures (any accounts) is locked likewise. Counts are
forgotten ``lockout_seconds`` after the last failure, and a successful login clears its
pair. Attempts under way (between :meth:`LoginThrottle.begin` and ``end``) count too, so
parallel connections do not multiply the allowed guesses.

One budget spans addresses: after ``account_throttle_after`` failures for one account,
from anywhere, each further attempt for it is delayed the same growing way. It slows a
guesser spread over many addresses (a botnet) but never locks the account: the real user
waits at most :data:`MAX_DELAY` seconds, as an XMPP or IRC services' throttle would: slowing,
not locking, so an attacker cannot lock a user out.

Every threshold 0 turns that rule off. Times are passed in (epoch or monotonic seconds,
the caller's choice), so tests need no clock.

Memory is bounded: entries older than ``lockout_seconds`` are dropped as new failures
arrive, and at most :data:`MAX_ENTRIES` entries are kept (oldest dropped first).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

MAX_DELAY = 30.0
"""The longest delay between two attempts before a lockout (seconds)."""
MAX_ENTRIES = 100_000
"""Failure records kept at most (pairs and addresses), so a flood of made-up names
cannot grow memory without bound."""


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Decides whether a login attempt may be checked now.

    Args:
        throttle_after: failures of one (address, account) pair before delays start.
        lockout_after: failures of a pair before it is locked out.
        address_lockout_after: failures from one address before it is locked out.
        lockout_seconds: how long a lockout lasts, and how long failures are remembered.
        account_throttle_after: failures for one account, from any address, before each
            further attempt for it is delayed (never locked); 0 turns it off.
    """

    def __init__(
        self,
        throttle_after: int,
        lockout_after: int,
        address_lockout_after: int,
        lockout_seconds: float,
        account_throttle_after: int = 0,
    ) -> None:
        self.throttle_after = throttle_after
        self.lockout_after = lockout_after
        self.address_lockout_after = address_lockout_after
        self.lockout_seconds = lockout_seconds
        self.account_throttle_after = account_throttle_after
        self._records: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._pending: dict[tuple[str, str], int] = {}  # attempts begun, not yet decided

    def wait(self, address: str, account: str, now: float) -> float:
        """Seconds the attempt must wait before its password is checked: 0 for now,
        ``math.inf`` while the pair or the address is locked out."""
        pair = self._fresh((address, account), now)
        whole = self._fresh((address, ""), now)
        # Attempts still being checked count as failures-to-be, so twenty connections
        # trying at once are spread out like twenty attempts one after the other.
        pair_count = (pair.count if pair else 0) + self._pending.get((address, account), 0)
        whole_count = (whole.count if whole else 0) + self._pending.get((address, ""), 0)
        if self.address_lockout_after and whole_count >= self.address_lockout_after:
            return math.inf
        if self.lockout_after and pair_count >= self.lockout_after:
            return math.inf
        wait = 0.0
        if self.throttle_after and pair_count >= self.throttle_after:
            wait = _delay(pair_count - self.throttle_after, pair.last if pair else now, now)
        if self.account_throttle_after:
            account_record = self._fresh(("", account), now)
            account_count = (account_record.count if account_record else 0) + self._pending.get(("", account), 0)
            if account_count >= self.account_throttle_after:
                last = account_record.last if account_record else now
                wait = max(wait, _delay(account_count - self.account_throttle_after, last, now))
        return wait

    def locked_for(self, address: str, account: str, now: float) -> float:
        """Seconds until the lockout that makes :meth:`wait` infinite ends (0 if none):
        what the client is told instead of a misleading ``Wrong Password``."""
        if self.wait(address, account, now) != math.inf:
            return 0.0
        ends = []
        for key, limit in (((address, account), self.lockout_after), ((address, ""), self.address_lockout_after)):
            record = self._fresh(key, now)
            if limit and record is not None and record.count >= limit:
                ends.append(record.last + self.lockout_seconds - now)
        # Locked by attempts still under way: they will count once decided.
        return max(ends) if ends else self.lockout_seconds

    def begin(self, address: str, account: str) -> None:
        """An attempt was let through :meth:`wait` and is being checked; call
        :meth:`end` when its outcome is known (or it is abandoned)."""
        for key in self._keys(address, account):
            self._pending[key] = self._pending.get(key, 0) + 1

    def end(self, address: str, account: str) -> None:
        """The attempt begun with :meth:`begin` is decided or abandoned."""
        for key in self._keys(address, account):
            left = self._pending.get(key, 0) - 1
            if left > 0:
                self._pending[key] = left
            else:
                self._pending.pop(key, None)

    def failed(self, address: str, account: str, now: float) -> bool:
        """Count a failed attempt. Returns True if it just caused a lockout (to log)."""
        before = self.wait(address, account, now)
        for key in self._keys(address, account):
            record = self._fresh(key, now)
            if record is None:
                record = self._records[key] = _Failures(0, now)
            record.count += 1
            record.last = now
            self._records.move_to_end(key)
        self._forget_old(now)
        return before != math.inf and self.wait(address, account, now) == math.inf

    def succeeded(self, address: str, account: str) -> None:
        """A login succeeded: forget the pair's failures (not the address's, nor the
        account's budget, which counts other addresses' guesses)."""
        self._records.pop((address, account), None)

    def _keys(self, address: str, account: str) -> tuple[tuple[str, str], ...]:
        """The records one attempt counts in: the pair, the address, and (when its
        budget is on) the account across addresses."""
        if self.account_throttle_after:
            return ((address, account), (address, ""), ("", account))
        return ((address, account), (address, ""))

    def __len__(self) -> int:
        return len(self._records)

    def _fresh(self, key: tuple[str, str], now: float) -> _Failures | None:
        record = self._records.get(key)
        if record is not None and now - record.last >= self.lockout_seconds:
            del self._records[key]
            return None
        return record

    def _forget_old(self, now: float) -> None:
        # Oldest first (move_to_end on every failure keeps the order).
        while self._records:
            key, record = next(iter(self._records.items()))
            if now - record.last < self.lockout_seconds and len(self._records) <= MAX_ENTRIES:
                break
            del self._records[key]


def _delay(over: int, last: float, now: float) -> float:
    """Seconds left of the growing delay (1, 2, 4 ... :data:`MAX_DELAY`) that follows the
    failure at ``last``, ``over`` failures past a threshold."""
    return max(0.0, last + min(MAX_DELAY, 2.0**over) - now)
