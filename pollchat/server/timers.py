"""A timer queue for the event loop: a heap of deadlines (Redis ``aeTimeEvent``-style).

The loop asks :meth:`Timers.timeout` how long ``select()`` may sleep and calls
:meth:`Timers.run_due` after each pass. Times are ``time.monotonic()`` seconds, or
whatever clock the caller injects, so tests can move time by hand.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Timer:
    """A scheduled callback; :meth:`cancel` stops it from running."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (cheap: the entry stays in the heap until due)."""
        self.cancelled = True


class Timers:
    """Deadlines ordered in a heap.

    Args:
        clock: monotonic time in seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # ties run in scheduling order

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the loop thread ``delay`` seconds from now."""
        timer = Timer(self.clock() + delay, callback)
        heapq.heappush(self._heap, (timer.when, next(self._order), timer))
        return timer

    def timeout(self, limit: float | None) -> float | None:
        """Seconds until the next deadline, capped by ``limit`` (``None``: no cap)."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return limit
        wait = max(0.0, self._heap[0][0] - self.clock())
        return wait if limit is None else min(wait, limit)

    def run_due(self) -> None:
        """Run every callback whose deadline has passed."""
        now = self.clock()
        while self._heap and self._heap[0][0] <= now:
            timer = heapq.heappop(self._heap)[2]
            if not timer.cancelled:
                timer.cancelled = True
                try:
                    timer.callback()
                except Exception:  # one failing timer must not stop the loop
                    log.exception("error in a timer callback")
