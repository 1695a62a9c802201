"""The PROXY protocol header parser (HAProxy's specification, versions 1 and 2): whole
headers of both versions, "need more" for every prefix, the length bounds, and garbage
that never raises anything but :class:`NotProxyHeader`."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.proxy import V1_MAX, V2_MAX_LENGTH, V2_SIGNATURE, NotProxyHeader, ProxyHeader, parse, parse_networks


def v2(command: int, family: int, body: bytes) -> bytes:
    return V2_SIGNATURE + bytes([command, family]) + struct.pack(">H", len(body)) + body


def v2_inet(src: str, dst: str, sport: int, dport: int, tlvs: bytes = b"") -> bytes:
    body = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + struct.pack(">HH", sport, dport)
    return v2(0x21, 0x11, body + tlvs)


def v2_inet6(src: str, dst: str, sport: int, dport: int) -> bytes:
    body = ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + struct.pack(">HH", sport, dport)
    return v2(0x21, 0x21, body)


# --- version 1 ----------------------------------------------------------------------------------


def test_v1_tcp4_gives_the_source_and_the_length() -> None:
    header = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 3490\r\n"
    assert parse(header + b"login\n") == ProxyHeader(len(header), ("203.0.113.7", 56324), 1)


def test_v1_tcp6() -> None:
    header = b"PROXY TCP6 2001:db8::7 2001:db8::1 1024 3490\r\n"
    assert parse(header) == ProxyHeader(len(header), ("2001:db8::7", 1024), 1)


def test_v1_unknown_keeps_the_sockets_address() -> None:
    assert parse(b"PROXY UNKNOWN\r\n") == ProxyHeader(15, None, 1)
    line = b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"
    assert parse(line) == ProxyHeader(len(line), None, 1)


def test_the_longest_v1_headers_are_accepted() -> None:
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    header = f"PROXY TCP6 {full} {full} 65535 65535\r\n".encode()
    assert parse(header) == ProxyHeader(len(header), (str(ipaddress.IPv6Address(full)), 65535), 1)
    unknown = f"PROXY UNKNOWN {full} {full} 65535 65535\r\n".encode()  # the spec's worst case
    assert len(unknown) == V1_MAX
    assert parse(unknown) == ProxyHeader(V1_MAX, None, 1)


def test_a_v1_line_past_107_bytes_is_refused_without_waiting_for_its_end() -> None:
    with pytest.raises(NotProxyHeader):
        parse(b"PROXY UNKNOWN " + b"x" * (V1_MAX - 14))
    with pytest.raises(NotProxyHeader):  # 106 bytes without a CR: the CRLF cannot fit
        parse(b"PROXY UNKNOWN " + b"x" * (V1_MAX - 15))
    assert parse(b"PROXY UNKNOWN " + b"x" * (V1_MAX - 16) + b"\r") is None


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY TCP4 203.0.113.7 192.0.2.1 56324\r\n",  # a field missing
        b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 3490 x\r\n",  # one too many
        b"PROXY TCP4 2001:db8::7 192.0.2.1 56324 3490\r\n",  # IPv6 under TCP4
        b"PROXY TCP6 203.0.113.7 2001:db8::1 56324 3490\r\n",  # IPv4 under TCP6
        b"PROXY TCP4 203.0.113.7 192.0.2.1 65536 3490\r\n",  # port too large
        b"PROXY TCP4 203.0.113.7 192.0.2.1 0123 3490\r\n",  # leading zero
        b"PROXY TCP4 203.0.113.7 192.0.2.1 +12 3490\r\n",  # a sign
        b"PROXY TCP4  203.0.113.7 192.0.2.1 1 3490\r\n",  # two spaces
        b"PROXY UDP4 203.0.113.7 192.0.2.1 1 3490\r\n",  # not TCP
        b"PROXY TCP4 203.0.113.7 192.0.2.1 1 3490\n",  # LF without CR
        b"PROXY TCP4 203.0.113.7\r192.0.2.1 1 3490\r\n",  # a lone CR
        b"PROXY TCP4 203.0.113.\xe9 192.0.2.1 1 3490\r\n",  # not ASCII
        b"proxy TCP4 203.0.113.7 192.0.2.1 1 3490\r\n",  # the keyword is upper case
        b"login\n",
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01\x02\x00",  # a TLS ClientHello
    ],
)
def test_malformed_v1_lines_are_refused(line: bytes) -> None:
    with pytest.raises(NotProxyHeader):
        parse(line)


# --- version 2 ----------------------------------------------------------------------------------


def test_v2_inet_gives_the_source_and_skips_tlvs() -> None:
    header = v2_inet("203.0.113.9", "192.0.2.1", 40000, 3490, tlvs=b"\x04\x00\x02ab")
    assert parse(header + b"\x16\x03\x01") == ProxyHeader(len(header), ("203.0.113.9", 40000), 2)


def test_v2_inet6() -> None:
    header = v2_inet6("2001:db8::9", "2001:db8::1", 40000, 3490)
    assert parse(header) == ProxyHeader(16 + 36, ("2001:db8::9", 40000), 2)


def test_v2_local_keeps_the_sockets_address() -> None:
    # HAProxy's health checks with send-proxy-v2: LOCAL, family UNSPEC, no addresses.
    assert parse(v2(0x20, 0x00, b"")) == ProxyHeader(16, None, 2)
    assert parse(v2(0x20, 0x11, bytes(12))) == ProxyHeader(28, None, 2)


def test_v2_families_other_than_tcp_keep_the_sockets_address() -> None:
    assert parse(v2(0x21, 0x00, b"")) == ProxyHeader(16, None, 2)  # UNSPEC
    assert parse(v2(0x21, 0x12, bytes(12))) == ProxyHeader(28, None, 2)  # UDP over IPv4
    assert parse(v2(0x21, 0x31, bytes(216))) == ProxyHeader(232, None, 2)  # AF_UNIX


def test_v2_length_past_the_bound_is_refused_at_once() -> None:
    fixed = V2_SIGNATURE + b"\x21\x11" + struct.pack(">H", V2_MAX_LENGTH + 1)
    with pytest.raises(NotProxyHeader):
        parse(fixed)  # without waiting for the 4 KiB
    assert parse(V2_SIGNATURE + b"\x21\x11" + struct.pack(">H", V2_MAX_LENGTH)) is None


@pytest.mark.parametrize(
    "header",
    [
        V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),  # version 1 in the v2 format
        V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),  # command 2
        v2(0x21, 0x11, bytes(11)),  # too short for IPv4 addresses
        v2(0x21, 0x21, bytes(35)),  # too short for IPv6 addresses
        b"\r\n\r\n\x00\r\nQUIX\n" + b"\x21\x11\x00\x0c" + bytes(12),  # a wrong signature
        b"\r\nlogin\n",
    ],
)
def test_malformed_v2_headers_are_refused(header: bytes) -> None:
    with pytest.raises(NotProxyHeader):
        parse(header)


# --- any chunking, any garbage ------------------------------------------------------------------------

headers = st.one_of(
    st.builds(
        lambda a, b, p, q: f"PROXY TCP4 {ipaddress.IPv4Address(a)} {ipaddress.IPv4Address(b)} {p} {q}\r\n".encode(),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 65535),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda a, b, p, q: f"PROXY TCP6 {ipaddress.IPv6Address(a)} {ipaddress.IPv6Address(b)} {p} {q}\r\n".encode(),
        st.integers(0, 2**128 - 1),
        st.integers(0, 2**128 - 1),
        st.integers(0, 65535),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda a, b, p, q, tlvs: v2_inet(str(ipaddress.IPv4Address(a)), str(ipaddress.IPv4Address(b)), p, q, tlvs),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.binary(max_size=64),
    ),
    st.builds(
        lambda a, p: v2_inet6(str(ipaddress.IPv6Address(a)), "::1", p, 3490),
        st.integers(0, 2**128 - 1),
        st.integers(0, 65535),
    ),
    st.just(v2(0x20, 0x00, b"")),
    st.just(b"PROXY UNKNOWN\r\n"),
)


@given(headers, st.binary(max_size=40), st.data())
def test_any_chunking_gives_the_same_answer(header: bytes, after: bytes, data: st.DataObject) -> None:
    stream = header + after
    whole = parse(stream)
    assert whole is not None and whole.length == len(header)
    # Read as a server reads it: chunks of any size, consuming all of an incomplete
    # header (parse's promise that every byte of it is the header's).
    taken = b""
    answer = None
    while answer is None:
        rest = stream[len(taken) :]
        chunk = rest[: data.draw(st.integers(1, max(1, len(rest))))]
        answer = parse(taken + chunk)
        if answer is None:
            taken += chunk
            assert len(taken) < len(header)
    assert answer == whole


@given(headers)
def test_every_strict_prefix_needs_more(header: bytes) -> None:
    for end in range(len(header)):
        assert parse(header[:end]) is None


@given(st.binary(max_size=300))
def test_garbage_raises_only_not_proxy_header(data: bytes) -> None:
    try:
        answer = parse(data)
    except NotProxyHeader:
        return
    if answer is not None:
        assert 0 < answer.length <= len(data)
        assert answer.length <= max(V1_MAX, 16 + V2_MAX_LENGTH)
    else:
        assert len(data) < max(V1_MAX, 16 + V2_MAX_LENGTH)


@given(st.sampled_from([b"PROXY ", V2_SIGNATURE]), st.binary(max_size=300))
def test_garbage_after_a_signature_raises_only_not_proxy_header(start: bytes, rest: bytes) -> None:
    try:
        parse(start + rest)
    except NotProxyHeader:
        pass


# --- --proxy-protocol-from ------------------------------------------------------------------------


def test_networks_are_addresses_or_cidr_separated_by_commas() -> None:
    assert parse_networks("127.0.0.1, 10.0.0.0/8,2001:db8::/32") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert parse_networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)
    with pytest.raises(ValueError, match="'proxy.example'"):
        parse_networks("127.0.0.1,proxy.example")
