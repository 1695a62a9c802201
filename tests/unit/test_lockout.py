"""Brute-force protection for logins (pollchat.core.lockout.LoginThrottle), pure.

Failures count per (address, account) pair and per address, never per account alone:
delays of 1, 2, 4 ... seconds (at most ``MAX_DELAY``) after ``throttle_after`` failures of
a pair, a lockout after ``lockout_after`` failures of a pair or ``address_lockout_after``
failures from an address; another address is never affected, so an attacker cannot lock
a user out from the user's own address; a success clears its pair only; counts expire
``lockout_seconds`` after the last failure; each threshold 0 turns its rule off; memory
is bounded. A Hypothesis model checks ``wait()`` against an independent bookkeeping.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.core import lockout
from pollchat.core.lockout import MAX_DELAY, LoginThrottle

ATTACKER = "203.0.113.9"
USER_HOME = "198.51.100.7"
LOCKOUT = 900.0


def fail_times(throttle: LoginThrottle, address: str, account: str, times: int, now: float = 0.0) -> float:
    """``times`` failures at ``now``, each as soon as allowed; returns the time of the last one."""
    for _ in range(times):
        wait = throttle.wait(address, account, now)
        if math.isfinite(wait):
            now += wait
        throttle.failed(address, account, now)
    return now


# --- delays ------------------------------------------------------------------------------------


def test_delays_grow_1_2_4_up_to_the_cap_after_throttle_after_failures() -> None:
    throttle = LoginThrottle(throttle_after=3, lockout_after=0, address_lockout_after=0, lockout_seconds=10_000)
    now, waits = 0.0, []
    for _ in range(11):
        wait = throttle.wait(ATTACKER, "alice", now)
        waits.append(wait)
        now += wait  # the attacker retries as soon as allowed
        throttle.failed(ATTACKER, "alice", now)
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, MAX_DELAY, MAX_DELAY, MAX_DELAY]
    assert MAX_DELAY == 30.0


def test_the_delay_runs_from_the_last_failure() -> None:
    throttle = LoginThrottle(2, 0, 0, LOCKOUT)
    throttle.failed(ATTACKER, "alice", 100.0)
    throttle.failed(ATTACKER, "alice", 100.0)
    assert throttle.wait(ATTACKER, "alice", 100.0) == 1.0
    assert throttle.wait(ATTACKER, "alice", 100.25) == 0.75
    assert throttle.wait(ATTACKER, "alice", 101.0) == 0.0
    assert throttle.wait(ATTACKER, "alice", 500.0) == 0.0


def test_no_delay_before_throttle_after_failures() -> None:
    throttle = LoginThrottle(3, 0, 0, LOCKOUT)
    for _ in range(2):
        throttle.failed(ATTACKER, "alice", 0.0)
        assert throttle.wait(ATTACKER, "alice", 0.0) == 0.0
    throttle.failed(ATTACKER, "alice", 0.0)
    assert throttle.wait(ATTACKER, "alice", 0.0) == 1.0


# --- lockouts ------------------------------------------------------------------------------------


def test_pair_lockout_after_lockout_after_failures_reported_once() -> None:
    throttle = LoginThrottle(0, 5, 0, LOCKOUT)
    reported = [throttle.failed(ATTACKER, "alice", 10.0) for _ in range(7)]
    assert reported == [False, False, False, False, True, False, False]  # the 5th locks; logged once
    assert throttle.wait(ATTACKER, "alice", 10.0) == math.inf
    assert throttle.wait(ATTACKER, "alice", 10.0 + LOCKOUT - 1) == math.inf
    assert throttle.wait(ATTACKER, "bob", 10.0) == 0.0  # the pair, not the address


def test_lockout_ends_lockout_seconds_after_the_last_failure_and_counts_start_over() -> None:
    throttle = LoginThrottle(0, 3, 0, LOCKOUT)
    fail_times(throttle, ATTACKER, "alice", 3, now=0.0)
    throttle.failed(ATTACKER, "alice", 500.0)  # a failure while locked extends the memory
    assert throttle.wait(ATTACKER, "alice", 500.0 + LOCKOUT - 0.5) == math.inf
    assert throttle.wait(ATTACKER, "alice", 500.0 + LOCKOUT) == 0.0
    throttle.failed(ATTACKER, "alice", 500.0 + LOCKOUT)
    assert throttle.wait(ATTACKER, "alice", 500.0 + LOCKOUT) == 0.0  # one failure, not four


def test_address_lockout_counts_failures_across_accounts() -> None:
    throttle = LoginThrottle(0, 0, 4, LOCKOUT)
    for account in ("alice", "bob", "carol"):
        throttle.failed(ATTACKER, account, 0.0)
    assert throttle.wait(ATTACKER, "dave", 0.0) == 0.0
    assert throttle.failed(ATTACKER, "dave", 0.0) is True  # the 4th failure from the address
    for account in ("alice", "bob", "carol", "dave", "never-tried"):
        assert throttle.wait(ATTACKER, account, 1.0) == math.inf
        assert throttle.wait(USER_HOME, account, 1.0) == 0.0
    assert throttle.wait(ATTACKER, "never-tried", LOCKOUT) == 0.0


def test_an_attacker_cannot_lock_a_user_out_from_the_users_own_address() -> None:
    throttle = LoginThrottle(3, 10, 30, LOCKOUT)
    fail_times(throttle, ATTACKER, "alice", 200, now=0.0)
    assert throttle.wait(ATTACKER, "alice", 1.0) == math.inf
    assert throttle.wait(USER_HOME, "alice", 1.0) == 0.0
    # ... and the user's own typos are counted on their own
    throttle.failed(USER_HOME, "alice", 2.0)
    assert throttle.wait(USER_HOME, "alice", 2.0) == 0.0


# --- success and expiry ------------------------------------------------------------------------------


def test_success_clears_only_its_pair() -> None:
    throttle = LoginThrottle(2, 0, 7, LOCKOUT)
    now = fail_times(throttle, USER_HOME, "alice", 3)
    now = fail_times(throttle, USER_HOME, "bob", 2, now)
    assert throttle.wait(USER_HOME, "bob", now) > 0
    assert throttle.wait(USER_HOME, "alice", now) > 0
    throttle.succeeded(USER_HOME, "alice")
    assert throttle.wait(USER_HOME, "alice", now) == 0.0
    throttle.failed(USER_HOME, "alice", now)  # counted from one again: no delay yet
    assert throttle.wait(USER_HOME, "alice", now) == 0.0
    assert throttle.wait(USER_HOME, "bob", now) > 0  # another pair keeps its count
    # the address keeps its count: 3 + 2 + 1 failures, and one more locks it (7)
    assert throttle.wait(USER_HOME, "carol", now) == 0.0
    throttle.failed(USER_HOME, "carol", now)
    assert throttle.wait(USER_HOME, "alice", now) == math.inf
    throttle.succeeded(USER_HOME, "nobody")  # a pair never seen: nothing happens


def test_counts_expire_lockout_seconds_after_the_last_failure() -> None:
    throttle = LoginThrottle(2, 0, 0, 60.0)
    throttle.failed(USER_HOME, "alice", 0.0)
    throttle.failed(USER_HOME, "alice", 30.0)
    assert throttle.wait(USER_HOME, "alice", 30.0) == 1.0
    throttle.failed(USER_HOME, "alice", 89.0)  # 59 s after the last one: still counted (3)
    assert throttle.wait(USER_HOME, "alice", 89.0) == 2.0
    throttle.failed(USER_HOME, "alice", 149.0)  # 60 s later: forgotten, this is the first
    assert throttle.wait(USER_HOME, "alice", 149.0) == 0.0


def test_old_records_are_dropped_as_new_failures_arrive() -> None:
    throttle = LoginThrottle(3, 10, 30, 60.0)
    for i in range(50):
        throttle.failed(f"10.0.0.{i}", "alice", 0.0)
    assert len(throttle) == 100  # a pair and an address each
    throttle.failed(ATTACKER, "alice", 61.0)  # everything else is older than 60 s
    assert len(throttle) == 2


# --- thresholds off and memory bound ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("throttle_after", "lockout_after", "address_lockout_after", "locks"),
    [(0, 0, 0, False), (0, 5, 0, True), (0, 0, 5, True), (3, 0, 0, False)],
)
def test_each_threshold_0_turns_its_rule_off(
    throttle_after: int, lockout_after: int, address_lockout_after: int, locks: bool
) -> None:
    throttle = LoginThrottle(throttle_after, lockout_after, address_lockout_after, LOCKOUT)
    waits = set()
    for _ in range(100):
        waits.add(throttle.wait(ATTACKER, "alice", 0.0))
        throttle.failed(ATTACKER, "alice", 0.0)
    assert (math.inf in waits) is locks
    if throttle_after == 0:
        assert waits - {math.inf} == {0.0}  # no delays at all
    else:
        assert max(waits) == MAX_DELAY


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockout, "MAX_ENTRIES", 64)
    throttle = LoginThrottle(1, 3, 3, LOCKOUT)
    for i in range(2000):  # a flood of made-up names from many addresses, within the window
        throttle.failed(f"10.{i // 250}.{i % 250}.1", f"name{i}", float(i) / 100)
        assert len(throttle) <= 64
    # the newest records are the ones kept: the last attacker is still throttled
    assert throttle.wait("10.7.249.1", "name1999", 20.0) > 0


def test_memory_bound_default_is_documented_and_large() -> None:
    assert lockout.MAX_ENTRIES == 100_000


# --- property: wait() against a model -------------------------------------------------------------------

ADDRESSES = ("a1", "a2", "a3")
ACCOUNTS = ("alice", "bob", "carol")

operations = st.lists(
    st.tuples(
        st.sampled_from(["fail", "fail", "fail", "succeed", "wait"]),
        st.sampled_from(ADDRESSES),
        st.sampled_from(ACCOUNTS),
        st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 20.0, 100.0]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 4),
    st.integers(0, 6),
    st.integers(0, 8),
    st.sampled_from([1.0, 10.0, 60.0, 900.0]),
    operations,
)
def test_wait_is_never_negative_and_infinite_exactly_when_a_threshold_is_reached(
    throttle_after: int, lockout_after: int, address_lockout_after: int, lockout_seconds: float, ops: list
) -> None:
    throttle = LoginThrottle(throttle_after, lockout_after, address_lockout_after, lockout_seconds)
    model: dict[tuple[str, str], tuple[int, float]] = {}  # key -> (count, last failure)

    def fresh(key: tuple[str, str], now: float) -> tuple[int, float] | None:
        record = model.get(key)
        if record is not None and now - record[1] >= lockout_seconds:
            del model[key]
            return None
        return record

    def locked(address: str, account: str, now: float) -> bool:
        pair, whole = fresh((address, account), now), fresh((address, ""), now)
        return bool(
            (address_lockout_after and whole and whole[0] >= address_lockout_after)
            or (lockout_after and pair and pair[0] >= lockout_after)
        )

    now = 1000.0
    for op, address, account, step in ops:
        now += step
        if op == "fail":
            was_locked = locked(address, account, now)
            for key in ((address, account), (address, "")):
                record = fresh(key, now)
                model[key] = ((record[0] if record else 0) + 1, now)
            assert throttle.failed(address, account, now) is (not was_locked and locked(address, account, now))
        elif op == "succeed":
            model.pop((address, account), None)
            throttle.succeeded(address, account)
        for other_address in ADDRESSES:
            for other_account in ACCOUNTS:
                wait = throttle.wait(other_address, other_account, now)
                assert wait >= 0
                assert (wait == math.inf) is locked(other_address, other_account, now)
                if math.isfinite(wait):
                    assert wait <= MAX_DELAY
                    pair = fresh((other_address, other_account), now)
                    if not throttle_after or pair is None or pair[0] < throttle_after:
                        assert wait == 0


def test_attempts_under_way_count_so_parallel_connections_gain_nothing() -> None:
    """Twenty connections trying at once are spread like twenty attempts in a row: the
    fourth waits, later ones wait longer, and past lockout_after they are refused."""
    throttle = LoginThrottle(throttle_after=3, lockout_after=10, address_lockout_after=0, lockout_seconds=900)
    waits = []
    for _ in range(20):
        wait = throttle.wait("10.0.0.1", "bob", 0.0)
        waits.append(wait)
        if wait != math.inf:
            throttle.begin("10.0.0.1", "bob")
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:10] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert all(w == math.inf for w in waits[10:])
    assert throttle.wait("10.0.0.2", "bob", 0.0) == 0.0  # another address is not affected
    for _ in range(10):
        throttle.end("10.0.0.1", "bob")
    assert throttle.wait("10.0.0.1", "bob", 0.0) == 0.0  # nothing under way, no failures


def test_guesses_from_many_addresses_slow_an_account_down_but_never_lock_it() -> None:
    """Issue 14: a per-account guess budget across addresses: past it every attempt for
    the account waits a growing delay (at most 30 s), and the right password still works."""
    throttle = LoginThrottle(0, 0, 0, 900.0, account_throttle_after=5)
    for i in range(5):
        assert throttle.wait(f"10.0.{i}.1", "user1", 0.0) == 0.0
        throttle.failed(f"10.0.{i}.1", "user1", 0.0)
    assert throttle.wait("192.0.2.7", "user1", 0.0) == 1.0  # a new address waits too
    for i in range(5, 40):
        throttle.failed(f"10.0.{i}.1", "user1", 0.0)
    assert throttle.wait("192.0.2.7", "user1", 0.0) == 30.0  # capped: slowed, not locked
    assert throttle.wait("192.0.2.7", "user2", 0.0) == 0.0  # other accounts untouched
    throttle.succeeded("192.0.2.7", "user1")
    assert throttle.wait("10.0.3.1", "user1", 0.0) == 30.0  # the owner's login does not refill it


def test_registrations_per_address_refill_over_an_hour() -> None:
    """Issue 14: 18 connections made 355 accounts in 25 s; now an address gets
    ``per_hour`` at once, then one more every ``3600 / per_hour`` seconds."""
    from pollchat.core.registration import RegistrationLimit

    limit = RegistrationLimit(per_hour=3)
    assert [limit.allow("10.0.0.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("10.0.0.2", 0.0)  # another address has its own
    assert not limit.allow("10.0.0.1", 1199.0)
    assert limit.allow("10.0.0.1", 1201.0)  # one refilled after 20 minutes
    assert RegistrationLimit(per_hour=0).allow("10.0.0.1", 0.0)  # 0: off
    limit.allow("10.0.0.3", 2.0)
    limit.allow("10.0.0.4", 10_000.0)  # everything else refilled long ago: forgotten
    assert len(limit) == 1


def test_address_bans_match_the_longest_prefix_in_force() -> None:
    from pollchat.core.accounts import Ban
    from pollchat.core.addressbans import AddressBan, AddressBans, parse_network

    assert parse_network("alice") is None and parse_network("10") is None
    assert str(parse_network("192.0.2.77/24")) == "192.0.2.0/24"  # host bits cleared
    assert str(parse_network("::ffff:192.0.2.7")) == "192.0.2.7/32"  # IPv4-mapped is IPv4
    net24, net32 = parse_network("192.0.2.0/24"), parse_network("192.0.2.7")
    assert net24 is not None and net32 is not None
    bans = AddressBans([AddressBan(net24, Ban(None, "spam", "root")), AddressBan(net32, Ban(50.0, "x", "root"))])
    found = bans.match("192.0.2.7", 10.0)
    assert found is not None and found.network == net32  # the longest prefix
    found = bans.match("::ffff:192.0.2.7", 60.0)
    assert found is not None and found.network == net24  # the /32 ended at 50
    assert bans.match("198.51.100.1", 10.0) is None
    assert bans.match("2001:db8::1", 10.0) is None and bans.match("not an address", 10.0) is None
    assert bans.remove(net24, 10.0) and not bans.remove(net24, 10.0)
