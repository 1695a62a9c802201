"""The max-users budget: reserved seats for preconfigured accounts, shared seats for
registered ones.

Seed 004: "The number max users is always login_users + registered users, so if max
users is 4 and login_users are 3 then only one registered user is allowed to enter."
Each preconfigured account has its own reserved seat (it can only be online once), so
registered accounts share ``max_users - preconfigured`` seats. Invariants, at every
moment (checked by a hypothesis test):

* ``registered_online <= max_users - preconfigured``
* ``preconfigured_online <= preconfigured``
* ``registered_online + preconfigured_online <= max_users``
"""

from __future__ import annotations

import enum


class AccountKind(enum.Enum):
    """Where an account comes from."""

    PRECONFIGURED = "preconfigured"  # the accounts file; has a reserved seat
    REGISTERED = "registered"  # created with ``register``; shares the remaining seats


class SeatBudget:
    """Counts occupied seats against the budget.

    Args:
        max_users: the cap on simultaneous logged-in sessions (at least 1).
        preconfigured: the number of preconfigured accounts (reserved seats).

    Raises:
        ValueError: if ``max_users < 1`` or ``preconfigured`` is negative or larger than
            ``max_users`` (the CLI reports this as "login users > max users").
    """

    __slots__ = ("max_users", "preconfigured", "_online")

    def __init__(self, max_users: int, preconfigured: int) -> None:
        if max_users < 1:
            raise ValueError("max users must be at least 1")
        if not 0 <= preconfigured <= max_users:
            raise ValueError("more preconfigured accounts than max users")
        self.max_users = max_users
        self.preconfigured = preconfigured
        self._online = {kind: 0 for kind in AccountKind}

    @property
    def registered_seats(self) -> int:
        """Seats shared by registered accounts."""
        return self.max_users - self.preconfigured

    def online(self, kind: AccountKind) -> int:
        """Sessions of ``kind`` currently seated."""
        return self._online[kind]

    @property
    def total_online(self) -> int:
        """All seated sessions."""
        return sum(self._online.values())

    def has_seat(self, kind: AccountKind) -> bool:
        """True if one more session of ``kind`` can be seated."""
        limit = self.registered_seats if kind is AccountKind.REGISTERED else self.preconfigured
        return self._online[kind] < limit

    def take(self, kind: AccountKind) -> None:
        """Seat one session of ``kind``.

        Raises:
            ValueError: if there is no seat (callers check :meth:`has_seat` first).
        """
        if not self.has_seat(kind):
            raise ValueError(f"no {kind.value} seat left")
        self._online[kind] += 1

    def release(self, kind: AccountKind) -> None:
        """Free one seat of ``kind``.

        Raises:
            ValueError: if no session of ``kind`` is seated.
        """
        if self._online[kind] == 0:
            raise ValueError(f"no {kind.value} session to release")
        self._online[kind] -= 1
