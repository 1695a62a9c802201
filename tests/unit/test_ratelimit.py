"""The per-connection line rate limit (pollchat.core.ratelimit.TokenBucket), pure.

A new bucket is full: ``burst`` lines pass at once, the next one does not; tokens come
back at ``rate`` per second up to ``burst``; a refused line costs nothing; a sender at
or under the rate is never refused (property); time is passed in.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.ratelimit import TokenBucket

T0 = 1_700_000_000.0


def test_a_new_bucket_lets_burst_lines_through_at_once() -> None:
    bucket = TokenBucket(rate=5, burst=5, now=T0)
    assert [bucket.take(T0) for _ in range(7)] == [True] * 5 + [False, False]


def test_tokens_come_back_at_rate_per_second() -> None:
    bucket = TokenBucket(rate=4, burst=4, now=T0)
    for _ in range(4):
        assert bucket.take(T0)
    assert not bucket.take(T0 + 0.125)  # half a token
    assert bucket.take(T0 + 0.25)  # one token (the refused line took none)
    assert not bucket.take(T0 + 0.25)
    assert [bucket.take(T0 + 1.25) for _ in range(5)] == [True] * 4 + [False]


def test_refill_stops_at_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=T0)
    assert [bucket.take(T0 + 3600) for _ in range(4)] == [True, True, True, False]


def test_a_burst_below_one_still_lets_one_line_through() -> None:
    bucket = TokenBucket(rate=1, burst=0, now=T0)
    assert bucket.burst == 1
    assert [bucket.take(T0), bucket.take(T0)] == [True, False]


def test_fractional_rates() -> None:
    bucket = TokenBucket(rate=0.5, burst=1, now=T0)
    assert bucket.take(T0)
    assert not bucket.take(T0 + 1.5)
    assert bucket.take(T0 + 2.0)


@given(
    st.integers(1, 50),
    st.integers(1, 50),
    st.lists(st.integers(0, 4000), max_size=100),
)
def test_never_more_than_burst_plus_rate_times_elapsed(rate: int, burst: int, steps_ms: list[int]) -> None:
    bucket = TokenBucket(rate, burst, T0)
    now, passed = T0, 0
    for step in steps_ms:
        now += step / 1000
        passed += bucket.take(now)
        assert passed <= burst + rate * (now - T0) + 1e-6


@given(st.integers(1, 50), st.integers(1, 50), st.integers(1, 200))
def test_a_sender_at_the_rate_is_never_refused(rate: int, burst: int, lines: int) -> None:
    # one line every 1/rate seconds plus a millisecond (float times are not exact)
    step_ms = 1000 // rate + 1
    bucket = TokenBucket(rate, burst, T0)
    assert all(bucket.take(T0 + i * step_ms / 1000) for i in range(lines))
