"""Bans of addresses and networks: a ban that a new account name cannot escape.

An admin's ``/ban 192.0.2.7``, ``/ban 198.51.100.0/24 2h`` or ``/ban 2001:db8:1:2::/64``
keeps every connection from that network out, whatever name it would use; the ban of an
account (``/ban NAME``) stays as it was. Pure: networks are parsed with the standard
library's ``ipaddress`` and the clock is passed in. The store persists the list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from pollchat.core.accounts import Ban

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network | None:
    """``text`` as an address or a CIDR network (``192.0.2.7``, ``192.0.2.0/24``,
    ``2001:db8::/32``; host bits are cleared), or ``None`` if it is neither (a name)."""
    if not text or not (text[0].isdigit() or ":" in text):
        return None  # cheap: a name has neither a leading digit nor a colon
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        return ipaddress.ip_network(f"{mapped}/{max(0, network.prefixlen - 96)}", strict=False)
    return network


@dataclass(frozen=True, slots=True)
class AddressBan:
    """One banned network with its :class:`~pollchat.core.accounts.Ban` terms."""

    network: Network
    ban: Ban


class AddressBans:
    """The banned networks, kept in memory (a handful) and written through by the caller.

    Args:
        bans: the bans loaded from the store.
    """

    def __init__(self, bans: Iterable[AddressBan] = ()) -> None:
        self._bans: dict[Network, Ban] = {entry.network: entry.ban for entry in bans}

    def add(self, network: Network, ban: Ban) -> None:
        """Ban ``network`` (replacing an earlier ban of the same network)."""
        self._bans[network] = ban

    def remove(self, network: Network, now: float) -> bool:
        """Lift the ban on ``network``; ``False`` if none was in force."""
        ban = self._bans.pop(network, None)
        return ban is not None and (ban.until is None or ban.until > now)

    def match(self, address: str, now: float) -> AddressBan | None:
        """The ban in force at ``now`` whose network holds ``address`` (an IPv4 or IPv6
        address as a socket reports it; an IPv4-mapped IPv6 address counts as its IPv4
        address), the longest prefix first; ``None`` if none does."""
        if not self._bans:
            return None
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        found: AddressBan | None = None
        for network, ban in self._bans.items():
            if ban.until is not None and ban.until <= now:
                continue
            if ip.version == network.version and ip in network:
                if found is None or network.prefixlen > found.network.prefixlen:
                    found = AddressBan(network, ban)
        return found

    def __len__(self) -> int:
        return len(self._bans)
