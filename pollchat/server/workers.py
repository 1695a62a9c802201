"""The worker pool that runs password hashing off the event loop.

PBKDF2 at 600,000 iterations costs about 0.14 s of CPU per call; on the loop thread a
login storm would freeze every chat. ``hashlib.pbkdf2_hmac`` releases the GIL, so a few
threads hash in parallel while the loop keeps serving. Results come back to the loop
thread through :meth:`EventLoop.call_soon_threadsafe` (a byte on the wake-up socket);
no pollchat state is ever touched from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from pollchat.server.loop import EventLoop

T = TypeVar("T")


class PasswordPool(Protocol):
    """What the chat needs to run password work (about 0.14 s of CPU each) off the
    loop: :class:`WorkerPool`, or a test's pool that runs it inline."""

    def submit(self, fn: Callable[..., T], *args: Any, on_done: Callable[[Future[T]], None]) -> None:
        """Run ``fn(*args)``; call ``on_done(future)`` on the loop thread when it is done."""


class WorkerPool:
    """Runs CPU-bound functions in threads and answers on the loop thread.

    Args:
        loop: the loop that receives the results.
        workers: number of threads (at least 1).
    """

    def __init__(self, loop: EventLoop, workers: int) -> None:
        self._loop = loop
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pollchat-hash")

    def submit(self, fn: Callable[..., T], *args: Any, on_done: Callable[[Future[T]], None]) -> None:
        """Run ``fn(*args)`` in a worker; then call ``on_done(future)`` on the loop thread.

        ``on_done`` reads ``future.result()``, which re-raises anything ``fn`` raised.
        """
        future = self._executor.submit(fn, *args)
        future.add_done_callback(lambda f: self._loop.call_soon_threadsafe(lambda: on_done(f)))

    def shutdown(self) -> None:
        """Cancel queued work and wait for running calls to end (at most one hash each)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
