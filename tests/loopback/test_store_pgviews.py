"""What only the chat's PostgreSQL store (pollchat.store.pgviews) has to check: its
bounded queue, what it does while the connection is down, and its commit numbers. The
port's meaning is in test_store_contract.py ("postgresql-views")."""

from __future__ import annotations

import select
import time

import pytest

from pollchat.core.accounts import Account
from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.server.timers import Timers
from pollchat.store.pgviews import open_pg_views
from tests.loopback.test_store_contract import NoLoop
from tests.postgres import PgServer

psycopg = pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")

HASH = "pbkdf2_sha256$1000$salt$" + "A" * 43 + "="
T = 1_700_000_000.0


def test_a_full_queue_refuses_the_write_and_changes_nothing(pg_url: str) -> None:
    store = open_pg_views(pg_url)
    store.attach(NoLoop(), Timers(), max_queued=3)  # nobody reads the results: they pile up
    try:
        ann = store.create(Account("ann", HASH, AccountKind.REGISTERED))
        assert ann is not None
        store.set_ban(ann.id, None, "one", "root", T)
        store.set_last_seen(ann.id, T)
        with pytest.raises(StoreError, match="wait for the database"):
            store.set_ban(ann.id, None, "two", "root", T)
        assert store.ban_of(ann.id, T) == (None, "one", "root")  # the view kept the last accepted write
        with pytest.raises(StoreError):
            store.append_messages([HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", "hi")])
        assert store.recent_public(5) == [] and store.issued == 3
    finally:
        store.close()


def test_while_the_connection_is_down_batches_are_refused_and_other_writes_wait(
    pg_server: PgServer, pg_url: str
) -> None:
    store = open_pg_views(pg_url)
    timers = Timers()
    store.attach(NoLoop(), timers)
    try:
        assert store.available and store.driver is not None
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:  # the server drops us
            admin.execute("SELECT pg_terminate_backend(%s)", (store.driver.backend_pid,))
        deadline = time.monotonic() + 10
        while store.available:  # the backend ends a moment later; the loop would call this then
            assert time.monotonic() < deadline
            select.select([store.driver._fd], [], [], 0.5)
            store.driver._on_readable()
        ann = store.create(Account("ann", HASH, AccountKind.REGISTERED))  # kept in memory
        assert ann is not None and store.find("ann") == ann
        with pytest.raises(StoreError, match="unavailable"):  # the history keeps it and retries
            store.append_messages([HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", "hi")])
        assert store.issued == 1 and store.done == 0
    finally:
        store.close()  # reconnects and writes what waited
    again = open_pg_views(pg_url)
    try:
        assert again.find("ann") is not None and again.count_messages() == 0
    finally:
        again.close()


def test_history_reads_are_answered_later_or_at_once_while_the_connection_is_down(
    pg_server: PgServer, pg_url: str
) -> None:
    store = open_pg_views(pg_url)
    store.attach(NoLoop(), Timers())
    try:
        assert store.driver is not None
        ann = store.create(Account("ann", HASH, AccountKind.REGISTERED))
        ben = store.create(Account("ben", HASH, AccountKind.REGISTERED))
        assert ann is not None and ben is not None
        store.append_messages([HistoryRecord(T + i, RecordKind.CHAT, ann.id, "ann", f"lunch {i}") for i in range(3)])
        with pytest.raises(StoreError, match="asynchronously"):  # the loop must not wait for these
            store.search_messages(ann.id, ["lunch"], 5)
        with pytest.raises(StoreError, match="asynchronously"):
            store.messages_before(Conversation(), 5)
        answers: list[object] = []
        store.search_messages_later(ann.id, ["lunch"], 2, answers.append)
        store.messages_before_later(Conversation(), 5, answers.append)
        issued = store.issued
        assert answers == []  # nothing is waited for: the answers come with the results
        assert store.driver.drain()
        found, page = answers
        assert [r.text for r in found] == ["lunch 2", "lunch 1"]  # type: ignore[union-attr]
        assert [r.text for r in page] == ["lunch 0", "lunch 1", "lunch 2"]  # type: ignore[union-attr]
        assert not store.failed_between(0, issued)
        store.add_ignore(ann.id, ben.id, T)
        store.set_receipts(ann.id, False)
        assert store.mark_read(ben.id, ann.id, T) == T
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:  # the server drops us
            admin.execute("SELECT pg_terminate_backend(%s)", (store.driver.backend_pid,))
        deadline = time.monotonic() + 10
        while store.available:
            assert time.monotonic() < deadline
            select.select([store.driver._fd], [], [], 0.5)
            store.driver._on_readable()
        answers.clear()
        store.search_messages_later(ann.id, ["lunch"], 2, answers.append)
        assert len(answers) == 1 and "unavailable" in str(answers[0])  # at once, one clear reason
        store.remove_ignore(ann.id, ben.id)  # kept in the view, written once it is back
        store.add_ignore(ann.id, ann.id, T + 1)
        assert store.ignored_ids(ann.id) == [ann.id] and store.receipts_off_accounts() == [ann.id]
    finally:
        store.close()  # reconnects and writes what waited
    again = open_pg_views(pg_url)
    try:
        assert again.ignored_ids(ann.id) == [ann.id] and again.receipts_off_accounts() == [ann.id]
        assert again.read_by_others(ann.id) == [(ben.id, "ben", T)]
    finally:
        again.close()


class _Connected:
    """The one libpq attribute the address pinning reads."""

    def __init__(self, address: bytes) -> None:
        self.hostaddr = address


def test_reconnections_go_to_the_address_found_at_start() -> None:
    """libpq resolves a host name inside connect_start, synchronously: a reconnection
    on the loop uses the address the start-up connection found (hostaddr), keeping the
    name; several hosts, or an address given already, are left alone."""
    from pollchat.store.pgdriver import PgDriver

    driver = PgDriver("postgresql://chat@db.example/pollchat", NoLoop(), Timers())
    driver._pin_address(_Connected(b"192.0.2.7"))
    assert b"hostaddr=192.0.2.7" in driver._dsn and b"host=db.example" in driver._dsn
    several = PgDriver("host=a.example,b.example dbname=pollchat", NoLoop(), Timers())
    several._pin_address(_Connected(b"192.0.2.8"))
    assert b"hostaddr" not in several._dsn
