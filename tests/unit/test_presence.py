"""Presence (pollchat.core.presence): parsing statuses, idle seconds and the idle deadline."""

from __future__ import annotations

import pytest

from pollchat.core.presence import Presence, Status


@pytest.mark.parametrize(
    ("text", "expected"),
    [("active", Status.ACTIVE), ("BUSY", Status.BUSY), ("Away", Status.AWAY), ("inactive", Status.INACTIVE)],
)
def test_status_parse_any_case(text: str, expected: Status) -> None:
    assert Status.parse(text) is expected


@pytest.mark.parametrize("text", ["", "offline", "disabled", "act", " active", "active ", "here"])
def test_status_parse_refuses_anything_else(text: str) -> None:
    assert Status.parse(text) is None


def test_the_statuses_are_those_of_seed_003() -> None:
    assert [status.value for status in Status] == ["active", "busy", "away", "inactive"]


def test_a_new_presence_is_active_by_hand() -> None:
    presence = Presence(online_since=100.0, last_active=100.0)
    assert (presence.status, presence.message, presence.automatic) == (Status.ACTIVE, "", False)


@pytest.mark.parametrize(
    ("now", "expected"), [(100.0, 0), (100.9, 0), (101.0, 1), (159.99, 59), (3700.5, 3600), (50.0, 0)]
)
def test_idle_is_whole_seconds_since_the_last_line_never_negative(now: float, expected: int) -> None:
    presence = Presence(online_since=0.0, last_active=100.0)
    assert presence.idle(now) == expected
    assert isinstance(presence.idle(now), int)


def test_idle_deadline_follows_the_last_line() -> None:
    presence = Presence(online_since=0.0, last_active=100.0)
    assert presence.idle_deadline(300.0) == 400.0
    presence.last_active = 250.0
    assert presence.idle_deadline(300.0) == 550.0
    assert presence.idle(250.0) == 0
