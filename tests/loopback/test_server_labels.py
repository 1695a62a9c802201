"""Loopback tests of labelled requests (docs/protocol.md, "Labelled requests"): the
server echoes a JSON-mode line's label on that connection's answers, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pollchat import texts
from pollchat.client.app import App
from pollchat.client.reconnect import Backoff
from pollchat.client.requests import PROBE_LINE
from pollchat.client.state import EntryKind
from pollchat.client.ui import Key
from tests.harness import Client, Harness


def bare(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "ts"}


def json_login(harness: Harness, name: str, password: str) -> Client:
    client = harness.connect()
    client.send(b"mode json\n@label=probe mode json\n")
    assert bare(client.event()) == {"type": "mode", "mode": "json"}
    assert bare(client.event()) == {"type": "mode", "mode": "json", "label": "probe"}
    client.send(f"login\n{name},{password}\n".encode())
    assert client.event()["type"] == "welcome"
    return client


def test_answers_carry_the_label_and_broadcasts_do_not(harness: Harness) -> None:
    text = harness.login("user2", "345")
    bot = json_login(harness, "user1", "123")
    assert text.line() == "user1 has entered the chat"
    bot.send(b"@label=w1 /whois nobody\n@label=w2 /whois user2\n/whois user2\n")
    assert bare(bot.event()) == {"type": "error", "code": "no_such_user", "text": "no such user: nobody", "label": "w1"}
    whois = bot.event()
    assert whois["type"] == "whois" and whois["name"] == "user2" and whois["label"] == "w2"
    assert "label" not in bot.event()  # the same request unlabelled
    bot.send(b"@label=m.1 /msg user2 psst\n")
    echo = bot.event()
    assert echo["type"] == "private" and echo["outgoing"] is True and echo["label"] == "m.1"
    assert text.line() == "[private] user1: psst"  # the recipient sees no label
    bot.send(b"@label=c_1 hello all\n")
    assert text.line() == "user1: hello all"
    bot.send(b"@label=bad/label /who\n")
    assert bare(bot.event()) == {
        "type": "error",
        "code": "bad_label",
        "text": "bad label: write @label=ID then a space and the line (ID: 1 to 32 letters, digits, '_', "
        "'-' or '.'); line discarded",
    }
    bot.send(b"@label=s1 /status away lunch\n")
    assert text.line() == "user1 is now away: lunch"
    status = bot.event()  # a broadcast to everyone logged in: no label
    assert status["type"] == "status" and "label" not in status
    bot.send(b"@label=h1 /history 1\n")
    replay = [bot.event()]
    while replay[-1]["type"] != "history_end":
        replay.append(bot.event())
    assert replay[0]["type"] == "history_start" and "message" in [e["type"] for e in replay]
    assert {e.get("label") for e in replay} == {"h1"}
    bot.expect_silence(0.05)
    text.expect_silence(0.05)


def test_a_label_is_only_syntax_in_json_mode(harness: Harness) -> None:
    a = harness.login("user1", "123")
    b = harness.login("user2", "345")
    a.send(b"@label=x hi\n")
    assert b.line() == "user1: @label=x hi"
    a.expect_silence(0.05)


def test_a_json_chat_line_starting_with_label_is_sent_with_a_label(harness: Harness) -> None:
    text = harness.login("user2", "345")
    bot = json_login(harness, "user1", "123")
    assert text.line() == "user1 has entered the chat"
    bot.send(b"@label=e @label=x is how labels start\n")
    assert text.line() == "user1: @label=x is how labels start"
    bot.expect_silence(0.05)


def test_the_tui_client_matches_a_real_servers_answers_by_label(harness: Harness) -> None:
    """The TUI's logic (pollchat.client.app) against the real server: the probe turns
    labels on, the automatic /who, /groups and /ignore stay out of sight, and a chat with a
    name nobody has is refused with one line."""
    text = harness.login("user2", "345")
    app = App("127.0.0.1", harness.address[1], user="user1", backoff=Backoff(rand=lambda: 1.0))
    now = 1_700_000_000.0
    for ch in "123":
        app.key(ch, now)
    app.key(Key.ENTER, now)
    app.connecting()
    client = harness.connect()
    app.connected(now)

    def exchange(done: Callable[[], bool]) -> list[str]:
        """Send what the App wants sent; feed it server lines until ``done()``."""
        sent = app.drain().lines
        client.send("".join(line + "\n" for line in sent).encode())
        while not done():
            app.server_line(client.line(), now)
        return sent

    assert exchange(lambda: app.chat.me is not None)[:2] == ["mode json", PROBE_LINE]
    assert app.requests.labels and text.line() == "user1 has entered the chat"
    shown = len(app.chat.main.entries)
    sent = exchange(lambda: len(app.requests) == 0)
    assert [line.split(" ", 1)[1] for line in sent] == ["/who", "/groups", "/ignore"]  # each behind a label
    assert len(app.chat.main.entries) == shown and app.chat.person("user2").online
    app.ui.new_chat = True
    for ch in "nobody":
        app.key(ch, now)
    app.key(Key.ENTER, now)
    exchange(lambda: len(app.requests) == 0)
    assert app.chat.person("nobody") is None and "nobody" not in app.chat.conversations
    last = app.chat.main.entries[-1]
    assert (last.kind, last.text) == (EntryKind.ERROR, texts.CLIENT_TUI_NO_SUCH_PERSON.format(name="nobody"))
    client.expect_silence(0.05)
    text.expect_silence(0.05)
