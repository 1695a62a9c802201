"""The admin role at the service, over in-memory peers: /kick, /ban, /unban, /announce,
/shutdown with its countdown (driven by a fake clock), an admin's /who, and the
refusals.

Moved from ``tests/loopback/test_server_admin.py``, which keeps an end-to-end smoke
test and what needs the server's sockets (the countdown's end closing the listener, a
second ``Server.shutdown()`` despite a client that never reads). Every server line is
checked byte for byte, as there.

The accounts are the seed-004 three plus ``root``, who has ``role = "admin"``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import FakeClock
from tests.service_harness import MemoryClient, ServiceHarness, make_chat  # noqa: F401  (pytest fixture)

ACCOUNTS = {"root": "rootpw", "user1": "123", "user2": "345", "user3": "123"}
TWO_HOURS_LATER = "2023-11-15 00:13"
"""FAKE_EPOCH (2023-11-14 22:13:20 UTC) plus two hours, as ban texts show it."""
CLOSING = "the server is shutting down; try again later"


@pytest.fixture
def admin_chat(make_chat: Callable[..., ServiceHarness]) -> ServiceHarness:
    """root (admin), user1..3 (not admins), two registered seats, a fake clock."""
    return make_chat(ACCOUNTS, admins=("root",), clock=FakeClock(), max_users=6)


def room(h: ServiceHarness) -> tuple[MemoryClient, MemoryClient, MemoryClient]:
    """root, user1 and user2 logged in, in that order."""
    return h.login("root", "rootpw"), h.login("user1", "123"), h.login("user2", "345")


def attempt(h: ServiceHarness, name: str, password: str, verb: str = "login") -> str:
    """A fresh connection's reply to one login (or registration) attempt."""
    client = h.connect()
    client.send(f"{verb}\n{name},{password}\n".encode())
    return client.line()


def gone(h: ServiceHarness, client: MemoryClient) -> list[str]:
    """The lines ``client`` got before the server closed it; it is no longer online."""
    lines = client.closed()
    h.forget_online(client)
    return lines


def test_kick_without_a_reason(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(b"/KICK User2\n")
    assert gone(h, user2) == ["you were disconnected by root"]
    assert user1.line() == "user2 has left the chat (disconnected by root)"
    root.expect("user2 has left the chat (disconnected by root)", "user2 was disconnected")


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("/kick root", "you cannot /kick yourself"),
        ("/kick ROOT because", "you cannot /kick yourself"),
        ("/ban root 1h", "you cannot /ban yourself"),
        ("/kick user3", "user3 is not online"),
        ("/kick nobody", "no such user: nobody"),
        ("/ban nobody", "no such user: nobody"),
        ("/unban nobody", "no such user: nobody"),
        ("/unban user1", "user1 is not banned"),
        ("/kick", "usage: /kick NAME [reason] | /kick NAME #group"),
        ("/shutdown cancel", "no shutdown is under way"),
        ("/shutdown 0", "usage: /shutdown [SECONDS] [reason] | /shutdown cancel"),
        ("/shutdown 86401", "usage: /shutdown [SECONDS] [reason] | /shutdown cancel"),
    ],
)
def test_admin_command_refusals(admin_chat: ServiceHarness, line: str, reply: str) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(line.encode() + b"\n")
    assert root.line() == reply
    for client in (root, user1, user2):
        client.expect_silence(0.05)
    h.login("user3", "123")  # nothing changed: logins work, nobody left




# --- /ban and /unban ------------------------------------------------------------------------------


def test_ban_with_a_duration_is_persisted_told_after_the_password_only_and_expires(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(b"/ban user2 2h calm  down\n")
    assert gone(h, user2) == [f"you are banned by root until {TWO_HOURS_LATER} UTC: calm  down"]
    left = "user2 has left the chat (banned by root: calm  down)"
    assert user1.line() == left
    root.expect(left, f"user2 is banned until {TWO_HOURS_LATER} UTC")
    banned = f"this account is banned until {TWO_HOURS_LATER} UTC: calm  down"
    assert attempt(h, "user2", "345") == banned
    h.restart()  # the ban is in the database
    assert attempt(h, "user2", "345") == banned
    assert attempt(h, "USER2", "345") == banned
    assert attempt(h, "user2", "wrong") == "Wrong Password"  # nobody learns of the ban without the password
    h.advance(2 * 3600 - 1)
    assert attempt(h, "user2", "345") == banned
    h.advance(1)
    h.login("user2", "345")


def test_ban_without_a_duration_is_for_good(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(b"/ban user2 spamming everyone\n")
    assert gone(h, user2) == ["you are banned by root for good: spamming everyone"]
    assert user1.line() == "user2 has left the chat (banned by root: spamming everyone)"
    root.expect("user2 has left the chat (banned by root: spamming everyone)", "user2 is banned for good")
    h.advance(3650 * 86400)
    assert attempt(h, "user2", "345") == "this account is banned for good: spamming everyone"


def test_ban_of_an_offline_account_without_a_reason(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    carol = h.register("carol", "pw")
    carol.send(b"/quit\n")
    assert gone(h, carol) == ["goodbye"]
    assert root.line() == "carol has left the chat"
    root.send(b"/ban Carol 30m\n")
    assert root.line() == "carol is banned until 2023-11-14 22:43 UTC"
    root.send(b"/ban user3\n")
    assert root.line() == "user3 is banned for good"
    assert attempt(h, "carol", "pw") == "this account is banned until 2023-11-14 22:43 UTC"
    assert attempt(h, "user3", "123") == "this account is banned for good"
    assert attempt(h, "carol", "pw", verb="register") == "username is already used"
    root.expect_silence()


@pytest.mark.parametrize("duration", ["2x", "0h", "3651d", "1.5h"])
def test_ban_with_a_bad_duration_bans_nobody(admin_chat: ServiceHarness, duration: str) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(f"/ban user2 {duration} spam\n".encode())
    assert root.line() == f"invalid duration {duration!r}: use a number with s, m, h or d (e.g. 30m, 2h, 7d)"
    for client in (root, user1, user2):
        client.expect_silence(0.05)
    assert attempt(h, "user3", "123") == "Access Provided"


def test_ban_duration_and_reason_may_be_separated_by_a_tab(admin_chat: ServiceHarness) -> None:
    # The command parser treats tabs as word separators ("/ban\tuser2" works); the
    # duration after the name should be split off the same way.
    h = admin_chat
    root = h.login("root", "rootpw")
    root.send(b"/ban user3 2h\tcalm down\n")
    assert root.line() == f"user3 is banned until {TWO_HOURS_LATER} UTC"
    assert attempt(h, "user3", "123") == f"this account is banned until {TWO_HOURS_LATER} UTC: calm down"


def test_a_new_ban_replaces_the_old_one(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    root.send(b"/ban user3 spam\n")
    assert root.line() == "user3 is banned for good"
    root.send(b"/ban user3 2h second thoughts\n")
    assert root.line() == f"user3 is banned until {TWO_HOURS_LATER} UTC"
    assert attempt(h, "user3", "123") == f"this account is banned until {TWO_HOURS_LATER} UTC: second thoughts"
    h.advance(2 * 3600)
    assert root.line() == "root is now inactive"  # idle for two hours
    h.login("user3", "123")


def test_unban_lifts_the_ban_for_good(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    root.send(b"/ban user2 1d\n")
    assert root.line() == "user2 is banned until 2023-11-15 22:13 UTC"
    root.send(b"/unban USER2\n")
    assert root.line() == "user2 is no longer banned"
    root.send(b"/unban user2\n")
    assert root.line() == "user2 is not banned"
    h.restart()
    h.login("user2", "345")


def test_a_ban_expires_in_the_database_too(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    root.send(b"/ban user2 30s\n")
    assert root.line() == "user2 is banned until 2023-11-14 22:13 UTC"
    h.advance(30)
    root.send(b"/unban user2\n")
    assert root.line() == "user2 is not banned"  # an expired ban is no ban




# --- /announce and an admin's /who -------------------------------------------------------------------


def test_announce_reaches_everyone_logged_in_including_the_admin(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    waiting = h.connect()  # not logged in: not told
    root, user1, user2 = room(h)
    root.send(b"/announce the server  restarts at 22:00\n")
    for client in (root, user1, user2):
        assert client.line() == "*** announcement from root: the server  restarts at 22:00"
        client.expect_silence(0.05)
    waiting.expect_silence(0.05)


def test_json_clients_get_the_admin_events(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    client = h.connect()
    client.send(b"mode json\nlogin\nuser1,123\n")
    assert [client.event()["type"] for _ in range(2)] == ["mode", "welcome"]
    assert root.line() == "user1 has entered the chat"
    root.send(b"/announce hi\n/shutdown 20 upgrade\n/shutdown cancel\n")
    events = [client.event() for _ in range(3)]
    for event in events:
        del event["ts"]
    assert events == [
        {"type": "announcement", "sender": "root", "text": "hi"},
        {"type": "shutdown_warning", "seconds": 20, "reason": "upgrade"},
        {"type": "shutdown_cancelled"},
    ]


def test_admin_who_shows_connection_ids_and_addresses(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    h.advance(5)
    root.send(b"/who\n")
    lines = root.lines(4)
    assert lines[0] == "online users (3):"
    # /who is no sign of life: everyone has been idle since the room was made
    for line, client, name, idle in zip(lines[1:], (root, user1, user2), ("root", "user1", "user2"), ("5s", "5s", "5s")):
        conn = h.server_conn(client)
        assert line == f"  {name} - active, idle {idle} (connection #{conn.id} from 127.0.0.1:{client.local_port})"
    user1.send(b"/who\n")
    assert user1.lines(4) == ["online users (3):", "  root - active, idle 5s", "  user1 - active, idle 5s",
                              "  user2 - active, idle 5s"]
    ids = {h.server_conn(c).id for c in (root, user1, user2)}
    assert len(ids) == 3




# --- refusals to non-admins ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("/kick user2", "kick"),
        ("/kick root bye", "kick"),
        ("/ban user2", "ban"),
        ("/ban root 1h", "ban"),
        ("/unban user2", "unban"),
        ("/announce free pizza", "announce"),
        ("/shutdown", "shutdown"),
        ("/shutdown 5", "shutdown"),
        ("/shutdown cancel", "shutdown"),
    ],
)
def test_admin_commands_are_refused_to_others(admin_chat: ServiceHarness, line: str, name: str) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    user1.send(line.encode() + b"\n")
    assert user1.line() == f"/{name} is for admins only"
    for client in (root, user1, user2):
        client.expect_silence(0.05)
    h.advance(60)  # no countdown was started
    for client in (root, user1, user2):
        client.expect_silence(0.05)
    h.login("user3", "123")
    assert not h.stopping


def test_a_registered_account_is_never_an_admin(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    h.login("user1", "123")
    carol = h.register("carol", "pw")
    carol.send(b"/kick user1\n")
    assert carol.line() == "/kick is for admins only"




# --- /shutdown: the countdown ---------------------------------------------------------------------------


def warning(seconds: int, reason: str = "upgrade") -> str:
    return f"*** the server shuts down in {seconds} second(s)" + (f": {reason}" if reason else "")


def test_no_account_is_created_by_a_registration_refused_during_the_countdown(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root = h.login("root", "rootpw")
    root.send(b"/shutdown 60\n")
    root.expect(warning(60, ""), "shutdown in 60 second(s) started; /shutdown cancel stops it")
    assert attempt(h, "carol", "pw", verb="register") == CLOSING
    assert h.find_account("carol") is None  # told it failed: nothing was created
    root.send(b"/shutdown cancel\n")
    root.expect("*** the shutdown was cancelled", "shutdown cancelled")
    h.register("carol", "pw")


def test_shutdown_without_seconds_counts_30_and_cancel_stops_it(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1, user2 = room(h)
    root.send(b"/shutdown\n")
    root.expect(warning(30, ""), "shutdown in 30 second(s) started; /shutdown cancel stops it")
    assert user1.line() == warning(30, "")
    assert user2.line() == warning(30, "")
    h.advance(20)
    for client in (root, user1, user2):
        assert client.line() == warning(10, "")
    assert attempt(h, "user3", "123") == CLOSING
    root.send(b"/shutdown CANCEL\n")
    root.expect("*** the shutdown was cancelled", "shutdown cancelled")
    for client in (user1, user2):
        assert client.line() == "*** the shutdown was cancelled"
    h.login("user3", "123")  # logins work again
    h.advance(60)  # no warning, no shutdown any more
    for client in h.online:
        client.expect_silence(0.05)
    assert not h.stopping
    root.send(b"/shutdown cancel\n")
    assert root.line() == "no shutdown is under way"


def test_a_new_shutdown_replaces_the_running_countdown(admin_chat: ServiceHarness) -> None:
    h = admin_chat
    root, user1 = h.login("root", "rootpw"), h.login("user1", "123")
    root.send(b"/shutdown 60 first\n")
    root.expect(warning(60, "first"), "shutdown in 60 second(s) started; /shutdown cancel stops it")
    assert user1.line() == warning(60, "first")
    root.send(b"/shutdown 100 second\n")
    root.expect(warning(100, "second"), "shutdown in 100 second(s) started; /shutdown cancel stops it")
    assert user1.line() == warning(100, "second")
    h.advance(60)  # the first countdown would have ended here
    assert not h.stopping
    h.advance(30)
    assert user1.line() == warning(10, "second")
