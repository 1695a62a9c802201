"""Address and network bans kept in memory and written through to the database.

The pure list (:class:`~pollchat.core.addressbans.AddressBans`) decides; this keeps it
and the ``address_ban`` table in step.
"""

from __future__ import annotations

from pollchat.core.accounts import Ban
from pollchat.core.addressbans import AddressBan, AddressBans, Network, parse_network
from pollchat.store.ports import BanStore


class NetworkBans:
    """The server's address bans.

    Args:
        database: where the bans persist (loaded once here).
        now: the current wall-clock time, to skip bans that have already ended.
    """

    def __init__(self, database: BanStore, now: float) -> None:
        self._database = database
        self.reload(now)

    def reload(self, now: float) -> None:
        """Read the bans again from the database (in a cluster another node changed them)."""
        loaded = []
        database = self._database
        for text, until, reason, by in database.address_bans(now):
            network = parse_network(text)
            if network is not None:
                loaded.append(AddressBan(network, Ban(until, reason, by)))
        self._bans = AddressBans(loaded)

    def ban(self, network: Network, ban: Ban, now: float) -> None:
        """Ban ``network`` and persist it."""
        self._database.set_address_ban(str(network), ban.until, ban.reason, ban.by, now)
        self._bans.add(network, ban)

    def unban(self, network: Network, now: float) -> bool:
        """Lift the ban on ``network``; ``False`` if none was in force."""
        self._database.clear_address_ban(str(network))
        return self._bans.remove(network, now)

    def match(self, address: str, now: float) -> AddressBan | None:
        """The ban in force on ``address`` (as the socket reported it), or ``None``."""
        return self._bans.match(address, now)
