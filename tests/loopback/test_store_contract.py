"""The store's contract (pollchat.store.ports), one suite run on both engines: SQLite
(a file in tmp_path) and PostgreSQL (a fresh database on the test server of
tests/postgres.py, skipped without it). Every operation of every interface, the
uniqueness rules (the database has the final word, also when registrations race), and
what survives a reopen. The engine-specific details (SQLite pragmas, migrations from
each old version) stay in tests/unit/test_store.py and test_groups_store.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.groups import Member, PendingChange, Visibility
from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreConflict, StoreError
from pollchat.protocol.names import skeleton
from pollchat.store.database import DATABASE_NAME, Database
from pollchat.store.groups import MAX_PENDING_CHANGES
from pollchat.server.timers import Timers
from pollchat.store.pgviews import PgViewStore, open_pg_views
from pollchat.store.ports import Store

HASH = "pbkdf2_sha256$1000$salt$" + "A" * 43 + "="
T = 1_700_000_000.0

Opener = Callable[[], Store]


class NoLoop:
    """The loop of an attached PostgreSQL store here: nobody runs it, so its writes are
    sent and their results read when it closes (which waits for them)."""

    def watch(self, fileobj: object, on_readable: object, on_writable: object = None) -> None:
        pass

    def want_write(self, fileobj: object, on: bool) -> None:
        pass

    def unwatch(self, fileobj: object) -> None:
        pass


def attached(store: PgViewStore) -> PgViewStore:
    store.attach(NoLoop(), Timers())
    return store


class WaitedReads:
    """An attached PostgreSQL store whose asynchronous history reads (scrollback, search,
    by time: pollchat.store.ports.AsyncHistoryReads) are waited for, here only (the
    server never waits), so the contract's synchronous calls run through them."""

    def __init__(self, store: PgViewStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def messages_before(self, conversation: Conversation, limit: int, **cursor: object) -> list[HistoryRecord]:
        return self._wait(lambda done: self.store.messages_before_later(conversation, limit, done, **cursor))  # type: ignore[arg-type]

    def search_messages(self, viewer_id: int, words: list[str], limit: int, **scope: object) -> list[HistoryRecord]:
        return self._wait(lambda done: self.store.search_messages_later(viewer_id, words, limit, done, **scope))  # type: ignore[arg-type]

    def messages_between(self, after: float | None, before: float | None, limit: int, **which: object) -> list[HistoryRecord]:
        return self._wait(lambda done: self.store.messages_between_later(after, before, limit, done, **which))  # type: ignore[arg-type]

    def _wait(self, ask: Callable[[Callable[[list[HistoryRecord] | StoreError], None]], None]) -> list[HistoryRecord]:
        answers: list[list[HistoryRecord] | StoreError] = []
        ask(answers.append)
        assert self.store.driver is not None and self.store.driver.drain()
        assert len(answers) == 1, answers  # exactly one answer, once the query returned
        if isinstance(answers[0], StoreError):
            raise answers[0]
        return answers[0]


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-views"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """A function that opens the test's database (the same one each call) on the engine:
    SQLite, the blocking PostgreSQL engine, or the chat's PostgreSQL store attached
    (reads from its views, writes behind; see pollchat.store.pgviews)."""
    if request.param == "sqlite":
        path = tmp_path / DATABASE_NAME
        return lambda: Database.open(path)
    from pollchat.store.postgres import open_postgres

    url = request.getfixturevalue("pg_url")
    if request.param == "postgresql-views":
        return lambda: WaitedReads(attached(open_pg_views(url)))  # type: ignore[return-value]
    return lambda: open_postgres(url)


def write_behind(store: object) -> bool:
    return isinstance(store, (PgViewStore, WaitedReads))


@pytest.fixture
def store(opener: Opener) -> Iterator[Store]:
    db = opener()
    yield db
    db.close()


def registered(name: str) -> Account:
    return Account(name, HASH, AccountKind.REGISTERED)


def make(store: Store, name: str) -> Account:
    account = store.create(registered(name))
    assert account is not None
    return account


def chat(sender: Account, text: str, ts: float = T) -> HistoryRecord:
    return HistoryRecord(ts, RecordKind.CHAT, sender.id, sender.name, text)


def private(sender: Account, recipient: Account, text: str, ts: float = T) -> HistoryRecord:
    return HistoryRecord(ts, RecordKind.PRIVATE, sender.id, sender.name, text, recipient.id, recipient.name)


def texts(records: list[HistoryRecord]) -> list[str]:
    return [r.text for r in records]


# --- accounts -------------------------------------------------------------------------------------


def test_create_find_and_ids_never_reused(store: Store) -> None:
    alice = make(store, "Alice")
    assert store.find("alice") == alice
    assert store.find("bob") is None
    assert store.count_accounts() == 1
    store.delete(alice.id)
    assert store.find("alice") is None and store.count_accounts() == 0
    again = make(store, "alice")
    assert again.id > alice.id


def test_a_taken_key_or_lookalike_is_refused_by_create(store: Store) -> None:
    make(store, "bob")
    assert store.create(registered("BOB")) is None
    assert store.create(registered("b0b")) is None  # same skeleton: a lookalike
    assert store.count_accounts() == 1
    assert [a.name for a in store.find_lookalikes(skeleton("B0B"))] == ["bob"]


def test_create_refuses_a_preconfigured_account(store: Store) -> None:
    with pytest.raises(ValueError):
        store.create(Account("x", HASH, AccountKind.PRECONFIGURED))


def test_rename_keeps_the_id_and_respects_keys_and_lookalikes(store: Store) -> None:
    alice, bob = make(store, "alice"), make(store, "bob")
    assert store.rename(alice.id, "Alicia")
    assert store.find("alicia") is not None and store.find("alicia").id == alice.id  # type: ignore[union-attr]
    assert store.find("alice") is None
    assert not store.rename(alice.id, "BOB")  # a taken key
    assert not store.rename(alice.id, "b0b")  # a lookalike of another account
    assert store.rename(bob.id, "BOB")  # one's own name in another case
    assert not store.rename(9999, "nobody")


def test_password_last_seen_and_created_at(store: Store) -> None:
    alice = make(store, "alice")
    store.set_password(alice.id, HASH.replace("A", "B"))
    assert store.find("alice").password_hash == HASH.replace("A", "B")  # type: ignore[union-attr]
    assert store.last_seen(alice.id) is None
    store.set_last_seen(alice.id, T + 1.5)
    assert store.last_seen(alice.id) == T + 1.5
    created = store.created_at(alice.id)
    assert created is not None and created.endswith("+00:00")
    assert store.created_at(9999) is None and store.last_seen(9999) is None


def test_preconfigured_rows_get_stable_ids(opener: Opener) -> None:
    file_accounts = [Account(n, HASH, AccountKind.PRECONFIGURED) for n in ("user1", "user2")]
    with_ids = (db := opener()).sync_preconfigured(file_accounts)
    db.close()
    assert [a.name for a in with_ids] == ["user1", "user2"]
    db = opener()
    try:
        again = db.sync_preconfigured([Account("USER2", HASH, AccountKind.PRECONFIGURED), file_accounts[0]])
        assert [a.id for a in again] == [with_ids[1].id, with_ids[0].id]
        assert db.find("user1") is None  # never returned as registered
        assert db.count_accounts() == 0
    finally:
        db.close()


def test_registrations_racing_for_one_name_end_with_one_success(opener: Opener) -> None:
    """Four connections register spellings of one name (case, lookalike) at once; the
    database's constraints let exactly one through."""
    names = ["Racer", "RACER", "racer", "rасer"]  # the last has a Cyrillic 'а' and 'с'
    opener().close()  # the schema exists before the race (one server per SQLite file anyway)
    barrier = threading.Barrier(len(names))
    results: list[Account | None | BaseException] = [None] * len(names)

    def register(i: int) -> None:
        db = opener()  # one connection per thread, opened in it (SQLite wants that)
        try:
            barrier.wait(30)
            results[i] = db.create(registered(names[i]))
        except BaseException as exc:
            results[i] = exc
        finally:
            db.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [r for r in results if isinstance(r, BaseException)]
    probe = opener()
    views = write_behind(probe)
    probe.close()
    if views:  # each store's view said yes; the database refused all but one at commit
        assert sum(r is not None for r in results) >= 1
    else:
        assert sum(r is not None for r in results) == 1
    db = opener()
    try:
        assert db.count_accounts() == 1
    finally:
        db.close()


# --- messages -------------------------------------------------------------------------------------


@pytest.fixture
def people(store: Store) -> tuple[Account, Account, Account]:
    return make(store, "ann"), make(store, "ben"), make(store, "cy")


def test_history_of_each_kind(store: Store, people) -> None:
    ann, ben, cy = people
    store.append_messages([])
    store.append_messages([
        chat(ann, "hi"),
        private(ann, ben, "psst"),
        HistoryRecord(T, RecordKind.ACTION, ben.id, "ben", "waves"),
        private(cy, ann, "yo", T + 5),
        HistoryRecord(T, RecordKind.CHAT, ben.id, "ben", "in a group", group_id=7),
    ])
    assert texts(store.recent_public(10)) == ["hi", "waves"]
    assert texts(store.recent_public(1)) == ["waves"]
    assert texts(store.private_for(ann.id, 10)) == ["psst", "yo"]
    assert texts(store.private_for(ben.id, 10)) == ["psst"]
    assert texts(store.group_messages(7, 10)) == ["in a group"]
    ids = [r.id for r in store.private_for(ann.id, 10)]
    assert ids == sorted(ids) and None not in ids
    assert store.count_private_since(ann.id, T) == 1
    assert store.count_main() == 2 and store.count_messages() == 5
    assert store.conversations() == ([(ann.id, ben.id), (ann.id, cy.id)], [7])
    with pytest.raises(ValueError):
        store.recent_public(-1)


def test_messages_between_pages_one_conversation_by_time(store: Store, people) -> None:
    ann, ben, cy = people
    store.append_messages([
        *(chat(ann, f"m{i}", T + i) for i in range(3)),
        HistoryRecord(T + 2.2, RecordKind.ACTION, ben.id, "ben", "waves"),
        *(chat(ann, f"m{i}", T + i) for i in range(3, 5)),
        private(ann, ben, "p0", T + 0.5),
        private(ben, ann, "p1", T + 1.5),
        private(ann, cy, "other", T + 2.5),
        private(ann, ann, "note", T + 3.5),
        *(HistoryRecord(T + i, RecordKind.CHAT, cy.id, "cy", f"g{i}", group_id=9) for i in range(3)),
    ])
    between = store.messages_between
    assert texts(between(None, None, 10, newest=True)) == ["m0", "m1", "m2", "waves", "m3", "m4"]
    assert texts(between(None, None, 2, newest=True)) == ["m3", "m4"]
    assert texts(between(None, None, 2, newest=False)) == ["m0", "m1"]
    assert texts(between(T + 1, None, 10, newest=False)) == ["m2", "waves", "m3", "m4"]  # strictly after
    assert texts(between(None, T + 2, 10, newest=True)) == ["m0", "m1"]  # strictly before
    # ids (the order things were said in) order the answer; times only bound it
    assert texts(between(T, T + 4, 2, newest=True)) == ["waves", "m3"]
    assert texts(between(T, T + 4, 2, newest=False)) == ["m1", "m2"]
    assert texts(between(None, None, 10, newest=True, group_id=9)) == ["g0", "g1", "g2"]
    assert texts(between(T, None, 10, newest=True, group_id=9)) == ["g1", "g2"]
    assert texts(between(None, None, 10, newest=True, pair=(ben.id, ann.id))) == ["p0", "p1"]
    assert texts(between(None, None, 10, newest=True, pair=(ann.id, ben.id))) == ["p0", "p1"]
    assert texts(between(None, None, 10, newest=True, pair=(ann.id, ann.id))) == ["note"]
    assert between(T + 10, None, 10, newest=True) == [] and between(None, None, 0, newest=True) == []
    records = between(None, None, 10, newest=False)
    assert [r.id for r in records] == sorted(r.id for r in records) and records[0].ts == T
    with pytest.raises(ValueError):
        between(None, None, -1, newest=True)
    with pytest.raises(ValueError):
        between(None, None, 1, newest=True, group_id=9, pair=(ann.id, ben.id))

def test_scrollback_pages_back_through_each_conversation(store: Store, people) -> None:
    ann, ben, cy = people
    store.append_messages([
        chat(ann, "m0", T), private(ann, ben, "p0", T + 1), chat(ben, "m1", T + 2), private(ben, ann, "p1", T + 3),
        private(cy, ann, "other", T + 4), HistoryRecord(T + 5, RecordKind.CHAT, ben.id, "ben", "g0", group_id=4),
        private(ann, ann, "self", T + 6), chat(cy, "m2", T + 7),
        HistoryRecord(T + 8, RecordKind.ACTION, ann.id, "ann", "g1", group_id=4), private(ann, ben, "p2", T + 9),
    ])
    main, pair, group = Conversation(), Conversation(pair=(ann.id, ben.id)), Conversation(group_id=4)
    assert texts(store.messages_before(main, 10)) == ["m0", "m1", "m2"]
    newest = store.messages_before(main, 2)
    assert texts(newest) == ["m1", "m2"]
    assert texts(store.messages_before(main, 2, before_id=newest[0].id)) == ["m0"]
    assert texts(store.messages_before(main, 2, before_ts=T + 7)) == ["m0", "m1"]
    assert texts(store.messages_before(pair, 10)) == ["p0", "p1", "p2"]
    assert texts(store.messages_before(Conversation(pair=(ben.id, ann.id)), 2)) == ["p1", "p2"]
    page = store.messages_before(pair, 2)
    assert texts(store.messages_before(pair, 2, before_id=page[0].id)) == ["p0"]
    assert texts(store.messages_before(pair, 10, before_ts=T + 3)) == ["p0"]
    assert texts(store.messages_before(Conversation(pair=(ann.id, ann.id)), 10)) == ["self"]
    assert texts(store.messages_before(group, 10)) == ["g0", "g1"]
    assert texts(store.messages_before(group, 10, before_id=page[-1].id, before_ts=T + 6)) == ["g0"]
    assert store.messages_before(main, 0) == []
    with pytest.raises(ValueError):
        store.messages_before(main, -1)


def test_search_finds_every_word_newest_first_in_what_may_be_read(store: Store, people) -> None:
    ann, ben, cy = people
    store.append_messages([
        chat(ann, "Lunch on Friday?", T),
        private(ben, ann, "friday: lunch at noon", T + 1),
        private(ben, cy, "lunch friday, a secret", T + 2),
        HistoryRecord(T + 3, RecordKind.CHAT, cy.id, "cy", "lunchtime friday", group_id=5),
        HistoryRecord(T + 4, RecordKind.ACTION, cy.id, "cy", "has lunch friday in 6", group_id=6),
        chat(cy, "nothing about it", T + 5),
    ])
    assert texts(store.search_messages(ann.id, ["lunch", "friday"], 10, group_ids=(5,))) == [
        "lunchtime friday", "friday: lunch at noon", "Lunch on Friday?",  # not ben's to cy, not group 6
    ]
    assert texts(store.search_messages(ann.id, ["lunch", "friday"], 2, group_ids=(5,))) == [
        "lunchtime friday", "friday: lunch at noon",
    ]
    assert texts(store.search_messages(cy.id, ["secret"], 10)) == ["lunch friday, a secret"]
    assert store.search_messages(ann.id, ["secret"], 10) == []
    pair = Conversation(pair=(ann.id, ben.id))
    assert texts(store.search_messages(ann.id, ["lunch"], 10, conversation=pair)) == ["friday: lunch at noon"]
    assert texts(store.search_messages(ann.id, ["lunch"], 10, conversation=Conversation(group_id=6))) == [
        "has lunch friday in 6"
    ]
    assert texts(store.search_messages(ann.id, ["lunch"], 10, conversation=Conversation())) == ["Lunch on Friday?"]
    assert store.search_messages(ann.id, [], 10) == [] and store.search_messages(ann.id, ["lunch"], 0) == []
    # the index follows the table: pruned messages are found no more
    assert store.prune_main(0) == 2
    assert texts(store.search_messages(ann.id, ["lunch"], 10, group_ids=(5,))) == [
        "lunchtime friday", "friday: lunch at noon",
    ]
    with pytest.raises(ValueError):
        store.search_messages(ann.id, ["lunch"], -1)


def test_read_marks_and_the_receipts_setting(opener: Opener) -> None:
    db = opener()
    try:
        ann, ben, cy = make(db, "ann"), make(db, "ben"), make(db, "cy")
        assert db.receipts_off_accounts() == []
        assert db.mark_read(ben.id, ann.id, T) == T
        assert db.mark_read(ben.id, ann.id, T - 5) == T  # a mark never moves back
        assert db.mark_read(cy.id, ann.id, T + 1) == T + 1
        assert db.read_by_others(ann.id) == [(ben.id, "ben", T), (cy.id, "cy", T + 1)]
        db.set_receipts(cy.id, False)
        db.set_receipts(ben.id, False)
        db.set_receipts(ben.id, True)
    finally:
        db.close()
    db = opener()
    try:
        assert db.receipts_off_accounts() == [cy.id]
        assert db.read_by_others(ann.id)[0] == (ben.id, "ben", T) and db.read_by_others(ben.id) == []
    finally:
        db.close()


def test_a_bad_batch_writes_nothing(store: Store, people) -> None:
    ann = people[0]
    with pytest.raises(ValueError):
        store.append_messages([chat(ann, "fine"), HistoryRecord(T, RecordKind.PRIVATE, ann.id, "ann", "x")])
    broken = HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", None)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.append_messages([chat(ann, "fine"), broken])
    assert store.count_messages() == 0


def test_pruning_keeps_the_newest_and_never_an_unread_private_message(store: Store, people) -> None:
    ann, ben, _ = people
    store.append_messages([chat(ann, f"m{i}") for i in range(5)])
    assert store.prune_main(2, batch=2) == 2
    assert store.prune_main(2, batch=2) == 1
    assert store.prune_main(2) == 0
    assert texts(store.recent_public(10)) == ["m3", "m4"]
    store.append_messages([private(ann, ben, f"p{i}", T + i) for i in range(4)])
    assert store.prune_private(ann.id, ben.id, 1) == 0  # ben never logged out: all unread
    store.set_last_seen(ben.id, T + 1)
    assert store.prune_private(ann.id, ben.id, 1) == 2  # p0, p1 read
    assert texts(store.private_for(ben.id, 10)) == ["p2", "p3"]
    store.append_messages([HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", f"g{i}", group_id=3) for i in range(3)])
    assert store.prune_group(3, 1) == 2
    assert texts(store.group_messages(3, 10)) == ["g2"]


# --- bans -----------------------------------------------------------------------------------------


def test_account_and_address_bans(store: Store, people) -> None:
    ann = people[0]
    assert store.ban_of(ann.id, T) is None
    store.set_ban(ann.id, T + 60, "spam", "root", T)
    assert store.ban_of(ann.id, T) == (T + 60, "spam", "root")
    assert store.ban_of(ann.id, T + 60) is None  # ended
    store.set_ban(ann.id, None, "again", "root", T)
    assert store.ban_of(ann.id, T + 10**6) == (None, "again", "root")
    assert store.clear_ban(ann.id) and not store.clear_ban(ann.id)
    store.set_address_ban("10.0.0.0/8", None, "net", "root", T)
    store.set_address_ban("192.0.2.1/32", T + 5, "one", "root", T)
    store.set_address_ban("192.0.2.1/32", T + 9, "longer", "root", T)
    assert store.address_bans(T) == [("10.0.0.0/8", None, "net", "root"), ("192.0.2.1/32", T + 9, "longer", "root")]
    assert store.address_bans(T + 9) == [("10.0.0.0/8", None, "net", "root")]
    store.clear_address_ban("10.0.0.0/8")
    assert store.address_bans(T) == [("192.0.2.1/32", T + 9, "longer", "root")]


# --- groups ---------------------------------------------------------------------------------------


def test_groups_members_requests_and_bans(store: Store, people) -> None:
    ann, ben, cy = people
    tea = store.create_group("tea", "public", ann.id, T)
    with pytest.raises(StoreConflict):
        store.create_group("TEA", "private", ben.id, T)
    with pytest.raises(StoreError):
        store.create_group("bar", "secret", ben.id, T)
    store.add_request(tea, cy.id, T + 1)
    store.add_request(tea, cy.id, T + 9)  # a repeat keeps the first time
    store.add_member(tea, ben.id, T + 2)
    store.add_member(tea, ben.id, T + 3)  # twice: the first time stays
    store.set_topic(tea, "green")
    (group,) = store.load_groups()
    assert (group.id, group.name, group.visibility, group.owner_id, group.topic) == (tea, "tea", Visibility.PUBLIC, ann.id, "green")
    assert list(group.members.values()) == [Member(ann.id, "ann", T), Member(ben.id, "ben", T + 2)]
    assert list(group.requests.values()) == [Member(cy.id, "cy", T + 1)]
    store.add_group_ban(tea, cy.id, "ann", T)
    store.remove_member(tea, ann.id, ben.id)
    (group,) = store.load_groups()
    assert group.owner_id == ben.id and list(group.members) == [ben.id] and group.bans == {cy.id} and not group.requests
    store.remove_group_ban(tea, cy.id)
    store.add_request(tea, cy.id, T)
    store.remove_request(tea, cy.id)
    store.rename_group(tea, "Chai")
    (group,) = store.load_groups()
    assert (group.name, group.bans, group.requests) == ("Chai", set(), {})
    other = store.create_group("tea", "private", ann.id, T)  # the old name is free
    with pytest.raises(StoreConflict):
        store.rename_group(other, "CHAI")
    store.delete_group(tea, T)
    assert [g.name for g in store.load_groups()] == ["tea"]
    assert store.create_group("chai", "public", ann.id, T) > other  # ids never reused


def test_changes_for_offline_accounts(store: Store, people) -> None:
    ann, ben, _ = people
    assert store.take_changes(ann.id) == []
    for i in range(3):
        store.queue_change(ann.id, PendingChange("kicked", f"g{i}", "ann", "ben", T + i))
    store.queue_change(ben.id, PendingChange("deleted", "g", "ben", "ann", T))
    assert [c.group for c in store.take_changes(ann.id)] == ["g0", "g1", "g2"]
    assert store.take_changes(ann.id) == []
    for i in range(MAX_PENDING_CHANGES + 5):  # capped: the oldest go first
        store.queue_change(ann.id, PendingChange("kicked", f"h{i}", "ann", "ben", T + i))
    kept = store.take_changes(ann.id)
    assert len(kept) == MAX_PENDING_CHANGES and kept[0].group == "h5"
    store.add_request(store.create_group("tea", "public", ann.id, T), ben.id, T)
    store.forget_account(ben.id)
    assert store.take_changes(ben.id) == [] and store.load_groups()[0].requests == {}


# --- ignore lists ---------------------------------------------------------------------------------


def test_ignore_lists(store: Store, people) -> None:
    ann, ben, cy = people
    assert store.ignored_ids(ann.id) == [] and store.ignored_names(ann.id) == []
    store.add_ignore(ann.id, cy.id, T)
    store.add_ignore(ann.id, ben.id, T + 1)
    store.add_ignore(ann.id, cy.id, T + 2)  # twice: kept once, at its first time
    store.add_ignore(ben.id, ann.id, T)
    assert store.ignored_ids(ann.id) == [cy.id, ben.id]
    assert store.ignored_names(ann.id) == ["cy", "ben"]
    assert store.rename(ben.id, "benny")
    assert store.ignored_names(ann.id) == ["cy", "benny"]  # current names
    store.delete(cy.id)
    assert store.ignored_names(ann.id) == ["benny"]  # a deleted account is not listed
    store.remove_ignore(ann.id, ben.id)
    store.remove_ignore(ann.id, ben.id)  # not there: nothing happens
    assert store.ignored_ids(ann.id) == [cy.id] and store.ignored_ids(ben.id) == [ann.id]


# --- lifetime -------------------------------------------------------------------------------------


def test_everything_survives_a_reopen(opener: Opener) -> None:
    db = opener()
    ann = make(db, "ann")
    db.append_messages([chat(ann, "kept")])
    db.set_ban(ann.id, None, "r", "root", T)
    db.create_group("tea", "public", ann.id, T)
    ben = make(db, "ben")
    db.add_ignore(ann.id, ben.id, T)
    db.close()
    db.close()  # twice is fine
    db = opener()
    try:
        assert db.find("ann") == ann
        assert texts(db.recent_public(5)) == ["kept"]
        assert db.ban_of(ann.id, T) == (None, "r", "root")
        assert [g.name for g in db.load_groups()] == ["tea"]
        assert db.ignored_ids(ann.id) == [ben.id]
        assert db.name_collisions == []
    finally:
        db.close()


def test_write_behind_pruning_keeps_the_newest_and_never_an_unread_private_message(pg_url: str) -> None:
    """The attached PostgreSQL store prunes behind, counting from its views: what is
    left in the database once the writes are made is what the port promises."""
    store = attached(open_pg_views(pg_url))
    ann, ben = make(store, "ann"), make(store, "ben")
    store.append_messages([chat(ann, f"m{i}") for i in range(5)])
    assert store.prune_main(2, batch=2) == 2
    assert store.prune_main(2, batch=2) == 1
    assert store.prune_main(2) == 0
    assert texts(store.recent_public(10)) == ["m3", "m4"]
    store.append_messages([private(ann, ben, f"p{i}", T + i) for i in range(4)])
    assert store.prune_private(ann.id, ben.id, 1) == 0  # ben never logged out: all unread
    store.set_last_seen(ben.id, T + 1)
    assert store.prune_private(ann.id, ben.id, 1) == 2  # p0, p1 read
    store.append_messages([HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", f"g{i}", group_id=3) for i in range(3)])
    assert store.prune_group(3, 1) == 2
    assert texts(store.group_messages(3, 10)) == ["g2"]
    store.close()
    again = attached(open_pg_views(pg_url))
    try:
        assert texts(again.recent_public(10)) == ["m3", "m4"]
        assert texts(again.private_for(ben.id, 10)) == ["p2", "p3"]
        assert texts(again.group_messages(3, 10)) == ["g2"]
        assert again.count_main() == 2 and again.count_messages() == 2 + 2 + 1
    finally:
        again.close()


def test_a_write_the_database_refuses_is_logged_and_the_view_corrected(pg_url: str, caplog) -> None:
    """Two attached stores (two servers, wrongly, on one database) register one name:
    both views say yes, the unique index keeps one, and the other store logs the
    refusal and forgets the account."""
    first, second = attached(open_pg_views(pg_url)), attached(open_pg_views(pg_url))
    assert first.create(registered("zed")) is not None
    first.close()
    with caplog.at_level("ERROR", logger="pollchat.store"):
        mark = second.issued
        assert second.create(Account("ZED", HASH.replace("A", "C"), AccountKind.REGISTERED)) is not None
        assert second.driver is not None
        second.driver.close()  # waits for the answer
    assert second.failed_between(mark, second.issued)
    assert second.find("zed") is None and second.count_accounts() == 0
    assert any("refused the new account 'ZED'" in r.getMessage() for r in caplog.records)
