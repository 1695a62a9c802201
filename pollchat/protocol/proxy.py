"""The PROXY protocol header: the client's address, sent by a TCP proxy in front of us.

A TCP proxy (HAProxy's ``send-proxy`` / ``send-proxy-v2``, nginx ``stream``'s
``proxy_protocol on``) connects to the server itself, so the server's socket sees the
proxy's address. With the PROXY protocol the proxy starts each connection with one header
naming the client's address, then relays the client's bytes untouched. The rules here are
HAProxy's specification ("The PROXY protocol", versions 1 and 2):

- version 1, text: ``PROXY TCP4 SRC DST SRCPORT DSTPORT\\r\\n`` (``TCP6`` for IPv6), or
  ``PROXY UNKNOWN ...\\r\\n`` (the proxy does not know the address: keep the socket's);
  at most :data:`V1_MAX` bytes with the CRLF;
- version 2, binary: the 12-byte :data:`V2_SIGNATURE`, a version/command byte (``0x21``
  PROXY, ``0x20`` LOCAL: the proxy's own connection, a health check), a family/transport
  byte, a 2-byte big-endian length, then that many bytes: the addresses (IPv4 12 bytes,
  IPv6 36) and optional TLVs, which are skipped.

Pure: :func:`parse` takes the bytes read so far and answers; it never reads a socket.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["V1_MAX", "V2_MAX_LENGTH", "V2_SIGNATURE", "NotProxyHeader", "ProxyHeader", "parse", "parse_networks"]

V1_MAX = 107
"""Longest version 1 header in bytes, CRLF included (the spec's worst case: ``UNKNOWN``
followed by two full-length IPv6 addresses and two 5-digit ports)."""
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
"""The first 12 bytes of every version 2 header (chosen by the spec so that no text
protocol begins with them)."""
V2_FIXED = 16
"""Bytes of a version 2 header before its variable part: signature, command, family,
length."""
V2_MAX_LENGTH = 4096
"""Largest version 2 variable part accepted, bytes: the addresses (at most 216 bytes,
for AF_UNIX) and TLVs. The length field could say 65,535; pollchat refuses more than
this rather than buffer it (HAProxy's TLVs, a TLS front end's included, stay far below)."""

_V1_PREFIX = b"PROXY "
_V2_PROXY = 0x21
_V2_LOCAL = 0x20
_V2_INET = 0x11  # AF_INET, STREAM
_V2_INET6 = 0x21  # AF_INET6, STREAM


class NotProxyHeader(ValueError):
    """The bytes are not a valid PROXY header (any version); ``str()`` says why, for the
    log."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete header.

    Attributes:
        length: bytes the header took from the start of the stream; what follows is the
            client's own bytes.
        source: the client's ``(address, port)`` as the proxy saw it (``address`` as
            :mod:`ipaddress` writes it), or ``None``: keep the socket's own address
            (version 2 ``LOCAL``, version 1 ``UNKNOWN``, a family other than TCP over
            IPv4/IPv6).
        version: 1 or 2.
    """

    length: int
    source: tuple[str, int] | None
    version: int


def parse(data: bytes) -> ProxyHeader | None:
    """Read a PROXY header at the start of ``data`` (the bytes received so far).

    Returns:
        the header once it is complete (``length`` may be less than ``len(data)``:
        the rest is the client's), or ``None``: more bytes are needed, and every byte
        of ``data`` belongs to the header (a caller may consume them all).

    Raises:
        NotProxyHeader: ``data`` cannot begin a valid header (wrong start, a v1 line
            past :data:`V1_MAX` bytes or malformed, a v2 length past
            :data:`V2_MAX_LENGTH`, an unknown v2 version or command).
    """
    if not data:
        return None
    if data[0] == 0x0D:  # version 2 starts with CR; version 1 with "P"
        return _parse_v2(data)
    return _parse_v1(data)


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of ``--proxy-protocol-from``: addresses or CIDR networks separated
    by commas (``127.0.0.1,10.0.0.0/8,2001:db8::/32``); an address alone is its own
    network. Raises ``ValueError`` naming the first bad item."""
    networks = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or a CIDR network") from None
    return tuple(networks)


def _parse_v1(data: bytes) -> ProxyHeader | None:
    head = data[: len(_V1_PREFIX)]
    if not _V1_PREFIX.startswith(head):
        raise NotProxyHeader("not a PROXY header")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        # No CRLF yet: wait only while one can still come within V1_MAX bytes.
        cr = data.find(b"\r")
        if b"\n" in data or 0 <= cr < len(data) - 1:
            raise NotProxyHeader("a PROXY v1 line without CRLF")
        if len(data) >= V1_MAX or (len(data) == V1_MAX - 1 and cr < 0):
            raise NotProxyHeader(f"a PROXY v1 line longer than {V1_MAX} bytes")
        return None
    line = data[:end]
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise NotProxyHeader("a PROXY v1 line that is not ASCII") from None
    fields = text.split(" ")
    length = end + 2
    if len(fields) >= 2 and fields[1] == "UNKNOWN":  # the rest may be anything: ignored
        return ProxyHeader(length, None, 1)
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise NotProxyHeader("a malformed PROXY v1 line")
    _, family, src, dst, src_port, dst_port = fields
    kind = ipaddress.IPv4Address if family == "TCP4" else ipaddress.IPv6Address
    try:
        source = kind(src)
        kind(dst)
    except ValueError:
        raise NotProxyHeader(f"a PROXY v1 line with a bad {family} address") from None
    port = _v1_port(src_port)
    _v1_port(dst_port)
    return ProxyHeader(length, (str(source), port), 1)


def _v1_port(text: str) -> int:
    """A v1 port: 0 to 65535 in decimal, no sign or leading zero (the spec's form)."""
    if not text.isascii() or not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[0] == "0"):
        raise NotProxyHeader("a PROXY v1 line with a bad port")
    port = int(text)
    if port > 65535:
        raise NotProxyHeader("a PROXY v1 line with a bad port")
    return port


def _parse_v2(data: bytes) -> ProxyHeader | None:
    head = data[: len(V2_SIGNATURE)]
    if not V2_SIGNATURE.startswith(head):
        raise NotProxyHeader("not a PROXY header")
    if len(data) > 12:
        command = data[12]
        if command >> 4 != 2:
            raise NotProxyHeader(f"PROXY v2 header of version {command >> 4}")
        if command not in (_V2_PROXY, _V2_LOCAL):
            raise NotProxyHeader(f"PROXY v2 header with command {command & 0x0F}")
    if len(data) < V2_FIXED:
        return None
    family = data[13]
    size = int.from_bytes(data[14:16], "big")
    if size > V2_MAX_LENGTH:
        raise NotProxyHeader(f"PROXY v2 header of {size} bytes (at most {V2_MAX_LENGTH})")
    length = V2_FIXED + size
    if len(data) < length:
        return None
    if data[12] == _V2_LOCAL:  # the proxy's own connection: its address is the socket's
        return ProxyHeader(length, None, 2)
    body = data[V2_FIXED:length]
    if family == _V2_INET:
        if size < 12:
            raise NotProxyHeader("PROXY v2 header too short for IPv4 addresses")
        return ProxyHeader(length, (str(ipaddress.IPv4Address(body[:4])), int.from_bytes(body[8:10], "big")), 2)
    if family == _V2_INET6:
        if size < 36:
            raise NotProxyHeader("PROXY v2 header too short for IPv6 addresses")
        return ProxyHeader(length, (str(ipaddress.IPv6Address(body[:16])), int.from_bytes(body[32:34], "big")), 2)
    return ProxyHeader(length, None, 2)  # UNSPEC, UDP, AF_UNIX: the spec says keep the socket's
