"""Loopback tests of the slash commands over real sockets: an end-to-end smoke test
(/msg, byte for byte) and two renames to one name read in the same loop pass. The
commands' behaviour is tested at the service, over in-memory peers
(``tests/unit/test_service_commands.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.harness import Harness

MakeHarness = Callable[..., Harness]


def wide(make_harness: MakeHarness, **config: object) -> Harness:
    """A harness with room for registered accounts (the default 4 seats leave one)."""
    config.setdefault("max_users", 8)
    return make_harness(**config)




# --- /msg --------------------------------------------------------------------------------------


def test_msg_reaches_only_the_recipient_and_confirms_to_the_sender(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    u1.send(b"/msg user2 are you there?\n")
    assert u2.raw(len(b"[private] user1: are you there?\n")) == b"[private] user1: are you there?\n"
    assert u1.raw(len(b"[private to user2] are you there?\n")) == b"[private to user2] are you there?\n"
    u3.expect_silence()
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)
    # Any case of the name reaches the account; inner spaces of the text are kept.
    u3.send(b"/msg USER1 two  spaces, one comma\n")
    assert u1.line() == "[private] user3: two  spaces, one comma"
    assert u3.line() == "[private to user1] two  spaces, one comma"
    u2.expect_silence(0.05)


def test_two_renames_to_one_name_in_the_same_pass(make_harness: MakeHarness) -> None:
    h = wide(make_harness)
    u1 = h.login("user1", "123")
    alice = h.register("alice", "pw")
    bob = h.register("bob", "pw")
    calls: list[tuple[str, int]] = []
    hub = h.server.hub
    real_rename = hub.rename

    def recording_rename(handle: Any, new_name: str) -> Any:
        session = hub.session_of(handle)
        calls.append((session.account.name if session else "?", h.passes))
        return real_rename(handle, new_name)

    hub.rename = recording_rename  # type: ignore[method-assign]
    alice.send(b"/nick carol\n")
    bob.send(b"/nick carol\n")
    h.pump_until(lambda: len(calls) == 2, "both renames to run")
    assert calls[0][1] == calls[1][1], f"the two renames ran in different passes: {calls}"
    winner_name = calls[0][0]
    winner, loser = (alice, bob) if winner_name == "alice" else (bob, alice)
    notice = f"{winner_name} is now known as carol"
    assert winner.line() == notice
    assert u1.line() == notice
    assert sorted([loser.line(), loser.line()]) == sorted([notice, "username is already used"])
    for client in (u1, alice, bob):
        client.expect_silence(0.05)
    u1.send(b"/who\n")
    who = u1.lines(4)
    assert who[0] == "online users (3):"
    assert sorted(line.split(" - ")[0].strip() for line in who[1:]) == sorted(
        ["user1", "carol", "bob" if winner is alice else "alice"]
    )
    assert h.find_account("carol") is not None
    assert h.find_account(winner_name) is None
    loser_name = "bob" if winner is alice else "alice"
    assert h.find_account(loser_name) is not None
