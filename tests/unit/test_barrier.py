"""The commit barrier (pollchat.server.barrier): a connection whose request issued
writes sends nothing until the store has committed every one of them; the others are
never held; a refused write closes the connection it was promised to, unanswered."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.codec import encode_for_mode
from pollchat.server.barrier import CommitBarrier
from pollchat.store.pgviews import Refusal
from pollchat.texts import ErrorCode


class FakeStore:
    """Commit numbers as a write-behind store gives them."""

    def __init__(self) -> None:
        self.issued = 0
        self.done = 0
        self.failed: set[int] = set()
        self.listeners: list[Callable[[int], None]] = []

    def failed_between(self, low: int, high: int) -> bool:
        return any(low < seq <= high for seq in self.failed)

    def on_done(self, callback: Callable[[int], None]) -> None:
        self.listeners.append(callback)

    def write(self) -> int:
        self.issued += 1
        return self.issued

    def commit(self, upto: int, *, refused: bool = False) -> None:
        if refused:
            self.failed.add(upto)
        self.done = max(self.done, min(upto, self.issued))
        for listener in self.listeners:
            listener(self.done)


class FakeConn:
    """The connection attributes the barrier reads and sets (hashable, as a connection is)."""

    def __init__(self, number: int) -> None:
        self.id, self.peer, self.held, self.closed = number, f"peer{number}", False, False
        self.outbuf = bytearray(b"reply\n")
        self.direct_writes = True
        self.transport = SimpleNamespace(direct_writes=True)


def conn(number: int) -> Any:
    return FakeConn(number)


def make() -> tuple[FakeStore, CommitBarrier, dict[Any, None], list[tuple[Any, str]]]:
    store, to_flush, closed = FakeStore(), {}, []
    barrier = CommitBarrier(store, to_flush, lambda c, why, flush=True: closed.append((c, why)))
    return store, barrier, to_flush, closed


def test_held_until_its_write_commits_then_flushed_in_the_same_pass() -> None:
    store, barrier, to_flush, _ = make()
    amy, bob = conn(1), conn(2)
    mark = barrier.mark()
    store.write()  # amy's private line
    barrier.hold(amy, mark)
    barrier.hold(bob, barrier.mark())  # bob issued nothing: not held
    assert (amy.held, amy.direct_writes, bob.held) == (True, False, False)
    store.commit(1)
    assert (amy.held, amy.direct_writes) == (False, True) and amy in to_flush


def test_a_later_write_keeps_it_held_until_that_one_commits() -> None:
    store, barrier, _, _ = make()
    amy = conn(1)
    mark = barrier.mark()
    store.write()
    barrier.hold(amy, mark)
    mark = barrier.mark()
    store.write()
    store.write()
    barrier.hold(amy, mark)
    store.commit(2)
    assert amy.held
    store.commit(3)
    assert not amy.held


def test_a_refused_write_closes_the_connection_unanswered() -> None:
    store, barrier, to_flush, closed = make()
    amy = conn(1)
    mark = barrier.mark()
    store.write()
    barrier.hold(amy, mark)
    store.commit(1, refused=True)
    assert closed == [(amy, "a write was refused by the database")] and amy.outbuf == b"" and amy not in to_flush


class RefusingStore(FakeStore):
    """A store that says what a refused write's client is told (``refusal_of``)."""

    def __init__(self, stays: bool) -> None:
        super().__init__()
        self.stays = stays

    def refusal_of(self, low: int, high: int) -> Refusal | None:
        if not self.failed_between(low, high):
            return None
        return Refusal(ErrorCode.GROUP_EXISTS, {"group": "Tea"}, stays=self.stays)


class Sink(FakeConn):
    """A connection whose events are queued as their text, as a text client's are."""

    closing = False

    def send(self, event: Any) -> None:
        self.outbuf += encode_for_mode("text", event, 0.0)


def refusing(stays: bool) -> tuple[RefusingStore, CommitBarrier, dict[Any, None], list[tuple[Any, str]]]:
    store, to_flush, closed = RefusingStore(stays), {}, []
    barrier = CommitBarrier(store, to_flush, lambda c, why, flush=True: closed.append((c, why)))
    return store, barrier, to_flush, closed


def test_a_refused_group_replaces_only_its_reply_and_the_connection_stays() -> None:
    """Another node made the group first: the reply to that request (and nothing else
    it was sent while held, before or after) becomes ``#Tea exists already``."""
    store, barrier, to_flush, closed = refusing(stays=True)
    amy: Any = Sink(1)
    amy.outbuf = bytearray(b"bob: before\n")
    mark, start = barrier.mark(), barrier.begin(amy)
    store.write()  # amy's /create #tea
    amy.outbuf += b"[#tea] public group created\n"
    barrier.hold(amy, mark, start)
    amy.outbuf += b"bob: meanwhile\n"  # a line for everyone while amy is held
    store.commit(1, refused=True)
    assert closed == [] and not amy.held and amy in to_flush
    assert amy.outbuf == b"bob: before\nbob: meanwhile\n#Tea exists already\n"


def test_a_refused_reply_whose_place_is_unknown_still_closes() -> None:
    store, barrier, _, closed = refusing(stays=True)
    amy: Any = Sink(1)
    mark = barrier.mark()
    store.write()
    barrier.hold(amy, mark)  # no start: where its reply is cannot be told
    store.commit(1, refused=True)
    assert closed == [(amy, "a write was refused by the database")]


def test_an_answer_hook_may_answer_a_refusal_its_own_way() -> None:
    store, barrier, _, closed = refusing(stays=True)
    amy: Any = Sink(1)
    answered: list[str] = []
    barrier.answer = lambda c, refusal: answered.append(refusal.detail["group"]) or True
    mark, start = barrier.mark(), barrier.begin(amy)
    store.write()
    amy.outbuf += b"JOIN #tea\n"
    barrier.hold(amy, mark, start)
    store.commit(1, refused=True)
    assert answered == ["Tea"] and amy.outbuf == b"reply\n" and closed == [] and not amy.held  # only its reply went


def test_a_write_committed_already_holds_nothing() -> None:
    store, barrier, _, _ = make()
    amy = conn(1)
    mark = barrier.mark()
    store.write()
    store.commit(1)
    barrier.hold(amy, mark)
    assert not amy.held and barrier.held == 0


def test_a_line_whose_write_comes_later_in_the_pass_is_held_at_once() -> None:
    """A private line's echo is queued while the line is handled; its history batch is
    queued in before_flush. Held from the start, a write event in between cannot send
    it; if the batch was not written (the history is failing: nothing was promised) the
    hold ends there."""
    store, barrier, to_flush, _ = make()
    amy, bob = conn(1), conn(2)
    barrier.hold_pending(amy)
    barrier.hold_pending(bob)
    assert amy.held and not amy.direct_writes
    mark = barrier.mark()
    store.write()  # before_flush: the batch with amy's line
    barrier.hold(amy, mark)
    barrier.hold(bob, store.issued)  # nothing of bob's was written
    assert amy.held and not bob.held and bob in to_flush
    store.commit(1)
    assert not amy.held and amy in to_flush


@given(st.lists(st.tuples(st.sampled_from(["write", "commit"]), st.integers(0, 3), st.integers(1, 4)), max_size=60))
def test_never_released_before_its_last_write_and_always_after(steps: list[tuple[str, int, int]]) -> None:
    """Whatever the interleaving of requests (0-3 writes each, on 4 connections) and
    commits (in order, any amount): a connection is held exactly while one of its
    writes is not committed."""
    store, barrier, _, _ = make()
    conns = [conn(i) for i in range(4)]
    last: dict[int, int] = {}
    for action, number, which in steps:
        if action == "write":
            target = conns[which - 1]
            mark = barrier.mark()
            for _ in range(number):
                last[target.id] = store.write()
            barrier.hold(target, mark)
        else:
            store.commit(store.done + number)
        for c in conns:
            assert c.held == (last.get(c.id, 0) > store.done), (c.id, last, store.done)


def test_after_commit_calls_back_once_the_writes_are_done_refused_or_not() -> None:
    """A cluster's registration is admitted once its row is committed, and told the
    name is taken if the database refused it; with nothing to wait for, at once."""
    store, barrier, _, _ = make()
    answers: list[tuple[str, bool]] = []
    barrier.after_commit(barrier.mark(), lambda refused: answers.append(("nothing", refused)))
    assert answers == [("nothing", False)]
    mark = barrier.mark()
    store.write()
    barrier.after_commit(mark, lambda refused: answers.append(("zed", refused)))
    mark = barrier.mark()
    store.write()
    barrier.after_commit(mark, lambda refused: answers.append(("zoe", refused)))
    store.commit(1, refused=True)
    assert answers == [("nothing", False), ("zed", True)]
    store.commit(2)
    assert answers == [("nothing", False), ("zed", True), ("zoe", False)]
