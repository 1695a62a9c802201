"""The JSON form of the view store's shared calls (pollchat.store.pgviews: the ``store``
records a cluster node publishes): every argument a shared call takes comes back equal
after JSON, and anything else is refused. Pure: no database."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.accounts import Account
from pollchat.core.groups import PendingChange
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.store.pgviews import _from_json, _to_json

texts = st.text(max_size=30)
ids = st.integers(min_value=-(2**53), max_value=2**53)
times = st.floats(allow_nan=False, allow_infinity=False)

records = st.builds(
    HistoryRecord, times, st.sampled_from(RecordKind), ids, texts, texts, st.none() | ids, st.none() | texts, ids,
    st.none() | ids, st.booleans(),
)
accounts = st.builds(
    Account, texts, texts, st.sampled_from(AccountKind), ids, st.booleans(), texts, st.booleans()
)
changes = st.builds(PendingChange, texts, texts, texts, texts, times)
arguments = st.lists(
    st.one_of(records, accounts, changes, st.lists(records, max_size=3), st.lists(accounts, max_size=3), ids, texts,
              times, st.none(), st.booleans()),
    max_size=5,
)


@given(arguments)
def test_a_shared_call_s_arguments_survive_json(values: list[object]) -> None:
    back = _from_json(json.loads(json.dumps(_to_json(values))))
    assert back == values
    for sent, got in zip(values, back):  # warned is not compared by ==, but travels too
        if isinstance(sent, HistoryRecord):
            assert isinstance(got, HistoryRecord) and got.warned == sent.warned and got.kind is sent.kind


def test_other_types_are_refused_both_ways() -> None:
    with pytest.raises(TypeError):
        _to_json([object()])
    with pytest.raises(ValueError):
        _from_json({"@": "Path"})
    with pytest.raises(ValueError):
        _from_json({"@e": "ErrorCode", "v": "x"})
