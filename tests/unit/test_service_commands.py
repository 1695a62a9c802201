"""The slash commands at the service, over in-memory peers: /msg, /me, the emoticons,
/help, /quit, /nick, /passwd, /unregister, unknown commands and usage errors, ``//``,
and the JSON form of their events.

Moved from ``tests/loopback/test_server_commands.py``, which keeps an end-to-end smoke
test and the race of two renames read in one loop pass. Every server line is checked
byte for byte, as there. Password work answers at the next pass, first in, first out
(the server's pool with one worker)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import FakeClock
from tests.service_harness import MemoryClient, ServiceHarness, chat, make_chat  # noqa: F401  (pytest fixtures)

MakeChat = Callable[..., ServiceHarness]

SHRUG = "\u00af\\_(\u30c4)_/\u00af"  # ¯\_(ツ)_/¯
TABLEFLIP = "(\u256f\u00b0\u25a1\u00b0)\u256f\ufe35 \u253b\u2501\u253b"  # (╯°□°)╯︵ ┻━┻
UNFLIP = "\u252c\u2500\u252c\u30ce( \u00ba _ \u00ba\u30ce)"  # ┬─┬ノ( º _ ºノ)
PRECONFIGURED_ERROR = "{name} is a preconfigured account: it belongs to the server's accounts file"


def wide(make_chat: MakeChat, **config: object) -> ServiceHarness:
    """A chat with room for registered accounts (the default 4 seats leave one)."""
    config.setdefault("max_users", 8)
    return make_chat(**config)


def no_json_ts(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "ts"}


def json_login(h: ServiceHarness, name: str, password: str, *others: MemoryClient, verb: str = "login") -> MemoryClient:
    """A JSON-mode client logged in as ``name``; ``others`` (text clients) get the
    entered notice."""
    bot = h.connect()
    bot.send(b"mode json\n")
    assert no_json_ts(bot.event()) == {"type": "mode", "mode": "json"}
    bot.send(f"{verb}\n{name},{password}\n".encode())
    welcome = bot.event()
    assert welcome["type"] == "welcome" and welcome["name"] == name, welcome
    for other in others:
        assert other.line() == f"{name} has entered the chat"
    return bot


def test_msg_errors_name_the_user_and_do_not_disconnect(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"/msg nobody hello\n")
    assert u1.line() == "no such user: nobody"
    u1.send(b"/msg user1 note to self\n")
    assert u1.line() == "you cannot send a private message to yourself"
    u1.send(b"/msg user2\n")
    assert u1.line() == "usage: /msg NAME text"
    u1.send(b"/msg\n")
    assert u1.line() == "usage: /msg NAME text"
    u2.expect_silence()
    u1.send(b"still here\n")
    assert u2.line() == "user1: still here"


def test_msg_to_an_offline_user_waits_for_their_next_login(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    u2.send(b"/quit\n")
    assert u2.closed() == ["goodbye"]
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    h.advance(60)  # 22:14:20
    u1.send(b"/msg user2 see you tomorrow\n")
    assert u1.line() == "[private to user2] see you tomorrow"
    assert u1.line() == "user2 is offline; they will see your message when they log in"
    u1.expect_silence(0.05)
    u2 = h.login("user2", "345")
    assert u2.line() == "1 private message(s) arrived while you were away: type /history to read them"
    u2.expect_silence(0.05)
    u2.send(b"/history\n")
    u2.expect(
        "--- 1 earlier message ---",
        "[2023-11-14 22:14] [private] user1: see you tomorrow",
        "--- end of history ---",
    )
    # Read or not, the same message is not announced again at the next login.
    u2.send(b"/quit\n")
    assert u2.closed() == ["goodbye"]
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    h.advance(60)
    u2 = h.login("user2", "345")
    u2.expect_silence(0.05)


def test_msg_to_a_never_seen_account_is_announced_at_its_first_login(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u1.send(b"/msg user3 first\n/msg user3 second\n")
    u1.expect(
        "[private to user3] first",
        "user3 is offline; they will see your message when they log in",
        "[private to user3] second",
        "user3 is offline; they will see your message when they log in",
    )
    chat.pump(3)
    u3 = chat.login("user3", "123")
    assert u3.line() == "2 private message(s) arrived while you were away: type /history to read them"
    u3.expect_silence(0.05)


def test_msg_to_an_away_or_busy_user_tells_the_sender(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u2.send(b"/away lunch, back at 2\n")
    assert u2.line() == "user2 is now away: lunch, back at 2"
    assert u1.line() == "user2 is now away: lunch, back at 2"
    u1.send(b"/msg user2 ping\n")
    assert u2.line() == "[private] user1: ping"
    u1.expect("[private to user2] ping", "user2 is away: lunch, back at 2")
    u2.send(b"/status busy\n")
    assert u2.line() == "user2 is now busy"
    assert u1.line() == "user2 is now busy"
    u1.send(b"/msg user2 ping again\n")
    assert u2.line() == "[private] user1: ping again"
    u1.expect("[private to user2] ping again", "user2 is busy")
    u2.send(b"/away\n")
    assert u2.line() == "user2 is now active"
    assert u1.line() == "user2 is now active"
    u1.send(b"/msg user2 third\n")
    assert u2.line() == "[private] user1: third"
    assert u1.line() == "[private to user2] third"
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)




# --- /me and the emoticons -----------------------------------------------------------------------


def test_me_is_an_action_for_the_others(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u3 = chat.login("user3", "123")
    u1.send(b"/me waves at everyone\n")
    assert u2.raw(len(b"* user1 waves at everyone\n")) == b"* user1 waves at everyone\n"
    assert u3.line() == "* user1 waves at everyone"
    u1.expect_silence(0.05)
    u1.send(b"/me\n")
    assert u1.line() == "usage: /me action"
    u2.expect_silence(0.05)


def test_shrug_tableflip_unflip_with_and_without_text(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    cases = [
        (b"/shrug\n", f"user1: {SHRUG}"),
        (b"/shrug no idea\n", f"user1: no idea {SHRUG}"),
        (b"/tableflip\n", f"user1: {TABLEFLIP}"),
        (b"/tableflip mondays\n", f"user1: mondays {TABLEFLIP}"),
        (b"/unflip\n", f"user1: {UNFLIP}"),
        (b"/unflip sorry\n", f"user1: sorry {UNFLIP}"),
    ]
    for command, expected in cases:
        u1.send(command)
        wire = (expected + "\n").encode("utf-8")
        assert u2.raw(len(wire)) == wire, command
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)




# --- /help ------------------------------------------------------------------------------------------


def test_help_index_lists_every_command(chat: ServiceHarness) -> None:
    from pollchat.protocol.commands import COMMANDS

    u1 = chat.login("user1", "123")
    u1.send(b"/help\n")
    lines = [u1.line()]
    assert lines[0] == "pollchat manual"
    last = "Type /help COMMAND for details, e.g. /help msg."
    while lines[-1] != last:
        lines.append(u1.line())
        assert len(lines) < 100, lines
    u1.expect_silence(0.05)
    for spec in COMMANDS.values():
        matching = [line for line in lines if line.startswith(spec.usage + " ")]
        assert len(matching) == 1, (spec.usage, lines)
        assert matching[0].endswith("  " + spec.summary), matching[0]
    assert any(line.startswith("/msg NAME text ") and line.endswith("  send a private message") for line in lines)
    assert any(line.startswith("/who ") for line in lines)


def test_help_for_one_command_and_for_an_unknown_one(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    for command in (b"/help msg\n", b"/help /MSG\n"):
        u1.send(command)
        entry = [u1.line()]
        assert entry[0] == "/msg NAME text"
        while not entry[-1].startswith("    Example:"):
            entry.append(u1.line())
            assert len(entry) < 20, entry
        assert entry[-1] == "    Example: /msg bob are you coming tonight?"
        assert all(line.startswith("    ") for line in entry[1:]), entry
        assert any("[private to NAME] text" in line for line in entry), entry
        u1.expect_silence(0.05)
    u1.send(b"/help nope\n")
    assert u1.line() == "no manual entry for /nope (try /help)"
    u1.send(b"/help msg who\n")
    assert u1.line() == "usage: /help [command]"
    u1.expect_silence(0.05)




# --- unknown commands, usage errors, // ---------------------------------------------------------------


def test_unknown_commands_and_usage_errors_never_disconnect(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    cases = [
        (b"/foo\n", "unknown command /foo (try /help)"),
        (b"/foo bar baz\n", "unknown command /foo (try /help)"),
        (b"/who extra\n", "usage: /who"),
        (b"!membres extra\n", "usage: /who"),
        (b"/whois\n", "usage: /whois NAME"),
        (b"/whois a b\n", "usage: /whois NAME"),
        (b"/nick\n", "usage: /nick NEWNAME"),
        (b"/passwd\n", "usage: /passwd OLD,NEW"),
        (b"/unregister\n", "usage: /unregister PASSWORD"),
        (b"/history 1 2\n", "usage: /history [#group] [N]"),
        (b"/status\n", "usage: /status active|busy|away|inactive [message]"),
        (b"/play 1 2\n", "usage: /play [N]"),
    ]
    for command, expected in cases:
        u1.send(command)
        assert u1.line() == expected, command
    u2.expect_silence()
    u1.send(b"after all that\n")
    assert u2.line() == "user1: after all that"
    assert not (u1.eof or u1.reset)


def test_double_slash_sends_a_literal_slash_line(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"//shrug is a command\n")
    assert u2.line() == "user1: /shrug is a command"
    u1.send(b"//\n")
    assert u2.line() == "user1: /"
    u1.send(b"// leading space\n")
    assert u2.line() == "user1: / leading space"
    u1.expect_silence(0.05)




# --- /quit ---------------------------------------------------------------------------------------------


def test_quit_with_a_message(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u3 = chat.login("user3", "123")
    u1.send(b"/quit good night\n")
    assert u1.closed() == ["goodbye"]
    chat.forget_online(u1)
    assert u2.raw(len(b"user1 has left the chat (good night)\n")) == b"user1 has left the chat (good night)\n"
    assert u3.line() == "user1 has left the chat (good night)"
    u2.expect_silence()  # exactly once, though the connection closed after the command
    u3.expect_silence(0.05)
    u1.close()
    u2.expect_silence(0.05)


def test_quit_without_a_message_and_lines_after_it_are_ignored(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"/quit\nnever said\n")
    assert u1.closed() == ["goodbye"]
    chat.forget_online(u1)
    assert u2.line() == "user1 has left the chat"
    u2.expect_silence()
    # The seat is free again.
    chat.login("user1", "123")




# --- /nick ---------------------------------------------------------------------------------------------


def test_nick_renames_for_everyone_and_survives_a_restart(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    u1 = h.login("user1", "123")
    alice = h.register("alice", "wonderland")
    alice.send(b"/nick alicia\n")
    assert alice.line() == "alice is now known as alicia"
    assert u1.line() == "alice is now known as alicia"
    alice.expect_silence(0.05)
    u1.send(b"hi alicia\n")
    assert alice.line() == "user1: hi alicia"
    alice.send(b"hi\n")
    assert u1.line() == "alicia: hi"
    u1.send(b"/msg alicia new name\n")
    assert alice.line() == "[private] user1: new name"
    assert u1.line() == "[private to alicia] new name"
    u1.send(b"/msg alice old name\n")
    assert u1.line() == "no such user: alice"
    h.restart()
    stale = h.connect()
    stale.send(b"login\nalice,wonderland\n")
    assert stale.line() == "Wrong Password"
    h.login("alicia", "wonderland")
    # The old name is free for someone else.
    h.register("alice", "another")


def test_nick_case_change_and_refusals(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    u1 = h.login("user1", "123")
    bob = h.register("bob", "pw")
    alice = h.register("alice", "pw")
    alice.send(b"/nick bob\n")
    assert alice.line() == "username is already used"
    alice.send(b"/nick BOB\n")
    assert alice.line() == "username is already used"
    alice.send(b"/nick User1\n")
    assert alice.line() == "username is already used"
    alice.send(b"/nick bad!name\n")
    assert alice.line() == "invalid name 'bad!name': 1 to 32 letters, digits, '_', '-' or '.'"
    alice.send(b"/nick " + b"x" * 33 + b"\n")
    assert alice.line() == f"invalid name '{'x' * 33}': 1 to 32 letters, digits, '_', '-' or '.'"
    alice.send(b"/nick a b\n")
    assert alice.line() == "usage: /nick NEWNAME"
    u1.expect_silence()
    bob.expect_silence(0.05)
    alice.send(b"/nick alice\n")  # the same name: nothing to do
    alice.expect_silence(0.05)
    alice.send(b"/nick ALICE\n")
    assert alice.line() == "alice is now known as ALICE"
    assert u1.line() == "alice is now known as ALICE"
    assert bob.line() == "alice is now known as ALICE"
    u1.send(b"/nick newuser1\n")
    assert u1.line() == PRECONFIGURED_ERROR.format(name="user1")
    alice.expect_silence(0.05)




# --- /passwd -------------------------------------------------------------------------------------------


def test_passwd_changes_the_password(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    alice = h.register("alice", "old-pw")
    alice.send(b"/passwd wrong,new-pw\n")
    assert alice.line() == "Wrong Password"
    for bad in (b"/passwd nocomma\n", b"/passwd ,new\n", b"/passwd old-pw,\n"):
        alice.send(bad)
        assert alice.line() == "usage: /passwd OLD,NEW", bad
    alice.send(b"/passwd old-pw,new-pw\n")
    assert alice.line() == "password changed"
    alice.expect_silence(0.05)
    alice.send(b"/quit\n")
    assert alice.closed() == ["goodbye"]
    h.forget_online(alice)
    c = h.connect()
    c.send(b"login\nalice,old-pw\n")
    assert c.line() == "Wrong Password"
    h.login("alice", "new-pw", client=c)
    h.restart()
    h.login("alice", "new-pw")


def test_passwd_of_a_preconfigured_account_is_refused(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u1.send(b"/passwd 123,456\n")
    assert u1.line() == PRECONFIGURED_ERROR.format(name="user1")
    u1.send(b"/quit\n")
    u1.closed()
    chat.forget_online(u1)
    chat.login("user1", "123")




# --- /unregister -----------------------------------------------------------------------------------------


def test_unregister_deletes_the_account_and_frees_the_name(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    u1 = h.login("user1", "123")
    alice = h.register("alice", "wonderland")
    u1.send(b"a public line\n")
    assert alice.line() == "user1: a public line"
    u1.send(b"/msg alice the old secret\n")
    assert alice.line() == "[private] user1: the old secret"
    assert u1.line() == "[private to alice] the old secret"
    alice.send(b"/msg user1 reply to the secret\n")
    assert u1.line() == "[private] alice: reply to the secret"
    assert alice.line() == "[private to user1] reply to the secret"
    alice.send(b"/unregister wrong\n")
    assert alice.line() == "Wrong Password"
    alice.send(b"still registered\n")
    assert u1.line() == "alice: still registered"
    alice.send(b"/unregister wonderland\n")
    assert alice.closed() == ["account alice deleted, goodbye"]
    h.forget_online(alice)
    assert u1.line() == "alice has left the chat"
    u1.expect_silence()
    assert h.find_account("alice") is None
    c = h.connect()
    c.send(b"login\nalice,wonderland\n")
    assert c.line() == "Wrong Password"
    u1.send(b"/msg alice anyone?\n")
    assert u1.line() == "no such user: alice"
    # A new account with the old name starts with a clean private history.
    fresh = h.register("alice", "new", client=c)
    fresh.expect_silence(0.05)  # no "private message(s) arrived" notice
    fresh.send(b"/history\n")
    lines = [fresh.line()]
    while lines[-1] != "--- end of history ---":
        lines.append(fresh.line())
        assert len(lines) < 20, lines
    assert lines[0] == "--- 2 earlier messages ---"
    assert [line.split("] ", 1)[1] for line in lines[1:-1]] == ["user1: a public line", "alice: still registered"]
    assert not any("secret" in line for line in lines), lines


def test_unregister_of_a_preconfigured_account_is_refused(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"/unregister 123\n")
    assert u1.line() == PRECONFIGURED_ERROR.format(name="user1")
    u2.expect_silence()
    u1.send(b"here\n")
    assert u2.line() == "user1: here"




# --- JSON mode ------------------------------------------------------------------------------------------


def test_json_forms_of_command_events(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    u1 = h.login("user1", "123")
    bot = json_login(h, "alice", "pw", u1, verb="register")
    u1.send(b"/msg alice hi bot\n")
    assert no_json_ts(bot.event()) == {
        "type": "private",
        "sender": "user1",
        "recipient": "alice",
        "text": "hi bot",
        "outgoing": False,
    }
    assert u1.line() == "[private to alice] hi bot"
    bot.send(b"/msg user1 hi human\n")
    assert u1.line() == "[private] alice: hi human"
    assert no_json_ts(bot.event()) == {
        "type": "private",
        "sender": "alice",
        "recipient": "user1",
        "text": "hi human",
        "outgoing": True,
    }
    bot.send(b"/msg user2 later\n")
    assert no_json_ts(bot.event()) == {
        "type": "private",
        "sender": "alice",
        "recipient": "user2",
        "text": "later",
        "outgoing": True,
    }
    assert no_json_ts(bot.event()) == {
        "type": "notice",
        "code": "private_offline",
        "text": "user2 is offline; they will see your message when they log in",
    }
    u1.send(b"/away gone fishing\n")
    assert u1.line() == "user1 is now away: gone fishing"
    assert no_json_ts(bot.event()) == {"type": "status", "name": "user1", "status": "away", "message": "gone fishing"}
    bot.send(b"/msg user1 you there?\n")
    assert u1.line() == "[private] alice: you there?"
    assert bot.event()["type"] == "private"
    assert no_json_ts(bot.event()) == {
        "type": "notice",
        "code": "recipient_away",
        "text": "user1 is away: gone fishing",
    }
    u1.send(b"/me fishes\n")
    assert no_json_ts(bot.event()) == {"type": "action", "sender": "user1", "text": "fishes"}
    u1.send(b"/shrug\n")
    assert no_json_ts(bot.event()) == {"type": "message", "sender": "user1", "text": SHRUG}
    bot.send(b"/foo\n")
    assert no_json_ts(bot.event()) == {
        "type": "error",
        "code": "unknown_command",
        "text": "unknown command /foo (try /help)",
    }
    bot.send(b"/msg\n")
    assert no_json_ts(bot.event()) == {"type": "error", "code": "usage", "text": "usage: /msg NAME text"}
    bot.send(b"/msg ghost boo\n")
    assert no_json_ts(bot.event()) == {"type": "error", "code": "no_such_user", "text": "no such user: ghost"}
    bot.send(b"/help nope\n")
    assert no_json_ts(bot.event()) == {
        "type": "error",
        "code": "no_such_command_help",
        "text": "no manual entry for /nope (try /help)",
    }
    bot.send(b"/help me\n")
    help_event = bot.event()
    assert help_event["type"] == "notice" and help_event["code"] == "help"
    assert help_event["text"].startswith("/me action\n") and help_event["text"].endswith("Example: /me waves")
    bot.send(b"/nick alicia\n")
    assert no_json_ts(bot.event()) == {"type": "renamed", "old": "alice", "new": "alicia"}
    assert u1.line() == "alice is now known as alicia"
    bot.send(b"/passwd pw,pw2\n")
    assert no_json_ts(bot.event()) == {"type": "notice", "code": "password_changed", "text": "password changed"}
    bot.send(b"/passwd bad,pw3\n")
    assert no_json_ts(bot.event()) == {"type": "error", "code": "wrong_password", "text": "Wrong Password"}
    u1.send(b"/nick x\n")
    assert u1.line() == PRECONFIGURED_ERROR.format(name="user1")
    bot.send(b"/quit so long\n")
    assert no_json_ts(bot.event()) == {"type": "notice", "code": "goodbye", "text": "goodbye"}
    assert bot.closed() == []
    assert u1.line() == "alicia has left the chat (so long)"
    u1.expect_silence()


def test_json_left_notice_with_a_reason_and_unregister(make_chat: MakeChat) -> None:
    h = wide(make_chat)
    bot = json_login(h, "user1", "123")
    alice = h.connect()
    alice.send(b"register\nalice,pw\n")
    alice.expect("Access Provided", "active users are: user1 alice")
    assert no_json_ts(bot.event()) == {"type": "entered", "name": "alice"}
    alice.send(b"/quit bye now\n")
    assert alice.closed() == ["goodbye"]
    assert no_json_ts(bot.event()) == {"type": "left", "name": "alice", "reason": "bye now"}
    bob = json_login(h, "bob", "pw", verb="register")
    assert no_json_ts(bot.event()) == {"type": "entered", "name": "bob"}
    bob.send(b"/unregister pw\n")
    assert no_json_ts(bob.event()) == {"type": "notice", "code": "unregistered", "text": "account bob deleted, goodbye"}
    assert bob.closed() == []
    assert no_json_ts(bot.event()) == {"type": "left", "name": "bob"}
    bot.expect_silence()


def test_pipelined_passwd_with_a_stale_old_password_is_refused(make_chat: MakeChat) -> None:
    """Two /passwd with the same OLD sent together: once the first has changed the
    password, OLD is no longer the password, so the second must be refused. (One
    password worker: the two checks run, and answer, in the order sent.)"""
    h = wide(make_chat, hash_workers=1)
    alice = h.register("alice", "pw1")
    alice.send(b"/passwd pw1,pw2\n/passwd pw1,pw3\n")
    assert alice.lines(2) == ["password changed", "Wrong Password"]
    alice.expect_silence(0.05)
    alice.send(b"/quit\n")
    assert alice.closed() == ["goodbye"]
    h.forget_online(alice)
    c = h.connect()
    for stale in ("pw1", "pw3"):
        c.send(f"login\nalice,{stale}\n".encode())
        assert c.line() == "Wrong Password", stale
    h.login("alice", "pw2", client=c)


def test_unregister_pipelined_after_passwd_needs_the_new_password(make_chat: MakeChat) -> None:
    """/passwd then /unregister with the old password, sent together: once the password
    has changed, the old one must not delete the account."""
    h = wide(make_chat, hash_workers=1)
    alice = h.register("alice", "pw1")
    alice.send(b"/passwd pw1,pw2\n/unregister pw1\n")
    assert alice.line() == "password changed"
    assert alice.line() == "Wrong Password"
    assert h.find_account("alice") is not None
    alice.send(b"/unregister pw2\n")
    assert alice.closed() == ["account alice deleted, goodbye"]
