"""Kick, ban, unban and announce as core decisions (pollchat.core.moderation), and the
roster's views (pollchat.core.roster): effects out, no I/O."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.effects import Delivery, LeftEveryone, ToEveryone
from pollchat.core.moderation import Moderation
from pollchat.core.roster import Everyone
from pollchat.protocol.events import Announcement, Error, Left, Notice
from pollchat.texts import ErrorCode, NoticeCode
from tests.unit.test_hub import T0, login, make_hub, online


def test_kick_tells_the_target_ends_its_session_and_says_who_to_close() -> None:
    hub, _ = make_hub()
    a, b, c = online(hub, "user1", "user2", "user3")
    outcome = Moderation(hub).kick("user1", "USER2", "spam")
    assert outcome.reply == Notice.of(NoticeCode.KICK_DONE, name="user2")
    assert outcome.deliveries == (
        Delivery((b,), Notice.of(NoticeCode.KICKED, by="user1", reason=": spam")),
        LeftEveryone(b),
        ToEveryone((a, c), Left("user2", "disconnected by user1: spam")),
    )
    assert outcome.disconnect == (b,)
    assert hub.session_of(b) is None and hub.online_names() == ("user1", "user3")


def test_nobody_kicks_or_bans_their_own_account_but_the_console_has_none() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    moderation = Moderation(hub)
    assert moderation.kick("user1", "user1").reply == Error.of(ErrorCode.NOT_YOURSELF, name="kick")
    assert moderation.ban("User1", "user1", None).reply == Error.of(ErrorCode.NOT_YOURSELF, name="ban")
    assert hub.session_of(a) is not None
    assert moderation.kick("user1", "user1", actor_is_account=False).disconnect == (a,)


def test_kick_of_an_unknown_or_offline_name_is_an_error() -> None:
    hub, _ = make_hub()
    online(hub, "user1")
    moderation = Moderation(hub)
    assert moderation.kick("user1", "nobody").reply == Error.of(ErrorCode.NO_SUCH_USER, name="nobody")
    assert moderation.kick("user1", "user2").reply == Error.of(ErrorCode.NOT_ONLINE, name="user2")


def test_a_ban_is_kept_ends_the_session_and_refuses_the_next_login_until_lifted() -> None:
    hub, store = make_hub()
    a, b = online(hub, "user1", "user2")
    moderation = Moderation(hub)
    outcome = moderation.ban("user1", "user2", T0 + 3600, "rude")
    assert outcome.reply == Notice.of(NoticeCode.BAN_DONE, name="user2", until="until 2023-11-14 23:13 UTC")
    assert outcome.disconnect == (b,) and LeftEveryone(b) in outcome.deliveries
    assert store.bans[2] == (T0 + 3600, "rude", "user1")
    assert login(hub, b, "user2", "345").refusal is ErrorCode.BANNED
    assert moderation.unban("user1", "user2").reply == Notice.of(NoticeCode.UNBAN_DONE, name="user2")
    assert moderation.unban("user1", "user2").reply == Error.of(ErrorCode.NOT_BANNED, name="user2")
    assert login(hub, b, "user2", "345").refusal is None


def test_a_ban_of_someone_offline_has_no_effects() -> None:
    hub, _ = make_hub()
    online(hub, "user1")
    outcome = Moderation(hub).ban("user1", "user3", None)
    assert outcome.reply == Notice.of(NoticeCode.BAN_DONE, name="user3", until="for good")
    assert outcome.deliveries == () and outcome.disconnect == ()


def test_announce_goes_to_everyone_the_admin_included() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    assert Moderation(hub).announce("user1", "maintenance at noon") == [
        ToEveryone((a, b), Announcement("user1", "maintenance at noon"))
    ]


# --- the roster's Everyone view -------------------------------------------------------------


@given(st.lists(st.integers(0, 9), unique=True, max_size=10), st.integers(0, 10), st.integers(0, 11))
def test_everyone_is_the_tuple_of_its_first_handles_but_one(handles: list[int], size: int, exclude: int) -> None:
    size = min(size, len(handles))
    view = Everyone(handles, exclude, size)
    expected = tuple(h for h in handles[:size] if h != exclude)
    assert view == expected and tuple(view) == expected
    assert len(view) == len(expected) and bool(view) == bool(expected)
    assert hash(view) == hash(expected)
    if expected:
        assert view[0] == expected[0] and view[-1] == expected[-1]


def test_a_view_made_before_later_logins_and_leaves_keeps_its_moment() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    before = hub.everyone()
    (c,) = online(hub, "user3")  # appended to the same list: the old view sees its count only
    assert before == (a, b) and hub.everyone() == (a, b, c)
    hub.leave(a)  # a leave makes a new list: the old views are untouched
    assert before == (a, b) and hub.everyone() == (b, c)
