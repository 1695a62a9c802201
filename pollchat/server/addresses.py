"""Addresses other machines can use to reach this server (for the start-up lines).

A server bound to a wildcard (``0.0.0.0``, ``::``) is reached from this machine at
127.0.0.1, but a friend needs the host name or a network address. They are found by
local look-ups only, never by sending a packet: the host name through the resolver
(``/etc/hosts`` usually answers; it often maps the name to a loopback address), and on
Linux each interface's IPv4 address (the ``SIOCGIFADDR`` ioctl, what ``ip addr`` shows).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

WILDCARDS = ("0.0.0.0", "::", "")
"""Bind addresses that mean "every interface"."""

_SIOCGIFADDR = 0x8915  # linux/sockios.h


def urls_for_others(scheme: str, port: int, host_name: str, addresses: list[str], *, ipv6: bool) -> list[str]:
    """The ``scheme://HOST:port/`` addresses to give to other machines: ``host_name``
    (unless it is empty or ``localhost``), then each of ``addresses`` that is neither
    loopback, link-local nor unspecified, in order, without repeats; IPv6 ones (in
    brackets) only if ``ipv6`` (the listener is bound to ``::``). Pure: it looks nothing up."""
    hosts: list[str] = []
    if host_name and host_name.lower() != "localhost":
        hosts.append(host_name)
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        if address.version == 6 and not ipv6:
            continue
        host = f"[{address}]" if address.version == 6 else str(address)
        if host not in hosts:
            hosts.append(host)
    return [f"{scheme}://{host}:{port}/" for host in hosts]


def local_addresses(host_name: str) -> list[str]:
    """This machine's addresses as far as local look-ups tell: those the resolver gives
    for ``host_name``, then (on Linux) each interface's IPv4 address. Loopback ones are
    included (:func:`urls_for_others` drops them). Never raises: a failed look-up
    gives nothing."""
    found: list[str] = []
    try:
        for *_, sockaddr in socket.getaddrinfo(host_name, None, type=socket.SOCK_STREAM):
            found.append(str(sockaddr[0]))
    except (OSError, UnicodeError):
        pass
    if sys.platform.startswith("linux"):
        found += _interface_addresses()
    return found


def _interface_addresses() -> list[str]:
    """Each network interface's IPv4 address, by ``ioctl(SIOCGIFADDR)`` (Linux)."""
    import fcntl  # Unix only

    found = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # never connected, never sends
        for _, name in interfaces:
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on that interface
                continue
            found.append(socket.inet_ntoa(reply[20:24]))
    return found
