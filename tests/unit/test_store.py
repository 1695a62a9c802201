"""The SQLite store: :class:`pollchat.store.database.Database` -- accounts (registered and
preconfigured), schema migrations, and message history."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.protocol.names import legacy_key, skeleton
from pollchat.store import database as database_module
from pollchat.store import messages as messages_module
from pollchat.store import schema as schema_module
from pollchat.store.database import (
    APPLICATION_ID,
    DATABASE_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Database,
    backup_path,
)

HASH = "pbkdf2_sha256$1000$salt$" + "A" * 43 + "="


def registered(name: str, password_hash: str = HASH) -> Account:
    return Account(name, password_hash, AccountKind.REGISTERED)


def pragmas(path: Path) -> tuple[int, int, str]:
    """(application_id, user_version, journal_mode) read with a separate connection."""
    db = sqlite3.connect(path)
    try:
        return (
            db.execute("PRAGMA application_id").fetchone()[0],
            db.execute("PRAGMA user_version").fetchone()[0],
            db.execute("PRAGMA journal_mode").fetchone()[0],
        )
    finally:
        db.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DATABASE_NAME


def test_application_id_is_pcht() -> None:
    assert APPLICATION_ID == 0x50434854
    assert SCHEMA_VERSION == len(MIGRATIONS)


def test_new_database_identifies_itself(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.path == db_path
        assert db.count_accounts() == 0
    assert pragmas(db_path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")


def test_create_and_find_round_trip(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice = registered("Alice", HASH)
        stored = db.create(alice)
        assert stored == dataclasses.replace(alice, id=stored.id)
        assert stored.id >= 1
        found = db.find(alice.key)
        assert found == stored
        assert found.name == "Alice"
        assert found.password_hash == HASH
        assert found.kind is AccountKind.REGISTERED
        assert db.find("bob") is None
        assert db.count_accounts() == 1


def test_unicode_names_round_trip(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.create(registered("Łukasz"))
        assert db.create(registered("José"))
        assert db.find(registered("ŁUKASZ").key).name == "Łukasz"
        assert db.find(registered("JOSÉ").key).name == "José"


def test_duplicate_key_is_refused(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.create(registered("alice", HASH))
        other_hash = HASH.replace("salt", "pepper")
        assert db.create(registered("alice", other_hash)) is None
        # case-different spelling of the same name: same key, refused too
        assert db.create(registered("ALICE", other_hash)) is None
        assert db.count_accounts() == 1
        found = db.find("alice")
        assert found is not None
        assert found.name == "alice"
        assert found.password_hash == HASH


def test_case_folding_is_the_callers_job(db_path: Path) -> None:
    """The store looks up the key it is given; Account.key is what folds case."""
    with Database.open(db_path) as db:
        assert db.create(registered("Alice"))
        assert registered("ALICE").key == registered("alice").key == "alice"
        found = db.find(registered("aLiCe").key)
        assert found is not None and found.name == "Alice"
        assert db.find("Alice") is None  # not a key: never folded by the store


def test_accounts_persist_after_close_and_reopen(db_path: Path) -> None:
    db = Database.open(db_path)
    alice = db.create(registered("Alice"))
    assert db.create(registered("bob"))
    db.close()
    db.close()  # safe twice

    with Database.open(db_path) as db:
        assert db.count_accounts() == 2
        assert db.find("alice") == alice
        assert db.find("bob").password_hash == HASH
        assert db.create(registered("bob")) is None
    assert pragmas(db_path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")


def test_create_is_visible_to_another_connection_at_once(db_path: Path) -> None:
    """Registration is committed before create() returns (durable before acknowledged)."""
    with Database.open(db_path) as db:
        alice = db.create(registered("Alice"))
        other = sqlite3.connect(db_path)
        try:
            rows = other.execute("SELECT id, key, name, kind, password_hash FROM account").fetchall()
        finally:
            other.close()
        assert rows == [(alice.id, "alice", "Alice", "registered", HASH)]


def test_data_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / DATABASE_NAME
    with Database.open(path) as db:
        assert db.create(registered("alice"))
    assert path.is_file()
    assert pragmas(path)[0] == APPLICATION_ID


def test_empty_file_is_a_new_database(db_path: Path) -> None:
    db_path.write_bytes(b"")
    with Database.open(db_path) as db:
        assert db.count_accounts() == 0
        assert db.create(registered("alice"))
    assert pragmas(db_path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")


# --- files that are not pollchat databases: refused, never written --------------------------


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _assert_refused(path: Path, *words: str) -> None:
    before = _snapshot(path.parent)
    with pytest.raises(StoreError) as info:
        Database.open(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    for word in words:
        assert word in message
    assert _snapshot(path.parent) == before, "a refused file must be left exactly as it was"


def test_text_file_is_refused(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database\n" * 100)
    _assert_refused(db_path)


def test_short_binary_file_is_refused(db_path: Path) -> None:
    db_path.write_bytes(b"\x00\x01\x02 not sqlite")
    _assert_refused(db_path)


def test_database_of_another_program_is_refused(db_path: Path) -> None:
    other = sqlite3.connect(db_path)
    other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    other.execute("INSERT INTO notes (body) VALUES ('keep me')")
    other.commit()
    other.close()
    assert pragmas(db_path)[:2] == (0, 0)
    _assert_refused(db_path, "another program")
    check = sqlite3.connect(db_path)
    try:
        assert check.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    finally:
        check.close()


@pytest.mark.parametrize("with_table", [True, False], ids=["with-table", "empty"])
def test_database_with_another_application_id_is_refused(db_path: Path, with_table: bool) -> None:
    other = sqlite3.connect(db_path)
    other.execute("PRAGMA application_id=305419896")  # 0x12345678
    if with_table:
        other.execute("CREATE TABLE things (x)")
    other.commit()
    other.close()
    assert pragmas(db_path)[0] == 0x12345678
    _assert_refused(db_path, "another program")


def test_database_with_user_version_only_is_refused(db_path: Path) -> None:
    """application_id 0 but a user_version: some other program's schema."""
    other = sqlite3.connect(db_path)
    other.execute("PRAGMA user_version=7")
    other.commit()
    other.close()
    _assert_refused(db_path)


def test_newer_schema_is_refused(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.create(registered("alice"))
    newer = sqlite3.connect(db_path)
    newer.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    newer.commit()
    newer.close()
    assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION + 1)
    _assert_refused(db_path, str(SCHEMA_VERSION + 1))


def test_refused_file_then_fine_after_replacement(db_path: Path) -> None:
    """Refusal leaves no state behind: the same path works once the file is removed."""
    db_path.write_bytes(b"junk" * 10)
    with pytest.raises(StoreError):
        Database.open(db_path)
    db_path.unlink()
    with Database.open(db_path) as db:
        assert db.create(registered("alice"))


def test_a_newer_schema_with_history_is_refused_unchanged(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice = db.create(registered("alice"))
        db.append_messages([chat(alice, "hello")])
    newer = sqlite3.connect(db_path)
    newer.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    newer.commit()
    newer.close()
    _assert_refused(db_path, f"schema version {SCHEMA_VERSION + 1}", "upgrade pollchat")
    assert not list(db_path.parent.glob("*backup*"))


# --- helpers for schema 2 ---------------------------------------------------------------------

V1_SQL = """
CREATE TABLE account (
    key           TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) WITHOUT ROWID
"""  # schema 1 as pollchat 4f5fa6a wrote it (git show 4f5fa6a:pollchat/store/database.py)

V1_ACCOUNTS = [  # (key, name, password_hash, created_at); not in creation order on purpose
    ("zoe", "Zoe", HASH, "2024-01-01T10:00:00+00:00"),
    ("łukasz", "Łukasz", HASH.replace("salt", "salt2"), "2024-03-01T10:00:00+00:00"),
    ("bob", "bob", HASH.replace("salt", "salt3"), "2024-02-01T10:00:00+00:00"),
]


def make_v1(path: Path, accounts=V1_ACCOUNTS) -> sqlite3.Connection:
    """A schema-1 pollchat database, as the previous release left it (WAL mode). Returns
    the still-open connection (its writes are in the WAL, not yet checkpointed)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("BEGIN")
    db.execute(V1_SQL)
    db.executemany("INSERT INTO account VALUES (?, ?, ?, ?)", accounts)
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=1")
    db.execute("COMMIT")
    return db


def rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def chat(sender: Account, text: str, ts: float = 1.0, kind: RecordKind = RecordKind.CHAT) -> HistoryRecord:
    return HistoryRecord(ts, kind, sender.id, sender.name, text)


def private(sender: Account, recipient: Account, text: str, ts: float = 1.0) -> HistoryRecord:
    return HistoryRecord(ts, RecordKind.PRIVATE, sender.id, sender.name, text, recipient.id, recipient.name)


def without_id(records: list[HistoryRecord]) -> list[HistoryRecord]:
    return [dataclasses.replace(r, id=0) for r in records]


@pytest.fixture
def db(db_path: Path):
    with Database.open(db_path) as database:
        yield database


# --- migration 1 -> 2 -----------------------------------------------------------------------------


def test_v1_database_migrates_in_place_keeping_every_account(db_path: Path) -> None:
    writer = make_v1(db_path)  # open: the accounts are still only in the WAL
    try:
        with Database.open(db_path) as db:
            assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)
            assert db.count_accounts() == 3
            zoe, bob, lukasz = db.find("zoe"), db.find("bob"), db.find("łukasz")
            # ids follow creation order
            assert (zoe.id, bob.id, lukasz.id) == (1, 2, 3)
            for key, name, password_hash, created_at in V1_ACCOUNTS:
                found = db.find(key)
                assert (found.name, found.password_hash, found.kind) == (name, password_hash, AccountKind.REGISTERED)
                assert db.created_at(found.id) == created_at
                assert db.last_seen(found.id) is None
            assert db.create(registered("BOB")) is None
            assert db.create(registered("carol")).id == 4
    finally:
        writer.close()
    # the backup was taken through SQLite, so it has what was still in the WAL
    backup = db_path.with_name("pollchat.db.v1-backup")
    assert sorted(rows(backup, "SELECT key, name, password_hash, created_at FROM account")) == sorted(V1_ACCOUNTS)
    assert sorted(r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")) == [
        "account",
        "account_ignore",
        "address_ban",
        "ban",
        "chat_group",
        "group_ban",
        "group_member",
        "group_request",
        "message",
        "message_search",  # the full-text index (schema 8) and its own tables
        "message_search_config",
        "message_search_data",
        "message_search_docsize",
        "message_search_idx",
        "pending_change",
        "read_mark",  # read receipts (schema 8)
        "sqlite_sequence",
    ]


def test_migration_backs_up_the_v1_file_first(db_path: Path) -> None:
    make_v1(db_path).close()
    with Database.open(db_path) as db:
        assert db.count_accounts() == 3
    backup = db_path.with_name("pollchat.db.v1-backup")
    assert backup_path(db_path, 1) != backup  # taken now
    assert backup.is_file()
    # a complete, self-contained schema-1 file with every account
    assert pragmas(backup) == (APPLICATION_ID, 1, "delete")
    assert sorted(rows(backup, "SELECT key, name, password_hash, created_at FROM account")) == sorted(V1_ACCOUNTS)
    assert sorted(p.name for p in db_path.parent.iterdir() if "backup" in p.name) == ["pollchat.db.v1-backup"]
    # a later start migrates nothing and backs up nothing
    before = backup.read_bytes()
    with Database.open(db_path) as db:
        assert db.count_accounts() == 3
    assert sorted(p.name for p in db_path.parent.iterdir() if "backup" in p.name) == ["pollchat.db.v1-backup"]
    assert backup.read_bytes() == before


def test_a_new_database_gets_no_backup(db_path: Path) -> None:
    with Database.open(db_path):
        pass
    db_path.with_name("other").write_bytes(b"")
    with Database.open(db_path.with_name("empty.db")):
        pass
    assert not [p for p in db_path.parent.iterdir() if "backup" in p.name]


def test_an_existing_backup_is_never_overwritten(db_path: Path) -> None:
    make_v1(db_path).close()
    old = db_path.with_name("pollchat.db.v1-backup")
    old.write_bytes(b"an older backup")
    with Database.open(db_path) as db:
        assert db.count_accounts() == 3
    assert old.read_bytes() == b"an older backup"
    second = db_path.with_name("pollchat.db.v1-backup-2")
    assert pragmas(second)[:2] == (APPLICATION_ID, 1)


def test_a_failed_backup_leaves_the_v1_file_unmigrated(db_path: Path) -> None:
    make_v1(db_path).close()
    # something in the way of the temporary copy: a directory cannot be unlinked
    db_path.with_name("pollchat.db.v1-backup.partial").mkdir()
    with pytest.raises(StoreError) as info:
        Database.open(db_path)
    assert "back up" in str(info.value) and "\n" not in str(info.value)
    assert pragmas(db_path)[:2] == (APPLICATION_ID, 1)
    assert sorted(rows(db_path, "SELECT * FROM account")) == sorted(V1_ACCOUNTS)
    assert not db_path.with_name("pollchat.db.v1-backup").exists()


def test_a_failed_migration_rolls_back_to_v1(db_path: Path, monkeypatch) -> None:
    make_v1(db_path).close()
    broken = (MIGRATIONS[0], MIGRATIONS[1] + "; INSERT INTO no_such_table VALUES (1)")
    monkeypatch.setattr(schema_module, "MIGRATIONS", broken)
    with pytest.raises(StoreError):
        Database.open(db_path)
    assert pragmas(db_path)[:2] == (APPLICATION_ID, 1)
    assert sorted(rows(db_path, "SELECT * FROM account")) == sorted(V1_ACCOUNTS)
    monkeypatch.undo()
    with Database.open(db_path) as db:  # the real migration still works afterwards
        assert db.count_accounts() == 3


def test_v1_with_no_accounts_migrates(db_path: Path) -> None:
    make_v1(db_path, accounts=[]).close()
    with Database.open(db_path) as db:
        assert db.count_accounts() == 0
        assert db.create(registered("alice")).id == 1
    assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)


# --- account ids ----------------------------------------------------------------------------------


def test_ids_are_never_reused_after_delete(db_path: Path) -> None:
    with Database.open(db_path) as db:
        a, b, c = (db.create(registered(n)) for n in ("a", "b", "c"))
        assert (a.id, b.id, c.id) == (1, 2, 3)
        db.delete(c.id)
        assert db.find("c") is None
        assert db.count_accounts() == 2
        c2 = db.create(registered("c"))  # the name is free again, the id is not
        assert c2.id == 4
        db.delete(c2.id)
    with Database.open(db_path) as db:
        assert db.create(registered("d")).id == 5


def test_ids_are_never_reused_after_migration_and_delete(db_path: Path) -> None:
    make_v1(db_path).close()
    with Database.open(db_path) as db:
        db.delete(db.find("łukasz").id)  # id 3, the highest
        assert db.create(registered("carol")).id == 4


def test_delete_keeps_the_accounts_messages(db: Database) -> None:
    alice, bob = db.create(registered("alice")), db.create(registered("bob"))
    db.append_messages([chat(alice, "hi"), private(alice, bob, "psst")])
    db.delete(alice.id)
    assert [(r.sender_id, r.sender, r.text) for r in db.recent_public(10)] == [(alice.id, "alice", "hi")]
    assert [r.text for r in db.private_for(bob.id, 10)] == ["psst"]
    assert db.last_seen(alice.id) is None and db.created_at(alice.id) is None
    db.delete(alice.id)  # twice: nothing happens
    db.delete(999)


def test_directory_register_returns_the_stored_account(db: Database) -> None:
    directory = AccountDirectory([Account("user1", HASH, AccountKind.PRECONFIGURED)], db)
    bob = directory.register("Bob", HASH)
    assert bob is not None and bob.id >= 1
    assert directory.find("BOB") == bob == db.find("bob")
    assert directory.register("bob", HASH) is None
    assert directory.register("USER1", HASH) is None


def test_create_refuses_a_preconfigured_account(db: Database) -> None:
    with pytest.raises(ValueError):
        db.create(Account("user1", HASH, AccountKind.PRECONFIGURED))


# --- preconfigured accounts -----------------------------------------------------------------------


def preconfigured(*names: str) -> list[Account]:
    return [Account(name, HASH, AccountKind.PRECONFIGURED) for name in names]


def test_sync_preconfigured_gives_stable_ids(db_path: Path) -> None:
    with Database.open(db_path) as db:
        bob = db.create(registered("bob"))
        first = db.sync_preconfigured(preconfigured("user1", "user2", "user3"))
        assert [a.name for a in first] == ["user1", "user2", "user3"]
        assert all(a.kind is AccountKind.PRECONFIGURED and a.password_hash == HASH for a in first)
        ids = {a.name: a.id for a in first}
        assert len(set(ids.values()) | {bob.id}) == 4  # one id space for both kinds
        # preconfigured rows are no registered accounts
        assert db.count_accounts() == 1
        assert db.find("user1") is None
    with Database.open(db_path) as db:
        # the accounts file reordered, one name re-cased, one removed, one added
        again = db.sync_preconfigured(preconfigured("user3", "USER1", "user4"))
        assert [a.name for a in again] == ["user3", "USER1", "user4"]
        assert again[0].id == ids["user3"]
        assert again[1].id == ids["user1"]
        assert again[2].id not in set(ids.values()) | {bob.id}
        assert db.sync_preconfigured(preconfigured("user4", "user3")) == [again[2], again[0]]
    names = dict(rows(db_path, "SELECT id, name FROM account WHERE kind = 'preconfigured'"))
    assert names[ids["user1"]] == "USER1"  # the display name follows the file
    assert ids["user2"] in names  # a removed account keeps its row (and its history's ids)
    assert rows(db_path, "SELECT count(*) FROM account WHERE kind = 'preconfigured' AND password_hash IS NOT NULL") == [
        (0,)
    ]


def test_sync_preconfigured_with_a_registered_account_of_the_same_name(db: Database) -> None:
    """A registered account may predate the accounts file entry of the same name: both
    rows exist, with different ids; the accounts file wins in the directory."""
    registered_user1 = db.create(registered("user1"))
    [pre_user1] = db.sync_preconfigured(preconfigured("user1"))
    assert pre_user1.id != registered_user1.id
    assert db.find("user1") == registered_user1
    directory = AccountDirectory([pre_user1], db)
    assert directory.find("user1") is pre_user1


def test_sync_preconfigured_is_one_transaction(db: Database) -> None:
    statements: list[str] = []
    db._db.set_trace_callback(statements.append)
    db.sync_preconfigured(preconfigured("a", "b", "c"))
    db._db.set_trace_callback(None)
    assert sum(s.startswith("BEGIN") for s in statements) == 1
    assert sum(s == "COMMIT" for s in statements) == 1
    assert db.sync_preconfigured([]) == []


def test_preconfigured_rows_cannot_be_renamed_repassworded_or_deleted(db: Database) -> None:
    [user1] = db.sync_preconfigured(preconfigured("user1"))
    assert db.rename(user1.id, "other") is False
    db.set_password(user1.id, HASH)
    db.delete(user1.id)
    assert db.sync_preconfigured(preconfigured("user1")) == [user1]
    assert db.created_at(user1.id) is not None


# --- rename, password, last seen ------------------------------------------------------------------


def test_rename(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice, bob = db.create(registered("alice")), db.create(registered("bob"))
        db.append_messages([private(alice, bob, "before"), chat(alice, "public before")])
        assert db.rename(alice.id, "Alicia") is True
        assert db.find("alice") is None
        renamed = db.find("alicia")
        assert renamed == Account("Alicia", HASH, AccountKind.REGISTERED, alice.id)
        # the old name is free; the new one is taken
        assert db.create(registered("alice")).id not in (alice.id, bob.id)
        assert db.create(registered("ALICIA")) is None
        # history follows the id; the stored sender name is the one it was sent under
        [before] = db.private_for(alice.id, 10)
        assert (before.sender_id, before.sender, before.text) == (alice.id, "alice", "before")
        db.append_messages([private(renamed, bob, "after")])
        assert [(r.sender, r.text) for r in db.private_for(alice.id, 10)] == [("alice", "before"), ("Alicia", "after")]
    with Database.open(db_path) as db:
        assert db.find("alicia").id == alice.id


def test_rename_to_a_taken_name_is_refused(db: Database) -> None:
    alice, bob = db.create(registered("alice")), db.create(registered("bob"))
    assert db.rename(alice.id, "BOB") is False
    assert db.find("alice") == alice
    assert db.find("bob") == bob
    assert db.rename(999, "nobody") is False
    assert db.find("nobody") is None


def test_rename_to_another_case_of_ones_own_name(db: Database) -> None:
    alice = db.create(registered("alice"))
    assert db.rename(alice.id, "ALICE") is True
    assert db.find("alice") == Account("ALICE", HASH, AccountKind.REGISTERED, alice.id)
    assert db.rename(alice.id, "ALICE") is True  # to the very same name: still fine
    assert db.rename(alice.id, "Łukasz") is True
    assert db.find("łukasz").id == alice.id


def test_rename_ignores_preconfigured_rows_of_that_name(db: Database) -> None:
    """The accounts file decides about preconfigured names (AccountDirectory); a stale
    preconfigured row never blocks a registered name."""
    db.sync_preconfigured(preconfigured("user9"))
    alice = db.create(registered("alice"))
    assert db.rename(alice.id, "user9") is True


def test_set_password(db_path: Path) -> None:
    new_hash = HASH.replace("salt", "fresh")
    with Database.open(db_path) as db:
        alice, bob = db.create(registered("alice")), db.create(registered("bob"))
        assert db.set_password(alice.id, new_hash) is None
        assert db.find("alice").password_hash == new_hash
        assert db.find("bob") == bob
        db.set_password(999, new_hash)  # unknown id: nothing
    with Database.open(db_path) as db:
        assert db.find("alice") == dataclasses.replace(alice, password_hash=new_hash)


def test_last_seen(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice = db.create(registered("alice"))
        [user1] = db.sync_preconfigured(preconfigured("user1"))
        assert db.last_seen(alice.id) is None
        db.set_last_seen(alice.id, 1_700_000_000.25)
        db.set_last_seen(user1.id, 1_700_000_001.5)
        assert db.last_seen(alice.id) == 1_700_000_000.25
        db.set_last_seen(alice.id, 1_700_000_002.0)
        db.set_last_seen(999, 1.0)
        assert db.last_seen(999) is None
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    with Database.open(db_path) as db:
        assert db.last_seen(alice.id) == 1_700_000_002.0
        assert db.last_seen(user1.id) == 1_700_000_001.5


def test_created_at_is_utc_iso(db: Database) -> None:
    alice = db.create(registered("alice"))
    created = db.created_at(alice.id)
    assert created is not None and created.endswith("+00:00") and "T" in created
    assert db.created_at(999) is None


# --- message history ------------------------------------------------------------------------------


@pytest.fixture
def people(db: Database) -> tuple[Account, Account, Account]:
    return tuple(db.create(registered(name)) for name in ("alice", "bob", "carol"))  # type: ignore[return-value]


def test_append_and_recent_public(db: Database, people) -> None:
    alice, bob, carol = people
    records = [
        chat(alice, "one", 1.5),
        private(alice, bob, "secret", 2.0),
        chat(bob, "waves", 3.25, RecordKind.ACTION),
        chat(carol, "Zażółć gęślą jaźń ¯\\_(ツ)_/¯", 4.0),
        private(bob, carol, "also secret", 5.0),
    ]
    db.append_messages(records)
    assert db.count_messages() == 5
    public = db.recent_public(10)
    assert without_id(public) == [records[0], records[2], records[3]]
    assert [r.id for r in public] == sorted(r.id for r in public) and public[0].id >= 1
    assert db.recent_public(2) == public[1:]
    assert db.recent_public(1) == public[2:]
    assert db.recent_public(0) == []
    with pytest.raises(ValueError):
        db.recent_public(-1)
    db.append_messages([chat(alice, "later", 0.5)])  # an earlier clock: still the newest
    assert db.recent_public(1)[0].text == "later"
    assert db.recent_public(1)[0].id > public[-1].id


def texts(records: list[HistoryRecord]) -> list[str]:
    return [r.text for r in records]


def test_private_for(db: Database, people) -> None:
    alice, bob, carol = people
    db.append_messages(
        [
            private(alice, bob, "a->b 1"),
            chat(alice, "public"),
            private(bob, alice, "b->a"),
            private(bob, carol, "b->c"),
            private(alice, alice, "a->a"),
            private(carol, alice, "c->a"),
            private(alice, bob, "a->b 2"),
        ]
    )
    assert texts(db.private_for(alice.id, 10)) == ["a->b 1", "b->a", "a->a", "c->a", "a->b 2"]
    assert texts(db.private_for(alice.id, 3)) == ["a->a", "c->a", "a->b 2"]
    assert texts(db.private_for(bob.id, 10)) == ["a->b 1", "b->a", "b->c", "a->b 2"]
    assert texts(db.private_for(carol.id, 1)) == ["c->a"]
    assert db.private_for(alice.id, 0) == []
    assert db.private_for(999, 10) == []
    [first] = db.private_for(carol.id, 10)[:1]
    assert (first.kind, first.recipient_id, first.recipient) == (RecordKind.PRIVATE, carol.id, "carol")
    ids = [r.id for r in db.private_for(alice.id, 10)]
    assert ids == sorted(ids)
    with pytest.raises(ValueError):
        db.private_for(alice.id, -5)


def test_count_private_since(db: Database, people) -> None:
    alice, bob, carol = people
    db.append_messages(
        [
            private(alice, bob, "old", 100.0),
            private(alice, bob, "at", 200.0),
            private(carol, bob, "new", 300.0),
            private(bob, alice, "sent by bob", 400.0),
            chat(alice, "public", 500.0),
        ]
    )
    assert db.count_private_since(bob.id, 0.0) == 3
    assert db.count_private_since(bob.id, 200.0) == 1  # strictly after
    assert db.count_private_since(bob.id, 199.9) == 2
    assert db.count_private_since(bob.id, 300.0) == 0
    assert db.count_private_since(alice.id, 0.0) == 1
    assert db.count_private_since(carol.id, 0.0) == 0


def test_append_messages_is_one_transaction_with_normal_sync(db: Database, people) -> None:
    alice, bob, _ = people
    statements: list[str] = []
    db._db.set_trace_callback(statements.append)
    db.append_messages([chat(alice, str(i)) for i in range(50)] + [private(alice, bob, "x")])
    db._db.set_trace_callback(None)
    begin = statements.index("BEGIN IMMEDIATE")
    commit = statements.index("COMMIT")
    assert sum(s.startswith("BEGIN") for s in statements) == 1 and statements.count("COMMIT") == 1
    assert statements.index("PRAGMA synchronous=NORMAL") < begin < commit < statements.index("PRAGMA synchronous=FULL")
    assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert db.count_messages() == 51
    # account writes stay FULL
    statements.clear()
    db._db.set_trace_callback(statements.append)
    db.create(registered("dave"))
    db._db.set_trace_callback(None)
    assert not [s for s in statements if "synchronous" in s]


def test_append_messages_is_all_or_nothing(db: Database, people) -> None:
    alice = people[0]
    db.append_messages([])
    assert db.count_messages() == 0
    broken = HistoryRecord(1.0, RecordKind.CHAT, alice.id, "alice", None)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        db.append_messages([chat(alice, "fine"), broken])
    assert db.count_messages() == 0
    assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert not db._db.in_transaction
    db.append_messages([chat(alice, "fine")])
    assert db.count_messages() == 1


@pytest.mark.parametrize(
    "record",
    [
        HistoryRecord(1.0, RecordKind.PRIVATE, 1, "alice", "no recipient"),
        HistoryRecord(1.0, RecordKind.PRIVATE, 1, "alice", "no name", recipient_id=2),
        HistoryRecord(1.0, RecordKind.CHAT, 1, "alice", "public with recipient", 2, "bob"),
        HistoryRecord(1.0, RecordKind.ACTION, 1, "alice", "action with recipient", 2, "bob"),
    ],
    ids=["private-none", "private-no-name", "chat-to", "action-to"],
)
def test_inconsistent_records_are_refused(db: Database, people, record: HistoryRecord) -> None:
    """A private message stored as public would be shown to everyone: never."""
    alice = people[0]
    with pytest.raises(ValueError):
        db.append_messages([chat(alice, "fine"), record])
    assert db.count_messages() == 0


def test_prune_main_keeps_exactly_the_newest_main_chat_lines_in_batches(db: Database, people) -> None:
    """Issue 14: --history-keep is the main chat's limit; private and group lines are
    never pruned by it, however busy the main chat."""
    alice, bob, _ = people
    db.append_messages(
        [chat(alice, f"m{i}", float(i)) if i % 3 else private(alice, bob, f"p{i}", float(i)) for i in range(25)]
        + [HistoryRecord(30.0, RecordKind.CHAT, alice.id, "alice", "in a group", group_id=7)]
    )
    assert db.count_main() == 16
    newest_ids = [row[0] for row in db._db.execute(
        "SELECT id FROM message WHERE recipient_id IS NULL AND group_id IS NULL ORDER BY id DESC LIMIT 10")]
    assert [db.prune_main(10, batch=4) for _ in range(3)] == [4, 2, 0]
    assert db.count_main() == 10 and db.count_messages() == 10 + 9 + 1
    assert sorted(newest_ids) == [r.id for r in db.recent_public(100)]
    assert len(db.private_for(alice.id, 100)) == 9 and len(db.group_messages(7, 10)) == 1
    assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(ValueError):
        db.prune_main(-1)
    with pytest.raises(ValueError):
        db.prune_main(10, batch=0)


def test_prune_private_keeps_each_conversation_and_never_an_unread_message(db: Database, people) -> None:
    alice, bob, carol = people
    db.set_last_seen(bob.id, 10.0)  # bob read everything sent up to t=10
    db.append_messages(
        [private(alice, bob, f"a->b {t}", float(t)) for t in (1, 2, 11, 12)]  # two read, two unread
        + [private(bob, alice, "b->a", 3.0)]  # alice never logged out: unread
        + [private(carol, bob, "c->b", 1.0)]  # another conversation
    )
    assert db.prune_private(alice.id, bob.id, keep=1) == 2  # only the two bob has read
    assert texts(db.private_for(alice.id, 10)) == ["a->b 11", "a->b 12", "b->a"]
    assert db.prune_private(alice.id, bob.id, keep=1) == 0  # the rest is unread: kept beyond keep
    assert texts(db.private_for(carol.id, 10)) == ["c->b"]
    db.set_last_seen(alice.id, 5.0)
    db.set_last_seen(bob.id, 20.0)
    assert db.prune_private(bob.id, alice.id, keep=1, batch=1) == 1  # either order; at most batch
    assert db.prune_private(alice.id, bob.id, keep=1) == 1
    assert texts(db.private_for(alice.id, 10)) == ["b->a"]
    db.delete(bob.id)  # a deleted account has read everything (nobody will)
    assert db.prune_private(carol.id, bob.id, keep=0) == 1


def test_prune_group_keeps_each_group(db: Database, people) -> None:
    alice = people[0]
    db.append_messages(
        [HistoryRecord(float(i), RecordKind.CHAT, alice.id, "alice", f"g{g}-{i}", group_id=g) for i in range(5) for g in (1, 2)]
    )
    assert db.prune_group(1, keep=2, batch=2) == 2
    assert db.prune_group(1, keep=2) == 1
    assert texts(db.group_messages(1, 10)) == ["g1-3", "g1-4"] and len(db.group_messages(2, 10)) == 5
    assert db.conversations() == ([], [1, 2])


def test_conversations_lists_every_pair_once(db: Database, people) -> None:
    alice, bob, carol = people
    db.append_messages([private(alice, bob, "x"), private(bob, alice, "y"), private(carol, alice, "z"), chat(alice, "w")])
    assert db.conversations() == ([(alice.id, bob.id), (alice.id, carol.id)], [])


def test_history_survives_reopen(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice, bob = db.create(registered("alice")), db.create(registered("bob"))
        db.append_messages([chat(alice, "hi", 1.25), private(bob, alice, "psst", 2.5)])
        public, mine = db.recent_public(5), db.private_for(alice.id, 5)
    with Database.open(db_path) as db:
        assert db.recent_public(5) == public
        assert db.private_for(alice.id, 5) == mine
        assert db.count_private_since(alice.id, 2.0) == 1


def test_every_query_is_indexed_and_bounded(db: Database, people) -> None:
    """EXPLAIN QUERY PLAN of every statement the API runs: no full scan of a table, except
    ``count(*)`` of all messages (SQLite counts b-tree pages) and a ``LIMIT``-ed walk of
    the oldest rows by id."""
    alice, bob, _ = people
    db.append_messages([chat(alice, "x"), private(alice, bob, "y")])
    statements: list[str] = []
    db._db.set_trace_callback(statements.append)
    db.find("alice")
    db.find_lookalikes("alice")
    db.create(registered("dave"))
    db.count_accounts()
    db.sync_preconfigured(preconfigured("user1", "user2"))
    db.sync_preconfigured(preconfigured("USER1"))
    db.rename(alice.id, "alicia")
    db.set_password(alice.id, HASH)
    db.set_last_seen(alice.id, 1.0)
    db.last_seen(alice.id)
    db.created_at(alice.id)
    db.append_messages([chat(alice, "z")])
    db.recent_public(5)
    db.private_for(alice.id, 5)
    db.count_private_since(bob.id, 0.0)
    db.prune_main(1, batch=10)
    db.append_messages([private(alice, bob, "w", 0.5), HistoryRecord(1.0, RecordKind.CHAT, alice.id, "a", "g", group_id=1)])
    db.prune_private(alice.id, bob.id, 0, batch=10)
    db.prune_group(1, 0, batch=10)
    db.count_main()
    db.count_messages()
    db.delete(bob.id)
    db._db.set_trace_callback(None)
    checked = 0
    for statement in statements:
        if statement.split()[0].upper() not in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            continue
        plan = [row[3] for row in db._db.execute("EXPLAIN QUERY PLAN " + statement)]
        checked += 1
        for step in plan:
            if step.startswith(("SCAN message", "SCAN account")):
                bounded = statement == "SELECT count(*) FROM message" or (
                    "ORDER BY id LIMIT" in statement and step.startswith("SCAN message")
                )
                assert bounded, f"full scan in {statement!r}: {plan}"
    assert checked >= 18


# --- a model of the history: appends and prunes in any order ---------------------------------------

ACCOUNTS = (1, 2, 3)
message_steps = st.one_of(
    st.tuples(
        st.just("append"),
        st.lists(
            st.tuples(st.sampled_from(list(RecordKind)), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS)),
            max_size=6,
        ),
    ),
    st.tuples(st.just("prune"), st.tuples(st.integers(0, 12), st.integers(1, 5))),
)


@settings(max_examples=50)
@given(steps=st.lists(message_steps, max_size=12), n=st.integers(0, 15))
def test_history_matches_a_model(steps, n: int) -> None:
    """After any sequence of appends and main-chat prunes (each run until it returns 0),
    the store's recent_public, private_for, count_private_since and count_messages equal
    a list model's (pruning the main chat never touches private messages)."""
    model: list[HistoryRecord] = []
    counter = 0
    with tempfile.TemporaryDirectory() as tmp, Database.open(Path(tmp) / DATABASE_NAME) as db:
        for op, arg in steps:
            if op == "append":
                batch = []
                for kind, sender, recipient in arg:
                    counter += 1
                    to = (recipient, f"u{recipient}") if kind is RecordKind.PRIVATE else (None, None)
                    batch.append(HistoryRecord(float(counter), kind, sender, f"u{sender}", f"t{counter}", *to))
                db.append_messages(batch)
                model.extend(batch)
            else:
                keep, batch_size = arg
                deleted = 0
                while (step := db.prune_main(keep, batch=batch_size)) > 0:
                    assert step <= batch_size
                    deleted += step
                main = [r for r in model if r.kind is not RecordKind.PRIVATE]
                assert deleted == max(0, len(main) - keep)
                gone = {id(r) for r in main[: max(0, len(main) - keep)]}
                model = [r for r in model if id(r) not in gone]
        assert db.count_messages() == len(model)
        public = [r for r in model if r.kind is not RecordKind.PRIVATE]
        assert without_id(db.recent_public(n)) == (public[-n:] if n else [])
        for account in ACCOUNTS:
            mine = [r for r in model if r.kind is RecordKind.PRIVATE and account in (r.sender_id, r.recipient_id)]
            assert without_id(db.private_for(account, n)) == (mine[-n:] if n else [])
            to_me = [r for r in model if r.kind is RecordKind.PRIVATE and r.recipient_id == account]
            assert db.count_private_since(account, 3.0) == sum(r.ts > 3.0 for r in to_me)


# --- bans (schema 3) -------------------------------------------------------------------------


def test_bans_persist_expire_and_lift(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice = db.create(registered("alice"))
        bob = db.create(registered("bob"))
        db.set_ban(alice.id, None, "spam", "root", now=100.0)
        db.set_ban(bob.id, 200.0, "", "root", now=100.0)
        assert db.ban_of(alice.id, 10**9) == (None, "spam", "root")
        assert db.ban_of(bob.id, 199.0) == (200.0, "", "root")
        assert db.ban_of(bob.id, 200.0) is None  # expired at its end
    with Database.open(db_path) as db:  # survives a restart
        assert db.ban_of(alice.id, 500.0) == (None, "spam", "root")
        db.set_ban(alice.id, 300.0, "second thoughts", "root", now=150.0)  # replaces
        assert db.ban_of(alice.id, 250.0) == (300.0, "second thoughts", "root")
        assert db.clear_ban(alice.id) is True
        assert db.clear_ban(alice.id) is False
        assert db.ban_of(alice.id, 250.0) is None


# --- file modes (issue 14) ---------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_database_files_are_private_whatever_the_umask(db_path: Path, umask: int) -> None:
    """pollchat.db and its -wal and -shm hold every private message: mode 0600 even
    when the server runs with a permissive umask."""
    old = os.umask(umask)
    try:
        with Database.open(db_path) as db:
            db.create(registered("alice"))  # a write: the -wal and -shm exist now
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db_path.parent.iterdir()}
    finally:
        os.umask(old)
    assert modes == {"pollchat.db": 0o600, "pollchat.db-wal": 0o600, "pollchat.db-shm": 0o600}


# --- names: NFKC keys and skeletons (issue 14, schema 5) --------------------------------------------


def make_v4(path: Path, accounts: list[tuple[str, str]]) -> None:
    """A schema-4 database as the previous release left it: ``(kind, name)`` rows keyed
    with the NFC key of that release (:func:`legacy_key`)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN")
        for script in MIGRATIONS[:4]:
            for statement in database_module._statements(script):
                db.execute(statement)
        for kind, name in accounts:
            db.execute(
                "INSERT INTO account (key, name, kind, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (legacy_key(name), name, kind, HASH if kind == "registered" else None, "2026-01-01T00:00:00+00:00"),
            )
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute("PRAGMA user_version=4")
        db.execute("COMMIT")
    finally:
        db.close()


def test_v4_database_gets_nfkc_keys_and_keeps_both_accounts_of_a_collision(db_path: Path) -> None:
    """Keys are normalised on load; an old account whose NFKC key another one has keeps
    its old key (and so still logs in with the spelling it always used), and the pair is
    reported for the operator's log."""
    make_v4(db_path, [("registered", "alice"), ("registered", "ａｌｉｃｅ"), ("registered", "ｃａｒｏｌ"),
                      ("registered", "rооt"), ("preconfigured", "ｕｓｅｒ1")])
    with Database.open(db_path) as db:
        assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)
        alice, fullwidth, carol = db.find("alice"), db.find("ａｌｉｃｅ"), db.find("carol")
        assert (alice.name, alice.id, alice.key) == ("alice", 1, "alice")
        assert (fullwidth.name, fullwidth.id, fullwidth.key) == ("ａｌｉｃｅ", 2, "ａｌｉｃｅ")  # its old key
        assert (carol.name, carol.id, carol.key) == ("ｃａｒｏｌ", 3, "carol")  # the name is kept, the key is new
        assert db.find("ｃａｒｏｌ") is None  # the store only looks up keys; the directory tries both
        assert db.name_collisions == [("alice", "ａｌｉｃｅ")]
        assert {a.id for a in db.find_lookalikes(skeleton("alice"))} == {1, 2}
        assert [a.id for a in db.find_lookalikes(skeleton("root"))] == [4]
        assert db.find_lookalikes(skeleton("user1")) == []  # registered accounts only
        directory = AccountDirectory([], db)
        assert directory.find("ａｌｉｃｅ").id == 2 and directory.find("alice").id == 1
        assert directory.find("ｃａｒｏｌ").id == 3 == directory.find("CAROL").id
    assert db_path.with_name("pollchat.db.v4-backup").exists()
    assert sorted(r[0] for r in rows(db_path, "SELECT key FROM account WHERE kind = 'preconfigured'")) == ["user1"]
    with Database.open(db_path) as db:  # every start reports it while both exist
        assert db.name_collisions == [("alice", "ａｌｉｃｅ")]
        db.delete(2)
    with Database.open(db_path) as db:
        assert db.name_collisions == []


def test_skeletons_follow_creates_and_renames(db: Database) -> None:
    bob = db.create(registered("bob"))
    assert db.find_lookalikes(skeleton("b0b")) == [bob]
    assert db.rename(bob.id, "bobby")
    assert db.find_lookalikes(skeleton("b0b")) == []
    assert [a.name for a in db.find_lookalikes(skeleton("b0bby"))] == ["bobby"]


def test_v5_database_gets_the_retention_indexes(db_path: Path) -> None:
    """Schema 5 -> 6 (issue 14): a backup first, the messages kept, the per-kind
    indexes made."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    for script in MIGRATIONS[:5]:
        for statement in database_module._statements(script):
            db.execute(statement)
    db.execute("INSERT INTO message (ts, kind, sender_id, sender, recipient_id, recipient, text) VALUES (1, 'private', 1, 'a', 2, 'b', 'kept')")
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=5")
    db.execute("COMMIT")
    db.close()
    with Database.open(db_path) as opened:
        assert texts(opened.private_for(2, 5)) == ["kept"]
    assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)  # 6 and on
    indexes = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"message_main", "message_pair"} <= indexes
    assert rows(db_path.with_name("pollchat.db.v5-backup"), "PRAGMA user_version") == [(5,)]


def test_address_bans_persist_until_they_end(db_path: Path) -> None:
    """Issue 14: a ban of an address or network survives a restart; an ended one is not
    loaded again."""
    with Database.open(db_path) as db:
        db.set_address_ban("192.0.2.0/24", None, "spam", "root", 100.0)
        db.set_address_ban("2001:db8:1:2::/64", 200.0, "", "root", 100.0)
        db.set_address_ban("198.51.100.7/32", 150.0, "flood", "root", 100.0)
        db.clear_address_ban("198.51.100.7/32")
    with Database.open(db_path) as db:
        assert db.address_bans(150.0) == [("192.0.2.0/24", None, "spam", "root"), ("2001:db8:1:2::/64", 200.0, "", "root")]
        assert db.address_bans(250.0) == [("192.0.2.0/24", None, "spam", "root")]


# --- a database file deleted or replaced while open (audit finding) -----------------------------


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def test_a_deleted_database_refuses_every_write_and_says_so_once(db_path: Path, caplog) -> None:
    with Database.open(db_path) as db:
        alice = db.create(registered("alice"))
        assert alice is not None
        _remove_database(db_path)
        with caplog.at_level("CRITICAL", logger="pollchat.store"):
            with pytest.raises(StoreError, match="deleted"):
                db.create(registered("bob"))
            with pytest.raises(StoreError):
                db.set_password(alice.id, HASH)
            with pytest.raises(StoreError):
                db.append_messages([chat(alice, "lost")])
            with pytest.raises(StoreError):
                db.create_group("tea", "public", alice.id, 1.0)
        assert [r.levelname for r in caplog.records] == ["CRITICAL"]
        assert str(db_path) in caplog.records[0].getMessage()
        assert db.find("alice") == alice  # reads still answer from the open file


def test_a_replaced_database_refuses_writes(db_path: Path) -> None:
    with Database.open(db_path) as db:
        other = db_path.with_name("other.db")
        Database.open(other).close()
        os.replace(other, db_path)
        with pytest.raises(StoreError, match="replaced"):
            db.create(registered("bob"))
    with Database.open(db_path) as db:
        assert db.find("bob") is None


def test_a_database_moved_away_refuses_writes(db_path: Path) -> None:
    with Database.open(db_path) as db:
        os.rename(db_path, db_path.with_name("moved.db"))
        with pytest.raises(StoreError, match="moved away"):
            db.set_ban(1, None, "spam", "admin", 1.0)


# --- search (schema 8) ----------------------------------------------------------------------------


def test_the_previous_schema_gets_a_filled_search_index(db_path: Path) -> None:
    """The last migration: a backup first, the index filled for the messages already
    there, and kept in step with what is written and pruned afterwards."""
    previous = SCHEMA_VERSION - 1
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    for script in MIGRATIONS[:previous]:
        for statement in database_module._statements(script):
            db.execute(statement)
    db.execute("INSERT INTO message (ts, kind, sender_id, sender, text) VALUES (1, 'chat', 1, 'a', 'Crème brûlée tonight')")
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute(f"PRAGMA user_version={previous}")
    db.execute("COMMIT")
    db.close()
    with Database.open(db_path) as opened:
        assert texts(opened.search_messages(1, ["creme", "brulee"], 5)) == ["Crème brûlée tonight"]
        opened.append_messages([HistoryRecord(2.0, RecordKind.CHAT, 1, "a", "CREME again")])
        assert texts(opened.search_messages(1, ["crème"], 5)) == ["CREME again", "Crème brûlée tonight"]
        assert opened.prune_main(1) == 1
        assert texts(opened.search_messages(1, ["creme"], 5)) == ["CREME again"]
    assert pragmas(db_path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)
    assert rows(db_path.with_name(f"pollchat.db.v{previous}-backup"), "PRAGMA user_version") == [(previous,)]


def test_without_fts5_the_search_reads_the_messages_with_like(db_path: Path, monkeypatch) -> None:
    """A build of SQLite without FTS5: the migration leaves the index out, and search
    looks for each word anywhere in the text (``%`` and ``_`` taken literally)."""
    monkeypatch.setattr(schema_module, "has_fts5", lambda db: False)
    monkeypatch.setattr(messages_module, "has_fts5", lambda db: False)
    with Database.open(db_path) as db:
        db.append_messages([
            HistoryRecord(1.0, RecordKind.CHAT, 1, "a", "Lunch at 12"),
            HistoryRecord(2.0, RecordKind.CHAT, 1, "a", "lunch_box 100%"),
            HistoryRecord(3.0, RecordKind.CHAT, 1, "a", "no match"),
        ])
        assert texts(db.search_messages(1, ["lunch"], 5)) == ["lunch_box 100%", "Lunch at 12"]
        assert texts(db.search_messages(1, ["lunch", "12"], 5)) == ["Lunch at 12"]
        assert db.search_messages(1, ["l_nch"], 5) == []
    names = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master")}
    assert "message_search" not in names and "message_conversation" in names


def test_statements_keep_a_trigger_whole() -> None:
    script = "CREATE TABLE t (x); CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END; SELECT ';'"
    assert schema_module._statements(script) == [
        "CREATE TABLE t (x)", "CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END", "SELECT ';'",
    ]


def test_read_marks_and_the_receipts_setting_survive_a_reopen(db_path: Path) -> None:
    with Database.open(db_path) as db:
        ann, ben = db.create(registered("ann")), db.create(registered("ben"))
        assert db.receipts_off_accounts() == []
        assert db.mark_read(ben.id, ann.id, 10.0) == 10.0
        assert db.mark_read(ben.id, ann.id, 5.0) == 10.0  # never back
        db.set_receipts(ben.id, False)
    with Database.open(db_path) as db:
        assert db.receipts_off_accounts() == [ben.id]
        assert db.read_by_others(ann.id) == [(ben.id, "ben", 10.0)]
        assert db.read_by_others(ben.id) == []
