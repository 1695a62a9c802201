"""Loopback tests of the protection limits (issue 5), each turned on in its own test
(the harness turns them all off by default): connections per address, the login
timeout, the line rate limit and the login throttle, with a fake clock where time
matters; and TCP keepalive on accepted connections.

Every loopback client comes from 127.0.0.1, so the per-(address, account) rules are
shown with two accounts from the one address.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from tests.harness import Client, FakeClock, Harness

TOO_MANY_CONNECTIONS = "too many connections from your address, closing this one"
FLOODING = "too many lines too fast, closing the connection"
WRONG = "Wrong Password"


def rate_warning(rate: int) -> str:
    return f"slow down: at most {rate} lines per second; lines are being dropped and flooding on will disconnect you"


# --- connections per address -------------------------------------------------------------------


def test_connections_per_address_over_the_limit_are_refused(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(max_connections_per_address=2)
    first, second = h.connect(), h.connect()
    third = h.connect(greet=False)
    assert third.closed() == [TOO_MANY_CONNECTIONS]
    # the first two work
    user1 = h.login("user1", "123", client=first)
    h.login("user2", "345", client=second)
    user1.send(b"hi\n")
    assert h.online[1].line() == "user1: hi"
    # a closed connection frees its place
    third.close()
    assert h.connect(greet=False).closed() == [TOO_MANY_CONNECTIONS]
    user1.close()
    assert h.online[0].line() == "user1 has left the chat"
    h.login("user1", "123")


def test_refused_connections_do_not_use_up_the_count(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(max_connections_per_address=1)
    only = h.connect()
    for _ in range(5):
        refused = h.connect(greet=False)
        assert refused.closed() == [TOO_MANY_CONNECTIONS]
        refused.close()
    only.close()
    h.pump_until(lambda: not h.server.loop.connections, "every connection to be closed")
    h.login("user1", "123")


# --- login timeout -------------------------------------------------------------------------------------


def test_no_login_in_time_closes_the_connection(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(clock=FakeClock(), login_timeout=10)
    user1 = h.login("user1", "123")
    idle = h.connect()
    halfway = h.connect()
    halfway.send(b"login\n")  # the verb, never the credentials
    failed = h.connect()
    failed.send(b"login\nuser2,wrong\n")
    assert failed.line() == WRONG
    h.advance(9.5)
    for client in (idle, halfway, failed):
        client.expect_silence(0.05)
    h.advance(0.5)
    for client in (idle, halfway, failed):
        assert client.closed() == ["no login within 10 seconds, closing the connection"]
    h.advance(600)  # a logged-in user is never timed out (only the idle status changes)
    assert user1.line() == "user1 is now inactive"
    user1.send(b"/who\n")  # still connected; asking is no sign of life
    assert user1.lines(2) == ["online users (1):", "  user1 - inactive, idle 10m"]


def test_a_login_just_in_time_is_not_closed_later(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(clock=FakeClock(), login_timeout=30)
    client = h.connect()
    h.advance(29)
    user1 = h.login("user1", "123", client=client)
    h.advance(60)
    user1.expect_silence(0.05)
    user2 = h.login("user2", "345")
    user2.send(b"hello\n")
    assert user1.line() == "user2: hello"


# --- rate limit -----------------------------------------------------------------------------------------


def flood_room(make_harness: Callable[..., Harness]) -> tuple[Harness, Client, Client]:
    """rate 5 lines/s, bursts of 5; user1 and user2 logged in, their buckets full again."""
    h = make_harness(clock=FakeClock(), rate_limit=5, rate_burst=5)
    sender, reader = h.login("user1", "123"), h.login("user2", "345")
    h.advance(1)
    return h, sender, reader


def test_lines_over_the_rate_are_dropped_with_one_warning(make_harness: Callable[..., Harness]) -> None:
    h, sender, reader = flood_room(make_harness)
    sender.send(b"".join(b"line %d\n" % i for i in range(8)))  # 5 pass, 3 are dropped
    assert reader.lines(5) == [f"user1: line {i}" for i in range(5)]
    assert sender.line() == rate_warning(5)
    sender.expect_silence()
    reader.expect_silence()
    h.advance(1)  # five tokens again; the drop count starts over
    sender.send(b"".join(b"again %d\n" % i for i in range(7)))
    assert reader.lines(5) == [f"user1: again {i}" for i in range(5)]
    assert sender.line() == rate_warning(5)
    sender.expect_silence()
    reader.expect_silence()


def test_flooding_on_past_the_burst_disconnects(make_harness: Callable[..., Harness]) -> None:
    h, sender, reader = flood_room(make_harness)
    sender.send(b"".join(b"spam %d\n" % i for i in range(20)))
    assert sender.closed() == [rate_warning(5), FLOODING]
    h.forget_online(sender)
    assert reader.lines(6) == [f"user1: spam {i}" for i in range(5)] + ["user1 has left the chat"]
    reader.expect_silence()


def test_a_sender_within_the_rate_is_never_warned(make_harness: Callable[..., Harness]) -> None:
    h, sender, reader = flood_room(make_harness)
    for i in range(24):
        sender.send(b"steady %d\n" % i)
        assert reader.line() == f"user1: steady {i}"
        h.advance(0.25)  # 4 lines per second, under the limit of 5
    sender.expect_silence()


def test_commands_count_towards_the_rate_too(make_harness: Callable[..., Harness]) -> None:
    _, sender, _ = flood_room(make_harness)
    sender.send(b"/who\n" * 7)
    for _ in range(5):
        assert sender.lines(3)[0] == "online users (2):"
    assert sender.line() == rate_warning(5)
    sender.expect_silence()


def test_the_rate_limit_applies_before_login(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(clock=FakeClock(), rate_limit=2, rate_burst=2, max_failures=0)
    client = h.connect()
    client.send(b"mode text\n" * 10)
    assert client.closed() == ["mode text", "mode text", rate_warning(2), FLOODING]


# --- login throttle and lockout -----------------------------------------------------------------------


def throttle_harness(make_harness: Callable[..., Harness], **limits: object) -> Harness:
    settings: dict[str, object] = {"throttle_after": 2, "lockout_after": 4, "address_lockout_after": 0, "lockout_seconds": 900}
    settings.update(limits)
    return make_harness(clock=FakeClock(), max_failures=0, **settings)


def test_after_throttle_after_failures_the_reply_waits_a_growing_delay(make_harness: Callable[..., Harness]) -> None:
    h = throttle_harness(make_harness, lockout_after=0)
    client = h.connect()
    for _ in range(2):  # no delay yet
        client.send(b"login\nuser1,wrong\n")
        assert client.line() == WRONG
    client.send(b"login\nuser1,wrong\n")  # the third attempt waits 1 s
    client.expect_silence()
    h.advance(1)
    assert client.line() == WRONG
    client.send(b"login\nuser1,123\n")  # the fourth waits 2 s, even with the right password
    client.expect_silence()
    h.advance(1)
    client.expect_silence()
    h.advance(1)
    client.expect("Access Provided", "active users are: user1")


def test_a_success_clears_the_delay(make_harness: Callable[..., Harness]) -> None:
    h = throttle_harness(make_harness)
    client = h.connect()
    for _ in range(2):
        client.send(b"login\nuser1,wrong\n")
        assert client.line() == WRONG
    h.advance(1)
    user1 = h.login("user1", "123", client=client)
    user1.send(b"/quit\n")
    assert user1.closed() == ["goodbye"]
    h.forget_online(user1)
    again = h.connect()
    again.send(b"login\nuser1,wrong\n")
    assert again.line() == WRONG  # counted from one again: no delay
    again.send(b"login\nuser1,wrong\n")
    assert again.line() == WRONG


def test_a_locked_pair_is_told_how_long_even_with_the_right_password(make_harness: Callable[..., Harness]) -> None:
    """Issue 14: during a lockout the real user's right password used to get
    ``Wrong Password``; the reply now says it is a lockout and for how long."""
    h = throttle_harness(make_harness, throttle_after=0, lockout_after=3)
    attacker = h.connect()
    for _ in range(3):
        attacker.send(b"login\nuser1,wrong\n")
        assert attacker.line() == WRONG
    attacker.send(b"login\nuser1,123\n")
    assert attacker.line() == "too many attempts, try again in 900 s"  # the password is not even checked
    fresh = h.connect()
    fresh.send(b"login\nuser1,123\n")
    assert fresh.line() == "too many attempts, try again in 900 s"  # the pair, not the connection
    # another account from the same address is not affected
    h.login("user2", "345")
    # the lockout ends lockout_seconds after the last failure
    h.advance(899)
    assert h.online[0].line() == "user2 is now inactive"
    again = h.connect()
    again.send(b"login\nuser1,123\n")
    assert again.line() == "too many attempts, try again in 1 s"
    h.advance(900)
    h.login("user1", "123")


def test_address_lockout_after_failures_across_accounts(make_harness: Callable[..., Harness]) -> None:
    h = throttle_harness(make_harness, throttle_after=0, lockout_after=3, address_lockout_after=5)
    client = h.connect()
    for name in ("user1", "user1", "user1", "user3", "user3"):
        client.send(f"login\n{name},wrong\n".encode())
        assert client.line() == WRONG
    # user1's pair is locked and the address is at its limit: even user2, never tried, is refused
    client.send(b"login\nuser2,345\n")
    assert client.line() == "too many attempts, try again in 900 s"
    client.send(b"register\ncarol,pw\n")  # registrations are not logins: not throttled
    client.expect("Access Provided", "active users are: carol")


def test_an_unknown_account_is_throttled_like_a_real_one(make_harness: Callable[..., Harness]) -> None:
    h = throttle_harness(make_harness, lockout_after=0)
    client = h.connect()
    for _ in range(2):
        client.send(b"login\nnobody,pw\n")
        assert client.line() == WRONG
    client.send(b"login\nnobody,pw\n")
    client.expect_silence()  # the same delay: nobody learns which names exist
    h.advance(1)
    assert client.line() == WRONG


def test_the_harness_turns_the_throttle_off(harness: Harness) -> None:
    # The loopback suites rely on it: many failures, then an immediate success.
    for _ in range(4):
        client = harness.connect()
        for _ in range(3):
            client.send(b"login\nuser1,wrong\n")
            assert client.line() == WRONG
        assert client.closed() == ["too many failed attempts, closing the connection"]
    harness.login("user1", "123")


# --- keepalive ------------------------------------------------------------------------------------------


def test_accepted_connections_get_tcp_keepalive(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(keepalive=45)
    sock = h.server_conn(h.connect()).sock
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 45
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_keepalive_0_turns_it_off(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(keepalive=0)
    sock = h.server_conn(h.connect()).sock
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
