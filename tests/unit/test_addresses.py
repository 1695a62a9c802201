"""The addresses printed for other machines (pollchat.server.addresses.urls_for_others)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from pollchat.server.addresses import urls_for_others


def test_the_host_name_then_network_addresses_without_loopback_or_repeats() -> None:
    addresses = ["127.0.0.1", "127.0.1.1", "192.168.1.20", "::1", "10.0.0.5", "192.168.1.20", "169.254.3.4"]
    assert urls_for_others("http", 9000, "kitchen-pc", addresses, ipv6=False) == [
        "http://kitchen-pc:9000/",
        "http://192.168.1.20:9000/",
        "http://10.0.0.5:9000/",
    ]


def test_ipv6_addresses_only_for_an_ipv6_listener_in_brackets() -> None:
    addresses = ["2001:db8::7", "fe80::1%eth0", "192.0.2.2"]
    assert urls_for_others("https", 9443, "", addresses, ipv6=True) == [
        "https://[2001:db8::7]:9443/",
        "https://192.0.2.2:9443/",
    ]
    assert urls_for_others("https", 9443, "", addresses, ipv6=False) == ["https://192.0.2.2:9443/"]


def test_localhost_and_junk_are_not_addresses_for_others() -> None:
    assert urls_for_others("http", 9000, "localhost", ["not an address", "0.0.0.0", "::"], ipv6=True) == []


@given(st.lists(st.ip_addresses().map(str)), st.booleans())
def test_never_a_loopback_address_never_twice(addresses: list[str], ipv6: bool) -> None:
    urls = urls_for_others("http", 1, "", addresses, ipv6=ipv6)
    assert len(urls) == len(set(urls))
    for url in urls:
        host = url.removeprefix("http://").rsplit(":", 1)[0].strip("[]")
        assert not ipaddress.ip_address(host).is_loopback
