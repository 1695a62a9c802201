"""The input budget (pollchat.core.budget): GCRA in one number per client."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.budget import InputBudget


def test_a_fresh_budget_lets_a_burst_through_then_asks_to_wait() -> None:
    budget = InputBudget(rate=10, burst_seconds=10)
    assert budget.burst == 100
    tat = budget.charge(0.0, 1000.0, 100)
    assert budget.wait(tat, 1000.0) <= 0  # exactly the burst: not in debt
    tat = budget.charge(tat, 1000.0, 50)
    assert budget.wait(tat, 1000.0) == 5.0  # 50 units over, at 10 a second
    assert budget.wait(tat, 1005.0) == 0.0


def test_idle_time_refills_but_never_past_the_burst() -> None:
    budget = InputBudget(rate=10, burst_seconds=10)
    tat = budget.charge(0.0, 0.0, 100)
    tat = budget.charge(tat, 1_000_000.0, 150)  # a long silence is worth one burst, not more
    assert budget.wait(tat, 1_000_000.0) == 5.0


@given(
    rate=st.floats(0.5, 1e4),
    gaps=st.lists(st.tuples(st.floats(0, 100), st.integers(0, 1000)), max_size=50),
)
def test_what_passes_never_exceeds_the_burst_plus_rate_times_time(rate: float, gaps: list[tuple[float, int]]) -> None:
    """Whatever the timing, the units charged while not in debt are at most one burst
    plus ``rate`` per elapsed second (plus the last charge, which may overdraw)."""
    budget = InputBudget(rate=rate, burst_seconds=10)
    tat, now, passed, last = 0.0, 0.0, 0, 0
    for gap, units in gaps:
        now += gap
        if budget.wait(tat, now) > 0:
            continue  # in debt: the guard reads nothing
        tat = budget.charge(tat, now, units)
        passed += units
        last = units
    assert passed <= budget.burst + rate * now + last + 1e-6 * max(1.0, passed)
