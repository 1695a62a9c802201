"""GroupChat rules the state machine (tests/test_group_state.py) does not reach well:
mentions (in a group and in the main chat, and :func:`mentioned_keys` edge cases),
``/focus`` routing and its reset on kick, ban, delete and leave, ``#name`` lines (unknown
group, non-member, no text), the login ``welcome``, an unregistered account's groups,
the limits, typing and admins' powers."""

from __future__ import annotations

import pytest

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.group_chat import GROUP_LINE_USAGE, GroupChat
from pollchat.core.groups import GroupLimits, Groups
from pollchat.core.effects import Delivery, ToEveryone, ToGroup
from pollchat.core.history import RecordKind
from pollchat.core.hub import Hub
from pollchat.core.mentions import MAX_MENTIONS, mentioned_keys
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import (
    Emote,
    Error,
    GroupEvent,
    Mention,
    Message,
    Notice,
    Typing,
)
from pollchat.texts import ErrorCode, GroupChange, NoticeCode
from tests.unit.test_group_state import FakeGroupStore
from tests.unit.test_hub import Conn, FakeClock, MemoryAccounts

NAMES = ("ann", "bob", "cat", "dan")


class GroupLine:
    """A group line as these tests write it: equal to a :class:`ToGroup` with these
    targets (the sender left out) and this event, whatever the group's id."""

    def __init__(self, targets: tuple[object, ...], event: object) -> None:
        self.targets, self.event = targets, event

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToGroup):
            return NotImplemented
        return tuple(other.targets) == self.targets and other.event == self.event

    def __repr__(self) -> str:
        return f"GroupLine({self.targets!r}, {self.event!r})"


class World:
    """A hub with ann, bob, cat, dan (ids 1-4) and the admin root (id 9), a group chat
    over a fake store, and helpers to log in and out."""

    def __init__(self, limits: GroupLimits | None = None) -> None:
        accounts = [Account(n, "h-" + n, AccountKind.PRECONFIGURED, i) for i, n in enumerate(NAMES, 1)]
        accounts.append(Account("root", "h-root", AccountKind.PRECONFIGURED, 9, admin=True))
        self.accounts = {a.name: a for a in accounts}
        self.clock = FakeClock()
        self.hub: Hub[Conn] = Hub(AccountDirectory(accounts, MemoryAccounts()), SeatBudget(5, 5), clock=self.clock)
        self.store = FakeGroupStore({a.id: a.name for a in accounts})
        self.groups = Groups(self.store, limits)  # type: ignore[arg-type]
        self.chat: GroupChat[Conn] = GroupChat(self.hub, self.groups)
        self.h: dict[str, Conn] = {}

    def login(self, *names: str) -> None:
        for name in names:
            self.clock.advance(1)
            handle = Conn(name)
            assert self.hub.login(handle, self.accounts[name], True).refusal is None
            self.h[name] = handle

    def logout(self, name: str) -> None:
        self.hub.leave(self.h.pop(name))

    def group(self, name: str, owner: str, *members: str, private: bool = False) -> None:
        """``owner`` (online) creates ``name``; ``members`` (online) join it."""
        self.clock.advance(1)
        assert not errors(self.chat.create(self.h[owner], name, "private" if private else "public"))
        for member in members:
            self.clock.advance(1)
            if private:
                assert not errors(self.chat.join(self.h[member], name))
                assert not errors(self.chat.accept(self.h[owner], member, name))
            else:
                assert not errors(self.chat.join(self.h[member], name))

    def focus_of(self, name: str) -> int | None:
        session = self.hub.session_of(self.h[name])
        assert session is not None
        return session.focus


def errors(deliveries: list[Delivery[Conn]]) -> list[Error]:
    return [d.event for d in deliveries if isinstance(d.event, Error)]


def only_error(deliveries: list[Delivery[Conn]], handle: Conn) -> ErrorCode:
    assert len(deliveries) == 1 and deliveries[0].targets == (handle,), deliveries
    assert isinstance(deliveries[0].event, Error)
    return deliveries[0].event.code


def of_type(deliveries: list[Delivery[Conn]], kind: type) -> list[Delivery[Conn]]:
    return [d for d in deliveries if isinstance(d.event, kind)]


@pytest.fixture
def w() -> World:
    world = World()
    world.login("ann", "bob", "cat", "dan")
    return world


# --- mentions -------------------------------------------------------------------------------------------


def test_a_mention_in_a_group_notifies_only_online_members_other_than_the_sender(w: World) -> None:
    w.group("tea", "ann", "bob", "dan")
    w.logout("dan")  # a member, but offline
    out = w.chat.say(w.h["ann"], "#tea hi @bob @cat @dan @ann @zed")
    assert out[0] == GroupLine((w.h["bob"],), Message("ann", "hi @bob @cat @dan @ann @zed", group="tea"))
    assert of_type(out, Mention) == [Delivery((w.h["bob"],), Mention("ann", "hi @bob @cat @dan @ann @zed", "tea"))]
    assert len(out) == 2


def test_a_mention_in_the_main_chat_notifies_online_users_other_than_the_sender(w: World) -> None:
    w.logout("dan")
    out = w.chat.say(w.h["ann"], "hey @BOB, @cat! @dan @ann")
    assert out[0] == ToEveryone((w.h["bob"], w.h["cat"]), Message("ann", "hey @BOB, @cat! @dan @ann"))
    mentions = of_type(out, Mention)
    assert [d.targets for d in mentions] == [(w.h["bob"],), (w.h["cat"],)]
    assert all(d.event == Mention("ann", "hey @BOB, @cat! @dan @ann", "") for d in mentions)


def test_a_mention_repeated_notifies_once(w: World) -> None:
    out = w.chat.say(w.h["ann"], "@bob @Bob @BOB. (@bob)")
    assert [d.targets for d in of_type(out, Mention)] == [(w.h["bob"],)]


def test_a_focused_action_mentions_group_members_only(w: World) -> None:
    w.group("tea", "ann", "bob")
    w.chat.focus(w.h["ann"], "tea")
    out = w.chat.act(w.h["ann"], "waves at @bob and @cat")
    assert out[0] == GroupLine((w.h["bob"],), Emote("ann", "waves at @bob and @cat", group="tea"))
    assert of_type(out, Mention) == [Delivery((w.h["bob"],), Mention("ann", "waves at @bob and @cat", "tea"))]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("@bob", ["bob"]),
        ("@bob.", ["bob.", "bob"]),  # "bob." is a valid name too
        ("(@bob)", ["bob"]),
        ("@bob, @cat!", ["bob", "cat"]),
        ("@bob!?", ["bob"]),
        ("@a.b", ["a.b"]),
        ("me@bob", []),
        ("x_@bob", []),
        ("@@bob", []),
        ("@", []),
        ("@ bob", []),
        ("@!!", []),
        ("@Bob @bob @BOB", ["bob"]),
        ("@Łukasz", ["łukasz"]),
        ("bob", []),
        ("@" + "b" * 33, []),  # too long a name
    ],
)
def test_mentioned_keys_edge_cases(text: str, keys: list[str]) -> None:
    assert mentioned_keys(text) == keys


def test_mentioned_keys_are_capped_first_come() -> None:
    names = [f"u{n}" for n in range(MAX_MENTIONS + 5)]
    assert mentioned_keys(" ".join("@" + n for n in names)) == names[:MAX_MENTIONS]
    assert len(mentioned_keys(" ".join(f"@u{n}." for n in range(MAX_MENTIONS)))) == MAX_MENTIONS


# --- focus and #name lines --------------------------------------------------------------------------------


def test_focus_sends_plain_lines_and_actions_to_the_group(w: World) -> None:
    w.group("tea", "ann", "bob")
    w.group("bar", "ann", "cat")
    assert w.chat.focus(w.h["ann"], "#TEA") == [Delivery((w.h["ann"],), Notice.of(NoticeCode.FOCUS_GROUP, group="tea"))]
    assert w.chat.say(w.h["ann"], "plain")[0] == GroupLine((w.h["bob"],), Message("ann", "plain", group="tea"))
    assert w.chat.act(w.h["ann"], "sips")[0] == GroupLine((w.h["bob"],), Emote("ann", "sips", group="tea"))
    # "#bar text" still goes to bar; "#nope text" (no such group) is refused, not sent to the focused group
    assert w.chat.say(w.h["ann"], "#bar cheers")[0] == GroupLine((w.h["cat"],), Message("ann", "cheers", group="bar"))
    assert only_error(w.chat.say(w.h["ann"], "#nope hi"), w.h["ann"]) is ErrorCode.NOT_IN_GROUP_LINE
    assert w.chat.focus(w.h["ann"], None) == [Delivery((w.h["ann"],), Notice.of(NoticeCode.FOCUS_MAIN))]
    assert w.chat.say(w.h["ann"], "plain")[0] == ToEveryone((w.h["bob"], w.h["cat"], w.h["dan"]), Message("ann", "plain"))
    records = w.hub.history.take()
    tea, bar = w.groups.find("tea"), w.groups.find("bar")
    assert [(r.kind, r.text, r.group_id) for r in records] == [
        (RecordKind.CHAT, "plain", tea.id),
        (RecordKind.ACTION, "sips", tea.id),
        (RecordKind.CHAT, "cheers", bar.id),
        (RecordKind.CHAT, "plain", None),
    ]


def test_focus_needs_a_group_one_belongs_to(w: World) -> None:
    w.group("tea", "ann")
    assert only_error(w.chat.focus(w.h["bob"], "tea"), w.h["bob"]) is ErrorCode.NOT_MEMBER
    assert only_error(w.chat.focus(w.h["bob"], "nope"), w.h["bob"]) is ErrorCode.NO_SUCH_GROUP
    assert only_error(w.chat.focus(w.h["bob"], "#bad name"), w.h["bob"]) is ErrorCode.BAD_GROUP_NAME
    assert w.focus_of("bob") is None


@pytest.mark.parametrize("how", ["kick", "ban", "delete", "leave", "owner leaves"])
def test_losing_the_focused_group_returns_to_the_main_chat(w: World, how: str) -> None:
    w.group("tea", "ann", "bob")
    who = "ann" if how in ("delete", "owner leaves") else "bob"
    w.chat.focus(w.h[who], "tea")
    if how == "kick":
        out = w.chat.kick(w.h["ann"], "bob", "tea")
    elif how == "ban":
        out = w.chat.ban(w.h["ann"], "bob", "tea")
    elif how == "delete":
        w.chat.focus(w.h["bob"], "tea")
        out = w.chat.delete(w.h["ann"], "tea")
    else:
        out = w.chat.leave(w.h[who], "tea")
    told = [d.targets for d in out if d.event == Notice.of(NoticeCode.FOCUS_MAIN)]
    expected = [(w.h["ann"],), (w.h["bob"],)] if how == "delete" else [(w.h[who],)]
    assert told == expected
    assert w.focus_of(who) is None
    line = w.chat.say(w.h[who], "where am I")
    assert line[0].event == Message(who, "where am I")  # the main chat


def test_an_owner_leaving_a_group_others_focus_keeps_their_focus(w: World) -> None:
    w.group("tea", "ann", "bob")
    w.chat.focus(w.h["bob"], "tea")
    out = w.chat.leave(w.h["ann"], "tea")
    assert of_type(out, Notice) == []
    assert w.chat.say(w.h["bob"], "mine now")[0].event == Message("bob", "mine now", group="tea")


def test_a_hash_line_for_an_unknown_group_is_refused_and_sends_nothing(w: World) -> None:
    # A typo of a private group's name must not send the line to everyone.
    w.group("familia", "ann", "bob")
    out = w.chat.say(w.h["ann"], "#famila our secret plans")
    assert only_error(out, w.h["ann"]) is ErrorCode.NOT_IN_GROUP_LINE
    assert out[0].event.text.startswith("you are not in #famila:") and "/say #famila" in out[0].event.text
    assert w.hub.history.take() == []
    # "#" and then no valid group name is an ordinary line
    out = w.chat.say(w.h["ann"], "#1! fan")
    assert out == [ToEveryone((w.h["bob"], w.h["cat"], w.h["dan"]), Message("ann", "#1! fan"))]


def test_a_hash_line_from_a_non_member_is_refused_and_sends_nothing(w: World) -> None:
    w.group("tea", "ann", "bob")
    out = w.chat.say(w.h["cat"], "#Tea let me in")
    assert only_error(out, w.h["cat"]) is ErrorCode.NOT_MEMBER_LINE
    assert "#tea" in out[0].event.text
    assert w.hub.history.take() == []


@pytest.mark.parametrize("line", ["#tea", "#tea ", "#tea    "])
def test_a_hash_line_without_text_is_a_usage_error(w: World, line: str) -> None:
    w.group("tea", "ann", "bob")
    out = w.chat.say(w.h["ann"], line)
    assert out == [Delivery((w.h["ann"],), Error.of(ErrorCode.USAGE, usage=GROUP_LINE_USAGE))]
    assert w.hub.history.take() == []


def test_a_group_line_is_trimmed_and_not_echoed(w: World) -> None:
    w.group("tea", "ann", "bob", "cat")
    out = w.chat.say(w.h["bob"], "#tea   hello  ")
    assert out == [GroupLine((w.h["ann"], w.h["cat"]), Message("bob", "hello", group="tea"))]


def test_typing_reaches_other_online_members_only(w: World) -> None:
    w.group("tea", "ann", "bob", "cat")
    w.logout("cat")
    assert w.chat.typing(w.h["ann"], True, "#tea") == [GroupLine((w.h["bob"],), Typing("ann", True, group="tea"))]
    assert w.chat.typing(w.h["dan"], True, "#tea") == []  # not a member: ignored
    assert w.chat.typing(w.h["ann"], True, "#nope") == []


# --- welcome ---------------------------------------------------------------------------------------------


def test_welcome_tells_changes_made_while_away_then_requests_then_groups(w: World) -> None:
    w.group("tea", "ann", "bob")
    w.group("pub", "ann", "bob", private=True)
    w.group("bar", "ann", "bob")
    w.group("zoo", "bob", private=True)
    w.logout("bob")
    w.chat.kick(w.h["ann"], "bob", "tea")
    w.chat.delete(w.h["ann"], "bar")
    w.chat.join(w.h["cat"], "zoo")  # bob owns zoo: the request waits for him
    w.chat.join(w.h["dan"], "zoo")
    w.login("bob")
    events = [d.event for d in w.chat.welcome(w.h["bob"])]
    assert events == [
        GroupEvent("tea", GroupChange.KICKED, "bob", "ann"),
        GroupEvent("bar", GroupChange.DELETED, "", "ann"),
        GroupEvent("zoo", GroupChange.REQUEST, "cat"),
        GroupEvent("zoo", GroupChange.REQUEST, "dan"),
        Notice.of(NoticeCode.YOUR_GROUPS, names="#pub, #zoo"),
    ]
    again = [d.event for d in w.chat.welcome(w.h["bob"])]
    assert again == events[2:]  # the changes are told once; waiting requests every time


def test_welcome_tells_an_answered_request(w: World) -> None:
    w.group("pub", "ann", private=True)
    w.group("zoo", "ann", private=True)
    w.chat.join(w.h["bob"], "pub")
    w.chat.join(w.h["bob"], "zoo")
    w.logout("bob")
    w.chat.accept(w.h["ann"], "bob", "pub")
    w.chat.reject(w.h["ann"], "bob", "zoo")
    w.login("bob")
    assert [d.event for d in w.chat.welcome(w.h["bob"])] == [
        GroupEvent("pub", GroupChange.ACCEPTED, by="ann"),
        GroupEvent("zoo", GroupChange.REJECTED, by="ann"),
        Notice.of(NoticeCode.YOUR_GROUPS, names="#pub"),
    ]


def test_welcome_without_groups_says_nothing(w: World) -> None:
    w.group("tea", "ann")
    assert w.chat.welcome(w.h["bob"]) == []
    assert w.chat.welcome(Conn("nobody")) == []


# --- account changes -------------------------------------------------------------------------------------


def test_an_unregistered_account_hands_its_groups_over_and_drops_its_requests(w: World) -> None:
    w.group("tea", "ann", "cat", "bob")  # cat joined before bob: cat takes over
    w.group("solo", "ann")
    w.group("pub", "bob", private=True)
    w.group("bar", "dan", "ann")
    w.chat.join(w.h["ann"], "pub")
    w.chat.focus(w.h["cat"], "tea")
    out = w.chat.account_deleted(w.accounts["ann"])
    events = [d.event for d in out]
    assert GroupEvent("tea", GroupChange.LEFT, "ann") in events
    assert GroupEvent("tea", GroupChange.OWNER, "cat") in events
    assert GroupEvent("solo", GroupChange.DISBANDED) in events
    assert GroupEvent("bar", GroupChange.LEFT, "ann") in events
    tea, bar, pub = w.groups.find("tea"), w.groups.find("bar"), w.groups.find("pub")
    assert w.groups.find("solo") is None
    assert tea.owner_id == w.accounts["cat"].id and list(tea.members) == [3, 2]
    assert list(bar.members) == [4] and bar.owner_id == 4
    assert pub.requests == {}
    assert w.store.rows[pub.id].requests == {}
    assert w.groups.of_member(w.accounts["ann"].id) == []
    assert w.focus_of("cat") == tea.id  # the group lives on under cat


def test_a_renamed_account_shows_its_new_name_in_member_lists(w: World) -> None:
    w.group("tea", "ann", "bob")
    w.chat.account_renamed(w.accounts["bob"].id, "robert")
    assert [m.name for m in w.groups.find("tea").members.values()] == ["ann", "robert"]


# --- limits ------------------------------------------------------------------------------------------------


def test_groups_per_owner_limit() -> None:
    w = World(GroupLimits(groups_per_owner=1))
    w.login("ann", "bob")
    w.group("tea", "ann", "bob")
    out = w.chat.create(w.h["ann"], "bar")
    assert out == [Delivery((w.h["ann"],), Error.of(ErrorCode.TOO_MANY_GROUPS, limit=1))]
    assert w.groups.find("bar") is None
    w.chat.leave(w.h["ann"], "tea")  # bob owns tea now: ann may create again
    assert not errors(w.chat.create(w.h["ann"], "bar"))
    assert only_error(w.chat.create(w.h["bob"], "pub"), w.h["bob"]) is ErrorCode.TOO_MANY_GROUPS


def test_an_inherited_group_may_take_its_new_owner_past_the_limit() -> None:
    """The limit is checked when a group is made: a group always has an owner, so the
    member who inherits it owns it even past the limit, and creates none until under it."""
    w = World(GroupLimits(groups_per_owner=1))
    w.login("ann", "bob")
    w.group("tea", "ann", "bob")
    w.group("pub", "bob", "ann")
    w.chat.leave(w.h["bob"], "pub")  # ann inherits pub on top of tea
    assert w.groups.owned_count(w.accounts["ann"].id) == 2
    assert only_error(w.chat.create(w.h["ann"], "bar"), w.h["ann"]) is ErrorCode.TOO_MANY_GROUPS
    w.chat.leave(w.h["ann"], "tea")
    w.chat.leave(w.h["ann"], "pub")
    assert not errors(w.chat.create(w.h["ann"], "bar"))


def test_members_per_group_limit_for_joins_and_accepts() -> None:
    w = World(GroupLimits(members_per_group=2))
    w.login("ann", "bob", "cat")
    w.group("tea", "ann", "bob")
    out = w.chat.join(w.h["cat"], "tea")
    assert out == [Delivery((w.h["cat"],), Error.of(ErrorCode.GROUP_FULL, group="tea", limit=2))]
    w.group("pub", "ann", "bob", private=True)
    assert not errors(w.chat.join(w.h["cat"], "pub"))
    assert only_error(w.chat.accept(w.h["ann"], "cat", "pub"), w.h["ann"]) is ErrorCode.GROUP_FULL
    pub = w.groups.find("pub")
    assert list(pub.requests) == [w.accounts["cat"].id]  # the request still waits
    w.chat.kick(w.h["ann"], "bob", "pub")
    assert not errors(w.chat.accept(w.h["ann"], "cat", "pub"))
    assert list(pub.members) == [1, 3]


def test_requests_per_group_limit() -> None:
    w = World(GroupLimits(requests_per_group=1))
    w.login("ann", "bob", "cat")
    w.group("pub", "ann", private=True)
    assert not errors(w.chat.join(w.h["bob"], "pub"))
    out = w.chat.join(w.h["cat"], "pub")
    assert out == [Delivery((w.h["cat"],), Error.of(ErrorCode.TOO_MANY_REQUESTS, group="pub", limit=1))]
    w.chat.reject(w.h["ann"], "bob", "pub")
    assert not errors(w.chat.join(w.h["cat"], "pub"))


# --- admins and requests -------------------------------------------------------------------------------------


def test_a_join_request_goes_to_the_owner_and_online_admins(w: World) -> None:
    w.login("root")
    w.group("pub", "ann", private=True)
    out = w.chat.join(w.h["bob"], "pub")
    assert out == [
        Delivery((w.h["bob"],), GroupEvent("pub", GroupChange.REQUESTED)),
        Delivery((w.h["ann"], w.h["root"]), GroupEvent("pub", GroupChange.REQUEST, "bob")),
    ]
    w.logout("ann")
    out = w.chat.join(w.h["cat"], "pub")
    assert out[1] == Delivery((w.h["root"],), GroupEvent("pub", GroupChange.REQUEST, "cat"))


def test_an_admin_may_manage_a_group_but_not_remove_its_owner(w: World) -> None:
    w.login("root")
    w.group("tea", "ann", "bob")
    assert only_error(w.chat.kick(w.h["root"], "ann", "tea"), w.h["root"]) is ErrorCode.OWNER_PROTECTED
    assert only_error(w.chat.kick(w.h["cat"], "bob", "tea"), w.h["cat"]) is ErrorCode.NOT_GROUP_OWNER
    out = w.chat.kick(w.h["root"], "bob", "tea")
    assert out[0] == Delivery((w.h["ann"], w.h["bob"], w.h["root"]), GroupEvent("tea", GroupChange.KICKED, "bob", "root"))
    assert list(w.groups.find("tea").members) == [1]
    out = w.chat.delete(w.h["root"], "tea")
    assert out[0] == Delivery((w.h["ann"], w.h["root"]), GroupEvent("tea", GroupChange.DELETED, by="root"))
    assert w.groups.find("tea") is None


def test_a_banned_account_can_neither_join_nor_ask(w: World) -> None:
    w.group("tea", "ann")
    w.group("pub", "ann", private=True)
    w.chat.ban(w.h["ann"], "bob", "tea")
    w.chat.ban(w.h["ann"], "bob", "pub")
    assert only_error(w.chat.join(w.h["bob"], "tea"), w.h["bob"]) is ErrorCode.GROUP_BANNED
    assert only_error(w.chat.join(w.h["bob"], "pub"), w.h["bob"]) is ErrorCode.GROUP_BANNED
    w.chat.unban(w.h["ann"], "bob", "tea")
    assert not errors(w.chat.join(w.h["bob"], "tea"))


def test_unsaved_records_are_told_to_their_senders_once_per_conversation(w: World) -> None:
    """Issue 14: the history log could not write these records; senders of private
    messages and group lines hear it once per conversation; main-chat lines and
    messages already warned about are not reported, nor are offline senders."""
    from pollchat.core.history import HistoryRecord

    w.group("tea", "ann", "bob")
    tea = w.groups.find("tea")
    assert tea is not None
    records = [
        HistoryRecord(1.0, RecordKind.CHAT, 1, "ann", "main"),
        HistoryRecord(1.0, RecordKind.PRIVATE, 1, "ann", "one", 2, "bob"),
        HistoryRecord(1.0, RecordKind.PRIVATE, 1, "ann", "two", 2, "bob"),
        HistoryRecord(1.0, RecordKind.CHAT, 1, "ann", "hi", group_id=tea.id),
        HistoryRecord(1.0, RecordKind.PRIVATE, 2, "bob", "warned", 1, "ann", warned=True),
        HistoryRecord(1.0, RecordKind.PRIVATE, 9, "root", "offline sender", 2, "bob"),
    ]
    assert w.chat.unsaved(records) == [
        Delivery((w.h["ann"],), Notice.of(NoticeCode.NOT_SAVED, where="bob")),
        Delivery((w.h["ann"],), Notice.of(NoticeCode.NOT_SAVED, where="#tea")),
    ]


def test_lines_said_in_a_group_that_lost_its_name_are_told_to_their_online_senders_with_a_count(w: World) -> None:
    """A cluster node's group lost its name to another node's: the lines said in it
    were not kept; each online sender hears once how many of theirs, offline ones
    nothing."""
    from pollchat.core.history import HistoryRecord

    records = [
        HistoryRecord(1.0, RecordKind.CHAT, 1, "ann", "one", group_id=77),
        HistoryRecord(1.0, RecordKind.ACTION, 1, "ann", "two", group_id=77),
        HistoryRecord(1.0, RecordKind.CHAT, 2, "bob", "three", group_id=77),
        HistoryRecord(1.0, RecordKind.CHAT, 9, "root", "offline sender", group_id=77),
    ]
    assert w.chat.lost("Tea", records) == [
        Delivery((w.h["ann"],), Notice.of(NoticeCode.GROUP_LINES_LOST, count=2, group="Tea")),
        Delivery((w.h["bob"],), Notice.of(NoticeCode.GROUP_LINES_LOST, count=1, group="Tea")),
    ]
