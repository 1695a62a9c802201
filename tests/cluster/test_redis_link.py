"""The Redis link on a real loop and a real Redis (tests/redis.py): replies reach their
callbacks in order, a large reply arrives whole, an engine restart fails the waiting
callbacks with LINK_DOWN and the link comes back by itself (``on_up`` again); and the
``--cluster`` URL and flag checks."""

from __future__ import annotations

import time

import pytest

from pollchat.errors import ConfigError
from pollchat.server.cluster import check_cluster_flags
from pollchat.server.cluster.redis import LINK_DOWN, RedisLink, is_error, parse_redis_url
from pollchat.server.loop import EventLoop
from pollchat.server.timers import Timers
from tests.redis import RedisServer
from tests.test_broadcast import _Handler

pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]'")


def _loop() -> EventLoop:
    return EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(), clock=time.time)


def run_until(loop: EventLoop, done, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        loop.run_once(0.05)


def test_replies_reach_their_callbacks_in_order(redis_url: str) -> None:
    host, port, db = parse_redis_url(redis_url)
    loop = _loop()
    ups: list[int] = []
    link = RedisLink(loop, host, port, db, "test", on_up=lambda: ups.append(1))
    link.start()
    run_until(loop, lambda: link.up)
    replies: list[object] = []
    big = b"x" * 300_000  # more than one read of the socket
    link.command("SET", "k", big, callback=replies.append)
    link.command("GET", "k", callback=replies.append)
    link.command("INCR", "n", callback=replies.append)
    link.command("NOSUCHCOMMAND", callback=replies.append)
    link.command("INCR", "n", callback=replies.append)
    run_until(loop, lambda: len(replies) == 5)
    assert replies[:3] == [b"OK", big, 1]
    assert is_error(replies[3]) and replies[4] == 2
    assert ups == [1]
    link.stop()


def test_an_engine_restart_fails_what_waits_and_reconnects(redis_server: RedisServer, redis_url: str) -> None:
    host, port, db = parse_redis_url(redis_url)
    loop = _loop()
    ups: list[int] = []
    downs: list[int] = []
    link = RedisLink(loop, host, port, db, "test", on_up=lambda: ups.append(1), on_down=lambda: downs.append(1))
    link.start()
    run_until(loop, lambda: link.up)
    replies: list[object] = []
    link.command("BLPOP", "never", 0, callback=replies.append)  # waits until the engine goes
    loop.run_once(0.05)
    redis_server.kill()
    run_until(loop, lambda: replies == [LINK_DOWN])
    assert downs == [1] and not link.up
    assert link.command("PING", callback=replies.append) is False  # down: answered at once
    assert replies == [LINK_DOWN, LINK_DOWN]
    redis_server.start()
    run_until(loop, lambda: link.up)
    link.command("PING", callback=replies.append)
    run_until(loop, lambda: len(replies) == 3)
    assert replies[2] == b"PONG" and ups == [1, 1]
    link.stop()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1", ("127.0.0.1", 6379, 0)),
        ("redis://cache.example:6380/2", ("cache.example", 6380, 2)),
    ],
)
def test_redis_urls(url: str, expected: tuple[str, int, int]) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize("url", ["http://x", "redis://", "redis://h:port/0", "redis://h/x", "redis://:pw@h/0"])
def test_bad_redis_urls_are_one_line(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_redis_url(url)


def test_cluster_needs_postgresql() -> None:
    with pytest.raises(ConfigError, match="--database postgresql://"):
        check_cluster_flags("redis://127.0.0.1/0", None)
    check_cluster_flags("redis://127.0.0.1/0", "postgresql://u@h/db")
    check_cluster_flags(None, None)
