"""Presence at the service, over in-memory peers: /who and !membres, /whois, /status,
/away, and the idle monitor (auto-inactive and back) driven by a fake clock through the
service's timers, and their JSON forms.

Moved from ``tests/loopback/test_server_presence.py``, which keeps an end-to-end smoke
test. Every server line is checked byte for byte, as there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import FakeClock
from tests.service_harness import MemoryClient, ServiceHarness, chat, make_chat  # noqa: F401  (pytest fixtures)

MakeChat = Callable[..., ServiceHarness]

STATUS_USAGE = "usage: /status active|busy|away|inactive [message]"
LOGIN_TIME = "2023-11-14 22:13"  # FakeClock's start, UTC


def no_json_ts(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "ts"}


def everyone_gets(clients: list[MemoryClient], line: str) -> None:
    for client in clients:
        assert client.line() == line, client




# --- /who ------------------------------------------------------------------------------------------


def test_who_lists_everyone_in_login_order_with_status_and_idle_time(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=10**9)
    u2 = h.login("user2", "345")
    u1 = h.login("user1", "123")
    u3 = h.login("user3", "123")
    h.advance(42)
    u2.send(b"hi\n")
    assert u1.line() == "user2: hi"
    assert u3.line() == "user2: hi"
    h.advance(3)
    u1.send(b"/who\n")
    assert u1.raw(len(b"online users (3):\n")) == b"online users (3):\n"
    u1.expect(
        "  user2 - active, idle 3s",
        "  user1 - active, idle 45s",  # asking is not activity
        "  user3 - active, idle 45s",
    )
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)
    u3.send(b"/away back at 2\n")
    everyone_gets([u2, u1, u3], "user3 is now away: back at 2")
    h.advance(125)
    u2.send(b"/status busy\n")
    everyone_gets([u2, u1, u3], "user2 is now busy")
    h.advance(3600)
    u2.send(b"!membres\n")
    u2.expect(
        "online users (3):",
        "  user2 - busy, idle 1h",  # its /status was the last sign of life; !membres is none
        "  user1 - active, idle 1h",
        "  user3 - away: back at 2, idle 1h",
    )
    h.advance(86400 * 2)
    u3.send(b"/who\n")
    u3.expect(
        "online users (3):",
        "  user2 - busy, idle 2d",
        "  user1 - active, idle 2d",
        "  user3 - away: back at 2, idle 2d",
    )
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)


def test_who_minutes_and_after_someone_leaves(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=10**9)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    h.advance(125)
    u2.send(b"/quit\n")
    assert u2.closed() == ["goodbye"]
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    u1.send(b"/who\n")
    u1.expect("online users (1):", "  user1 - active, idle 2m")
    u1.expect_silence(0.05)
    h.login("user3", "123")
    h.advance(61)
    u1.send(b"!MEMBRES\n")
    u1.expect("online users (2):", "  user1 - active, idle 3m", "  user3 - active, idle 1m")




# --- /whois ----------------------------------------------------------------------------------------


def test_whois_online_offline_never_seen_and_unknown(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=10**9, max_users=6)
    u1 = h.login("user1", "123")
    h.advance(120)  # 22:15:20
    u2 = h.login("user2", "345")
    alice = h.register("alice", "pw")
    h.advance(7)
    u1.send(b"/whois user2\n")
    assert u1.line() == "user2: active, online since 2023-11-14 22:15, idle 7s, preconfigured account"
    u1.send(b"/whois ALICE\n")
    assert u1.line() == "alice: active, online since 2023-11-14 22:15, idle 7s, registered account"
    u1.send(b"/whois user1\n")
    assert u1.line() == f"user1: active, online since {LOGIN_TIME}, idle 2m, preconfigured account"
    u2.send(b"/status busy in a meeting\n")
    everyone_gets([u1, u2, alice], "user2 is now busy: in a meeting")
    h.advance(5)
    u1.send(b"/whois user2\n")
    assert u1.line() == "user2: busy: in a meeting, online since 2023-11-14 22:15, idle 5s, preconfigured account"
    u1.send(b"/whois user3\n")
    assert u1.line() == "user3: offline, never seen, preconfigured account"
    u1.send(b"/whois ghost\n")
    assert u1.line() == "no such user: ghost"
    h.advance(3600)  # 23:15:32
    alice.send(b"/quit\n")
    assert alice.closed() == ["goodbye"]
    h.forget_online(alice)
    everyone_gets([u1, u2], "alice has left the chat")
    u1.send(b"/whois alice\n")
    assert u1.line() == "alice: offline, last seen 2023-11-14 23:15, registered account"
    h.advance(86400)
    u2.send(b"/quit\n")
    assert u2.closed() == ["goodbye"]
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    # Last seen times are kept in the database.
    h.restart()
    u3 = h.login("user3", "123")
    u3.send(b"/whois user2\n")
    assert u3.line() == "user2: offline, last seen 2023-11-15 23:15, preconfigured account"
    u3.send(b"/whois alice\n")
    assert u3.line() == "alice: offline, last seen 2023-11-14 23:15, registered account"
    u3.send(b"/whois user1\n")  # dropped by the restart: last seen at the shutdown
    assert u3.line() == "user1: offline, last seen 2023-11-15 23:15, preconfigured account"
    u3.expect_silence(0.05)


def test_bad_status_gets_the_usage_line_only(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    for command in (b"/status sleeping\n", b"/status disabled\n", b"/status offline now\n", b"/status\n"):
        u1.send(command)
        assert u1.line() == STATUS_USAGE, command
    u2.expect_silence()
    u1.send(b"/who\n")
    u1.expect("online users (2):", "  user1 - active, idle 0s", "  user2 - active, idle 0s")


def test_a_status_set_by_hand_stays_on_the_next_line(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"/status inactive\n")
    everyone_gets([u1, u2], "user1 is now inactive")
    u1.send(b"still typing\n")
    assert u2.line() == "user1: still typing"  # no "is now active" before it
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)




# --- the idle monitor -------------------------------------------------------------------------------------


def test_idle_users_become_inactive_and_active_again(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=300)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    u3 = h.login("user3", "123")
    everybody = [u1, u2, u3]
    h.advance(200)  # T+200
    u2.send(b"still here\n")
    everyone_gets([u1, u3], "user2: still here")
    u3.send(b"/status busy\n")
    everyone_gets(everybody, "user3 is now busy")
    h.advance(99)  # T+299: nobody has been idle for 300 s yet
    for client in everybody:
        client.expect_silence(0.05)
    h.advance(1)  # T+300: user1 idle for 300 s; user3 is busy, so stays busy
    everyone_gets(everybody, "user1 is now inactive")
    for client in everybody:
        client.expect_silence(0.05)
    u2.send(b"/who\n")
    u2.expect(
        "online users (3):",
        "  user1 - inactive, idle 5m",
        "  user2 - active, idle 1m",  # a /who is no sign of life: the last line was at T+200
        "  user3 - busy, idle 1m",
    )
    h.advance(200)  # T+500: user2 idle 300 s; no second announcement for user1, nothing for busy user3
    everyone_gets(everybody, "user2 is now inactive")
    for client in everybody:
        client.expect_silence(0.05)
    u1.send(b"back now\n")
    assert u1.line() == "user1 is now active"
    for client in (u2, u3):
        client.expect("user1 is now active", "user1: back now")
    u1.expect_silence(0.05)
    h.advance(100)  # T+600
    u2.send(b"/msg user1 psst\n")  # a command is activity too
    everyone_gets(everybody, "user2 is now active")
    assert u1.line() == "[private] user2: psst"
    assert u2.line() == "[private to user1] psst"
    h.advance(300)  # T+900: all three idle; only the active ones change
    lines = {client: [client.line(), client.line()] for client in everybody}
    for client in everybody:
        assert sorted(lines[client]) == ["user1 is now inactive", "user2 is now inactive"], lines[client]
        client.expect_silence(0.05)


def test_idle_monitor_stops_when_the_user_leaves(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=300)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    h.advance(150)
    u1.send(b"/quit\n")
    assert u1.closed() == ["goodbye"]
    h.forget_online(u1)
    assert u2.line() == "user1 has left the chat"
    h.advance(150)
    assert u2.line() == "user2 is now inactive"
    h.advance(600)
    u2.expect_silence()  # nothing about the departed user1


def test_json_status_who_and_whois(make_chat: MakeChat) -> None:
    clock = FakeClock()
    h = make_chat(clock=clock, idle_after=300)
    u1 = h.login("user1", "123")
    bot = h.connect()
    bot.send(b"mode json\nlogin\nuser2,345\n")
    assert bot.event()["type"] == "mode"
    assert no_json_ts(bot.event()) == {"type": "welcome", "name": "user2", "users": ["user1", "user2"]}
    assert u1.line() == "user2 has entered the chat"
    u1.send(b"/status busy deep work\n")
    assert u1.line() == "user1 is now busy: deep work"
    status = bot.event()
    assert no_json_ts(status) == {"type": "status", "name": "user1", "status": "busy", "message": "deep work"}
    assert status["ts"] == "2023-11-14T22:13:20.000Z"
    h.advance(12)
    bot.send(b"/who\n")
    assert no_json_ts(bot.event()) == {
        "type": "who",
        "users": [
            {"name": "user1", "status": "busy", "message": "deep work", "idle": 12},
            {"name": "user2", "status": "active", "message": "", "idle": 12},
        ],
    }
    bot.send(b"/whois user1\n")
    assert no_json_ts(bot.event()) == {
        "type": "whois",
        "name": "user1",
        "kind": "preconfigured",
        "online": True,
        "status": "busy",
        "message": "deep work",
        "since": "2023-11-14T22:13:20.000Z",
        "idle": 12,
    }
    bot.send(b"/whois user3\n")
    assert no_json_ts(bot.event()) == {
        "type": "whois",
        "name": "user3",
        "kind": "preconfigured",
        "online": False,
        "status": "offline",
        "message": "",
        "since": None,
        "idle": None,
    }
    bot.send(b"/away\n")
    assert no_json_ts(bot.event()) == {"type": "status", "name": "user2", "status": "active", "message": ""}
    assert u1.line() == "user2 is now active"
    h.advance(299)  # user2's last line was the /away at T+12: not idle for 300 s yet; user1 is busy
    bot.expect_silence(0.05)
    u1.expect_silence(0.05)
    h.advance(1)
    inactive = bot.event()
    assert no_json_ts(inactive) == {"type": "status", "name": "user2", "status": "inactive", "message": ""}
    assert inactive["ts"] == "2023-11-14T22:18:32.000Z"
    assert u1.line() == "user2 is now inactive"
    bot.send(b"hello again\n")
    assert no_json_ts(bot.event()) == {"type": "status", "name": "user2", "status": "active", "message": ""}
    u1.expect("user2 is now active", "user2: hello again")
