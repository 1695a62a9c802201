"""An input budget: how much a client may make the server parse, on average and at once.

Every WebSocket frame and every line a client sends costs the server work, before and
after login, whether or not it is a chat line (a ping, an empty continuation frame, an
empty line). The budget counts them as *units* and refills at ``rate`` units per second,
up to ``burst_seconds`` seconds' worth; it may be overdrawn by the work already done,
and a client in debt is not read from until the debt is paid (ngIRCd's penalty idea:
pause reading rather than drop at once).

It is the generic cell rate algorithm (GCRA, the ATM Forum's, as in Redis's
``redis-cell``): the whole state is one number, the *theoretical arrival time* ``tat``
in monotonic seconds, at which the budget would be full again. Charging ``units`` moves
it ``units / rate`` seconds later (from now, if it was in the past); the client is in
debt while ``tat`` is more than ``burst_seconds`` ahead of now. One float per client,
nothing to refill on a timer. Times are passed in: pure, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputBudget:
    """The shape of one budget (per connection, or per address).

    Attributes:
        rate: units per second on average (> 0).
        burst_seconds: how many seconds' worth of units may come at once (> 0); also
            how far ahead ``tat`` may run before the client is in debt.
    """

    rate: float
    burst_seconds: float = 10.0

    @property
    def burst(self) -> float:
        """Units a fresh budget lets through at once (``rate * burst_seconds``)."""
        return self.rate * self.burst_seconds

    def charge(self, tat: float, now: float, units: int) -> float:
        """The new ``tat`` after ``units`` of work at ``now`` (``tat`` 0: fresh)."""
        return max(tat, now) + units / self.rate

    def wait(self, tat: float, now: float) -> float:
        """Seconds until the debt is paid: > 0 while in debt, else <= 0."""
        return tat - now - self.burst_seconds
