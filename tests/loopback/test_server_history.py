"""Loopback tests of history and the mini-game (issue 3): /history, replay at login
(also after a restart), the seed-004 login flow with ``replay=0`` and no game,
retention (``history_keep``), and guess-the-number. Every line is checked byte for
byte; a fake clock makes the ``[YYYY-MM-DD HH:MM]`` prefixes exact."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pollchat.errors import StoreError
from tests.harness import Client, FakeClock, ENGINES, Harness, harnesses_on_engine


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Every test here runs on SQLite and on PostgreSQL (data the chat keeps)."""
    yield from harnesses_on_engine(request, tmp_path)


MakeHarness = Callable[..., Harness]

T0 = "[2023-11-14 22:13] "  # FakeClock's start
HISTORY_USAGE = "usage: /history [#group] [N]"
END = "--- end of history ---"
OFFER = "nobody else is here yet: type /play for a guess-the-number game while you wait"
START = "I picked a number from 1 to 100: type your guesses (/play again to stop)"


def no_json_ts(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "ts"}


def history(client: Client) -> list[str]:
    """The lines of one history block, header to footer included."""
    lines = [client.line()]
    assert lines[0].startswith("--- ") and lines[0].endswith((" earlier messages ---", " earlier message ---")), lines
    while lines[-1] != END:
        lines.append(client.line())
        assert len(lines) < 600, lines[-5:]
    return lines


def received(client: Client, duration: float = 0.2) -> list[str]:
    """Every complete line that arrives while the server runs for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    lines: list[str] = []
    while time.monotonic() < deadline:
        client.harness.pump()
        client.drain()
        while (line := client.take_line()) is not None:
            lines.append(line)
    return lines


def block(*lines: str) -> list[str]:
    count = f"{len(lines)} earlier messages" if len(lines) != 1 else "1 earlier message"
    return [f"--- {count} ---", *lines, END]


def stored(h: Harness, count: int) -> None:
    """Pump until the database holds ``count`` messages (for a user talking alone)."""
    h.pump_until(lambda: h.server.database.count_messages() == count, f"{count} messages stored")


# --- /history ----------------------------------------------------------------------------------------


def test_history_default_count_and_limits(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock())
    u1 = h.login("user1", "123")
    u1.send(b"/history\n")
    assert u1.line() == "no messages yet"
    u1.send(b"".join(f"m{i}\n".encode() for i in range(1, 26)))
    stored(h, 25)
    u1.send(b"/history\n")
    assert history(u1) == block(*(f"{T0}user1: m{i}" for i in range(6, 26)))
    u1.send(b"/history 3\n")
    assert history(u1) == block(f"{T0}user1: m23", f"{T0}user1: m24", f"{T0}user1: m25")
    for bad in (b"/history 501\n", b"/history 0\n", b"/history -1\n", b"/history x\n", b"/history 1.5\n"):
        u1.send(bad)
        assert u1.line() == HISTORY_USAGE, bad
    u1.expect_silence(0.05)


def test_history_at_most_500(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock())
    u1 = h.login("user1", "123")
    u1.send(b"".join(f"m{i}\n".encode() for i in range(1, 511)))
    stored(h, 510)
    u1.send(b"/history 500\n")
    assert history(u1) == block(*(f"{T0}user1: m{i}" for i in range(11, 511)))
    u1.send(b"/history 501\n")
    assert u1.line() == HISTORY_USAGE
    u1.expect_silence(0.05)


def test_history_merges_public_and_own_private_messages_with_times(make_harness: MakeHarness) -> None:
    clock = FakeClock()
    h = make_harness(clock=clock, idle_after=10**9)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    u3 = h.login("user3", "123")
    u1.send(b"good evening\n")
    assert u2.line() == "user1: good evening"
    assert u3.line() == "user1: good evening"
    h.advance(3600)  # 23:13
    u1.send(b"/msg user2 psst\n")
    assert u2.line() == "[private] user1: psst"
    assert u1.line() == "[private to user2] psst"
    u2.send(b"/msg user3 not for user1\n")
    assert u3.line() == "[private] user2: not for user1"
    assert u2.line() == "[private to user3] not for user1"
    h.advance(86400 + 120)  # 2023-11-15 23:15
    u3.send(b"/me yawns\n")
    assert u1.line() == "* user3 yawns"
    assert u2.line() == "* user3 yawns"
    u2.send(b"/msg user1 psst back\n")
    assert u1.line() == "[private] user2: psst back"
    assert u2.line() == "[private to user1] psst back"
    u3.send(b"night\n")
    assert u1.line() == "user3: night"
    assert u2.line() == "user3: night"
    u1.send(b"/history\n")
    assert history(u1) == block(
        "[2023-11-14 22:13] user1: good evening",
        "[2023-11-14 23:13] [private to user2] psst",
        "[2023-11-15 23:15] * user3 yawns",
        "[2023-11-15 23:15] [private] user2: psst back",
        "[2023-11-15 23:15] user3: night",
    )
    u3.send(b"/history\n")
    assert history(u3) == block(
        "[2023-11-14 22:13] user1: good evening",
        "[2023-11-14 23:13] [private] user2: not for user1",
        "[2023-11-15 23:15] * user3 yawns",
        "[2023-11-15 23:15] user3: night",
    )
    u2.send(b"/history 2\n")  # the last 2 public and the last 2 private, merged
    assert history(u2) == block(
        "[2023-11-14 23:13] [private to user3] not for user1",
        "[2023-11-15 23:15] * user3 yawns",
        "[2023-11-15 23:15] [private to user1] psst back",
        "[2023-11-15 23:15] user3: night",
    )
    for client in (u1, u2, u3):
        client.expect_silence(0.05)


def test_history_right_after_a_line_in_the_same_packet(make_harness: MakeHarness) -> None:
    """A user who types a line and then /history sees the line: the query must include
    what the hub recorded earlier in the same pass (not yet written to the database)."""
    h = make_harness(clock=FakeClock())
    u1 = h.login("user1", "123")
    u1.send(b"just said\n/history\n")
    assert history(u1) == block(f"{T0}user1: just said")


def test_history_follows_a_renamed_account(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock(), max_users=6)
    u1 = h.login("user1", "123")
    alice = h.register("alice", "pw")
    u1.send(b"/msg alice before the rename\n")
    assert alice.line() == "[private] user1: before the rename"
    assert u1.line() == "[private to alice] before the rename"
    alice.send(b"/nick alicia\n")
    assert alice.line() == "alice is now known as alicia"
    assert u1.line() == "alice is now known as alicia"
    alice.send(b"/history\n")
    assert history(alice) == block(f"{T0}[private] user1: before the rename")


# --- replay at login -------------------------------------------------------------------------------------


def test_replay_at_login_and_after_a_restart(make_harness: MakeHarness) -> None:
    clock = FakeClock()
    h = make_harness(clock=clock, replay=20, idle_after=10**9)
    u1 = h.login("user1", "123")
    u1.expect_silence(0.05)  # no history yet: no header, no footer
    u1.send(b"".join(f"m{i}\n".encode() for i in range(1, 25)))
    stored(h, 24)
    h.advance(60)
    u1.send(b"/me waves\n/msg user2 private, never replayed\n")
    u1.expect(
        "[private to user2] private, never replayed",
        "user2 is offline; they will see your message when they log in",
    )
    stored(h, 26)
    expected = block(
        *(f"{T0}user1: m{i}" for i in range(6, 25)),
        "[2023-11-14 22:14] * user1 waves",
    )
    u2 = h.login("user2", "345")
    assert history(u2) == expected
    assert u2.line() == "1 private message(s) arrived while you were away: type /history to read them"
    u2.expect_silence(0.05)
    u1.expect_silence(0.05)
    h.restart()
    u3 = h.login("user3", "123")
    assert history(u3) == expected
    u3.expect_silence(0.05)
    u3.send(b"after the restart\n")
    h.pump(3)
    u1 = h.login("user1", "123")
    assert history(u1) == block(*expected[2:-1], "[2023-11-14 22:14] user3: after the restart")
    u1.expect_silence(0.05)


def test_login_flow_with_replay_offline_messages_and_the_game(make_harness: MakeHarness) -> None:
    """Everything a login can bring, in order: welcome, replay, the count of private
    messages, the game offer (alone)."""
    h = make_harness(clock=FakeClock(), replay=20, games=True)
    u1 = h.login("user1", "123")
    assert u1.line() == OFFER  # alone, no history yet
    u1.send(b"anyone?\n/msg user2 call me\n")
    u1.expect("[private to user2] call me", "user2 is offline; they will see your message when they log in")
    u1.send(b"/quit\n")
    assert u1.closed() == ["goodbye"]
    h.forget_online(u1)
    c = h.connect()
    c.send(b"login\nuser2,345\n")
    c.expect(
        "Access Provided",
        "active users are: user2",
        "--- 1 earlier message ---",
        f"{T0}user1: anyone?",
        END,
        "1 private message(s) arrived while you were away: type /history to read them",
        OFFER,
    )
    c.expect_silence(0.05)


def test_replay_smaller_than_the_history(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock(), replay=2)
    u1 = h.login("user1", "123")
    u1.send(b"one\ntwo\nthree\n")
    stored(h, 3)
    u2 = h.login("user2", "345")
    assert history(u2) == block(f"{T0}user1: two", f"{T0}user1: three")
    u2.expect_silence(0.05)


def test_replay_0_and_no_game_keep_the_seed_004_login_flow(make_harness: MakeHarness) -> None:
    h = make_harness(replay=0, games=False)
    u1 = h.login("user1", "123")
    u1.send(b"some history\n/me exists\n")
    stored(h, 2)
    u1.send(b"/quit\n")
    assert u1.closed() == ["goodbye"]
    h.forget_online(u1)
    c = h.connect()  # greeting checked
    c.send(b"login\nuser2,345\n")
    expected = b"Access Provided\nactive users are: user2\n"
    assert c.raw(len(expected)) == expected
    c.expect_silence()  # alone, with history: still nothing more


def login_racing(h: Harness, speaker: Client, said: bytes) -> tuple[Client, list[str]]:
    """Log user2 in so that ``speaker``'s ``said`` is read in the very pass in which
    user2's password check comes back (workers held, result queued, then one pass).
    Returns user2's client and every line it received after the welcome."""
    u2 = h.connect()
    with h.workers_held():
        u2.send(b"login\nuser2,345\n")
        h.pump(5)  # the login is read and waits for a worker
        speaker.send(said)
    # Every held worker posts its (empty) result, then the login's check posts one.
    results = h.server.loop._results
    wanted = max(1, h.config.hash_workers) + 1
    deadline = time.monotonic() + 5
    while results.qsize() < wanted:  # no server pass meanwhile
        assert time.monotonic() < deadline, "the password check did not finish"
        time.sleep(0.001)
    passes = h.passes
    h.pump(1)  # one pass: the speaker's line, then user2's login result
    assert h.passes == passes + 1
    u2.expect("Access Provided", "active users are: user1 user2")
    return u2, received(u2)


def test_a_line_in_the_same_pass_as_a_login_is_not_lost(make_harness: MakeHarness) -> None:
    """user1 speaks in the very pass in which user2 logs in: user2 was not online to
    receive the line live, so the replay must contain it."""
    h = make_harness(replay=20)
    u1 = h.login("user1", "123")
    _u2, lines = login_racing(h, u1, b"said during the login\n")
    assert u1.line() == "user2 has entered the chat"
    assert any(line.endswith("user1: said during the login") for line in lines), (
        f"user2 never saw user1's line, neither live nor in the replay: {lines}"
    )


def test_a_private_message_in_the_same_pass_as_the_login_is_announced(make_harness: MakeHarness) -> None:
    """A /msg to user2 handled in the pass in which user2 logs in: user2 was offline
    when it was sent, so the login must announce it."""
    h = make_harness()
    u1 = h.login("user1", "123")
    _u2, lines = login_racing(h, u1, b"/msg user2 whispered during the login\n")
    u1.expect(
        "[private to user2] whispered during the login",
        "user2 is offline; they will see your message when they log in",
        "user2 has entered the chat",
    )
    assert lines == ["1 private message(s) arrived while you were away: type /history to read them"]


# --- retention -----------------------------------------------------------------------------------------------


def test_history_keep_prunes_old_messages(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock(), history_keep=5)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    for i in range(1, 21):
        u1.send(f"m{i}\n".encode())
        assert u2.line() == f"user1: m{i}"
    u1.send(b"/history 100\n")
    assert history(u1) == block(*(f"{T0}user1: m{i}" for i in range(16, 21)))
    h.pump_until(lambda: h.server.database.count_messages() == 5, "the database to hold 5 messages")
    h.restart()
    u2 = h.login("user2", "345")
    u2.send(b"/history\n")
    assert history(u2) == block(*(f"{T0}user1: m{i}" for i in range(16, 21)))


# --- JSON --------------------------------------------------------------------------------------------------------


def test_json_history_events(make_harness: MakeHarness) -> None:
    clock = FakeClock()
    h = make_harness(clock=clock, replay=20, idle_after=10**9)
    u1 = h.login("user1", "123")
    u1.send(b"hello\n/me waves\n/msg user2 for later\n")
    u1.expect("[private to user2] for later", "user2 is offline; they will see your message when they log in")
    stored(h, 3)
    h.advance(3600)
    bot = h.connect()
    bot.send(b"mode json\nlogin\nuser2,345\n")
    assert bot.event()["type"] == "mode"
    assert bot.event()["type"] == "welcome"
    assert u1.line() == "user2 has entered the chat"
    start = bot.event()
    assert no_json_ts(start) == {"type": "history_start", "count": 2}
    assert start["ts"] == "2023-11-14T23:13:20.000Z"  # a live event: the time now
    message = bot.event()
    assert message == {
        "type": "message",
        "sender": "user1",
        "text": "hello",
        "history": True,
        "id": 1,  # its stored id: where scrollback (/older) goes on from
        "ts": "2023-11-14T22:13:20.000Z",  # when it was said
    }
    assert bot.event() == {
        "type": "action",
        "sender": "user1",
        "text": "waves",
        "history": True,
        "id": 2,
        "ts": "2023-11-14T22:13:20.000Z",
    }
    assert no_json_ts(bot.event()) == {"type": "history_end"}
    assert no_json_ts(bot.event()) == {
        "type": "notice",
        "code": "offline_messages",
        "text": "1 private message(s) arrived while you were away: type /history to read them",
    }
    bot.send(b"/history\n")
    assert no_json_ts(bot.event()) == {"type": "history_start", "count": 3}
    assert bot.event()["type"] == "message"
    assert bot.event()["type"] == "action"
    assert bot.event() == {
        "type": "private",
        "sender": "user1",
        "recipient": "user2",
        "text": "for later",
        "outgoing": False,
        "history": True,
        "id": 3,
        "ts": "2023-11-14T22:13:20.000Z",
    }
    assert no_json_ts(bot.event()) == {"type": "history_end"}
    u1.send(b"live\n")
    assert no_json_ts(bot.event()) == {"type": "message", "sender": "user1", "text": "live"}  # no history flag
    bot.send(b"/history 0\n")
    assert no_json_ts(bot.event()) == {"type": "error", "code": "usage", "text": HISTORY_USAGE}


def test_json_empty_history_notice(harness: Harness) -> None:
    bot = harness.connect()
    bot.send(b"mode json\nlogin\nuser1,123\n/history\n")
    assert bot.event()["type"] == "mode"
    assert bot.event()["type"] == "welcome"
    assert no_json_ts(bot.event()) == {"type": "notice", "code": "history_empty", "text": "no messages yet"}


# --- the mini-game ---------------------------------------------------------------------------------------------


def play_to_win(client: Client) -> tuple[int, int]:
    """Binary search; returns (the number, guesses used)."""
    low, high, tries = 1, 100, 0
    while True:
        guess = (low + high) // 2
        client.send(f"{guess}\n".encode())
        tries += 1
        answer = client.line()
        if answer == f"{guess} is too low, try higher":
            low = guess + 1
        elif answer == f"{guess} is too high, try lower":
            high = guess - 1
        else:
            assert answer == f"{guess} is right, found in {tries} guess(es)!", answer
            return guess, tries
        assert low <= high and tries < 10, (low, high, tries)


def test_game_offered_to_a_lonely_user_and_played_to_the_end(make_harness: MakeHarness) -> None:
    seed = 1234
    secret = random.Random(seed).randint(1, 100)
    h = make_harness(games=True, seed=seed)
    u1 = h.login("user1", "123")
    assert u1.line() == OFFER
    u1.expect_silence(0.05)
    u1.send(b"/play\n")
    assert u1.line() == START
    u1.send(b"forty-two\n")
    assert u1.line() == "type a number from 1 to 100 (or /play to stop)"
    u1.send(b"101\n")
    assert u1.line() == "type a number from 1 to 100 (or /play to stop)"
    found, tries = play_to_win(u1)
    assert found == secret
    assert tries <= 7
    u1.expect_silence(0.05)
    u1.send(b"/history\n")  # guesses are not chat
    assert u1.line() == "no messages yet"
    u2 = h.login("user2", "345")
    u2.expect_silence(0.05)  # not alone: no offer
    u1.send(b"50\n")  # the game is over: chat again
    assert u2.line() == "user1: 50"
    u1.expect_silence(0.05)


def test_game_stops_when_someone_arrives(make_harness: MakeHarness) -> None:
    h = make_harness(games=True, seed=7)
    u1 = h.login("user1", "123")
    assert u1.line() == OFFER
    u1.send(b"/play\n")
    assert u1.line() == START
    u1.send(b"1\n")
    assert u1.line() in ("1 is too low, try higher", "1 is right, found in 1 guess(es)!")
    u2 = h.login("user2", "345")  # checks that user1 got "user2 has entered the chat" first
    assert u1.line() == "user2 has arrived: the game is over"
    u2.expect_silence(0.05)
    u1.send(b"50\n")
    assert u2.line() == "user1: 50"
    u1.send(b"/play\n")
    assert u1.line() == "the game is only for when nobody else is here"
    u2.expect_silence(0.05)
    u1.expect_silence(0.05)


def test_game_stop_and_play_with_a_first_guess(make_harness: MakeHarness) -> None:
    seed = 99
    rng = random.Random(seed)
    rng.randint(1, 100)  # the first /play's number
    rng.randint(1, 100)  # drawn by the /play that stops the game
    h = make_harness(games=True, seed=seed)
    u1 = h.login("user1", "123")
    assert u1.line() == OFFER
    u1.send(b"/play\n")  # the first number
    assert u1.line() == START
    u1.send(b"/play\n")  # stops (and draws a number that is not used)
    assert u1.line() == "game stopped"
    u1.send(b"hello\n")  # chat again, alone
    u1.expect_silence(0.05)
    third = rng.randint(1, 100)
    u1.send(f"/play {third}\n".encode())
    assert u1.line() == START
    assert u1.line() == f"{third} is right, found in 1 guess(es)!"
    u1.expect_silence(0.05)



# --- a database that cannot be written (issue 14) ---------------------------------------------------------

NOT_SAVED = (
    "your message to {where} could not be saved yet (the server cannot write its history): "
    "it is kept and retried, but may be lost"
)
OFFLINE_UNSAVED = (
    "user2 is offline, and the server cannot save messages right now: "
    "yours is kept and retried, but user2 may never see it"
)


def test_a_full_disk_loses_no_message_and_no_sender_is_told_a_falsehood(make_harness: MakeHarness, monkeypatch) -> None:
    """The database refuses writes ('database or disk is full'): private and group lines
    wait in memory and are retried; their senders are told they are not saved yet, and
    while the outage lasts nobody is promised "they will see your message"."""
    clock = FakeClock()
    h = make_harness(clock=clock, idle_after=10**9)
    u1 = h.login("user1", "123")
    u1.send(b"/create #g\n")
    assert u1.line() == "[#g] public group created: others join with /join #g"

    def full(records: object) -> None:
        raise StoreError("database error: database or disk is full")  # what the store raises

    monkeypatch.setattr(h.server.database, "append_messages", full)
    u1.send(b"/msg user2 first\n")
    assert u1.lines(3) == [
        "[private to user2] first",
        "user2 is offline; they will see your message when they log in",  # the store was fine until now
        NOT_SAVED.format(where="user2"),  # the write at the end of the pass failed
    ]
    u1.send(b"/msg user2 second\n#g hello\n")
    assert u1.lines(2) == ["[private to user2] second", OFFLINE_UNSAVED]  # no promise during the outage
    u1.expect_silence(0.05)
    h.advance(1.0)  # the retry a second later fails too: the group line's sender is told
    assert u1.line() == NOT_SAVED.format(where="#g")
    monkeypatch.undo()  # room on the disk again
    h.advance(2.0)
    h.pump_until(lambda: h.server.chat.history.healthy, "the history to be written again")
    u1.send(b"/msg user2 third\n")
    assert u1.lines(2) == ["[private to user2] third", "user2 is offline; they will see your message when they log in"]
    u2 = h.login("user2", "345")
    assert u2.line() == "3 private message(s) arrived while you were away: type /history to read them"
    u2.send(b"/history\n")
    assert history(u2)[1:-1] == [f"{T0}[private] user1: {text}" for text in ("first", "second", "third")]


def test_the_not_saved_notice_leaves_with_the_acknowledgement(make_harness: MakeHarness, monkeypatch) -> None:
    """A failed history write is tried before the pass's output is flushed, so the
    sender's notice goes out in the same pass as the acknowledgement it qualifies, not
    when someone else next makes the loop run a pass."""
    h = make_harness(clock=FakeClock(), idle_after=10**9)
    u1 = h.login("user1", "123")

    def full(records: object) -> None:
        raise StoreError("database error: database or disk is full")  # what the store raises

    monkeypatch.setattr(h.server.database, "append_messages", full)
    u1.send(b"/msg user2 first\n")
    while not u1.drain():  # one pass at a time until the first bytes arrive
        h.pump()
    u1.drain()
    assert bytes(u1.buf).decode().splitlines() == [
        "[private to user2] first",
        "user2 is offline; they will see your message when they log in",
        NOT_SAVED.format(where="user2"),
    ]


# --- retention per kind, and the offline quota (issue 14) ---------------------------------------------------


def test_public_lines_never_prune_an_unread_private_message(make_harness: MakeHarness) -> None:
    """--history-keep is the main chat's limit: a busy main chat cannot push someone's
    unread private message (nor a group's lines) out of the database, and an unread
    private message outlives --private-keep until its reader has been online."""
    h = make_harness(clock=FakeClock(), history_keep=5, private_keep=1, group_keep=2)
    u1 = h.login("user1", "123")
    u1.send(b"/create #g\n#g one\n#g two\n#g three\n/msg user2 psst\n/msg user2 still there?\n")
    assert u1.line() == "[#g] public group created: others join with /join #g"
    assert u1.lines(4)[::2] == ["[private to user2] psst", "[private to user2] still there?"]
    for i in range(30):
        u1.send(f"m{i}\n".encode())
    h.pump_until(lambda: h.server.database.count_messages() == 5 + 2 + 2, "5 main-chat, 2 group, 2 private messages")
    u2 = h.login("user2", "345")
    assert u2.line() == "2 private message(s) arrived while you were away: type /history to read them"
    u2.send(b"/history 3\n")
    assert history(u2) == block(
        f"{T0}[private] user1: psst",
        f"{T0}[private] user1: still there?",
        f"{T0}user1: m27",
        f"{T0}user1: m28",
        f"{T0}user1: m29",
    )
    u2.send(b"/history #g\n")
    assert history(u2) == block(f"{T0}[#g] user1: two", f"{T0}[#g] user1: three")
    u2.send(b"/quit\n")
    u2.closed()
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    h.advance(1)  # user2 has read them: now --private-keep 1 applies at the next message
    u1.send(b"/msg user2 last one\n")
    u1.lines(2)
    h.pump_until(lambda: h.server.database.count_messages() == 5 + 2 + 1, "the read private messages pruned")


def test_a_full_mailbox_refuses_more_private_messages(make_harness: MakeHarness) -> None:
    h = make_harness(clock=FakeClock(), offline_quota=2)
    u1 = h.login("user1", "123")
    u1.send(b"/msg user2 one\n/msg user2 two\n")
    u1.lines(4)
    u1.send(b"/msg user2 three\n")
    assert u1.line() == "user2's mailbox is full (2 unread messages): your message was not sent"
    u1.expect_silence(0.05)
    u2 = h.login("user2", "345")
    assert u2.line() == "2 private message(s) arrived while you were away: type /history to read them"
    u1.send(b"/msg user2 four\n")  # online: no mailbox involved
    assert u2.line() == "[private] user1: four"
    assert u1.line() == "[private to user2] four"
    u2.send(b"/quit\n")
    u2.closed()
    h.forget_online(u2)
    assert u1.line() == "user2 has left the chat"
    h.advance(1)
    u1.send(b"/msg user2 five\n")  # read at the last login: an empty mailbox again
    assert u1.lines(2) == ["[private to user2] five", "user2 is offline; they will see your message when they log in"]
