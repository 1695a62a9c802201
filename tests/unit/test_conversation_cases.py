"""The shared table of conversation cases, run against the terminal client's state.

``tests/cases/conversation_cases.json`` holds server events in and the conversations,
unread counts and people out that *both* clients must show: this file runs it against
:class:`pollchat.client.state.ChatState` (and :mod:`pollchat.client.groups`), and
``tests/js/conversation_cases.test.mjs`` runs the same table against the web client's
ES modules under ``node --test`` (launched by ``tests/js/test_node.py``). A change to one
client's logic that the other does not follow fails one of the two.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pollchat.client.state import ChatState, Entry, EntryKind
from pollchat.protocol.render import decode_json
from tests import REPO_ROOT

CASES_FILE = REPO_ROOT / "tests" / "cases" / "conversation_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
BASE_TS = datetime(2026, 11, 21, 10, 0, 0, tzinfo=timezone.utc)
"""A step without ``ts`` happens this long after :data:`BASE_TS`: its index, in seconds."""


def step_ts(index: int) -> str:
    """The ``ts`` a step without one gets (the table's rule, shared with the JS runner)."""
    return (BASE_TS + timedelta(seconds=index)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def line(entry: Entry) -> str:
    """An entry as the table writes it (see the table's "about")."""
    if entry.kind is EntryKind.MESSAGE:
        body = f"{entry.sender}: {entry.text}"
    elif entry.kind is EntryKind.ACTION:
        body = f"* {entry.sender} {entry.text}"
    elif entry.kind is EntryKind.ERROR:
        body = f"! {entry.text}"
    else:
        body = entry.text
    return ("[history] " if entry.history else "") + ("[mention] " if entry.mention else "") + body


def snapshot(chat: ChatState) -> dict[str, Any]:
    """Everything a case may expect, from the terminal client's state."""
    people = chat.people_list()
    return {
        "me": chat.me,
        "open": chat.open_key,
        "chats": [conv.key for conv in chat.chat_order()],
        "conversations": {
            key: {
                "lines": [line(entry) for entry in conv.entries],
                "unread": conv.unread,
                "mentions": conv.mentions,
                "activity": conv.activity,
                "gone": conv.gone,
                "topic": conv.topic,
                "members": conv.members,
                "role": conv.role,
            }
            for key, conv in chat.conversations.items()
        },
        "online": [f"{p.name}:{p.status}" for p in people if p.online],
        "offline": [p.name for p in people if not p.online],
        "online_count": chat.online_count(),
        "missed": chat.missed(),
    }


def run(case: dict[str, Any]) -> ChatState:
    chat = ChatState()
    for index, step in enumerate(case["steps"]):
        if "open" in step:
            chat.open(step["open"])
            continue
        event = {"ts": step_ts(index), **step["event"]}
        decoded, ts = decode_json(json.dumps(event))
        chat.apply(decoded, ts, ts)
    return chat


def compare(expect: dict[str, Any], got: dict[str, Any]) -> None:
    """Fail on the first field of ``expect`` that ``got`` does not match."""
    for field, wanted in expect.items():
        if field != "conversations":
            assert got[field] == wanted, field
            continue
        for key, conv in wanted.items():
            assert key in got["conversations"], f"no conversation {key!r}: {sorted(got['conversations'])}"
            for name, value in conv.items():
                assert got["conversations"][key][name] == value, f"conversation {key!r}: {name}"


def test_the_table_has_cases_with_unique_names() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 20 and len(set(names)) == len(names)


def test_step_ts_is_the_servers_format() -> None:
    assert step_ts(0) == "2026-11-21T10:00:00.000Z"
    assert step_ts(61) == "2026-11-21T10:01:01.000Z"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_terminal_client_state(case: dict[str, Any]) -> None:
    compare(case["expect"], snapshot(run(case)))
