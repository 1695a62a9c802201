"""The in-memory ignore lists (pollchat.core.ignores): a model test over load, unload,
add and remove, and the memory rule that an account ignoring nobody holds no set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.core.ignores import Ignores

IDS = (1, 2, 3, -4)  # -4: a guest
OPS = st.lists(st.tuples(st.sampled_from(("load", "unload", "add", "remove")), st.sampled_from(IDS),
                         st.sampled_from(IDS)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_ignores_match_a_model_of_sets(ops: list[tuple[str, int, int]]) -> None:
    """Memory only (no store): a list lives while its account is loaded; add and remove
    answer whether they changed it; who ignores whom, both ways, matches a model."""
    ignores = Ignores()
    model: dict[int, set[int]] = {}
    for op, a, b in ops:
        if op == "load":
            model.setdefault(a, set())
            ignores.load(a)
        elif op == "unload":
            model.pop(a, None)
            ignores.unload(a)
        elif op == "add":
            assert ignores.add(a, b, f"n{b}", 0.0) == (b not in model.get(a, set()))
            model.setdefault(a, set()).add(b)
        else:
            assert ignores.remove(a, b) == (b in model.get(a, set()))
            model.get(a, set()).discard(b)
        for x in IDS:
            assert set(ignores.of(x)) == model.get(x, set())
            assert set(ignores.ignorers(x)) == {y for y, s in model.items() if x in s}
            for y in IDS:
                assert ignores.ignores(x, y) == (y in model.get(x, set()))
        assert ignores.anyone == any(model.values())


class _Store:
    def __init__(self, lists: dict[int, list[int]]) -> None:
        self.lists = lists

    def ignored_ids(self, account_id: int) -> list[int]:
        return list(self.lists.get(account_id, []))

    def ignored_names(self, account_id: int) -> list[str]:
        return [f"n{i}" for i in self.lists.get(account_id, [])]

    def add_ignore(self, account_id: int, ignored_id: int, now: float) -> None:
        self.lists.setdefault(account_id, []).append(ignored_id)

    def remove_ignore(self, account_id: int, ignored_id: int) -> None:
        self.lists[account_id].remove(ignored_id)


def test_accounts_that_ignore_nobody_share_one_empty_list() -> None:
    """Most logged-in accounts ignore nobody: each held an empty set of its own (216
    bytes of every connection, 4 MiB at 19,000). Now they share one; the first /ignore
    gives an account its own set, and the others stay empty."""
    ignores = Ignores(_Store({3: [1]}))
    for account in (1, 2, 3):
        ignores.load(account)
    assert ignores.of(1) is ignores.of(2)
    assert set(ignores.of(3)) == {1}
    assert ignores.add(1, 2, "n2", 0.0)
    assert set(ignores.of(1)) == {2} and set(ignores.of(2)) == set()
    assert not ignores.remove(2, 1) and ignores.remove(1, 2) and not ignores.ignores(1, 2)
