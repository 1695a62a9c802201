"""The hub: who is online, and what each chat event means for everyone else.

The hub decides; it never performs I/O. Each method returns the :class:`Delivery`
values the server must carry out: an event and the connections ("handles") that receive
it. A handle is whatever object the caller uses for a connection (the server passes its
connection objects); the hub only stores and compares them, so nothing is ever looked up
by file descriptor.

Sessions are kept in login order, which is the order of seed 004's active-users list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import Entered, Left, Message, ServerEvent, Welcome
from pollchat.texts import ErrorCode

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Delivery(Generic[H]):
    """Send ``event`` to each of ``targets`` (render it once, share the bytes)."""

    targets: tuple[H, ...]
    event: ServerEvent


@dataclass(frozen=True, slots=True)
class Admission(Generic[H]):
    """The result of a login or registration attempt.

    Attributes:
        refusal: why it was refused, or ``None`` if the session is now online.
        deliveries: what to send (the welcome and the entered notices) when admitted.
    """

    refusal: ErrorCode | None
    deliveries: tuple[Delivery[H], ...] = ()


@dataclass(slots=True)
class OnlineSession(Generic[H]):
    """A logged-in session: its handle and its account."""

    handle: H
    account: Account


class Hub(Generic[H]):
    """The main chat room.

    Args:
        accounts: the account directory.
        budget: the seat budget; its ``preconfigured`` count must match ``accounts``.
    """

    def __init__(self, accounts: AccountDirectory, budget: SeatBudget) -> None:
        self.accounts = accounts
        self.budget = budget
        self._by_key: dict[str, OnlineSession[H]] = {}  # insertion order = login order
        self._by_handle: dict[H, OnlineSession[H]] = {}

    # --- queries ---------------------------------------------------------------------------

    def online_names(self) -> tuple[str, ...]:
        """Names of everyone online, in login order."""
        return tuple(session.account.name for session in self._by_key.values())

    def session_of(self, handle: H) -> OnlineSession[H] | None:
        """The online session on ``handle``, if it is logged in."""
        return self._by_handle.get(handle)

    # --- login and registration --------------------------------------------------------------

    def check_registration(self, name: str) -> ErrorCode | None:
        """Cheap checks before a registration's password is hashed: the name is free
        and a registered seat is open. Returns the refusal, or ``None`` to go on."""
        if self.accounts.find(name) is not None:
            return ErrorCode.NAME_TAKEN
        if not self.budget.has_seat(AccountKind.REGISTERED):
            return ErrorCode.SERVER_FULL
        return None

    def login(self, handle: H, account: Account | None, password_ok: bool) -> Admission[H]:
        """Finish a login whose password check gave ``password_ok``.

        ``account`` is the account looked up before the check (``None`` if unknown: the
        check then ran against a dummy hash, and the reply is the same as for a wrong
        password, so nobody learns which names exist).
        """
        if account is None or not password_ok:
            return Admission(ErrorCode.WRONG_PASSWORD)
        return self._admit(handle, account)

    def register(self, handle: H, name: str, password_hash: str) -> Admission[H]:
        """Finish a registration whose password was hashed to ``password_hash``.

        The checks of :meth:`check_registration` are repeated, since another connection
        may have taken the name or the last seat while the hash was computed. The
        account is created only if the session is admitted (a refused registration
        creates nothing).
        """
        refusal = self.check_registration(name)
        if refusal is not None:
            return Admission(refusal)
        account = self.accounts.register(name, password_hash)
        if account is None:
            return Admission(ErrorCode.NAME_TAKEN)
        return self._admit(handle, account)

    def _admit(self, handle: H, account: Account) -> Admission[H]:
        if handle in self._by_handle:
            raise RuntimeError("this connection is already logged in")
        if account.key in self._by_key:
            return Admission(ErrorCode.ALREADY_ONLINE)
        if not self.budget.has_seat(account.kind):
            return Admission(ErrorCode.SERVER_FULL)
        others = self._handles()
        self.budget.take(account.kind)
        session = OnlineSession(handle, account)
        self._by_key[account.key] = session
        self._by_handle[handle] = session
        return Admission(
            None,
            (
                Delivery((handle,), Welcome(account.name, self.online_names())),
                Delivery(others, Entered(account.name)),
            ),
        )

    # --- chat and leaving ----------------------------------------------------------------------

    def chat(self, handle: H, text: str) -> list[Delivery[H]]:
        """A chat line from ``handle``: everyone else online receives it. Nothing
        happens if ``handle`` is not logged in."""
        session = self._by_handle.get(handle)
        if session is None:
            return []
        return [Delivery(self._handles(exclude=session.handle), Message(session.account.name, text))]

    def leave(self, handle: H) -> list[Delivery[H]]:
        """End ``handle``'s session, if any: free its seat and tell everyone else.

        Idempotent: a second call for the same handle returns no deliveries, so the
        left notice goes out exactly once however the connection ended."""
        session = self._by_handle.pop(handle, None)
        if session is None:
            return []
        del self._by_key[session.account.key]
        self.budget.release(session.account.kind)
        return [Delivery(self._handles(), Left(session.account.name))]

    def _handles(self, exclude: H | None = None) -> tuple[H, ...]:
        return tuple(s.handle for s in self._by_key.values() if s.handle is not exclude)
