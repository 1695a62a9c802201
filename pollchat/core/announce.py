"""Whether entered and left notices go to everyone (``--announce-limit``).

Seed 004 tells everyone online of each login and logout ("alice has entered the
chat"). That is one notice per user online per login: a login storm of N users is
N x N / 2 notices (50,000 users: 1.25 billion lines, about 35 GB through the kernel),
more than two cores write in hours. Large chats stop announcing past a size (Twitch's
IRC sends JOIN/PART only in channels under 1,000 users; Discord and Slack announce no
joins in big rooms). With a limit N > 0:

* an entry is announced while at most N accounts are online, the newcomer included;
* a leave is announced if that account's entry was announced (a client that showed
  someone arriving always sees them go: no ghosts in its list of people), or while at
  most N are online, the leaver included;
* the first entry left unannounced tells everyone else once that the notices stop
  (one notice, not repeated while the count stays above the limit; after the count
  fell back within it, the next such entry tells them again), and every newcomer
  admitted without an announcement is told so after its welcome. ``/who`` still lists
  everyone online.

So a user who was never told that the notices are off has a true list of who is online
(the welcome's list, plus the entries, minus the leaves), and one that was told has
every announced user's leave (the rest comes from ``/who``). A count that hovers at the
limit costs at most one such notice per leave, as many lines as the seed's notices.

The limit 0 announces always: the seed's rule, nothing on the wire changes.

Pure: counts in, decisions out; the hub keeps one :class:`Announcer` and asks it at
each login and logout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """What a login tells whom.

    Attributes:
        announce: everyone else gets the newcomer's entered notice.
        tell_newcomer: the newcomer is told, after its welcome, that entered and left
            notices are off (they are: its entry was not announced).
        tell_others: everyone else is told so (the first unannounced entry since the
            count was last at half the limit or less).
    """

    announce: bool
    tell_newcomer: bool = False
    tell_others: bool = False


ANNOUNCED = EntryDecision(True)


class Announcer:
    """The announce rule of one chat (a node's hub; in a cluster its counts are the
    cluster's: the hub lists every node's users).

    Args:
        limit: the most accounts online for which entries are announced
            (``--announce-limit``); 0 announces always (seed 004).

    Raises:
        ValueError: a negative limit.
    """

    __slots__ = ("limit", "told")

    def __init__(self, limit: int = 0) -> None:
        if limit < 0:
            raise ValueError("the announce limit must be 0 (always) or more")
        self.limit = limit
        self.told = False
        """Everyone was told that the notices are off, and the count has stayed above the
        limit since."""

    def announces(self, online: int) -> bool:
        """An entry (or a leave) is announced when ``online`` accounts are online,
        counting the one arriving (or leaving)."""
        return not self.limit or online <= self.limit

    def entry(self, online: int) -> EntryDecision:
        """A login that makes ``online`` accounts online (the newcomer included): what
        to tell. Notes that everyone was told, when it says so."""
        if self.announces(online):
            return ANNOUNCED
        tell_others = not self.told
        self.told = True
        return EntryDecision(False, tell_newcomer=True, tell_others=tell_others)

    def leave_announced(self, online: int, entry_announced: bool) -> bool:
        """Whether a leave is announced when ``online`` accounts are online (the leaver
        included), ``entry_announced`` telling whether its entry was. Decides only."""
        return entry_announced or self.announces(online)

    def leave(self, online: int, entry_announced: bool) -> bool:
        """A logout from ``online`` accounts online (the leaver included): whether it is
        announced (:meth:`leave_announced`). Once the count is within the limit again,
        the next unannounced entry tells everyone again."""
        if online - 1 <= self.limit:
            self.told = False
        return self.leave_announced(online, entry_announced)

    def heard_told(self) -> None:
        """Another node told everyone that the notices are off (a cluster): this one
        need not tell them again."""
        self.told = True


__all__ = ["ANNOUNCED", "Announcer", "EntryDecision"]
