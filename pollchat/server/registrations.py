"""Group commit of registrations: one ``fsync`` per loop pass, not one per new account.

A registration must be on disk before it is acknowledged (``Access Provided``): a
server killed right after a client read it must still know the account
(``tests/loopback/test_crash.py``). Committed one by one with ``synchronous=FULL``,
the ``fsync`` of each new account was about a fifth of the time of 10,000 logins at
``--kdf-iterations 1000`` (docs/performance.md). So, with the SQLite engine's
``group_commit`` on:

1. a registration whose password hash is ready waits (:meth:`RegistrationCommit.after_pass`)
   instead of being decided at once;
2. the loop's first before-flush hook (:meth:`RegistrationCommit.before_flush`)
   decides the pass's registrations in the order their hashes came (the checks, the
   seat, the account's insert into one open transaction), commits that transaction
   (one ``fsync``), and only then admits each (its welcome, the others' entered
   notices, the history replay), in the same order.

Nothing happens between the first decision and the last admission, so every client
sees logins in one order (a newcomer's list of names and the entered notices it gets
agree), and nothing of a new account (no reply to it, no notice to anyone) leaves the
server before its commit.

If the commit fails (a full disk, an I/O error, the file gone), none of the pass's new
accounts is stored: each of their sessions ends unannounced and its connection gets the
internal-error line a failed registration gets; nothing was acknowledged.

The PostgreSQL engine commits each registration alone (its own barrier is its
engine's); this is the SQLite engine's hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from pollchat.errors import StoreError

log = logging.getLogger(__name__)

P = TypeVar("P")


class RegistrationCommit(Generic[P]):
    """The registrations of one loop pass, waiting for their decision and commit.

    Args:
        commit: commits the store's open registrations, one transaction (the SQLite
            engine's ``commit_registrations``); raises
            :class:`~pollchat.errors.StoreError` if that fails.
        failed: called with each admitted peer whose account the failed commit lost
            (the chat service's ``registration_failed``: its session ends unannounced,
            then an error line and a close).
    """

    def __init__(self, commit: Callable[[], int], failed: Callable[[P], None]) -> None:
        self._commit = commit
        self._failed = failed
        self._waiting: list[Callable[[], tuple[P, Callable[[], None]] | None]] = []
        self.commits = 0
        """Commits that held at least one admitted registration (for the log and the bench)."""
        self.committed = 0
        """Registrations committed and admitted so far."""

    @property
    def waiting(self) -> int:
        """Registrations of this pass not decided yet."""
        return len(self._waiting)

    def after_pass(self, decide: Callable[[], tuple[P, Callable[[], None]] | None]) -> None:
        """Decide a registration at the end of this pass, with the others: ``decide``
        runs the checks and the insert and returns the peer and its admission (or
        ``None``: refused, and told so); the admission runs after the commit."""
        self._waiting.append(decide)

    def before_flush(self) -> None:
        """The loop's hook before a pass's output: decide each waiting registration in
        order, commit them in one transaction, then admit each in the same order; if
        the commit failed, hand each admitted one to ``failed`` instead."""
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, []
        admitted = [decided for decided in (decide() for decide in waiting) if decided is not None]
        try:
            self._commit()
        except StoreError as exc:
            log.error("the commit of %d new account(s) failed, none is stored: %s", len(admitted), exc)
            for peer, _ in admitted:
                self._failed(peer)
            return
        if admitted:
            self.commits += 1
            self.committed += len(admitted)
        for _, admit in admitted:
            admit()
