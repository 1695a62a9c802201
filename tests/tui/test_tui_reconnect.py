"""The reconnection policy (pollchat.client.reconnect): exponential backoff with jitter.

The random source is injected, so the bounds are checked exactly: the nominal delay
doubles from 1 s, is capped at 30 s, and the actual delay lies in [nominal/2, nominal].
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.client.reconnect import Backoff, backoff_delay


def test_delay_grows_then_is_capped() -> None:
    nominal = [backoff_delay(n, 1.0) for n in range(8)]
    assert nominal == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(10_000, 1.0) == 30.0  # no overflow on a long outage


@pytest.mark.parametrize("attempt", [0, 1, 3, 5, 9])
def test_jitter_bounds(attempt: int) -> None:
    nominal = min(30.0, 2.0**attempt)
    assert backoff_delay(attempt, 0.0) == nominal / 2
    assert backoff_delay(attempt, 1.0) == nominal
    assert backoff_delay(attempt, 0.5) == nominal * 0.75


@given(st.integers(0, 100), st.floats(0, 1), st.floats(0, 1))
def test_delay_is_always_within_bounds(attempt: int, rand: float, jitter: float) -> None:
    nominal = min(30.0, 2.0 ** min(attempt, 64))
    delay = backoff_delay(attempt, rand, jitter=jitter)
    assert nominal * (1 - jitter) - 1e-9 <= delay <= nominal + 1e-9


def test_backoff_uses_the_injected_random_source_and_resets() -> None:
    draws = iter([0.0, 1.0, 0.5, 0.25])
    policy = Backoff(rand=lambda: next(draws))
    assert [policy.next_delay() for _ in range(3)] == [0.5, 2.0, 3.0]
    assert policy.attempts == 3
    policy.reset()
    assert policy.next_delay() == 0.625  # attempt 0 again: 1 s nominal, draw 0.25


def test_default_random_source_stays_in_range() -> None:
    policy = Backoff()
    for attempt in range(12):
        nominal = min(30.0, 2.0**attempt)
        assert nominal / 2 <= policy.next_delay() <= nominal
