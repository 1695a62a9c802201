"""Loopback tests of scrollback (``/older``), search (``/search``), read receipts and
ignore lists over real sockets on 127.0.0.1, on both store engines (SQLite, and the
PostgreSQL store whose scrollback and search queries are answered asynchronously): one
end-to-end exchange per feature, the rest being tested at the service
(tests/unit/test_service_scrollback.py and the others)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ENGINES, Harness, harnesses_on_engine
from tests.loopback.test_server_labels import bare, json_login


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    yield from harnesses_on_engine(request, tmp_path)


def test_scrollback_pages_go_back_to_the_start_over_tcp(harness: Harness) -> None:
    text = harness.login("user2", "345")
    bot = json_login(harness, "user1", "123")
    assert text.line() == "user1 has entered the chat"
    text.send(b"".join(f"line {i}\n".encode() for i in range(5)))
    for i in range(5):
        assert bot.event()["text"] == f"line {i}"
    bot.send(b"@label=p1 /older now 3\n")
    page: dict[str, Any] = bot.event()
    assert page["type"] == "older" and page["label"] == "p1" and page["more"] is True
    assert [m["text"] for m in page["messages"]] == ["line 2", "line 3", "line 4"]
    bot.send(f"@label=p2 /older {page['messages'][0]['id']} 3\n".encode())
    page = bot.event()
    assert page["label"] == "p2" and [m["text"] for m in page["messages"]] == ["line 0", "line 1"]
    assert page["more"] is False
    text.send(b"/older 1 3\n")
    assert text.line() == "--- 0 older message(s) in the main chat ---"
    assert text.line() == "--- start of the history ---"
    bot.send(b"@label=p3 /older #nowhere now\n")
    assert bare(bot.event()) == {"type": "error", "code": "no_such_group", "text": "no such group: #nowhere", "label": "p3"}


def test_search_over_tcp(harness: Harness) -> None:
    text = harness.login("user2", "345")
    bot = json_login(harness, "user1", "123")
    assert text.line() == "user1 has entered the chat"
    text.send(b"lunch on friday?\n/msg user1 secret lunch\nno match here\n")
    assert text.line() == "[private to user1] secret lunch"
    for _ in range(3):
        bot.event()
    bot.send(b"@label=s1 /search Lunch\n")
    found: dict[str, Any] = bot.event()
    assert found["type"] == "search" and found["label"] == "s1" and found["conversation"] == "*"
    assert [(r["conversation"], r["text"]) for r in found["results"]] == [
        ("@user2", "secret lunch"), ("", "lunch on friday?"),
    ]
    text.send(b"/search lunch @user1\n")
    assert text.line() == "--- 1 result(s) for 'lunch' with user1, newest first (at most 20) ---"
    assert text.line().endswith("] [private to user1] secret lunch")
    assert text.line() == "--- end of results ---"


def test_read_receipts_over_tcp(harness: Harness) -> None:
    alice = json_login(harness, "user1", "123")
    bob = harness.connect()
    bob.send(b"mode json\nlogin\nuser2,345\n")
    assert bob.event()["type"] == "mode" and bob.event()["type"] == "welcome"
    assert alice.event()["type"] == "entered"
    alice.send(b"/msg user2 lunch?\n")
    echo = alice.event()
    assert echo["outgoing"] is True
    seen = bob.event()
    assert seen["text"] == "lunch?"
    bob.send(f"/read @user1 {seen['ts']}\n".encode())
    receipt = bare(alice.event())
    assert receipt["type"] == "receipt" and receipt["name"] == "user2" and receipt["until"] >= echo["ts"]
    bob.send(b"@label=r1 /receipts off\n")
    assert bare(bob.event())["code"] == "receipts_off"


def test_ignore_lists_and_receipt_settings_survive_a_restart(harness: Harness) -> None:
    alice = harness.login("user1", "123")
    alice.send(b"/ignore user2\n/receipts off\n/ignore user3\n/unignore user3\n")
    assert alice.line().startswith("you ignore user2 now")
    assert alice.line().startswith("read receipts are off")
    assert alice.line().startswith("you ignore user3 now")
    assert alice.line() == "you no longer ignore user3"
    harness.restart()
    alice = harness.login("user1", "123")
    alice.send(b"/ignore\n/receipts\n")
    assert alice.line() == "you ignore: user2"
    assert alice.line().startswith("read receipts are off")
    bob = harness.login("user2", "345")
    bob.send(b"can you hear me\n")
    carol = harness.login("user3", "123")
    carol.send(b"hi\n")
    heard = []
    while not heard or heard[-1] != "user3: hi":
        heard.append(alice.line())
    assert not any(line.startswith("user2:") for line in heard), heard


def test_replies_keep_the_order_of_the_requests(harness: Harness) -> None:
    # On PostgreSQL /search and /older are answered when their queries return, in a
    # later loop pass: what was sent behind them waits, so the answers stay in order.
    text = harness.login("user2", "345")
    text.send(b"lunch at noon\n/search lunch\n/older now 1\n/ignore\n/search noon\n")
    assert text.line() == "--- 1 result(s) for 'lunch' in everything you can read, newest first (at most 20) ---"
    assert text.line().endswith("] user2: lunch at noon")
    assert text.line() == "--- end of results ---"
    assert text.line() == "--- 1 older message(s) in the main chat ---"
    assert text.line().endswith("] user2: lunch at noon")
    assert text.line() == "--- start of the history ---"
    assert text.line().startswith("you ignore nobody")
    assert text.line().startswith("--- 1 result(s) for 'noon'")
