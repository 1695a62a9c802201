"""Server-wide limits (issue 14, finding 5): the open-file limit is raised at start, a
server-wide connection cap refuses with one line (like Redis's maxclients), per-address
limits count an IPv6 peer by its /64, and all unsent output together is bounded, the
largest consumers dropped first."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from pollchat.server.connection import limit_key
from pollchat.server.rlimits import connection_capacity
from tests.harness import Harness

BUSY = "the server has too many connections, try again later"


def test_past_the_server_wide_cap_a_connection_gets_one_line_and_is_closed(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(max_connections=2)
    first = h.login("user1", "123")
    h.connect()
    refused = h.connect(greet=False)
    assert refused.closed() == [BUSY]
    first.close()
    h.pump_until(lambda: len(h.server.loop.connections) == 1, "user1's connection to close")
    h.login("user2", "345")  # a place is free again


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::1", "::1"),
    ],
)
def test_an_ipv6_peer_counts_by_its_64(address: str, key: str) -> None:
    assert limit_key(address) == key


def test_the_open_file_limit_is_raised_to_the_hard_one_at_start() -> None:
    program = (
        "import json, resource\n"
        "from pollchat.server.rlimits import raise_open_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))\n"
        "print(json.dumps([raise_open_file_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE)]))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=30)
    returned, soft, hard = json.loads(result.stdout)
    assert returned == soft > 128
    assert soft == min(hard, 1 << 20) or hard == -1


def test_the_default_cap_leaves_descriptors_for_the_rest() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_capacity() == soft - 64


def test_when_all_output_passes_its_bound_the_largest_consumer_goes_first(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(max_output=64 * 1024 * 1024, max_output_total=256 * 1024, linger=5.0)
    small = h.connect(rcvbuf=4096)
    h.login("user1", "123", client=small)  # text lines: fewer bytes per message
    large = h.connect(rcvbuf=4096)
    large.send(b"mode json\n")
    large.line()
    large.send(b"login\nuser2,345\n")
    assert large.event()["type"] == "welcome"
    small.line()  # user2 has entered the chat
    sender = h.connect()
    sender.send(b"register\nbob,pw\n")
    sender.lines(2)
    small_conn, large_conn = h.server_conn(small), h.server_conn(large)
    line = b"x" * 900 + b"\n"
    while not (small_conn.closing or large_conn.closing):
        sender.send(line * 8)
        h.pump()
        sender.drain()
    assert large_conn.closing and not small_conn.closing
    assert large_conn.close_reason == "slow consumer"


def test_registrations_from_one_address_are_rate_limited(make_harness: Callable[..., Harness]) -> None:
    """Issue 14, finding 3: an address may not make permanent accounts without end."""
    h = make_harness(register_rate=2, max_users=10)
    h.register("ana", "pw")
    h.register("bea", "pw")
    third = h.connect()
    third.send(b"register\ncid,pw\n")
    assert third.line() == "too many new accounts from your address, try again later"
    third.send(b"login\nuser1,123\n")  # logins are not registrations
    third.expect("Access Provided")


def test_an_address_ban_closes_its_sessions_keeps_new_names_out_and_persists(
    make_harness: Callable[..., Harness],
) -> None:
    """Issue 14, finding 3: a ban by address or network cannot be escaped by registering
    a new name, and it survives a restart."""
    import io

    from pollchat.server.console import OperatorConsole

    h = make_harness(max_users=10)
    user1 = h.login("user1", "123")
    console = OperatorConsole(h.server.chat, io.StringIO())
    assert console.run("ban 127.0.0.0/8 spam") == "127.0.0.0/8 is banned for good"
    assert user1.closed()[-1].startswith("you are banned by operator for good: spam")
    h.forget_online(user1)
    newcomer = h.connect(greet=False)
    assert newcomer.closed() == ["your address is banned for good: spam"]
    h.restart()
    again = h.connect(greet=False)
    assert again.closed() == ["your address is banned for good: spam"]
    console = OperatorConsole(h.server.chat, io.StringIO())
    assert console.run("unban 127.0.0.1/8") == "127.0.0.0/8 is no longer banned"
    assert console.run("unban 127.0.0.0/8") == "127.0.0.0/8 is not banned"
    h.login("user1", "123")


def test_registrations_stop_at_the_account_cap(make_harness: Callable[..., Harness]) -> None:
    """Issue 14, finding 3: --max-accounts bounds the permanent accounts."""
    h = make_harness(max_accounts=1, max_users=10)
    h.register("ana", "pw")
    late = h.connect()
    late.send(b"register\nbea,pw\n")
    assert late.line() == "this server takes no new accounts (it has 1, the most allowed)"
