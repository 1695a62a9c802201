"""Whether a cluster node publishes a left notice for an account with several devices
(pollchat.server.cluster.node.left_notice): the release script's answer decides, not
the node's own view of the account's other devices."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]'")

from pollchat.protocol.events import Left  # noqa: E402
from pollchat.server.cluster.node import left_notice  # noqa: E402
from pollchat.server.cluster.redis import LINK_DOWN  # noqa: E402

HELD = Left("amy", "bye")


def test_the_last_session_anywhere_says_the_hub_s_notice_or_a_plain_one() -> None:
    assert left_notice(2, HELD, "amy") is HELD  # with the /quit message the hub kept
    assert left_notice(2, None, "amy") == Left("amy", "")  # the hub still showed another node's device


def test_a_device_online_elsewhere_or_a_reaped_session_says_nothing() -> None:
    assert left_notice(1, HELD, "amy") is None  # another device logged in on another node meanwhile
    assert left_notice(0, HELD, "amy") is None  # reaped: the reaper's entry said it


def test_without_the_engine_the_hub_s_view_is_all_there_is() -> None:
    assert left_notice(LINK_DOWN, HELD, "amy") is HELD
    assert left_notice(LINK_DOWN, None, "amy") is None


@given(st.one_of(st.integers(-3, 5), st.binary(max_size=4), st.none()), st.booleans())
def test_at_most_one_notice_and_only_of_that_account(reply: object, held: bool) -> None:
    event = left_notice(reply, HELD if held else None, "amy")  # type: ignore[arg-type]
    assert event is None or (isinstance(event, Left) and event.name == "amy")
    if reply == 2:
        assert event is not None
    if reply in (0, 1):
        assert event is None
