"""The TUI's chat state (pollchat.client.state), fed events directly: no sockets, no clock.

Unread counts (only live messages from others in a closed conversation; cleared when
opened), mentions (``@name`` rules, notifications, alerts), typing indicators and their
timeout, history (never unread, never alerting, merged without duplicates after a
reconnect), people (who, entered, left, status, idle and last-seen times), renames, and
conversation order with pins.
"""

from __future__ import annotations

import pytest

from pollchat import texts
from pollchat.client.state import (
    MAIN,
    TYPING_TTL,
    Alert,
    ChatState,
    EntryKind,
    NoticeKind,
    group_key,
    mention_pattern,
)
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    GroupEntry,
    GroupEvent,
    GroupList,
    Left,
    Mention,
    Message,
    PrivateMessage,
    Renamed,
    StatusChanged,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.texts import GroupChange

T = 1_700_000_000.0


def state(*online: str) -> ChatState:
    chat = ChatState()
    chat.apply(Welcome("alice", ("alice", *online)), T, T)
    return chat


def test_welcome_sets_me_and_the_online_list() -> None:
    chat = state("bob", "carol")
    assert chat.me == "alice"
    assert [p.name for p in chat.people_list()] == ["bob", "carol"]
    assert chat.online_count() == 2
    assert chat.person("ALICE") is None  # the user is not in their own list


def test_unread_counts_live_messages_from_others_in_closed_conversations() -> None:
    chat = state("bob")
    assert chat.apply(PrivateMessage("bob", "alice", "one"), T, T) is Alert.PRIVATE
    chat.apply(PrivateMessage("bob", "alice", "two"), T + 1, T + 1)
    chat.apply(PrivateMessage("alice", "bob", "mine", outgoing=True), T + 2, T + 2)  # own: not unread
    chat.apply(Message("bob", "public"), T + 3, T + 3)  # the main chat is open: not unread
    bob = chat.conversations["bob"]
    assert (bob.unread, bob.activity, chat.missed()) == (2, True, 2)
    assert chat.main.unread == 0
    assert [n.kind for n in chat.notifications] == [NoticeKind.PRIVATE]  # one per conversation
    chat.open("bob")
    assert (bob.unread, bob.activity, chat.missed(), chat.notifications) == (0, False, 0, [])
    assert chat.apply(PrivateMessage("bob", "alice", "three"), T + 4, T + 4) is Alert.NONE  # open: seen
    assert bob.unread == 0
    chat.apply(Message("bob", "in main"), T + 5, T + 5)
    assert chat.main.unread == 1 and chat.missed() == 1
    chat.apply(Entered("carol"), T + 6, T + 6)
    assert chat.main.unread == 1  # system lines mark activity, not unread


def test_own_lines_are_shown_as_own() -> None:
    chat = state("bob")
    chat.apply(PrivateMessage("alice", "bob", "hi", outgoing=True), T, T)
    entry = chat.conversations["bob"].entries[-1]
    assert entry.own and entry.sender == "alice"
    chat.add_own(MAIN, "hello", T)
    assert chat.main.entries[-1].own


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("@alice hi", True), ("hi @Alice!", True), ("thanks @ALICE.", True), ("(@alice)", True),
        ("alice without at", False), ("@alicex", False), ("@alice.x", False), ("mail me@alice", False),
        ("@alice-b", False), ("@al", False), ("x @alice_", False),
    ],
)
def test_mention_rules(text: str, mentioned: bool) -> None:
    assert (mention_pattern("alice").search(text.casefold()) is not None) is mentioned


def test_a_mention_notifies_until_its_conversation_is_seen() -> None:
    chat = state("carlos")
    chat.conversation_with("carlos")
    chat.open("carlos")
    assert chat.apply(Message("carlos", "@alice look"), T, T) is Alert.MENTION
    assert chat.main.mentions == 1 and chat.main.entries[-1].mention
    [notice] = chat.notifications
    assert (notice.kind, notice.who, notice.where) == (NoticeKind.MENTION, "carlos", MAIN)
    chat.open(MAIN)
    assert chat.notifications == [] and chat.main.mentions == 0
    assert chat.apply(Message("carlos", "@alice again"), T, T) is Alert.NONE  # on screen: no alert
    assert chat.main.entries[-1].mention  # still highlighted


def test_history_never_counts_alerts_or_duplicates() -> None:
    chat = state()
    chat.open("nobody")  # stays on the main chat
    chat.conversation_with("bob")
    alert = chat.apply(PrivateMessage("bob", "alice", "@alice old", history=True, at=T - 50), T - 50, T)
    assert alert is Alert.NONE
    assert chat.conversations["bob"].unread == 0 and chat.notifications == []
    chat.apply(Message("bob", "live"), T, T)
    chat.add_own(MAIN, "mine", T + 1)
    # after a reconnect the server replays the same lines as history: merged, not doubled
    chat.apply(Message("bob", "live", history=True, at=T + 0.2), T + 0.2, T + 10)
    chat.apply(Message("alice", "mine", history=True, at=T + 2), T + 2, T + 10)
    chat.apply(Message("bob", "older", history=True, at=T - 500), T - 500, T + 10)
    texts = [(e.text, e.history) for e in chat.main.entries]
    assert texts == [("older", True), ("live", False), ("mine", False)]


def test_typing_indicator_times_out_and_clears_on_message_or_leave() -> None:
    chat = state("bob", "carol")
    chat.apply(Typing("bob", True), T, T)
    chat.apply(Typing("carol", True), T, T + 1)
    assert chat.typing_names(MAIN, T + 2) == ["bob", "carol"]
    assert chat.typing_names(MAIN, T + TYPING_TTL + 0.5) == ["carol"]  # bob's ran out
    assert chat.next_typing_expiry() == T + TYPING_TTL
    chat.apply(Typing("bob", True), T + 5, T + 5)  # refreshed
    assert chat.typing_names(MAIN, T + TYPING_TTL + 0.5) == ["bob", "carol"]
    chat.apply(Message("carol", "done"), T + 6, T + 6)
    chat.apply(Typing("bob", False), T + 6, T + 6)
    assert chat.typing_names(MAIN, T + 6) == []
    chat.apply(Typing("carol", True, private=True), T + 7, T + 7)
    assert chat.typing_names("carol", T + 7) == ["carol"] and chat.typing_names(MAIN, T + 7) == []
    chat.apply(Left("carol"), T + 8, T + 8)
    assert chat.typing_names("carol", T + 8) == []
    chat.expire(T + 100)
    assert chat.next_typing_expiry() is None


def test_people_follow_who_status_entered_left_and_whois() -> None:
    chat = state("bob", "carol")
    chat.apply(WhoList((WhoEntry("bob", "away", "lunch", 300), WhoEntry("alice", "busy", "", 0))), T, T)
    bob, carol = chat.person("bob"), chat.person("carol")
    assert (bob.online, bob.status, bob.message, bob.idle_at(T + 60)) == (True, "away", "lunch", 360)
    assert (carol.online, carol.last_seen) == (False, T)  # not in /who any more
    assert chat.my_status == "busy"
    chat.apply(StatusChanged("bob", "active"), T + 1, T + 1)
    assert (bob.status, bob.idle_at(T + 1)) == ("active", 0)
    chat.apply(Entered("dave"), T + 2, T + 2)
    chat.apply(Left("bob"), T + 3, T + 3)
    assert [p.name for p in chat.people_list()] == ["dave", "bob", "carol"]  # online, then recently seen
    assert [p.name for p in chat.people_list("A")] == ["dave", "carol"]
    chat.apply(Whois("erin", "registered", False, "offline", "", T - 86_400, None), T, T)
    assert chat.person("erin").last_seen == T - 86_400
    chat.apply(StatusChanged("alice", "away", "brb"), T, T)
    assert (chat.my_status, chat.my_message) == ("away", "brb")


def test_rename_moves_people_conversations_and_pins() -> None:
    chat = state("bob")
    chat.conversation_with("bob")
    chat.toggle_pin("bob")
    chat.open("bob")
    chat.apply(Renamed("bob", "bobby"), T, T)
    assert "bobby" in chat.conversations and "bob" not in chat.conversations
    assert chat.open_key == "bobby" and chat.pinned == ["bobby"]
    assert chat.person("bobby").name == "bobby"
    chat.apply(Renamed("alice", "alicia"), T, T)
    assert chat.me == "alicia" and chat.mentions_me("hi @alicia")


def test_chat_order_main_then_pinned_then_recent() -> None:
    chat = state("a", "b", "c")
    for name, at in (("a", 1), ("b", 3), ("c", 2)):
        chat.apply(PrivateMessage(name, "alice", "x"), T + at, T + at)
    assert [c.key for c in chat.chat_order()] == [MAIN, "b", "c", "a"]
    chat.toggle_pin("a")
    assert [c.key for c in chat.chat_order()] == [MAIN, "a", "b", "c"]
    assert chat.toggle_pin(MAIN) is False
    assert chat.toggle_pin("a") is False and chat.pinned == []


def test_server_notices_reach_the_bar_and_expire() -> None:
    chat = state()
    chat.apply(Announcement("root", "restart at 22:00"), T, T)
    assert chat.notifications[-1].kind is NoticeKind.SERVER
    assert chat.main.entries[-1].kind is EntryKind.SYSTEM
    chat.expire(T + 1000)
    assert chat.notifications == []


def test_disconnect_takes_everyone_offline() -> None:
    chat = state("bob")
    chat.apply(Typing("bob", True), T, T)
    chat.disconnected(T + 5)
    assert chat.online_count() == 0 and chat.person("bob").last_seen == T + 5
    assert chat.typing_names(MAIN, T + 5) == []


def test_control_characters_never_reach_the_screen() -> None:
    chat = state("bob")
    chat.apply(Message("bob", "\x1b[2Jgotcha\x07\ttab"), T, T)
    assert chat.main.entries[-1].text == "\ufffd[2Jgotcha\ufffd tab"
    chat.apply(Emote("bob", "waves"), T, T)
    assert chat.main.entries[-1].kind is EntryKind.ACTION


# --- groups and server mentions (issue 4) -----------------------------------------------------


def grouped(*groups: GroupEntry) -> ChatState:
    """alice, with bob online, after the answer to the /groups sent at login."""
    chat = state("bob")
    chat.apply(GroupList(groups or (GroupEntry("Familia", "private", 3, "owner", "lunch"),)), T, T)
    return chat


def test_groups_listed_as_mine_become_conversations() -> None:
    chat = grouped(
        GroupEntry("Familia", "private", 3, "owner", "lunch"),
        GroupEntry("work", "public", 5, "member", ""),
        GroupEntry("books", "public", 12, "", ""),  # public, not joined: not a chat
        GroupEntry("secret", "private", 2, "pending", ""),  # asked to join: not yet
    )
    assert group_key("#FAMILIA") == group_key("familia") == "#familia"
    familia = chat.conversations["#familia"]
    assert (familia.group, familia.name, familia.label, familia.role, familia.members, familia.topic) == (
        True, "Familia", "#Familia", "owner", 3, "lunch")
    assert set(chat.conversations) == {MAIN, "#familia", "#work"} and chat.group_count() == 2
    assert chat.server_mentions
    chat.apply(GroupList((GroupEntry("work", "public", 5, "member", ""),)), T + 1, T + 1)  # left meanwhile
    assert familia.gone == texts.CLIENT_TUI_GROUP_NOT_MEMBER and chat.group_count() == 1


def test_group_lines_land_in_their_conversation_and_count_as_unread() -> None:
    chat = grouped()
    assert chat.apply(Message("bob", "hola", group="familia"), T, T) is Alert.NONE  # no bell for a group line
    chat.apply(Emote("bob", "waves", group="FAMILIA"), T + 1, T + 1)
    chat.apply(Message("bob", "old", history=True, at=T - 50, group="familia"), T - 50, T + 2)
    familia = chat.conversations["#familia"]
    assert [(e.kind, e.text, e.history) for e in familia.entries] == [
        (EntryKind.MESSAGE, "old", True), (EntryKind.MESSAGE, "hola", False), (EntryKind.ACTION, "waves", False)]
    assert (familia.unread, chat.main.entries) == (2, [])
    chat.apply(Message("bob", "news", group="newgroup"), T + 3, T + 3)  # a group the client had not heard of
    assert chat.conversations["#newgroup"].group and chat.missed() == 3
    chat.open("#familia")
    assert familia.unread == 0 and chat.current is familia


def test_a_server_mention_counts_once_in_its_group() -> None:
    chat = grouped()
    line = "@alice the report is due"
    assert chat.apply(Message("carlos", line, group="familia"), T, T) is Alert.NONE  # the event will tell
    entry = chat.conversations["#familia"].entries[-1]
    assert entry.mention  # still highlighted by the client's own matching
    assert chat.apply(Mention("carlos", line, "familia"), T, T) is Alert.MENTION
    assert chat.conversations["#familia"].mentions == 1
    [notice] = chat.notifications
    assert (notice.kind, notice.who, notice.where) == (NoticeKind.MENTION, "carlos", "#familia")
    # The server's rules may find a mention the client's do not: the line gets highlighted.
    chat.apply(Message("carlos", "ping @ALICE", group="familia"), T + 1, T + 1)
    chat.apply(Mention("carlos", "ping @ALICE", "familia"), T + 1, T + 1)
    assert chat.conversations["#familia"].mentions == 2
    chat.open("#familia")
    assert chat.apply(Message("carlos", "@alice again", group="familia"), T + 2, T + 2) is Alert.NONE
    assert chat.apply(Mention("carlos", "@alice again", "familia"), T + 2, T + 2) is Alert.NONE  # open: seen


def test_an_old_server_mention_is_matched_locally_and_never_twice() -> None:
    chat = state("carlos")  # no /groups answer yet: the client matches @alice itself
    chat.open(chat.conversation_with("bob").key)
    assert chat.apply(Message("carlos", "@alice hi"), T, T) is Alert.MENTION
    assert chat.apply(Mention("carlos", "@alice hi"), T, T) is Alert.NONE  # the same mention
    assert chat.main.mentions == 1 and len(chat.notifications) == 1
    assert chat.server_mentions  # from now on the events count


def test_group_changes_are_lines_in_the_group() -> None:
    chat = grouped()
    chat.apply(GroupEvent("familia", GroupChange.JOINED, "bob"), T, T)
    chat.apply(GroupEvent("familia", GroupChange.TOPIC, by="alice", text="sunday"), T + 1, T + 1)
    familia = chat.conversations["#familia"]
    assert [e.text for e in familia.entries] == ["bob has joined the group", "alice set the topic: sunday"]
    assert (familia.members, familia.topic, familia.activity) == (4, "sunday", True)
    chat.apply(GroupEvent("familia", GroupChange.TOPIC_CLEARED, by="alice"), T + 1, T + 1)
    assert (familia.topic, familia.entries[-1].text) == ("", "alice cleared the topic")
    chat.apply(GroupEvent("familia", GroupChange.REQUEST, "carol"), T + 2, T + 2)
    assert chat.notifications[-1].kind is NoticeKind.SERVER and chat.notifications[-1].where == "#familia"
    # About a group the client has no chat for: a line (with its prefix) where the user is.
    chat.apply(GroupEvent("other", GroupChange.REJECTED, by="dave"), T + 3, T + 3)
    assert chat.main.entries[-1].text == "[#other] your request to join was rejected by dave"
    assert "#other" not in chat.conversations


@pytest.mark.parametrize(
    ("event", "gone"),
    [
        (GroupEvent("familia", GroupChange.LEFT, "alice"), texts.CLIENT_TUI_GROUP_LEFT),
        (GroupEvent("familia", GroupChange.KICKED, "ALICE", "root"), texts.CLIENT_TUI_GROUP_REMOVED),
        (GroupEvent("familia", GroupChange.BANNED, "alice", "root"), texts.CLIENT_TUI_GROUP_REMOVED),
        (GroupEvent("familia", GroupChange.DELETED, by="root"), texts.CLIENT_TUI_GROUP_DELETED),
        (GroupEvent("familia", GroupChange.DISBANDED), texts.CLIENT_TUI_GROUP_DELETED),
    ],
)
def test_losing_a_group_keeps_its_lines_but_marks_it_gone(event: GroupEvent, gone: str) -> None:
    chat = grouped()
    chat.apply(Message("bob", "hola", group="familia"), T, T)
    chat.apply(event, T + 1, T + 1)
    familia = chat.conversations["#familia"]
    assert familia.gone == gone and familia.entries[0].text == "hola" and chat.group_count() == 0
    chat.apply(GroupEvent("familia", GroupChange.JOINED, "alice"), T + 2, T + 2)  # back again
    assert familia.gone == "" and chat.group_count() == 1


def test_others_leaving_do_not_mark_the_group_gone() -> None:
    chat = grouped()
    chat.apply(GroupEvent("familia", GroupChange.KICKED, "bob", "alice"), T, T)
    assert chat.conversations["#familia"].gone == "" and chat.conversations["#familia"].members == 2


def test_a_renamed_group_moves_with_its_pin_typing_and_notifications() -> None:
    chat = grouped()
    chat.conversation_with("familia")  # a person called familia: a different chat
    chat.toggle_pin("#familia")
    assert chat.pinned == ["#Familia"] and not chat.is_pinned("familia")
    chat.apply(Typing("bob", True, group="familia"), T, T)
    chat.apply(Message("carlos", "@alice x", group="familia"), T, T)
    chat.apply(Mention("carlos", "@alice x", "familia"), T, T)
    chat.open("#familia")
    chat.apply(Typing("bob", True, group="familia"), T, T)
    chat.apply(GroupEvent("Familia", GroupChange.RENAMED, by="alice", text="family"), T + 1, T + 1)
    assert "#familia" not in chat.conversations and "familia" in chat.conversations
    family = chat.conversations["#family"]
    assert (chat.open_key, family.name, chat.pinned) == ("#family", "family", ["#family"])
    assert chat.typing_names("#family", T + 1) == ["bob"]
    assert family.entries[-1].text == "the group is now #family (renamed by alice)"


def test_typing_in_a_group_shows_in_that_group_only() -> None:
    chat = grouped()
    chat.apply(Typing("bob", True, group="familia"), T, T)
    assert chat.typing_names("#familia", T) == ["bob"] and chat.typing_names(MAIN, T) == []
    chat.apply(Message("bob", "done", group="familia"), T + 1, T + 1)
    assert chat.typing_names("#familia", T + 1) == []

