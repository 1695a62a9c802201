"""Accept errors: descriptor exhaustion never crashes the loop, is logged once per burst,
and accepting resumes by itself (issue 5: "accept errors (EMFILE) never crash the loop
and are logged once per burst")."""

from __future__ import annotations

import errno
import logging
import select
import socket
import time

from pollchat.server import loop as loop_module
from tests.harness import FakeClock, Harness


class FlakyListener:
    """Wraps the real listening socket; ``accept`` fails with EMFILE while ``failing``."""

    def __init__(self, real) -> None:
        self.real = real
        self.failing = True
        self.calls = 0

    def accept(self):
        self.calls += 1
        if self.failing:
            raise OSError(errno.EMFILE, "Too many open files")
        return self.real.accept()

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_emfile_is_logged_once_and_accepting_resumes(make_harness, caplog) -> None:
    clock = FakeClock()
    h: Harness = make_harness(clock=clock)
    loop = h.server.loop
    listener = loop.listeners[0]  # the line-protocol port
    flaky = FlakyListener(listener.sock)
    listener.sock = flaky  # the selector still watches the real socket
    early = h.connect(greet=False)  # waits in the kernel's backlog meanwhile
    with caplog.at_level(logging.WARNING, logger="pollchat.server.loop"):
        for _ in range(5):  # several retries while the descriptors are exhausted
            h.pump()
            clock.advance(loop_module.ACCEPT_PAUSE)
            h.pump()
        failures = [r for r in caplog.records if "accept failed" in r.getMessage()]
        assert len(failures) == 1, [r.getMessage() for r in failures]
        assert flaky.calls >= 3  # it kept retrying, paced by the timer
        flaky.failing = False
        clock.advance(loop_module.ACCEPT_PAUSE)
        assert early.line() == "type login or register and then give user,password"
        assert any("accepting connections again" in r.getMessage() for r in caplog.records)
    h.login("user1", "123", client=early)  # and the server is whole


def test_a_storm_of_connects_waits_in_the_backlog_while_the_loop_is_busy(make_harness) -> None:
    """400 connects while the loop does not accept (a long pass): the kernel completes
    every handshake and holds them for the loop. With a backlog of 128, the connects past
    it had their SYNs dropped and retried after 1 s, then 3 s; the login storm of 1,024
    at once took 5.2 s to connect 2,000 clients (docs/performance.md)."""
    h: Harness = make_harness()
    socks = []
    try:
        for _ in range(400):  # under the usual soft limit of 1,024 descriptors
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            socks.append(s)
            assert s.connect_ex(h.address) in (0, errno.EINPROGRESS)
        waiting = set(socks)
        deadline = time.monotonic() + 5  # bounds a hang; all are in within milliseconds
        while waiting and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(waiting), [], 0.2)
            for s in writable:
                assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                waiting.discard(s)
        assert not waiting, f"{len(waiting)} of 400 connects still in SYN_SENT"
    finally:
        for s in socks:
            s.close()
    h.pump(passes=10)
    h.login("user1", "123")  # and the server is whole
