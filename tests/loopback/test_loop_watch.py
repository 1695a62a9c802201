"""The loop drives sockets that are not client connections (a database's, a cluster
engine's) through ``watch`` / ``want_write`` / ``unwatch``: readable and writable
callbacks run on the loop thread, write interest only while asked for."""

from __future__ import annotations

import socket

from pollchat.server.loop import EventLoop
from pollchat.server.timers import Timers

from tests.test_broadcast import _Handler

T0 = 1_000_000.0


def _loop() -> EventLoop:
    return EventLoop(_Handler(), max_output=1 << 20, linger=5.0, keepalive=0, timers=Timers(), clock=lambda: T0)


def test_a_watched_socket_calls_back_when_readable_and_only_writable_on_request() -> None:
    loop = _loop()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    seen: list[str] = []
    try:
        loop.watch(ours, lambda: seen.append("read:" + ours.recv(100).decode()), lambda: seen.append("write"))
        loop.run_once(0)
        assert seen == []  # writable, but write interest is off
        loop.want_write(ours, True)
        loop.run_once(0)
        assert seen == ["write"]
        loop.want_write(ours, False)
        theirs.sendall(b"hello")
        loop.run_once(1.0)
        assert seen == ["write", "read:hello"]
        loop.unwatch(ours)
        theirs.sendall(b"again")
        loop.run_once(0)
        assert seen == ["write", "read:hello"]
        loop.unwatch(ours)  # twice is harmless
    finally:
        ours.close()
        theirs.close()


def test_an_exception_in_a_watch_callback_is_logged_not_raised(caplog) -> None:
    loop = _loop()
    ours, theirs = socket.socketpair()
    try:
        def boom() -> None:
            ours.recv(100)
            raise RuntimeError("driver bug")

        loop.watch(ours, boom)
        theirs.sendall(b"x")
        loop.run_once(1.0)
        assert "driver bug" in caplog.text
    finally:
        loop.unwatch(ours)
        ours.close()
        theirs.close()
