"""Loopback tests of JSON mode: one JSON object per event, text clients unaffected."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.harness import Client, Harness

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def event(client: Client) -> dict[str, Any]:
    """The next line as a JSON object; checks the shape every event shares."""
    line = client.line()
    obj = json.loads(line)
    assert isinstance(obj, dict), line
    assert isinstance(obj.get("type"), str), line
    assert TS.match(obj.get("ts", "")), line
    assert "\n" not in line
    return obj


def without_ts(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "ts"}


def json_client(harness: Harness) -> Client:
    client = harness.connect()
    client.send(b"mode json\n")
    assert without_ts(event(client)) == {"type": "mode", "mode": "json"}
    return client


def test_json_events_and_a_text_client_in_the_same_room(harness: Harness) -> None:
    text = harness.login("user2", "345")
    bot = json_client(harness)
    bot.send(b"login\nuser1,123\n")
    assert without_ts(event(bot)) == {"type": "welcome", "name": "user1", "users": ["user2", "user1"]}
    assert text.line() == "user1 has entered the chat"
    text.send(b'say "hi" \\ \xc3\xa9\n')
    assert without_ts(event(bot)) == {"type": "message", "sender": "user2", "text": 'say "hi" \\ \u00e9'}
    bot.send(b"hello text\n")
    assert text.line() == "user1: hello text"
    u3 = harness.connect()
    u3.send(b"login\nuser3,123\n")
    u3.expect("Access Provided", "active users are: user2 user1 user3")
    assert text.line() == "user3 has entered the chat"
    assert without_ts(event(bot)) == {"type": "entered", "name": "user3"}
    u3.close()
    assert text.line() == "user3 has left the chat"
    assert without_ts(event(bot)) == {"type": "left", "name": "user3"}
    bot.send(b"bad \x1b line\n")
    assert without_ts(event(bot)) == {
        "type": "error",
        "code": "control_characters",
        "text": "line contains control characters, discarded",
    }
    bot.expect_silence(0.05)
    text.expect_silence(0.05)


def test_json_errors_carry_a_code(harness: Harness) -> None:
    harness.login("user2", "345")
    bot = json_client(harness)
    bot.send(b"hello\n")
    assert without_ts(event(bot)) == {"type": "greeting"}
    bot.send(b"login\nuser1,bad\n")
    assert without_ts(event(bot)) == {"type": "error", "code": "wrong_password", "text": "Wrong Password"}
    bot.send(b"login\nuser2,345\n")
    assert without_ts(event(bot)) == {"type": "error", "code": "already_online", "text": "Password already used"}
    bot.send(b"x" * 5000 + b"\n")
    assert without_ts(event(bot)) == {
        "type": "error",
        "code": "line_too_long",
        "text": "line too long (over 4096 bytes), discarded",
    }
    bot.send(b"register\nuser3,pw\n")
    assert without_ts(event(bot)) == {"type": "error", "code": "name_taken", "text": "username is already used"}
    assert without_ts(event(bot)) == {
        "type": "error",
        "code": "too_many_attempts",
        "text": "too many failed attempts, closing the connection",
    }
    assert bot.closed() == []


def test_mode_text_switches_back(harness: Harness) -> None:
    client = json_client(harness)
    client.send(b"mode text\n")
    assert client.line() == "mode text"
    harness.login("user1", "123", client=client)


def test_json_shutdown_event(harness: Harness) -> None:
    bot = json_client(harness)
    bot.send(b"login\nuser1,123\n")
    assert event(bot)["type"] == "welcome"
    harness.server.shutdown()
    lines = bot.closed()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["type"] == "shutdown" and TS.match(obj["ts"]) and set(obj) == {"type", "ts"}
