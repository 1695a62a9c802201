"""Loopback tests of labelled requests (docs/protocol.md, "Labelled requests"): the
server echoes a JSON-mode line's label on that connection's answers, and nowhere else."""

from __future__ import annotations

from typing import Any

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
