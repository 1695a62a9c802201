"""Several devices per account and /ignore at the service, over in-memory peers, byte
for byte: ``--sessions-per-account`` (a second device gets the account's lines and
private messages in both directions, nobody is told it came or went until the last
one leaves, the limit's refusal in text and JSON, a kick ends every device) and
``/ignore`` (chat lines, actions, private messages and mentions of an ignored account
are not shown, the sender is not told, the list survives a restart, the history replay
leaves the ignored account out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import FakeClock
from tests.service_harness import MemoryClient, ServiceHarness, chat, make_chat  # noqa: F401  (pytest fixtures)

MakeChat = Callable[..., ServiceHarness]
ACCOUNTS = {"root": "rootpw", "user1": "123", "user2": "345", "user3": "123"}
TOO_MANY = "this account is logged in on 2 devices already, the most allowed: log out on one of them first"


def another_device(h: ServiceHarness, name: str, password: str, online: str) -> MemoryClient:
    """One more session of the online account ``name``: welcomed, nobody told."""
    client = h.connect()
    client.send(f"login\n{name},{password}\n".encode())
    client.expect("Access Provided", f"active users are: {online}")
    client.name = name
    return client


def devices_chat(make_chat: MakeChat, **config: Any) -> ServiceHarness:
    return make_chat(ACCOUNTS, admins=("root",), clock=FakeClock(), max_users=6, sessions_per_account=2, **config)


def test_a_second_device_gets_the_accounts_lines_and_nobody_is_told(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    laptop, bob = h.login("user1", "123"), h.login("user2", "345")
    phone = another_device(h, "user1", "123", "user1 user2")
    bob.expect_silence()
    bob.send(b"hi\n")
    laptop.expect("user2: hi")
    phone.expect("user2: hi")
    laptop.send(b"hello\n")
    bob.expect("user1: hello")
    phone.expect("user1: hello")  # a conversation reads the same on each device
    laptop.expect_silence()


def test_private_messages_reach_every_device_both_ways(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    laptop, bob = h.login("user1", "123"), h.login("user2", "345")
    phone = another_device(h, "user1", "123", "user1 user2")
    bob.send(b"/msg user1 psst\n")
    laptop.expect("[private] user2: psst")
    phone.expect("[private] user2: psst")
    bob.expect("[private to user1] psst")
    phone.send(b"/msg user2 yes?\n")
    bob.expect("[private] user1: yes?")
    phone.expect("[private to user2] yes?")
    laptop.expect("[private to user2] yes?")


def test_has_left_goes_out_with_the_last_device(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    laptop, bob = h.login("user1", "123"), h.login("user2", "345")
    phone = another_device(h, "user1", "123", "user1 user2")
    phone.send(b"/quit\n")
    phone.closed()
    bob.expect_silence()
    bob.send(b"/who\n")
    assert bob.lines(3)[0] == "online users (2):"
    laptop.send(b"/quit bye\n")
    laptop.closed()
    h.forget_online(laptop)
    bob.expect("user1 has left the chat (bye)")


def test_past_the_limit_a_device_is_refused_in_words_and_by_code(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    h.login("user1", "123")
    another_device(h, "user1", "123", "user1")
    third = h.connect()
    third.send(b"login\nuser1,123\n")
    assert third.line() == TOO_MANY
    bot = h.connect()
    bot.send(b"mode json\nlogin\nuser1,123\n")
    assert bot.event()["type"] == "mode"
    refused = bot.event()
    assert (refused["type"], refused["code"], refused["text"]) == ("error", "too_many_sessions", TOO_MANY)


def test_the_default_refuses_a_second_device_with_seed_004s_line(make_chat: MakeChat) -> None:
    h = make_chat(ACCOUNTS, max_users=6)
    h.login("user1", "123")
    again = h.connect()
    again.send(b"login\nuser1,123\n")
    assert again.line() == "Password already used"


def test_a_kick_closes_every_device_and_the_others_see_one_left_notice(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    root, laptop = h.login("root", "rootpw"), h.login("user1", "123")
    phone = another_device(h, "user1", "123", "root user1")
    root.send(b"/kick user1\n")
    assert laptop.closed() == ["you were disconnected by root"]
    assert phone.closed() == ["you were disconnected by root"]
    h.forget_online(laptop)
    root.expect("user1 has left the chat (disconnected by root)", "user1 was disconnected")
    root.expect_silence()


# --- ignore ------------------------------------------------------------------------------------------


IGNORED = (
    "you ignore user2 now: their lines, actions, private messages, mentions and typing are not shown to you"
    " (/unignore user2 undoes it)"
)


def test_an_ignored_accounts_lines_are_not_shown_and_it_is_not_told(make_chat: MakeChat) -> None:
    h = make_chat(ACCOUNTS, max_users=6)
    u1, u2, u3 = h.login("user1", "123"), h.login("user2", "345"), h.login("user3", "123")
    u1.send(b"/ignore USER2\n")
    u1.expect(IGNORED)
    u2.send(b"hi all\n")
    u3.expect("user2: hi all")
    u2.send(b"/me waves\n")
    u3.expect("* user2 waves")
    u2.send(b"/msg user1 psst\n")
    u2.expect("[private to user1] psst")  # as if delivered
    u2.send(b"@user1 look\n")
    u3.expect("user2: @user1 look")
    u1.expect_silence()
    u3.send(b"hey\n")
    u1.expect("user3: hey")
    u2.expect("user3: hey")
    u1.send(b"/ignore\n")
    u1.expect("you ignore: user2")
    u1.send(b"/unignore user2\n")
    u1.expect("you no longer ignore user2")
    u2.send(b"back\n")
    u1.expect("user2: back")


def test_ignore_refusals_are_one_clear_line(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u1.send(b"/ignore user1\n")
    u1.expect("you cannot ignore yourself")
    u1.send(b"/ignore nobody\n")
    u1.expect("no such user: nobody")
    u1.send(b"/unignore user2\n")
    u1.expect("you do not ignore user2")
    u1.send(b"/ignore\n")
    u1.expect("you ignore nobody (/ignore NAME hides someone's lines from you)")
    u1.send(b"/ignore user2\n")
    u1.line()
    u1.send(b"/ignore user2\n")
    u1.expect("you ignore user2 already")


def test_the_ignore_list_survives_a_restart_and_hides_the_replay(make_chat: MakeChat) -> None:
    h = make_chat(ACCOUNTS, max_users=6, replay=10)
    u1 = h.login("user1", "123")
    u1.send(b"/ignore user2\n")
    u1.expect(IGNORED)
    u1.send(b"/quit\n")
    u1.closed()
    h.forget_online(u1)
    h.restart()
    u2, u3 = h.login("user2", "345"), h.login("user3", "123")
    u2.send(b"from user2\n")
    u3.expect("user2: from user2")
    u3.send(b"from user3\n")
    u2.expect("user3: from user3")
    u2.send(b"/msg user1 while you were away\n")
    u2.line()
    h.pump()
    back = h.connect()
    back.send(b"login\nuser1,123\n")
    lines = [back.line() for _ in range(5)]
    assert lines[:2] == ["Access Provided", "active users are: user2 user3 user1"]
    assert "user2: from user2" not in "\n".join(lines) and any("user3: from user3" in line for line in lines)
    back.send(b"/ignore\n")
    while (line := back.line()) != "you ignore: user2":
        assert "user2:" not in line


def test_the_count_of_messages_missed_leaves_out_the_ignored(make_chat: MakeChat) -> None:
    h = make_chat(ACCOUNTS, max_users=6)
    u1 = h.login("user1", "123")
    u1.send(b"/ignore user2\n")
    u1.expect(IGNORED)
    u1.send(b"/quit\n")
    u1.closed()
    h.forget_online(u1)
    h.advance(60)
    u2, u3 = h.login("user2", "345"), h.login("user3", "123")
    u2.send(b"/msg user1 from the ignored one\n")
    u2.line()
    u2.send(b"/msg user1 again\n")
    u2.line()
    u3.send(b"/msg user1 from a friend\n")
    u3.line()
    h.pump()
    back = h.connect()
    back.send(b"login\nuser1,123\n")
    back.expect("Access Provided", "active users are: user2 user3 user1")
    assert "1 private message" in back.line()


def test_unregistering_closes_every_device(make_chat: MakeChat) -> None:
    h = devices_chat(make_chat)
    bob = h.login("user2", "345")
    laptop = h.register("dora", "pw")
    phone = another_device(h, "dora", "pw", "user2 dora")
    phone.send(b"/unregister pw\n")
    assert phone.closed() == ["account dora deleted, goodbye"]
    assert laptop.closed() == ["account dora deleted, goodbye"]
    h.forget_online(laptop)
    bob.expect("dora has left the chat")
    bob.expect_silence()
