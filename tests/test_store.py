"""The SQLite store of registered accounts: :class:`pollchat.store.database.Database`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.store.database import APPLICATION_ID, DATABASE_NAME, SCHEMA_VERSION, Database

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
    assert SCHEMA_VERSION >= 1


def test_new_database_identifies_itself(db_path: Path) -> None:
    with Database.open(db_path) as db:
        assert db.path == db_path
        assert db.count_accounts() == 0
    assert pragmas(db_path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")


def test_create_and_find_round_trip(db_path: Path) -> None:
    with Database.open(db_path) as db:
        alice = registered("Alice", HASH)
        assert db.create(alice) is True
        found = db.find(alice.key)
        assert found is not None
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
        assert db.create(registered("alice", other_hash)) is False
        # case-different spelling of the same name: same key, refused too
        assert db.create(registered("ALICE", other_hash)) is False
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
    assert db.create(registered("Alice"))
    assert db.create(registered("bob"))
    db.close()
    db.close()  # safe twice

    with Database.open(db_path) as db:
        assert db.count_accounts() == 2
        assert db.find("alice").name == "Alice"
        assert db.find("bob").password_hash == HASH
        assert db.create(registered("bob")) is False
    assert pragmas(db_path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")


def test_create_is_visible_to_another_connection_at_once(db_path: Path) -> None:
    """Registration is committed before create() returns (durable before acknowledged)."""
    with Database.open(db_path) as db:
        assert db.create(registered("Alice"))
        other = sqlite3.connect(db_path)
        try:
            rows = other.execute("SELECT key, name, password_hash FROM account").fetchall()
        finally:
            other.close()
        assert rows == [("alice", "Alice", HASH)]


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
