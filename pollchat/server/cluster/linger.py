"""Whether a cluster node's main-chat lines from the bus wait a moment for more.

A single server sends a burst's lines (several users answering at once) to each member
in one ``send()``. A cluster node gets the same burst as several bus entries, one per
node that took lines and often one per loop pass of each, and without waiting it flushes
each to every member: on the 2-core development machine, two nodes x 500 members made up
to twice the ``send()`` calls per delivery of one node x 1,000 (docs/scaling.md,
"Measured"). Worse, the first entry's flush (one ``send()`` per member) takes the CPU
the rest of the burst needs to arrive, so the rest comes tens of milliseconds later.

:class:`Linger` decides, like Kafka's ``linger.ms`` or Nagle's algorithm but adaptive, so
that a lone line is not delayed:

* only a burst's first entry (one that arrives more than :data:`LINGER_MAX` after the
  entry before) waits for the rest of the burst, and only while lines **come in
  clusters**: two entries with lines arrived within :data:`LINGER_MAX` of each other in
  the last :data:`LINGER_MEMORY` seconds (users typing at their own pace, one line per
  entry, never wait);
* a linger lasts at most as long as the last flush of the broadcasts took, and never
  more than :data:`LINGER_MAX`: without it, a line arriving just after a flush began
  would have waited behind that flush anyway;
* a linger that no other entry joined did not pay: after :data:`LINGER_MISSES` of them
  in a row, lingering stops until entries arrive in a cluster again (one is not
  enough: when a burst's first line leaves alone, the rest of the burst often comes a
  few milliseconds later as several entries, which the next linger gathers).

Pure: times are arguments (seconds, one monotonic clock); the node applies the answer
with :meth:`EventLoop.hold_broadcasts <pollchat.server.loop.EventLoop.hold_broadcasts>`.
"""

from __future__ import annotations

import math

__all__ = ["LINGER_MAX", "LINGER_MEMORY", "LINGER_MISSES", "Linger"]

LINGER_MAX = 0.002
"""Seconds a line from the bus waits for more at most (and the nearness of two
arrivals that makes them a cluster; the bound issue 22's latency target leaves room
for). Measured on the 2-core development machine with 2 x 500 members: while the nodes
waited, the rest of a burst arrived within 2 ms in about two thirds of the bursts
(docs/scaling.md, "Measured")."""

LINGER_MEMORY = 2.0
"""Seconds a cluster of arrivals is remembered: bursts further apart than this start
without a linger (their first entry is flushed at once)."""

LINGER_MISSES = 2
"""Lingers in a row that no other entry joined after which lingering stops. Users
typing at their own pace pay at most this many short waits after two of their lines
happened to arrive together."""


class Linger:
    """The linger decision of one node (see the module docstring).

    Args:
        max_wait: :data:`LINGER_MAX`, seconds.
        memory: :data:`LINGER_MEMORY`, seconds.

    Attributes:
        until: the end of the linger under way (the monotonic clock's seconds), or 0.0.
        lingers: lingers begun, ever.
        joined: lingers that another entry joined, ever (the ones that saved a flush).
    """

    __slots__ = (
        "max_wait", "memory", "until", "lingers", "joined", "_clustered_at", "_last_arrival", "_flushes", "_joiners",
        "_misses",
    )

    def __init__(self, max_wait: float = LINGER_MAX, memory: float = LINGER_MEMORY) -> None:
        self.max_wait = max_wait
        self.memory = memory
        self.until = 0.0
        self.lingers = 0
        self.joined = 0
        self._clustered_at = -math.inf  # when two entries with lines last arrived within max_wait
        self._last_arrival = -math.inf
        self._flushes = 0  # the loop's count of broadcast flushes when the linger began
        self._joiners = 0  # entries that arrived during the linger under way
        self._misses = 0  # lingers in a row that nobody joined

    def arrived(self, now: float, flush_cost: float, flushes: int) -> float:
        """An entry with main-chat lines was applied at ``now``; ``flush_cost``: seconds
        the last flush of the broadcasts took; ``flushes``: the loop's count of those
        flushes so far (a change since a linger began means its lines went out).

        Returns:
            The time until which the broadcasts wait (a linger under way, or one begun
            now), or 0.0: flush them at the end of this pass. A line never waits more
            than ``max_wait`` after the entry that began its linger."""
        if self.until and flushes != self._flushes:  # the lines that waited went out
            self._ended()
        follows = now - self._last_arrival <= self.max_wait  # the same burst as the entry before
        self._last_arrival = now
        if follows:
            self._clustered_at = now
        if self.until:  # the lines that wait are still pending: this entry joins them
            self._joiners += 1
            if now < self.until:
                return self.until
            self._ended()  # due: they go out at the end of this pass, this entry's with them
            return 0.0
        wait = min(self.max_wait, flush_cost)
        if follows or wait <= 0 or now - self._clustered_at > self.memory:
            return 0.0  # only a burst's first entry waits for the rest of it
        if now + wait <= now:  # too short to tell from now
            return 0.0
        self.until = now + wait
        self._flushes = flushes
        self._joiners = 0
        self.lingers += 1
        return self.until

    def _ended(self) -> None:
        """The lines that waited went out: after :data:`LINGER_MISSES` lingers in a row
        that nobody joined, lingering stops until entries arrive in a cluster again."""
        self.until = 0.0
        if self._joiners:
            self.joined += 1
            self._misses = 0
            return
        self._misses += 1
        if self._misses >= LINGER_MISSES:
            self._misses = 0
            self._clustered_at = -math.inf
