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


_NO_ARG = object()


class Timer:
    """A scheduled callback (and its one argument, if any); :meth:`cancel` stops it
    from running. Timers are the heap's entries themselves, ordered by deadline and then
    by scheduling order: an idle connection's one timer is one small object, not an
    object, a closure, an argument tuple and a heap tuple."""

    __slots__ = ("when", "order", "callback", "arg", "cancelled")

    def __init__(self, when: float, order: int, callback: Callable[..., None], arg: object = _NO_ARG) -> None:
        self.when = when
        self.order = order
        self.callback = callback
        self.arg = arg
        self.cancelled = False

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when or (self.when == other.when and self.order < other.order)

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
        self._heap: list[Timer] = []
        self._order = itertools.count()  # ties run in scheduling order

    def call_later(self, delay: float, callback: Callable[..., None], arg: object = _NO_ARG) -> Timer:
        """Run ``callback()``, or ``callback(arg)``, on the loop thread ``delay`` seconds
        from now (passing the argument, rather than a closure that holds it, keeps the
        one timer each idle connection has small)."""
        timer = Timer(self.clock() + delay, next(self._order), callback, arg)
        heapq.heappush(self._heap, timer)
        return timer

    def timeout(self, limit: float | None) -> float | None:
        """Seconds until the next deadline, capped by ``limit`` (``None``: no cap)."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return limit
        wait = max(0.0, self._heap[0].when - self.clock())
        return wait if limit is None else min(wait, limit)

    def run_due(self) -> None:
        """Run every callback whose deadline has passed."""
        now = self.clock()
        while self._heap and self._heap[0].when <= now:
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.cancelled = True
                try:
                    if timer.arg is _NO_ARG:
                        timer.callback()
                    else:
                        timer.callback(timer.arg)
                except Exception:  # one failing timer must not stop the loop
                    log.exception("error in a timer callback")
