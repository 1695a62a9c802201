"""Loopback tests of the admin role over real sockets: an end-to-end /kick, the
shutdown countdown's end (every connection told and closed, the listener closed) and
``Server.shutdown()`` called twice. The admin commands' behaviour (/kick, /ban,
/unban, /announce, /shutdown, an admin's /who, the refusals) is tested at the service,
over in-memory peers (``tests/unit/test_service_admin.py``).

The accounts are the seed-004 three plus ``root``, who has ``role = "admin"``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from pollchat import texts
from tests.harness import Client, FakeClock, Harness

ACCOUNTS = {"root": "rootpw", "user1": "123", "user2": "345", "user3": "123"}
CLOSING = "the server is shutting down; try again later"


@pytest.fixture
def admin_harness(make_harness: Callable[..., Harness]) -> Harness:
    """root (admin), user1..3 (not admins), two registered seats, a fake clock."""
    return make_harness(ACCOUNTS, admins=("root",), clock=FakeClock(), max_users=6)


def room(h: Harness) -> tuple[Client, Client, Client]:
    """root, user1 and user2 logged in, in that order."""
    return h.login("root", "rootpw"), h.login("user1", "123"), h.login("user2", "345")


def attempt(h: Harness, name: str, password: str, verb: str = "login") -> str:
    """A fresh connection's reply to one login (or registration) attempt."""
    client = h.connect()
    client.send(f"{verb}\n{name},{password}\n".encode())
    return client.line()


def gone(h: Harness, client: Client) -> list[str]:
    """The lines ``client`` got before the server closed it; it is no longer online."""
    lines = client.closed()
    h.forget_online(client)
    return lines




# --- /kick ----------------------------------------------------------------------------------------


def test_kick_tells_the_target_closes_it_and_tells_the_others_once(admin_harness: Harness) -> None:
    h = admin_harness
    root, user1, user2 = room(h)
    root.send(b"/kick user2 flooding the room\n")
    assert gone(h, user2) == ["you were disconnected by root: flooding the room"]
    left = "user2 has left the chat (disconnected by root: flooding the room)"
    assert user1.line() == left
    root.expect(left, "user2 was disconnected")
    user1.expect_silence()
    root.expect_silence()
    # a kick is not a ban
    h.login("user2", "345")




# --- /shutdown: the countdown ---------------------------------------------------------------------------


def warning(seconds: int, reason: str = "upgrade") -> str:
    return f"*** the server shuts down in {seconds} second(s)" + (f": {reason}" if reason else "")


def test_shutdown_countdown_warns_refuses_logins_then_shuts_down(admin_harness: Harness) -> None:
    h = admin_harness
    root, user1, user2 = room(h)
    waiting = h.connect()  # connected before the countdown, not logged in
    root.send(b"/shutdown 30 upgrade\n")
    root.expect(warning(30), "shutdown in 30 second(s) started; /shutdown cancel stops it")
    for client in (user1, user2):
        assert client.line() == warning(30)
    waiting.expect_silence(0.05)
    # new logins and registrations are refused meanwhile
    assert attempt(h, "user3", "123") == CLOSING
    waiting.send(b"login\nuser3,123\n")
    assert waiting.line() == CLOSING
    # warnings at 10, 5, 3, 2 and 1 seconds before the end, and none in between
    for step, left in ((19, None), (1, 10), (4, None), (1, 5), (1.5, None), (0.5, 3), (1, 2), (1, 1)):
        h.advance(step)
        for client in (root, user1, user2):
            if left is None:
                client.expect_silence(0.05)
            else:
                assert client.line() == warning(left)
    assert not h.server.stopping
    h.advance(1)
    assert h.server.stopping
    for client in (root, user1, user2, waiting):
        assert client.closed() == [texts.SHUTTING_DOWN]
        client.close()
    h.pump_until(lambda: h.server.finished, "the server to finish")
    with pytest.raises(OSError):
        socket.create_connection(h.address, timeout=1).close()




# --- Server.shutdown() twice ---------------------------------------------------------------------------


def test_a_second_shutdown_finishes_at_once_despite_a_client_that_never_reads(make_harness) -> None:
    h = make_harness(linger=30)
    user1 = h.login("user1", "123")
    never_reads = h.connect(greet=False)
    h.server_conn(never_reads)
    h.server.shutdown()
    h.pump(20)
    assert not h.server.finished  # waiting for the peers to take their last line and close
    h.server.shutdown()
    assert h.server.finished
    assert user1.closed() == [texts.SHUTTING_DOWN]
