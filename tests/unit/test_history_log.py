"""The history log (pollchat.server.history.HistoryLog) when the database cannot be
written (issue 14, finding 1): the batch is kept in memory (bounded) and retried with
back-off, operators are warned once per outage and told when it is over, and senders of
private and group lines are told their lines are not saved yet. A fake database raises
``StoreError('database or disk is full')`` on demand; a fake clock and
explicit ``flush()`` calls stand for loop passes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.errors import StoreError
from pollchat.server.history import MAX_PENDING, RETRY_MAX, HistoryLog
from pollchat.server.timers import Timers

FULL = "database or disk is full"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeDatabase:
    """What HistoryLog uses of the store, in lists; ``full`` makes every write fail."""

    def __init__(self) -> None:
        self.rows: list[HistoryRecord] = []
        self.full = False
        self.attempts = 0
        self.failure: Exception = StoreError(FULL)

    def count_main(self) -> int:
        return sum(1 for r in self.rows if r.recipient_id is None and r.group_id is None)

    def conversations(self) -> tuple[list[tuple[int, int]], list[int]]:
        return [], []

    def append_messages(self, records: Sequence[HistoryRecord]) -> None:
        self.attempts += 1
        if self.full:
            raise self.failure
        self.rows.extend(records)

    def prune_main(self, keep: int, batch: int = 1000) -> int:
        main = [r for r in self.rows if r.recipient_id is None and r.group_id is None]
        gone = main[: min(batch, max(0, len(main) - keep))]
        self.rows = [r for r in self.rows if all(r is not g for g in gone)]
        return len(gone)

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        public = [r for r in self.rows if r.recipient_id is None and r.group_id is None]
        return public[-limit:] if limit else []

    def private_for(self, account_id: int, limit: int) -> list[HistoryRecord]:
        mine = [r for r in self.rows if r.recipient_id is not None and account_id in (r.sender_id, r.recipient_id)]
        return mine[-limit:] if limit else []

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        return [r for r in self.rows if r.group_id == group_id][-limit:] if limit else []

    def count_private_since(self, account_id: int, ts: float) -> int:
        return sum(1 for r in self.rows if r.recipient_id == account_id and r.ts > ts)

    def messages_between(
        self, after: float | None, before: float | None, limit: int, *, newest: bool,
        group_id: int | None = None, pair: tuple[int, int] | None = None,
    ) -> list[HistoryRecord]:
        def kept(r: HistoryRecord) -> bool:
            if group_id is not None:
                return r.group_id == group_id
            if pair is not None:
                return (r.sender_id, r.recipient_id) in (pair, pair[::-1])
            return r.recipient_id is None and r.group_id is None

        rows = [r for r in self.rows if kept(r) and (after is None or r.ts > after) and (before is None or r.ts < before)]
        return (rows[-limit:] if newest else rows[:limit]) if limit else []

    def messages_before(self, conversation, limit: int, *, before_id=None, before_ts=None) -> list[HistoryRecord]:
        found = [r for r in self.rows if conversation.holds(r) and (before_ts is None or r.ts < before_ts)]
        return found[-limit:] if limit else []


def chat(text: str, ts: float = 1.0) -> HistoryRecord:
    return HistoryRecord(ts, RecordKind.CHAT, 1, "alice", text)


def private(text: str, ts: float = 1.0) -> HistoryRecord:
    return HistoryRecord(ts, RecordKind.PRIVATE, 1, "alice", text, 2, "bob")


def say(log: HistoryLog, records: list[HistoryRecord]) -> None:
    """What the hub does as people talk: push each record into the log."""
    for record in records:
        log.add(record)


@pytest.fixture
def parts():
    db, clock = FakeDatabase(), FakeClock()
    log = HistoryLog(db, 100, clock=clock)  # type: ignore[arg-type]
    return log, db, clock


def warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pollchat.server.history" and r.levelno >= logging.WARNING]


def test_a_failed_write_keeps_the_batch_and_retries_with_back_off(parts, caplog) -> None:
    log, db, clock = parts
    db.full = True
    say(log, [chat("one"), private("two")])
    log.flush()
    assert db.rows == [] and db.attempts == 1
    assert not log.healthy
    say(log, [chat("three")])
    log.flush()  # the same moment: no new attempt, the line joins the waiting batch
    assert db.attempts == 1
    clock.now += 1.0
    log.flush()  # 1 s later: a retry, which fails; the next one waits 2 s
    assert db.attempts == 2
    clock.now += 1.9
    log.flush()
    assert db.attempts == 2
    clock.now += 0.1
    log.flush()
    assert db.attempts == 3
    delays = []
    for _ in range(12):  # the back-off doubles up to RETRY_MAX, then stays there
        before = db.attempts
        while db.attempts == before:
            clock.now += 0.5
            log.flush()
        delays.append(clock.now)
    steps = [b - a for a, b in zip(delays, delays[1:])]
    assert steps[0] == 8.0 and max(steps) == RETRY_MAX and steps[-1] == RETRY_MAX
    db.full = False
    clock.now += RETRY_MAX
    log.flush()
    assert [r.text for r in db.rows] == ["one", "two", "three"]  # nothing lost, in order
    assert log.healthy


def test_a_failed_write_is_retried_on_a_timer_with_nobody_typing() -> None:
    """The retry does not wait for the next pass someone else's line causes: after a
    failure a timer is due at the back-off (1, 2, 4 ... s), so an idle loop wakes up
    for it, and what failed is there to tell its senders at once."""
    db, clock = FakeDatabase(), FakeClock()
    timers = Timers(clock)
    log = HistoryLog(db, 100, clock=clock, timers=timers)  # type: ignore[arg-type]
    db.full = True
    say(log, [private("one")])
    log.commit()
    assert db.attempts == 1 and [r.text for r in log.take_unsaved()] == ["one"]
    assert timers.timeout(None) == 1.0  # the loop's select() wakes up for the retry
    clock.now += 1.0
    timers.run_due()  # no commit() or flush() from anyone: the timer retries
    assert db.attempts == 2 and log.take_unsaved() == []  # told once
    assert timers.timeout(None) == 2.0
    db.full = False
    clock.now += 2.0
    timers.run_due()
    assert [r.text for r in db.rows] == ["one"] and log.healthy
    assert timers.timeout(None) is None  # nothing left to retry


def test_commit_writes_without_pruning_and_flush_prunes(parts) -> None:
    log, db, clock = parts
    log.keep = 2
    say(log, [chat(f"m{i}") for i in range(5)])
    log.commit()
    assert [r.text for r in db.rows] == ["m0", "m1", "m2", "m3", "m4"]
    log.flush()
    assert [r.text for r in db.rows] == ["m3", "m4"]


def test_only_acknowledged_kinds_are_committed_before_the_output(parts) -> None:
    """Before a pass's output: a private message or group line (acknowledged to its
    sender) is committed, with the rest of the batch; main-chat lines alone wait for
    the write after the output."""
    log, db, clock = parts
    say(log, [chat("public")])
    log.commit_acknowledged()
    assert db.rows == []
    say(log, [private("private")])
    log.commit_acknowledged()
    assert [r.text for r in db.rows] == ["public", "private"]
    say(log, [chat("again")])
    log.commit_acknowledged()
    assert len(db.rows) == 2
    log.flush()
    assert [r.text for r in db.rows] == ["public", "private", "again"]


def test_operators_are_warned_once_per_outage_and_told_when_it_is_over(parts, caplog) -> None:
    log, db, clock = parts
    caplog.set_level(logging.DEBUG, logger="pollchat.server.history")
    db.full = True
    for i in range(50):
        say(log, [chat(f"m{i}")])
        clock.now += 5.0
        log.flush()
    assert db.attempts > 5  # retried, with back-off
    [warning] = warnings(caplog)
    assert FULL in warning.getMessage() and "kept in memory" in warning.getMessage()
    assert warning.exc_info is None  # one line, not a traceback per record or per retry
    caplog.clear()
    db.full = False
    clock.now += RETRY_MAX
    log.flush()
    [recovered] = warnings(caplog)
    assert "history is written again" in recovered.getMessage()
    assert "50 message(s) stored, 0 dropped" in recovered.getMessage()
    caplog.clear()
    db.full = True  # a second outage is warned about again
    say(log, [chat("again")])
    log.flush()
    assert len(warnings(caplog)) == 1


def test_at_most_max_pending_records_wait_the_oldest_go_first(caplog) -> None:
    db, clock = FakeDatabase(), FakeClock()
    log = HistoryLog(db, 100, clock=clock, max_pending=5)  # type: ignore[arg-type]
    assert MAX_PENDING == 10_000  # the default
    db.full = True
    for i in range(8):
        say(log, [chat(f"m{i}")])
        log.flush()
    dropped = [r.getMessage() for r in warnings(caplog) if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "oldest" in dropped[0]  # said once, counted at the end
    db.full = False
    clock.now += RETRY_MAX
    log.flush()
    assert [r.text for r in db.rows] == ["m3", "m4", "m5", "m6", "m7"]
    assert "5 message(s) stored, 3 dropped" in warnings(caplog)[-1].getMessage()


def test_senders_are_reported_once_per_record_not_per_retry(parts) -> None:
    log, db, clock = parts
    db.full = True
    first = [chat("one"), private("two")]
    say(log, list(first))
    assert log.flush() == first
    clock.now += 1.0
    assert log.flush() == []  # the retry fails: nothing new to report
    say(log, [private("three")])
    clock.now += 2.0
    assert log.flush() == [private("three")]


def test_a_failure_seen_by_a_query_is_reported_by_the_next_flush(parts) -> None:
    log, db, clock = parts
    db.full = True
    say(log, [private("one")])
    log.recent_public(5)  # writes first, and fails
    assert not log.healthy
    assert log.flush() == [private("one")]  # reported once, at the end of the pass
    assert log.flush() == []


def test_queries_see_the_waiting_records(parts) -> None:
    log, db, clock = parts
    db.rows = [chat("stored", 1.0)]
    db.full = True
    say(log, [chat("waiting", 2.0), private("for bob", 3.0)])
    assert [r.text for r in log.recent_public(5)] == ["stored", "waiting"]
    assert [r.text for r in log.conversation(2, 5)] == ["stored", "waiting", "for bob"]
    assert log.count_private_since(2, 0.0) == 1
    assert [r.text for r in log.recent_public(1)] == ["waiting"]


def test_between_pages_stored_and_waiting_records_of_one_conversation(parts) -> None:
    log, db, clock = parts
    db.rows = [chat("s1", 1.0), chat("s2", 2.0), private("p1", 2.5)]
    db.full = True
    say(log, [chat("w3", 3.0), private("p2", 3.5), chat("w4", 4.0)])
    assert [r.text for r in log.between(None, None, 10, newest=True)] == ["s1", "s2", "w3", "w4"]
    assert [r.text for r in log.between(1.0, 4.0, 10, newest=True)] == ["s2", "w3"]  # strictly inside
    assert [r.text for r in log.between(None, None, 3, newest=True)] == ["s2", "w3", "w4"]
    assert [r.text for r in log.between(None, None, 3, newest=False)] == ["s1", "s2", "w3"]
    assert [r.text for r in log.between(None, None, 10, newest=True, pair=(2, 1))] == ["p1", "p2"]
    assert log.between(None, None, 0, newest=True) == []


def test_close_tries_once_more_and_counts_what_is_lost(parts, caplog) -> None:
    log, db, clock = parts
    db.full = True
    say(log, [chat("one"), chat("two")])
    log.flush()
    attempts = db.attempts
    log.close()  # no waiting for the back-off
    assert db.attempts == attempts + 1
    assert any("2 message(s) could not be stored and are lost" in r.getMessage() for r in warnings(caplog))


def test_a_bug_in_a_batch_is_not_retried_forever(parts, caplog) -> None:
    """An error the database did not cause (an inconsistent record) is logged with its
    traceback and that batch dropped, as before: retrying cannot fix it."""
    log, db, clock = parts
    db.full = True
    db.failure = ValueError("private message with recipient None: inconsistent")
    say(log, [chat("bad")])
    log.flush()
    assert log.healthy
    assert any(r.exc_info is not None for r in warnings(caplog))
    db.full = False
    say(log, [chat("fine")])
    log.flush()
    assert [r.text for r in db.rows] == ["fine"]


def test_scrollback_sees_the_waiting_records_but_not_past_an_id_cursor(parts) -> None:
    log, db, clock = parts
    db.rows = [chat("stored", 1.0)]
    db.full = True
    say(log, [chat("waiting", 2.0), private("for bob", 3.0)])
    main = Conversation()
    assert [r.text for r in log.messages_before(main, 5)] == ["stored", "waiting"]
    assert [r.text for r in log.messages_before(main, 5, before_ts=2.0)] == ["stored"]
    assert [r.text for r in log.messages_before(main, 1)] == ["waiting"]
    # a waiting record has no id yet: it is newer than any id a client can name
    assert [r.text for r in log.messages_before(main, 5, before_id=7)] == ["stored"]
    assert [r.text for r in log.messages_before(Conversation(pair=(2, 1)), 5)] == ["for bob"]


class LaterDatabase(FakeDatabase):
    """A store whose scrollback, search and by-time reads are answered later (as the
    PostgreSQL store's, when its query returns): each completion waits in ``calls``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[object, object]] = []

    def messages_before_later(self, conversation, limit, done, *, before_id=None, before_ts=None) -> None:
        self.calls.append((done, self.messages_before(conversation, limit, before_id=before_id, before_ts=before_ts)))

    def search_messages_later(self, viewer_id, words, limit, done, *, conversation=None, group_ids=()) -> None:
        found = [r for r in reversed(self.rows) if all(w in r.text for w in words)][:limit]
        self.calls.append((done, found))

    def messages_between_later(self, after, before, limit, done, *, newest, group_id=None, pair=None) -> None:
        self.calls.append((done, self.messages_between(after, before, limit, newest=newest, group_id=group_id, pair=pair)))

    def answer(self, result: object = None) -> None:
        done, found = self.calls.pop(0)
        done(found if result is None else result)  # type: ignore[operator]


def test_reads_answered_later_merge_the_records_waiting_at_the_time_of_asking() -> None:
    db = LaterDatabase()
    log = HistoryLog(db, 100, clock=FakeClock())  # type: ignore[arg-type]
    db.rows = [chat("stored lunch", 1.0)]
    db.full = True
    say(log, [chat("waiting lunch", 2.0)])
    answers: list[object] = []
    log.older(Conversation(), 5, answers.append)
    log.between_later(None, None, 5, answers.append, newest=True)
    log.find(1, ["lunch"], 5, answers.append)
    assert answers == [] and len(db.calls) == 3  # nothing until the store answers
    for _ in range(3):
        db.answer()
    older, between, found = answers
    assert [r.text for r in older] == ["stored lunch", "waiting lunch"]  # type: ignore[attr-defined]
    assert [r.text for r in between] == ["stored lunch", "waiting lunch"]  # type: ignore[attr-defined]
    assert [r.text for r in found] == ["stored lunch"]  # waiting records are not searched (as on SQLite)
    log.older(Conversation(), 5, answers.append, before_id=9)
    db.answer(StoreError("the database is unavailable"))
    assert isinstance(answers[-1], StoreError)  # handed over, not raised


def test_a_synchronous_store_answers_at_once(parts) -> None:
    log, db, clock = parts
    db.rows = [chat("stored", 1.0)]
    answers: list[object] = []
    log.older(Conversation(), 5, answers.append)
    log.between_later(None, None, 5, answers.append, newest=False)
    assert [[r.text for r in a] for a in answers] == [["stored"], ["stored"]]  # type: ignore[attr-defined]
