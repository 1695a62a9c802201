"""Presence: statuses and idle time (seed 003's Active / Busy / Inactive / Disabled).

Disabled means offline, so it is not a status an online session can have. A session
idle for ``idle_after`` seconds while active becomes inactive by itself ("automatic"),
and active again on its next line; a status set by hand is kept until changed by hand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    """An online session's status."""

    ACTIVE = "active"
    BUSY = "busy"
    AWAY = "away"
    INACTIVE = "inactive"

    @classmethod
    def parse(cls, text: str) -> Status | None:
        """The status called ``text`` (any case), or ``None``."""
        try:
            return cls(text.lower())
        except ValueError:
            return None


@dataclass(slots=True)
class Presence:
    """What others see of an online session.

    Attributes:
        status: the current status.
        message: the status message ("" for none).
        automatic: the status was set by the idle monitor, not by the user.
        online_since: login time, seconds since the epoch.
        last_active: time of the session's last line, seconds since the epoch.
    """

    online_since: float
    last_active: float
    status: Status = Status.ACTIVE
    message: str = ""
    automatic: bool = False

    def idle(self, now: float) -> int:
        """Whole seconds since the last line."""
        return max(0, int(now - self.last_active))

    def idle_deadline(self, idle_after: float) -> float:
        """When this session turns inactive if it says nothing (epoch seconds)."""
        return self.last_active + idle_after
