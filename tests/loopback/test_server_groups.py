"""Groups over loopback (issue 4): every group command and its errors, as nc users see
them, byte for byte; the private-group request flow end to end, including a requester who
is offline when the owner answers; ownership hand-over; ban enforcement after the banned
account renames itself; focus; mentions; JSON forms; and persistence across a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Client, ENGINES, Harness, harnesses_on_engine


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Every test here runs on SQLite and on PostgreSQL (data the chat keeps)."""
    yield from harnesses_on_engine(request, tmp_path)


ACCOUNTS = {"alice": "a", "bob": "b", "carol": "c", "root": "r"}


@pytest.fixture
def h(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(ACCOUNTS, admins=("root",), max_users=8)


def say(client: Client, line: str) -> None:
    client.send(line.encode() + b"\n")


def make_group(owner: Client, name: str, *members: Client) -> None:
    """``owner`` creates the public group ``name`` and ``members`` join it, in order;
    every line this causes is read and checked."""
    say(owner, f"/create {name}")
    assert owner.line() == f"[{name}] public group created: others join with /join {name}"
    joined = [owner]
    for member in members:
        say(member, f"/join {name}")
        for client in (*joined, member):
            assert client.line() == f"[{name}] {member.name} has joined the group"
        joined.append(member)


def test_public_group_create_join_talk_leave(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "/create #familia")
    assert alice.line() == "[#familia] public group created: others join with /join #familia"
    say(bob, "/join familia")  # the # is optional in commands
    assert bob.line() == "[#familia] bob has joined the group"
    assert alice.line() == "[#familia] bob has joined the group"
    say(bob, "#familia hi family")
    assert alice.line() == "[#familia] bob: hi family"
    carol.expect_silence()  # not a member: never sees a group line
    bob.expect_silence()  # no echo to the sender, as in the main chat
    say(alice, "#FAMILIA   case and spaces do not matter")
    assert bob.line() == "[#familia] alice: case and spaces do not matter"
    say(bob, "/leave #familia")
    assert bob.line() == "[#familia] bob has left the group"
    assert alice.line() == "[#familia] bob has left the group"
    say(bob, "#familia still there?")
    assert bob.line() == "you are not a member of #familia; that line was not sent (/join #familia first)"
    alice.expect_silence()
    carol.expect_silence()


def test_msg_to_a_group_never_falls_back_to_the_main_chat(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "/msg #g hello")
    assert alice.line() == "no such group: #g"
    make_group(alice, "#g", bob)
    say(alice, "/msg #G hello group")
    assert bob.line() == "[#g] alice: hello group"
    say(carol, "/msg #g let me in")
    assert carol.line() == "you are not a member of #g; that line was not sent (/join #g first)"
    say(alice, "/delete #g")
    alice.line()
    bob.line()
    say(bob, "/msg #g anyone?")
    assert bob.line() == "no such group: #g"
    alice.expect_silence()
    carol.expect_silence()


def test_a_mistyped_group_name_is_refused_never_sent_to_everyone(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    make_group(alice, "#familia", bob)
    say(alice, "#famila our secret plans")  # a typo of #familia: once went to the main chat
    assert alice.line() == "you are not in #famila: that line was not sent (to say it to everyone anyway: /say #famila ...)"
    say(alice, "/focus #familia")
    alice.line()
    say(alice, "#famila still secret")  # nor to the focused group
    assert alice.line() == "you are not in #famila: that line was not sent (to say it to everyone anyway: /say #famila ...)"
    bob.expect_silence()
    carol.expect_silence()
    say(alice, "/say #famila is a typo of #familia")  # the escape: the main chat, whatever the focus
    assert bob.line() == "alice: #famila is a typo of #familia"
    assert carol.line() == "alice: #famila is a typo of #familia"
    say(alice, "/say /help is the manual")  # it also says a line that starts with /
    assert bob.line() == carol.line() == "alice: /help is the manual"
    say(alice, "# not a group name, #1! neither")  # "#" and then no valid name: a plain line
    assert bob.line() == "[#familia] alice: # not a group name, #1! neither"
    carol.expect_silence()
    say(alice, "#familia")
    assert alice.line() == "usage: #group text"
    alice.expect_silence()


def test_private_group_request_accept_and_reject(h: Harness) -> None:
    alice, bob, carol, root = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c"), h.login("root", "r")
    say(alice, "/create #casa private")
    assert alice.line() == "[#casa] private group created: others join with /join #casa"
    say(bob, "/join #casa")
    assert bob.line() == "[#casa] your request to join was sent to the owner: analysis in progress"
    request = "[#casa] bob asks to join: /accept bob #casa or /reject bob #casa"
    assert alice.line() == request
    assert root.line() == request  # admins are asked too
    carol.expect_silence()
    say(bob, "/join #casa")
    assert bob.line() == "your request to join #casa is already waiting for the owner"
    say(bob, "#casa let me in")
    assert bob.line() == "you are not a member of #casa; that line was not sent (/join #casa first)"
    say(carol, "/accept bob #casa")
    assert carol.line() == "only the owner of #casa (or an admin) can do that"
    say(alice, "/members #casa")
    assert alice.lines(3) == ["members of #casa (1):", "  alice - active, owner", "  waiting to join: bob"]
    say(carol, "/members #casa")
    assert carol.line() == "you are not a member of #casa"
    say(alice, "/accept bob #casa")
    assert bob.lines(2) == ["[#casa] your request to join was accepted by alice", "[#casa] bob has joined the group"]
    assert alice.line() == "[#casa] bob has joined the group"
    say(alice, "/accept bob #casa")
    assert alice.line() == "bob has not asked to join #casa"
    say(carol, "/join #casa")
    carol.line()
    alice.line()
    root.line()
    say(root, "/reject carol #casa")  # an admin may answer too
    assert carol.line() == "[#casa] your request to join was rejected by root"
    assert root.line() == "[#casa] the request of carol was rejected by root"
    alice.expect_silence()


def test_offline_requester_is_told_the_outcome_at_login(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    say(alice, "/create #casa private")
    alice.line()
    say(bob, "/join #casa")
    bob.line()
    alice.line()
    say(bob, "/quit")
    assert bob.closed() == ["goodbye"]
    h.forget_online(bob)
    assert alice.line() == "bob has left the chat"
    say(alice, "/accept bob #casa")
    assert alice.line() == "[#casa] bob has joined the group"
    bob = h.login("bob", "b")  # alice's "entered" line is checked by login()
    assert bob.lines(2) == [
        "[#casa] your request to join was accepted by alice",
        "your groups: #casa (/groups lists them; #name text writes to one)",
    ]
    bob.expect_silence()  # told once: not again at the next login
    say(bob, "/quit")
    bob.closed()
    h.forget_online(bob)
    alice.line()
    bob = h.login("bob", "b")
    assert bob.line() == "your groups: #casa (/groups lists them; #name text writes to one)"


def test_offline_owner_gets_waiting_requests_at_login(h: Harness) -> None:
    alice = h.login("alice", "a")
    say(alice, "/create #casa private")
    alice.line()
    say(alice, "/quit")
    alice.closed()
    h.forget_online(alice)
    bob = h.login("bob", "b")
    say(bob, "/join #casa")
    assert bob.line() == "[#casa] your request to join was sent to the owner: analysis in progress"
    alice = h.login("alice", "a")
    assert alice.lines(2) == [
        "[#casa] bob asks to join: /accept bob #casa or /reject bob #casa",
        "your groups: #casa (/groups lists them; #name text writes to one)",
    ]


def test_owner_leaving_hands_over_to_the_longest_standing_member(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "/create #g")
    alice.line()
    for member in (carol, bob):  # carol joins first
        say(member, "/join #g")
        member.line()
        alice.line()
    carol.line()  # bob's joined line
    say(alice, "/leave #g")
    assert alice.lines(2) == ["[#g] alice has left the group", "[#g] carol is now the owner"]
    for client in (bob, carol):
        assert client.lines(2) == ["[#g] alice has left the group", "[#g] carol is now the owner"]
    alice.expect_silence()
    say(bob, "/members #g")
    assert bob.lines(3) == ["members of #g (2):", "  carol - active, owner", "  bob - active"]
    say(carol, "/leave #g")
    assert carol.lines(2) == ["[#g] carol has left the group", "[#g] bob is now the owner"]
    assert bob.lines(2) == ["[#g] carol has left the group", "[#g] bob is now the owner"]
    say(bob, "/leave #g")
    assert bob.lines(2) == ["[#g] bob has left the group", "[#g] the group was deleted: its last member left"]
    say(bob, "/join #g")
    assert bob.line() == "no such group: #g"


def test_owner_powers_kick_ban_unban_topic_rename_delete(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    make_group(alice, "#g", bob)
    say(bob, "/kick alice #g")
    assert bob.line() == "only the owner of #g (or an admin) can do that"
    say(alice, "/kick carol #g")
    assert alice.line() == "carol is not a member of #g"
    say(alice, "/kick alice #g")
    assert alice.line() == "you cannot /kick yourself"
    say(alice, "/kick bob #g now")
    assert alice.line() == "usage: /kick NAME [reason] | /kick NAME #group"
    say(alice, "/kick bob #g")
    assert alice.line() == "[#g] bob was removed from the group by alice"
    assert bob.line() == "[#g] bob was removed from the group by alice"
    say(alice, "/ban carol #g")  # a non-member can be banned too
    assert alice.line() == "[#g] carol was banned from the group by alice"
    assert carol.line() == "[#g] carol was banned from the group by alice"
    say(carol, "/join #g")
    assert carol.line() == "you are banned from #g"
    say(alice, "/unban bob #g")
    assert alice.line() == "bob is not banned from #g"
    say(alice, "/unban carol #g")
    assert alice.line() == "[#g] carol is no longer banned from the group"
    say(alice, "/topic #g")
    assert alice.line() == "[#g] no topic set"
    say(alice, "/topic #g sunday lunch")
    assert alice.line() == "[#g] alice set the topic: sunday lunch"
    say(carol, "/join #g")
    assert carol.lines(2) == ["[#g] carol has joined the group", "[#g] topic: sunday lunch"]
    assert alice.line() == "[#g] carol has joined the group"
    say(carol, "/topic #g mine now")
    assert carol.line() == "only the owner of #g (or an admin) can do that"
    say(carol, "/ban alice #g")
    assert carol.line() == "only the owner of #g (or an admin) can do that"
    say(alice, "/rename #g #h")
    assert alice.line() == "[#g] the group is now #h (renamed by alice)"
    assert carol.line() == "[#g] the group is now #h (renamed by alice)"
    say(carol, "#h renamed!")
    assert alice.line() == "[#h] carol: renamed!"
    say(alice, "/create #other")
    alice.line()
    say(alice, "/rename #h #OTHER")
    assert alice.line() == "#other exists already"
    say(alice, "/rename #h #bad name")
    assert alice.line() == "usage: /rename #group #newname"
    say(alice, "/rename #h #a,b")
    assert alice.line() == "invalid group name '#a,b': # then 1 to 32 letters, digits, '_', '-' or '.'"
    say(alice, "/delete #h")
    assert alice.line() == "[#h] the group was deleted by alice"
    assert carol.line() == "[#h] the group was deleted by alice"
    say(carol, "#h anyone?")  # no such group any more: refused, never the main chat
    assert carol.line() == "you are not in #h: that line was not sent (to say it to everyone anyway: /say #h ...)"
    alice.expect_silence()
    bob.expect_silence()


def test_admin_may_moderate_any_group_but_not_remove_its_owner(h: Harness) -> None:
    alice, bob, root = h.login("alice", "a"), h.login("bob", "b"), h.login("root", "r")
    make_group(alice, "#g", bob)
    say(root, "/ban alice #g")
    assert root.line() == "alice owns #g: the owner cannot be removed or banned"
    say(root, "/kick bob #g")
    assert root.line() == "[#g] bob was removed from the group by root"
    assert alice.line() == "[#g] bob was removed from the group by root"
    assert bob.line() == "[#g] bob was removed from the group by root"
    say(bob, "/kick alice #g")  # the group form is not an admin command...
    assert bob.line() == "only the owner of #g (or an admin) can do that"
    say(bob, "/kick alice")  # ...the plain form is
    assert bob.line() == "/kick is for admins only"
    say(root, "/unban bob now")
    assert root.line() == "usage: /unban NAME | /unban NAME #group"
    say(root, "/ban bob g")  # the '#' forgotten: not a server-wide ban with the reason "g"
    assert root.line() == "#g is a group: write /ban bob #g (a one-word reason naming a group is not taken)"
    say(alice, "/kick bob g")  # an owner who is not an admin gets the same hint
    assert alice.line() == "#g is a group: write /kick bob #g (a one-word reason naming a group is not taken)"
    say(root, "/ban bob g spam")  # more words: the admin ban, reason and all
    assert root.lines(2) == ["bob has left the chat (banned by root: g spam)", "bob is banned for good"]
    assert bob.closed() == ["you are banned by root for good: g spam"]


def test_ban_follows_the_account_through_a_rename(h: Harness) -> None:
    alice = h.login("alice", "a")
    mallory = h.register("mallory", "m")
    say(alice, "/create #g")
    alice.line()
    say(alice, "/ban mallory #g")
    alice.line()
    assert mallory.line() == "[#g] mallory was banned from the group by alice"
    say(mallory, "/nick innocent")
    assert mallory.line() == "mallory is now known as innocent"
    assert alice.line() == "mallory is now known as innocent"
    say(mallory, "/join #g")
    assert mallory.line() == "you are banned from #g"
    say(alice, "/unban innocent #g")
    assert alice.line() == "[#g] innocent is no longer banned from the group"


def test_groups_list_roles_and_visibility(h: Harness) -> None:
    alice, bob, root = h.login("alice", "a"), h.login("bob", "b"), h.login("root", "r")
    say(bob, "/groups")
    assert bob.lines(2) == ["groups (0):", "  none yet: /create #name starts one"]
    say(alice, "/create #pub")
    alice.line()
    say(alice, "/create #priv private")
    alice.line()
    say(alice, "/topic #pub open to all")
    alice.line()
    say(alice, "/groups")
    assert alice.lines(3) == [
        "groups (2):",
        "  #priv - private, 1 member(s), owner",
        "  #pub - public, 1 member(s), owner; topic: open to all",
    ]
    say(bob, "/groups")  # a private group bob is not in is not listed
    assert bob.lines(2) == ["groups (1):", "  #pub - public, 1 member(s); topic: open to all"]
    say(bob, "/join #priv")
    bob.line()
    alice.line()
    root.line()
    say(bob, "/groups")
    assert bob.lines(3) == [
        "groups (2):",
        "  #priv - private, 1 member(s), pending",
        "  #pub - public, 1 member(s); topic: open to all",
    ]
    say(root, "/groups")  # an admin sees every group
    assert root.lines(3) == [
        "groups (2):",
        "  #priv - private, 1 member(s)",
        "  #pub - public, 1 member(s); topic: open to all",
    ]


def test_focus_sends_plain_lines_and_me_to_the_group(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    make_group(alice, "#g", bob)
    say(alice, "/focus #nope")
    assert alice.line() == "no such group: #nope"
    say(carol, "/focus #g")
    assert carol.line() == "you are not a member of #g"
    say(bob, "/focus #g")
    assert bob.line() == "plain lines now go to #g; /focus alone returns to the main chat"
    say(bob, "plain line")
    assert alice.line() == "[#g] bob: plain line"
    say(bob, "/me waves")
    assert alice.line() == "[#g] * bob waves"
    say(carol, "/me #g sneaks in")
    assert carol.line() == "you are not a member of #g; that line was not sent (/join #g first)"
    say(alice, "/me #g waves back")
    assert bob.line() == "[#g] * alice waves back"
    carol.expect_silence()
    say(alice, "/kick bob #g")  # losing the group returns the focus to the main chat
    alice.line()
    assert bob.lines(2) == ["[#g] bob was removed from the group by alice", "plain lines now go to the main chat"]
    say(bob, "back in the main chat")
    assert carol.line() == "bob: back in the main chat"
    assert alice.line() == "bob: back in the main chat"
    say(alice, "/focus #g")
    alice.line()
    say(alice, "/focus")
    assert alice.line() == "plain lines now go to the main chat"


def test_mentions_in_main_chat_and_groups(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "hey @bob and @Carol.")
    assert bob.lines(2) == ["alice: hey @bob and @Carol.", "[mention] alice mentioned you in the main chat"]
    assert carol.lines(2) == ["alice: hey @bob and @Carol.", "[mention] alice mentioned you in the main chat"]
    make_group(alice, "#g", bob)
    say(alice, "#g @bob @carol look")  # carol is not a member: no mention for her
    assert bob.lines(2) == ["[#g] alice: @bob @carol look", "[mention] alice mentioned you in #g"]
    carol.expect_silence()
    say(alice, "mail me at me@bob")  # not a mention
    assert bob.line() == "alice: mail me at me@bob"
    bob.expect_silence()
    carol.line()


def test_group_history_and_main_history_are_separate(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(ACCOUNTS, admins=("root",), max_users=8, replay=5)
    alice = h.login("alice", "a")
    say(alice, "/create #g private")
    alice.line()
    say(alice, "#g secret plan")
    say(alice, "public hello")
    say(alice, "/history #g")
    lines = alice.lines(3)
    assert lines[0] == "--- 1 earlier message ---" and lines[1].endswith("] [#g] alice: secret plan")
    bob = h.connect()
    bob.send(b"login\nbob,b\n")
    bob_lines = bob.lines(5)
    assert bob_lines[2] == "--- 1 earlier message ---"  # the replay has the main chat only
    assert bob_lines[3].endswith("] alice: public hello") and bob_lines[4] == "--- end of history ---"
    alice.line()
    say(bob, "/history #g")
    assert bob.line() == "you are not a member of #g"
    say(bob, "/history #g 5 6")
    assert bob.line() == "usage: /history [#group] [N]"


def test_limits_have_clear_errors(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(
        ACCOUNTS, max_users=8, max_groups_per_owner=1, max_group_members=2, max_group_requests=1
    )
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "/create #a")
    alice.line()
    say(alice, "/create #b")
    assert alice.line() == "you own 1 group(s) already, the most allowed"
    say(bob, "/join #a")
    bob.line()
    alice.line()
    say(carol, "/join #a")
    assert carol.line() == "#a is full (2 members)"
    say(bob, "/create #p private")
    bob.line()
    say(alice, "/join #p")
    alice.line()
    bob.line()
    say(carol, "/join #p")
    assert carol.line() == "#p has 1 join request(s) waiting already; try again later"
    say(carol, "/create #p")
    assert carol.line() == "#p exists already"
    say(carol, "/create #q secret")
    assert carol.line() == "usage: /create #group [public|private]"


def test_json_mode_carries_the_group(h: Harness) -> None:
    alice = h.login("alice", "a")
    bob = h.connect()
    bob.send(b"mode json\nlogin\nbob,b\n")
    assert bob.event()["type"] == "mode"
    assert bob.event()["type"] == "welcome"
    alice.line()
    say(alice, "/create #g")
    alice.line()
    say(bob, "/join #g")
    event = bob.event()
    assert (event["type"], event["group"], event["change"], event["name"]) == ("group", "g", "joined", "bob")
    alice.line()
    say(alice, "#g hi @bob")
    message, mention = bob.event(), bob.event()
    assert (message["type"], message["group"], message["text"]) == ("message", "g", "hi @bob")
    assert (mention["type"], mention["group"], mention["sender"]) == ("mention", "g", "alice")
    say(bob, "/members #g")
    members = bob.event()
    assert members["type"] == "members" and [m["name"] for m in members["members"]] == ["alice", "bob"]
    assert "pending" not in members
    say(bob, "/typing on #g")
    bob.expect_silence()
    alice.expect_silence()  # typing is for JSON-mode members only
    say(bob, "/groups")
    listed = bob.event()
    assert listed["groups"] == [{"name": "g", "visibility": "public", "members": 2, "role": "member", "topic": ""}]
    json.dumps(listed)


def test_groups_persist_across_a_restart(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(alice, "/create #casa private")
    alice.line()
    say(bob, "/join #casa")
    bob.line()
    alice.line()
    say(alice, "/accept bob #casa")
    bob.lines(2)
    alice.line()
    say(alice, "/topic #casa dinner")
    bob.line()
    alice.line()
    say(carol, "/join #casa")
    carol.line()
    alice.line()
    say(alice, "/ban carol #casa")
    carol.line()
    alice.line()
    say(bob, "#casa remember this")
    alice.line()
    h.restart()
    alice = h.login("alice", "a")
    assert alice.line() == "your groups: #casa (/groups lists them; #name text writes to one)"
    bob = h.login("bob", "b")
    assert bob.line() == "your groups: #casa (/groups lists them; #name text writes to one)"
    carol = h.login("carol", "c")
    carol.expect_silence()
    say(alice, "/members #casa")
    assert alice.lines(3) == ["members of #casa (2):", "  alice - active, owner", "  bob - active"]
    say(alice, "/topic #casa")
    assert alice.line() == "[#casa] topic: dinner"
    say(carol, "/join #casa")
    assert carol.line() == "you are banned from #casa"
    say(alice, "/history #casa")
    lines = alice.lines(3)
    assert lines[1].endswith("] [#casa] bob: remember this")


def test_unregistering_the_owner_hands_the_group_over(h: Harness) -> None:
    alice = h.login("alice", "a")
    zed = h.register("zed", "z")
    make_group(zed, "#zone", alice)
    say(zed, "/unregister z")
    assert zed.closed() == ["[#zone] zed has left the group", "account zed deleted, goodbye"]
    assert alice.lines(3) == ["[#zone] zed has left the group", "[#zone] alice is now the owner", "zed has left the chat"]
    say(alice, "/members #zone")
    assert alice.lines(2) == ["members of #zone (1):", "  alice - active, owner"]


def test_group_lifecycle_is_logged_for_the_operator(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    with caplog.at_level("INFO", logger="pollchat.server.commands"):
        say(alice, "/create #g")
        alice.line()
        say(bob, "/join #g")
        bob.line()
        alice.line()
        say(alice, "/ban bob #g")
        alice.line()
        bob.line()
        say(alice, "/rename #g #h")
        alice.line()
        say(alice, "/delete #h")
        alice.line()
    logged = [r.getMessage() for r in caplog.records if r.name == "pollchat.server.commands"]
    assert logged == [
        "#g created public by alice",
        "#g banned bob by alice",
        "#g renamed to #h by alice",
        "#h deleted by alice",
    ]


@pytest.mark.parametrize("line", ["#g\tsecret", "#g\u00a0secret", "  #g secret", "#g  \t secret"])
def test_any_whitespace_after_the_group_name_keeps_the_line_in_the_group(h: Harness, line: str) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    make_group(alice, "#g", bob)
    say(alice, line)
    assert bob.line() == "[#g] alice: secret"
    carol.expect_silence()  # never the main chat


def test_me_for_a_group_that_is_gone_is_an_error_not_a_main_chat_action(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    make_group(alice, "#g", bob)
    say(alice, "/rename #g #h")
    alice.line()
    bob.line()
    say(bob, "/me #g waves")  # the old name, as a client that missed the rename sends it
    assert bob.line() == "no such group: #g"
    say(bob, "/me #h waves")
    assert alice.line() == "[#h] * bob waves"
    carol.expect_silence()


def test_requesters_learn_that_the_group_is_gone(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    for name in ("#p", "#q"):
        say(alice, f"/create {name} private")
        alice.line()
    say(bob, "/join #p")
    bob.line()
    alice.line()
    say(carol, "/join #q")
    carol.line()
    alice.line()
    say(carol, "/quit")
    carol.closed()
    h.forget_online(carol)
    alice.line()  # carol has left the chat
    bob.line()
    say(alice, "/delete #p")
    assert alice.line() == "[#p] the group was deleted by alice"
    assert bob.line() == "[#p] the group was deleted by alice"
    say(alice, "/leave #q")  # the last member leaves: the group goes
    assert alice.lines(2) == ["[#q] alice has left the group", "[#q] the group was deleted: its last member left"]
    carol = h.login("carol", "c")
    assert carol.line() == "[#q] the group was deleted: its last member left"


def test_a_pending_requester_does_not_see_a_private_topic(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    say(alice, "/create #p private")
    alice.line()
    say(alice, "/topic #p surprise party for bob")
    alice.line()
    say(bob, "/join #p")
    bob.line()
    alice.line()
    say(bob, "/groups")
    assert bob.lines(2) == ["groups (1):", "  #p - private, 1 member(s), pending"]


def test_rename_to_the_same_name_and_clearing_the_topic(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    make_group(alice, "#g", bob)
    say(alice, "/rename #g g")
    assert alice.line() == "#g is already called that"
    say(alice, "/rename #g #G")  # a change of case is a rename
    assert alice.line() == "[#g] the group is now #G (renamed by alice)"
    bob.line()
    say(alice, "/topic #G tea")
    alice.line()
    bob.line()
    say(alice, "/topic #G -")
    assert alice.line() == "[#G] alice cleared the topic"
    assert bob.line() == "[#G] alice cleared the topic"
    say(bob, "/topic #g")
    assert bob.line() == "[#G] no topic set"


def test_an_offline_member_who_becomes_owner_is_told_at_login(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    make_group(alice, "#g", bob)
    say(bob, "/quit")
    bob.closed()
    h.forget_online(bob)
    alice.line()
    say(alice, "/leave #g")
    assert alice.lines(2) == ["[#g] alice has left the group", "[#g] bob is now the owner"]
    bob = h.login("bob", "b")
    assert bob.lines(2) == [
        "[#g] bob is now the owner",
        "your groups: #g (/groups lists them; #name text writes to one)",
    ]


def test_an_owner_taken_out_of_the_accounts_file_hands_the_group_over(h: Harness) -> None:
    alice, bob, carol = h.login("alice", "a"), h.login("bob", "b"), h.login("carol", "c")
    say(carol, "/create #g")
    carol.line()
    for member in (alice, bob):
        say(member, "/join #g")
        member.line()
    carol.lines(2)
    alice.line()
    h.accounts = {name: password for name, password in ACCOUNTS.items() if name != "carol"}
    h.restart()
    alice = h.login("alice", "a")
    alice.line()  # your groups
    say(alice, "/members #g")
    assert alice.lines(3) == ["members of #g (2):", "  alice - active, owner", "  bob - offline"]


def test_an_apostrophe_ends_a_mention(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    say(alice, "that was @bob's idea")
    assert bob.lines(2) == ["alice: that was @bob's idea", "[mention] alice mentioned you in the main chat"]


def test_remaining_errors_of_create_and_join(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    say(alice, "/create #a.b-c_é")  # the account-name alphabet
    assert alice.line() == "[#a.b-c_é] public group created: others join with /join #a.b-c_é"
    for bad in ("#", "#a b", "#a,b", "#" + "x" * 33, "#a#b"):
        say(alice, f"/create {bad}")
        reply = alice.line()
        assert reply.startswith("invalid group name") or reply.startswith("usage: /create"), (bad, reply)
    make_group(alice, "#g", bob)
    say(bob, "/join #G")
    assert bob.line() == "you are already a member of #g"
    say(bob, "/join #a,b")
    assert bob.line() == "invalid group name '#a,b': # then 1 to 32 letters, digits, '_', '-' or '.'"


def test_a_pending_request_survives_a_restart(h: Harness) -> None:
    alice, bob = h.login("alice", "a"), h.login("bob", "b")
    say(alice, "/create #p private")
    alice.line()
    say(bob, "/join #p")
    bob.line()
    alice.line()
    h.restart()
    alice = h.login("alice", "a")
    assert alice.lines(2) == [
        "[#p] bob asks to join: /accept bob #p or /reject bob #p",
        "your groups: #p (/groups lists them; #name text writes to one)",
    ]
    say(alice, "/accept bob #p")
    assert alice.line() == "[#p] bob has joined the group"
    bob = h.login("bob", "b")
    assert bob.lines(2) == [
        "[#p] your request to join was accepted by alice",
        "your groups: #p (/groups lists them; #name text writes to one)",
    ]
