"""SeatBudget (pollchat.core.seats): reserved seats for preconfigured accounts, shared seats
(``max_users - preconfigured``) for registered ones; constructor checks, has_seat / take /
release, and the budget invariants under random take/release sequences.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.seats import AccountKind, SeatBudget

PRE, REG = AccountKind.PRECONFIGURED, AccountKind.REGISTERED


@pytest.mark.parametrize(("max_users", "preconfigured"), [(0, 0), (-1, 0), (3, 4), (3, -1), (1, 2)])
def test_invalid_budgets(max_users: int, preconfigured: int) -> None:
    with pytest.raises(ValueError):
        SeatBudget(max_users, preconfigured)


@pytest.mark.parametrize(
    ("max_users", "preconfigured", "registered_seats"),
    [(1, 0, 1), (1, 1, 0), (4, 3, 1), (3, 3, 0), (10, 0, 10), (10, 4, 6)],
)
def test_registered_seats(max_users: int, preconfigured: int, registered_seats: int) -> None:
    budget = SeatBudget(max_users, preconfigured)
    assert budget.registered_seats == registered_seats
    assert budget.total_online == 0
    assert budget.has_seat(REG) is (registered_seats > 0)
    assert budget.has_seat(PRE) is (preconfigured > 0)


def test_seed_budget_four_users_three_preconfigured() -> None:
    budget = SeatBudget(4, 3)
    budget.take(REG)
    assert not budget.has_seat(REG)
    with pytest.raises(ValueError):
        budget.take(REG)
    for _ in range(3):  # the registered seat being taken never blocks a preconfigured one
        assert budget.has_seat(PRE)
        budget.take(PRE)
    assert not budget.has_seat(PRE)
    with pytest.raises(ValueError):
        budget.take(PRE)
    assert (budget.online(PRE), budget.online(REG), budget.total_online) == (3, 1, 4)
    budget.release(REG)
    assert budget.has_seat(REG)
    assert (budget.online(REG), budget.total_online) == (0, 3)
    budget.release(PRE)
    assert budget.has_seat(PRE)
    assert budget.total_online == 2


def test_preconfigured_sessions_do_not_use_registered_seats() -> None:
    budget = SeatBudget(2, 1)
    budget.take(PRE)
    assert budget.has_seat(REG)
    budget.take(REG)
    assert budget.total_online == 2


@pytest.mark.parametrize("kind", list(AccountKind))
def test_release_without_a_session_is_an_error(kind: AccountKind) -> None:
    budget = SeatBudget(4, 3)
    with pytest.raises(ValueError):
        budget.release(kind)
    assert budget.online(kind) == 0


def test_failed_take_changes_nothing() -> None:
    budget = SeatBudget(1, 1)
    with pytest.raises(ValueError):
        budget.take(REG)
    assert budget.total_online == 0


@given(
    st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    st.lists(st.tuples(st.sampled_from(["take", "release"]), st.sampled_from(list(AccountKind))), max_size=60),
)
def test_random_take_release_keeps_the_invariants(sizes: tuple[int, int], ops: list[tuple[str, AccountKind]]) -> None:
    max_users, preconfigured = sizes
    budget = SeatBudget(max_users, preconfigured)
    model = {PRE: 0, REG: 0}
    limits = {PRE: preconfigured, REG: max_users - preconfigured}
    for op, kind in ops:
        if op == "take":
            assert budget.has_seat(kind) is (model[kind] < limits[kind])
            if model[kind] < limits[kind]:
                budget.take(kind)
                model[kind] += 1
            else:
                with pytest.raises(ValueError):
                    budget.take(kind)
        elif model[kind]:
            budget.release(kind)
            model[kind] -= 1
        else:
            with pytest.raises(ValueError):
                budget.release(kind)
        assert budget.online(PRE) == model[PRE] <= preconfigured
        assert budget.online(REG) == model[REG] <= max_users - preconfigured
        assert budget.total_online == model[PRE] + model[REG] <= max_users
