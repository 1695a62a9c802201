"""What only the PostgreSQL engine has to check (pollchat.store.postgres): whose
database it is, its schema version, connection failures in one line without the
password, and psycopg being optional. The shared behaviour is in test_store_contract.py."""

from __future__ import annotations

import threading

import pytest

from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.store import postgres
from pollchat.store.postgres import SCHEMA_VERSION, open_postgres
from pollchat.store.urls import redact
from tests.postgres import PASSWORD, PgServer

HASH = 'pbkdf2_sha256$1000$salt$' + 'A' * 43 + '='

psycopg = pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")


def test_a_new_database_gets_the_schema_and_its_identity(pg_url: str) -> None:
    open_postgres(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        meta = dict(conn.execute("SELECT key, value FROM pollchat_meta").fetchall())
    assert meta == {"application": "pollchat", "schema_version": str(SCHEMA_VERSION)}


def test_another_applications_database_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match="another application"):
        open_postgres(pg_url)
    with psycopg.connect(pg_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
    assert tables == ["invoices"]


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([("application", "other"), ("schema_version", "1")], "not a pollchat database"),
        ([("application", "pollchat"), ("schema_version", str(SCHEMA_VERSION + 1))], "newer than this pollchat"),
    ],
)
def test_a_foreign_or_newer_identity_is_refused(pg_url: str, rows: list[tuple[str, str]], words: str) -> None:
    open_postgres(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM pollchat_meta")
        for row in rows:
            conn.execute("INSERT INTO pollchat_meta VALUES (%s, %s)", row)
    with pytest.raises(StoreError, match=words):
        open_postgres(pg_url)


def test_a_database_made_before_ignore_lists_gets_their_table_when_opened(pg_url: str) -> None:
    open_postgres(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as the version before ignore lists left it
        conn.execute("DROP TABLE account_ignore")
        conn.execute("UPDATE pollchat_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    db = open_postgres(pg_url)
    try:
        db.add_ignore(1, 2, 0.0)
        assert db.ignored_ids(1) == [2]
    finally:
        db.close()
    with psycopg.connect(pg_url) as conn:
        meta = dict(conn.execute("SELECT key, value FROM pollchat_meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_two_servers_starting_on_one_empty_database_both_open_it(pg_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        try:
            barrier.wait(30)
            open_postgres(pg_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_an_unreachable_server_is_one_line_without_the_password(pg_server: PgServer) -> None:
    url = f"postgresql://pollchat:{PASSWORD}@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as info:
        open_postgres(url)
    message = str(info.value)
    assert "\n" not in message and PASSWORD not in message and "cannot connect" in message


def test_a_wrong_password_is_refused_in_one_line(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(StoreError, match="cannot connect"):
        open_postgres(pg_server.url())


def test_without_psycopg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'pollchat\[postgres\]'"):
        open_postgres("postgresql://u@127.0.0.1/db")


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("postgres://h/db") == "postgres://h/db"


def test_a_database_two_schemas_old_is_upgraded_one_version_at_a_time(pg_url: str) -> None:
    """What SQLite's last two migrations add (the search index and read receipts, then
    ignore lists) is added to a PostgreSQL database of schema 7, in place, at the next open."""
    open_postgres(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to schema 7
        conn.execute("DROP INDEX message_search; DROP INDEX message_conversation; DROP TABLE read_mark")
        conn.execute("ALTER TABLE account DROP COLUMN receipts")
        conn.execute("DROP TABLE account_ignore")
        conn.execute("UPDATE pollchat_meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 2),))
        conn.execute(
            "INSERT INTO message (ts, kind, sender_id, sender, text) VALUES (1, 'chat', 1, 'ann', 'lunch before')"
        )
    db = open_postgres(pg_url)
    try:
        assert [r.text for r in db.search_messages(1, ["lunch"], 5)] == ["lunch before"]
        db.append_messages([HistoryRecord(2.0, RecordKind.CHAT, 1, "ann", "lunch after")])
        assert [r.text for r in db.search_messages(1, ["lunch"], 5)] == ["lunch after", "lunch before"]
        assert db.mark_read(2, 1, 3.0) == 3.0 and db.receipts_off_accounts() == []
        db.add_ignore(1, 2, 0.0)
        assert db.ignored_ids(1) == [2]
    finally:
        db.close()
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SELECT value FROM pollchat_meta WHERE key = 'schema_version'").fetchone()[0]
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'message'")}
    assert version == str(SCHEMA_VERSION) and {"message_search", "message_conversation"} <= indexes


def test_a_lost_connection_fails_one_call_then_reconnects(pg_server: PgServer, pg_url: str, caplog) -> None:
    db = open_postgres(pg_url)
    try:
        alice = db.create(Account("alice", HASH, AccountKind.REGISTERED))
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:  # the server drops us
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'pollchat' AND datname = %s",
                (pg_url.rsplit("/", 1)[1],),
            )
        with caplog.at_level("WARNING", logger="pollchat.store"):
            with pytest.raises(StoreError):
                db.find("alice")
            assert db.find("alice") == alice  # reconnected
        assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    finally:
        db.close()


def test_an_unreachable_database_fails_fast_between_attempts(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db = open_postgres(pg_url)
    try:
        db.url = "postgresql://pollchat@127.0.0.1:1/gone"  # where a reconnection now goes
        db._conn.close()
        with pytest.raises(StoreError):
            db.count_accounts()  # notices the loss
        with pytest.raises(StoreError, match="cannot connect"):
            db.count_accounts()  # one attempt
        attempts: list[str] = []
        monkeypatch.setattr(postgres, "connect", lambda url, timeout=10: attempts.append(url))
        with pytest.raises(StoreError, match="unavailable"):
            db.count_accounts()  # too soon: no attempt
        assert attempts == []
    finally:
        db.close()
