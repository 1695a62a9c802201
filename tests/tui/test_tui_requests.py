"""The client's pending requests (pollchat.client.requests): matched by label, or in
order with a server without labels; bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.client.requests import MAX_PENDING, PROBE_LINE, PendingRequests, Request
from pollchat.protocol.labels import split_label


def test_the_probe_is_a_labelled_mode_line() -> None:
    assert split_label(PROBE_LINE) == ("probe", "mode json")


def test_with_labels_each_request_gets_its_own_and_the_answer_finds_it() -> None:
    pending = PendingRequests()
    pending.labels = True
    who = pending.send("/who", Request("who", True))
    whois = pending.send("/whois bob", Request("whois", False, "bob"))
    (who_label, who_rest), (whois_label, whois_rest) = split_label(who), split_label(whois)
    assert (who_rest, whois_rest) == ("/who", "/whois bob") and who_label != whois_label
    assert pending.answer(whois_label, final=True) == Request("whois", False, "bob")  # out of order: fine
    assert pending.answer(whois_label, final=True) is None  # answered once
    assert pending.answer(who_label, final=False) == Request("who", True)  # a history start, say
    assert pending.answer(who_label, final=True) == Request("who", True)
    assert pending.answer(None, final=True) is None and pending.answer("u", final=True) is None
    assert len(pending) == 0


def test_without_labels_lines_go_as_typed_and_answers_are_taken_in_order() -> None:
    pending = PendingRequests()
    assert pending.send("/who", Request("who", True)) == "/who"
    assert pending.send("/whois bob", Request("whois", True, "bob")) == "/whois bob"
    assert pending.send("/who", Request("who", False)) == "/who"
    assert pending.answer("r1", final=True) is None  # no labels: nothing matched by one
    assert pending.oldest("who") == Request("who", True)
    assert pending.oldest("who") == Request("who", False)
    assert pending.oldest("who") is None
    assert pending.oldest("whois") == Request("whois", True, "bob")


def test_a_lost_connection_forgets_the_requests_and_the_labels() -> None:
    pending = PendingRequests()
    pending.labels = True
    label, _ = split_label(pending.send("/who", Request("who", True)))
    pending.clear()
    assert not pending.labels and pending.answer(label, final=True) is None and len(pending) == 0


@given(st.lists(st.booleans(), max_size=MAX_PENDING + 50))
def test_the_requests_kept_are_bounded(labelled: list[bool]) -> None:
    pending = PendingRequests()
    for with_label in labelled:
        pending.labels = with_label
        pending.send("/who", Request("who", True))
    assert len(pending) <= 2 * MAX_PENDING
