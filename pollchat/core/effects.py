"""What the core decides: effects for the server to carry out, in order.

The hub and the group chat never perform I/O and never call back into the caller in
the middle of a decision: each method returns a list of effects, and the chat service
(:meth:`pollchat.server.service.ChatService.deliver`) applies them one by one, in the
order given. There are five:

* :class:`Delivery`: an event for a few connections ("handles"), rendered once and
  shared;
* :class:`ToEveryone`: an event for every logged-in session but one; a server may carry
  it out once per loop pass over its own list of logged-in connections;
* :class:`ToGroup`: an event for a group's online members but one; a server may
  collect a group's lines of one loop pass and hand each member the pass's bytes at
  once, as it does for :class:`ToEveryone`;
* :class:`JoinedEveryone` and :class:`LeftEveryone`: a session started or ended, so
  that such a list stays equal to the roster. A session's join comes before any
  :class:`ToEveryone` it must receive, and its leave before the first it must not.

A front end without lists of its own ignores the last two and carries out a
:class:`ToEveryone` or a :class:`ToGroup` target by target (its ``targets`` are the
handles when it was decided).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, Union

from pollchat.core.roster import Everyone
from pollchat.protocol.events import ServerEvent

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Delivery(Generic[H]):
    """Send ``event`` to each of ``targets`` (render it once, share the bytes)."""

    targets: tuple[H, ...]
    event: ServerEvent


@dataclass(frozen=True, slots=True)
class ToEveryone(Generic[H]):
    """Send ``event`` to every logged-in session but ``targets.exclude``.

    ``targets`` is the :class:`~pollchat.core.roster.Everyone` view when the core
    decided (it compares equal to the tuple of the same handles)."""

    targets: Everyone[H]
    event: ServerEvent

    @property
    def exclude(self) -> H | None:
        """The one logged-in handle that does not receive it (the sender), if any."""
        return self.targets.exclude

    @property
    def skip(self) -> Collection[H]:
        """More handles that do not receive it (those who ignore the sender; a typing
        hint's sender's other sessions); usually empty."""
        return self.targets.skip


@dataclass(frozen=True, slots=True)
class ToGroup(Generic[H]):
    """Send ``event`` to the online members of group ``group`` but ``targets.exclude``.

    ``targets`` is an :class:`~pollchat.core.roster.Everyone` view over ``members``:
    every online member's handle in joining order, the sender included. The core hands
    out the same ``members`` tuple for a group until its membership or the roster
    changes, so a server that batches a group's lines may compare it by identity."""

    group: int
    targets: Everyone[H]
    event: ServerEvent

    @property
    def members(self) -> Sequence[H]:
        """Every online member's handle (``exclude`` included), in joining order."""
        return self.targets.handles

    @property
    def exclude(self) -> H | None:
        """The one member that does not receive it (the sender), if any."""
        return self.targets.exclude

    @property
    def skip(self) -> Collection[H]:
        """More members that do not receive it (those who ignore the sender); usually empty."""
        return self.targets.skip


@dataclass(frozen=True, slots=True)
class JoinedEveryone(Generic[H]):
    """``handle`` logged in: from now on it receives :class:`ToEveryone` events."""

    handle: H


@dataclass(frozen=True, slots=True)
class LeftEveryone(Generic[H]):
    """``handle``'s session ended: it receives no more :class:`ToEveryone` events."""

    handle: H


Effect = Union[Delivery[H], ToEveryone[H], ToGroup[H], JoinedEveryone[H], LeftEveryone[H]]
"""Any one of the core's effects."""

