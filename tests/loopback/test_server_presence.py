"""Loopback smoke test of presence: a status change reaches every logged-in user, byte
for byte, over real sockets. The commands (/who, /whois, /status, /away), the idle
monitor and their JSON forms are tested at the service, over in-memory peers
(``tests/unit/test_service_presence.py``)."""

from __future__ import annotations

from tests.harness import Harness




# --- /status and /away ---------------------------------------------------------------------------------


def test_status_changes_reach_every_logged_in_user(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    lurker = harness.connect()  # greeted, not logged in: not a user yet
    everybody = [u1, u2, u3]
    cases = [
        (b"/status busy in a meeting until 3\n", "user1 is now busy: in a meeting until 3"),
        (b"/status Away\n", "user1 is now away"),
        (b"/status inactive\n", "user1 is now inactive"),
        (b"/status ACTIVE\n", "user1 is now active"),
        (b"/away lunch, back at 2\n", "user1 is now away: lunch, back at 2"),
        (b"/away\n", "user1 is now active"),
    ]
    for command, line in cases:
        u1.send(command)
        for client in everybody:
            wire = (line + "\n").encode()
            assert client.raw(len(wire)) == wire, (command, client)
    for client in everybody:
        client.expect_silence(0.05)
    lurker.expect_silence(0.05)
