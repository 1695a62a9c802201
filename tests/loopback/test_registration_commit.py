"""Group commit of registrations (issue 26, item 3): the new accounts of one loop pass
are committed in one transaction, and each is acknowledged only after that commit.

The store's side (the open transaction, other writes ending it, a failed commit) runs
on a real database file, read through a second connection as another process would see
it; the server's side (``Access Provided`` only once the account is on disk, a failed
commit acknowledged to nobody) over loopback. The SIGKILL test of every acknowledged
account is ``tests/loopback/test_crash.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.server.registrations import RegistrationCommit
from pollchat.store.database import DATABASE_NAME, Database
from pollchat.texts import ErrorCode
from tests.harness import Harness


def _account(name: str) -> Account:
    return Account(name, "hash-of-" + name, AccountKind.REGISTERED)


def _stored_names(path: Path) -> set[str]:
    """The registered accounts another connection sees (committed rows only)."""
    other = sqlite3.connect(path)
    try:
        return {name for (name,) in other.execute("SELECT name FROM account WHERE kind = 'registered'")}
    finally:
        other.close()


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database.open(tmp_path / DATABASE_NAME)
    db.group_commit = True
    yield db
    db.close()


def test_the_registrations_of_a_pass_are_invisible_until_their_one_commit(database: Database) -> None:
    created = [database.create(_account(name)) for name in ("ana", "bea", "cid")]
    assert all(account is not None and account.id for account in created)
    assert _stored_names(database.path) == set()  # written, not committed: not on disk
    assert database.find("bea") is not None  # the server's own reads see them (a second "bea" is refused)
    assert database.create(_account("Bea")) is None
    assert database.commit_registrations() == 4  # the refused one was tried in the same transaction
    assert _stored_names(database.path) == {"ana", "bea", "cid"}
    assert database.commit_registrations() == 0  # nothing open


def test_any_other_write_commits_the_open_registrations_first(database: Database) -> None:
    account = database.create(_account("ana"))
    assert account is not None
    database.set_last_seen(account.id, 1000.0)  # its own transaction: the batch ends before it
    assert _stored_names(database.path) == {"ana"}
    assert database.last_seen(account.id) == 1000.0
    assert database.commit_registrations() == 0


class _FailingCommit:
    """Wraps a database connection: its first ``COMMIT`` fails as on a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.failed = False

    def execute(self, statement: str, *args: object) -> sqlite3.Cursor:
        if statement == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(statement, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_a_failed_commit_stores_none_of_them_and_says_so(database: Database) -> None:
    database.create(_account("ana"))
    database.create(_account("bea"))
    real = database._db
    database._db = _FailingCommit(real)  # type: ignore[assignment]
    try:
        with pytest.raises(StoreError, match="disk is full"):
            database.commit_registrations()
    finally:
        database._db = real
    assert not real.in_transaction  # rolled back
    assert _stored_names(database.path) == set()
    assert database.find("ana") is None


def test_a_failure_when_another_write_ended_the_batch_is_reported_to_the_next_commit(database: Database) -> None:
    account = database.create(_account("ana"))
    assert account is not None
    real = database._db
    database._db = _FailingCommit(real)  # type: ignore[assignment]
    try:
        database.set_last_seen(account.id, 1.0)  # the batch's commit, before it, fails
    finally:
        database._db = real
    with pytest.raises(StoreError, match="disk is full"):  # the barrier learns its batch is lost
        database.commit_registrations()
    assert _stored_names(database.path) == set()


def test_the_barrier_decides_in_order_then_commits_then_admits_and_refuses_all_when_it_fails() -> None:
    events: list[str] = []

    def commit() -> int:
        events.append("commit")
        return 3

    def decide(peer: str, ok: bool = True) -> Callable[[], tuple[str, Callable[[], None]] | None]:
        def run() -> tuple[str, Callable[[], None]] | None:
            events.append(f"decide {peer}")
            return (peer, lambda: events.append(f"admit {peer}")) if ok else None

        return run

    barrier: RegistrationCommit[str] = RegistrationCommit(commit, lambda peer: events.append(f"failed {peer}"))
    barrier.after_pass(decide("ana"))
    barrier.after_pass(decide("bea", ok=False))  # refused: told at once, nothing to admit
    barrier.after_pass(decide("cid"))
    assert barrier.waiting == 3 and events == []  # nothing before the end of the pass
    barrier.before_flush()
    assert events == ["decide ana", "decide bea", "decide cid", "commit", "admit ana", "admit cid"]
    assert (barrier.commits, barrier.committed, barrier.waiting) == (1, 2, 0)
    events.clear()
    barrier.before_flush()  # nothing waiting: no commit
    assert events == []

    def failing() -> int:
        raise StoreError("database error: disk is full")

    barrier = RegistrationCommit(failing, lambda peer: events.append(f"failed {peer}"))
    barrier.after_pass(decide("dan"))
    barrier.before_flush()
    assert events == ["decide dan", "failed dan"]
    assert barrier.committed == 0


def test_access_provided_leaves_only_once_the_account_is_on_disk(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(max_users=10)
    database = h.server.database
    names = ["ana", "bea", "cid", "dan"]
    clients = [h.connect() for _ in names]
    with h.workers_held():  # the hashes finish together: their results land in few passes
        for client, name in zip(clients, names):
            client.send(f"register\n{name},pw\n".encode())
        h.pump(3)
    for client, name in zip(clients, names):
        client.expect("Access Provided")
        assert name in _stored_names(database.path)  # committed before the reply was sent
    barrier = h.server.chat.service.registration_commit
    assert barrier is not None
    assert barrier.committed == len(names)
    assert barrier.commits <= len(names)


def test_a_failed_group_commit_acknowledges_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(max_users=10)
    user1 = h.login("user1", "123")
    database = h.server.database
    real = database._db
    database._db = _FailingCommit(real)  # type: ignore[assignment]
    try:
        newcomer = h.connect()
        newcomer.send(b"register\nana,pw\n")
        assert newcomer.line() == ErrorCode.INTERNAL.value
        newcomer.closed()
    finally:
        database._db = real
    assert h.find_account("ana") is None
    assert "ana" not in _stored_names(database.path)
    user1.expect_silence()  # nobody was told of ana: neither entered nor left
    assert h.login("bea", "pw", verb="register")  # the next pass's registration is stored
    assert "bea" in _stored_names(database.path)
