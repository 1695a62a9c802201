"""``pollchat-server migrate --to postgresql://...`` (pollchat.store.migrate) against the
real PostgreSQL test server (tests/postgres.py): everything copied and equal on both
sides, ids never reused afterwards, and each refusal (a non-empty or foreign target, a
running server, a password on the command line, psycopg missing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.groups import PendingChange
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.protocol.names import name_key, skeleton
from pollchat.server.cli import main
from pollchat.store import postgres
from pollchat.store.database import DATABASE_NAME, Database
from pollchat.store.lock import DataDirLock
from tests.postgres import PASSWORD

pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")

HASH = "pbkdf2_sha256$1000$salt$" + "A" * 43 + "="
T = 1_700_000_000.0


def fill(data_dir: Path) -> dict[str, object]:
    """A SQLite database with a row in every table; what the server would read back."""
    with Database.open(data_dir / DATABASE_NAME) as db:
        ann, bob, gone, cat = (db.create(Account(n, HASH + n, AccountKind.REGISTERED)) for n in ("Ann", "bob", "gone", "cat"))
        assert ann and bob and gone and cat
        db.delete(gone.id)  # its id must never come back
        (user1,) = db.sync_preconfigured([Account("user1", HASH, AccountKind.PRECONFIGURED)])
        db.set_last_seen(ann.id, T + 3)
        db.append_messages([
            HistoryRecord(T, RecordKind.CHAT, ann.id, "Ann", "hello"),
            HistoryRecord(T + 1, RecordKind.PRIVATE, bob.id, "bob", "psst", ann.id, "Ann"),
            HistoryRecord(T + 2, RecordKind.ACTION, user1.id, "user1", "waves"),
        ])
        tea = db.create_group("tea", "private", ann.id, T)
        db.add_member(tea, cat.id, T + 5)
        db.add_member(tea, bob.id, T + 5)  # same time: joining order must stay
        db.append_messages([HistoryRecord(T + 6, RecordKind.CHAT, bob.id, "bob", "in tea", group_id=tea)])
        old = db.create_group("old", "public", bob.id, T)
        db.delete_group(old, T + 1)
        db.add_request(db.create_group("bar", "public", cat.id, T), ann.id, T + 7)
        db.add_group_ban(tea, user1.id, "Ann", T)
        db.set_ban(cat.id, None, "spam", "root", T)
        db.set_address_ban("192.0.2.0/24", T + 99, "bots", "root", T)
        db.queue_change(bob.id, PendingChange("kicked", "tea", "bob", "Ann", T))
        return snapshot(db, ann, bob)


def snapshot(db, ann: Account, bob: Account) -> dict[str, object]:
    return {
        "accounts": [db.find(k) for k in ("ann", "bob", "cat", "gone")],
        "count": db.count_accounts(),
        "last_seen": db.last_seen(ann.id),
        "public": db.recent_public(10),
        "private": db.private_for(ann.id, 10),
        "groups": sorted(db.load_groups(), key=lambda g: g.id),
        "ban": db.ban_of(db.find("cat").id, T),
        "address_bans": db.address_bans(T),
        "messages": db.count_messages(),
        "conversations": db.conversations(),
    }


def migrate(data_dir: Path, url: str, capsys) -> tuple[int, str, str]:
    status = main(["migrate", "--to", url, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return status, out, err


def test_everything_is_copied_and_reads_back_the_same(tmp_path: Path, pg_url: str, capsys) -> None:
    expected = fill(tmp_path)
    status, out, err = migrate(tmp_path, pg_url, capsys)
    assert status == 0, err
    assert out.startswith(f"migrated {tmp_path / DATABASE_NAME} to {pg_url}: account 4, message 4, ban 1,")
    assert "copied account: 4 row(s)" in err
    with postgres.open_postgres(pg_url) as db:
        ann, bob = db.find("ann"), db.find("bob")
        assert ann is not None and bob is not None
        assert snapshot(db, ann, bob) == expected
        assert db.take_changes(bob.id) == [PendingChange("kicked", "tea", "bob", "Ann", T)]
        newcomer = db.create(Account("dan", HASH, AccountKind.REGISTERED))
        assert newcomer is not None and newcomer.id == 6  # after the deleted 'gone' (id 3) and user1 (5)
        assert db.create_group("new", "public", ann.id, T) == 4
    assert (tmp_path / DATABASE_NAME).exists()  # the SQLite file stays


def test_old_lookalikes_are_kept_and_new_ones_refused(tmp_path: Path, pg_url: str, capsys) -> None:
    Database.open(tmp_path / DATABASE_NAME).close()
    raw = sqlite3.connect(tmp_path / DATABASE_NAME)
    with raw:  # two accounts from before the lookalike check
        for name in ("paul", "pau1"):
            raw.execute(
                "INSERT INTO account (key, name, kind, password_hash, created_at, skeleton)"
                " VALUES (?, ?, 'registered', ?, '2024-01-01T00:00:00+00:00', ?)",
                (name_key(name), name, HASH, skeleton(name)),
            )
    raw.close()
    assert migrate(tmp_path, pg_url, capsys)[0] == 0
    with postgres.open_postgres(pg_url) as db:
        assert [a.name for a in db.find_lookalikes(skeleton("paul"))] == ["paul", "pau1"]
        assert db.create(Account("PAUL", HASH, AccountKind.REGISTERED)) is None  # a taken key
        assert skeleton("раul") == skeleton("paul")  # Cyrillic р and а
        assert db.create(Account("раul", HASH, AccountKind.REGISTERED)) is None  # a new lookalike


def test_a_non_empty_target_is_refused_and_left_alone(tmp_path: Path, pg_url: str, capsys) -> None:
    fill(tmp_path)
    assert migrate(tmp_path, pg_url, capsys)[0] == 0
    status, out, err = migrate(tmp_path, pg_url, capsys)
    assert (status, out) == (1, "")
    assert "is not empty" in err and err.count("\n") == 1
    with postgres.open_postgres(pg_url) as db:
        assert db.count_accounts() == 3  # ann, bob, cat: not twice


def test_refused_while_a_server_holds_the_data_directory(tmp_path: Path, pg_url: str, capsys) -> None:
    fill(tmp_path)
    lock = DataDirLock.acquire(tmp_path)
    try:
        status, _, err = migrate(tmp_path, pg_url, capsys)
    finally:
        lock.release()
    assert status == 2 and "stop it before migrating" in err
    with postgres.open_postgres(pg_url) as db:  # nothing was written
        assert db.count_accounts() == 0


def test_a_password_on_the_command_line_is_refused_unechoed(tmp_path: Path, capsys) -> None:
    status, _, err = migrate(tmp_path, f"postgresql://pollchat:{PASSWORD}@127.0.0.1/db", capsys)
    assert status == 2 and "PGPASSWORD" in err and PASSWORD not in err


def test_no_sqlite_database_is_an_error(tmp_path: Path, pg_url: str, capsys) -> None:
    status, _, err = migrate(tmp_path / "empty", pg_url, capsys)
    assert status == 1 and "no database at" in err


def test_without_psycopg_one_line_names_the_extra(tmp_path: Path, capsys, monkeypatch) -> None:
    fill(tmp_path)
    monkeypatch.setattr(postgres, "psycopg", None)
    status, _, err = migrate(tmp_path, "postgresql://pollchat@127.0.0.1/db", capsys)
    assert status == 1 and err.count("\n") == 1 and "pip install 'pollchat[postgres]'" in err


def test_backup_of_a_postgresql_database_names_pg_dump(tmp_path: Path, capsys) -> None:
    status = main(["backup", str(tmp_path), "--database", "postgresql://pollchat@db.example/chat"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"pg_dump --format=custom --file={tmp_path / 'pollchat.dump'} postgresql://pollchat@db.example/chat" in err


def test_the_documented_pg_dump_recipe_restores_a_working_database(tmp_path: Path, pg_server, pg_url: str, capsys) -> None:
    """docs/operations.md, "PostgreSQL": pg_dump --format=custom, then pg_restore into an
    empty database; the password comes from PGPASSWORD (set by the fixture)."""
    import shlex
    import subprocess

    import psycopg

    from pollchat.server.subcommands.backup import pg_dump_command

    fill(tmp_path)
    assert migrate(tmp_path, pg_url, capsys)[0] == 0
    dump = tmp_path / "pollchat.dump"
    command = shlex.split(pg_dump_command(pg_url, dump))
    subprocess.run([str(pg_server.bin_dir / command[0]), *command[1:]], check=True, timeout=60)
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS restored_copy")
        admin.execute("CREATE DATABASE restored_copy")
    try:
        restored = pg_server.url("restored_copy")
        subprocess.run(
            [str(pg_server.bin_dir / "pg_restore"), "--no-owner", f"--dbname={restored}", str(dump)], check=True, timeout=60
        )
        with postgres.open_postgres(pg_url) as original, postgres.open_postgres(restored) as copy:
            ann, bob = original.find("ann"), original.find("bob")
            assert snapshot(copy, ann, bob) == snapshot(original, ann, bob)
            assert copy.create(Account("dan", HASH, AccountKind.REGISTERED)).id == 6  # counters restored too
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS restored_copy WITH (FORCE)")
