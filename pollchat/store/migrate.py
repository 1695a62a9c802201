"""Copy a SQLite database into an empty PostgreSQL database (``pollchat-server migrate``).

The SQLite file is first opened as the server opens it (so it is migrated to the current
schema, with its backup, and its names normalised), then read in one read transaction.
Everything goes to PostgreSQL in ONE transaction: the schema (if the target is empty),
every table in id order -- accounts with their password hashes, bans, history, groups,
memberships and requests in joining order, offline changes -- and the identity counters
set past the highest id SQLite ever gave (its ``sqlite_sequence``, so an id freed by a
delete is never given again). The row counts of every table are compared before the
commit; any difference rolls everything back.

Registered accounts that are lookalikes of an older one (same confusable skeleton; they
predate the lookalike check) are kept and marked ``lookalike_allowed``, the only rows
PostgreSQL's unique skeleton index does not cover.

A target that already holds pollchat data, or another application's tables, is refused
and left as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pollchat.errors import StoreError
from pollchat.store.database import Database
from pollchat.store.postgres import TABLES, check_schema, connect, redact

COPIED: dict[str, tuple[str, str]] = {
    # table -> (its columns, copied in this order; the ORDER BY that keeps SQLite's order)
    "account": ("id, key, name, kind, password_hash, created_at, last_seen, skeleton, receipts", "id"),
    "message": ("id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id", "id"),
    "ban": ('account_id, until, reason, "by", created', "account_id"),
    "address_ban": ('network, until, reason, "by", created', "network"),
    "chat_group": ("id, key, name, visibility, owner_id, topic, created, deleted", "id"),
    "group_member": ("group_id, account_id, joined", "rowid"),  # joining order
    "group_ban": ('group_id, account_id, "by", created', "group_id, account_id"),
    "group_request": ("group_id, account_id, created", "rowid"),  # asking order
    "pending_change": ('id, account_id, change, group_name, name, "by", at', "id"),
    "read_mark": ("reader_id, partner_id, until", "reader_id, partner_id"),
    "account_ignore": ("account_id, ignored_id, created", "account_id, ignored_id"),
}
"""Every table and what is copied of it (the PostgreSQL identity ``seq`` of members and
requests is assigned in copy order)."""

IDENTITIES = ("account", "message", "chat_group", "pending_change")
"""Tables whose ``id`` PostgreSQL generates; their counters are moved past SQLite's."""


def migrate_to_postgres(sqlite_path: Path, url: str, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Copy the SQLite database at ``sqlite_path`` into the empty PostgreSQL database
    ``url`` (see the module docstring). The caller holds the data-directory lock.

    Returns:
        The number of rows copied per table (equal on both sides).

    Raises:
        StoreError: no such SQLite file, it is not a usable pollchat database, the
            target cannot be reached, is another application's or already holds
            pollchat data, or the copy failed or its counts differ (nothing is left
            in the target).
    """
    if not sqlite_path.is_file():
        raise StoreError(f"no database at {sqlite_path} (see --data-dir)")
    Database.open(sqlite_path).close()  # the current schema, names normalised
    source = sqlite3.connect(f"{sqlite_path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    target = connect(url)
    try:
        check_schema(target, url, create=False)
        _refuse_data(target, url)
        source.execute("BEGIN")  # one snapshot of every table
        counts = {table: source.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COPIED}
        with target.transaction():
            if check_schema(target, url, create=True) == 0:  # pragma: no cover - create=True never answers 0
                raise StoreError("the schema was not created")
            for table, (columns, order) in COPIED.items():
                rows: Iterable[tuple[Any, ...]] = source.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
                if table == "account":
                    rows = _mark_lookalikes(rows)
                    columns += ", lookalike_allowed"
                _copy(target, table, columns, rows)
                if progress is not None:
                    progress(f"{table}: {counts[table]} row(s)")
            _move_counters(source, target)
            copied = {table: target.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COPIED}
            if copied != counts:
                wrong = [f"{t} {counts[t]} -> {copied[t]}" for t in COPIED if copied[t] != counts[t]]
                raise StoreError(f"the copy's row counts differ ({', '.join(wrong)}); nothing was migrated")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {sqlite_path}: {exc}") from None
    except StoreError:
        raise
    except Exception as exc:  # psycopg's errors: the transaction was rolled back
        raise StoreError(f"cannot migrate to {redact(url)}: {(str(exc).splitlines() or [repr(exc)])[0]}") from None
    finally:
        source.close()
        target.close()
    return counts


def _refuse_data(target: Any, url: str) -> None:
    """Refuse a target whose pollchat tables hold any row."""
    tables = {row[0] for row in target.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )}
    for table in TABLES:
        if table in tables and target.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
            raise StoreError(f"{redact(url)} is not empty (table {table} has rows); migrate only into an empty database")


def _mark_lookalikes(rows: Iterable[tuple[Any, ...]]) -> Iterable[tuple[Any, ...]]:
    """The account rows with ``lookalike_allowed`` appended: true for a registered
    account whose skeleton an older registered account has."""
    seen: set[str] = set()
    for row in rows:
        kind, shape = row[3], row[7]
        allowed = kind == "registered" and shape in seen
        if kind == "registered":
            seen.add(shape)
        yield (*row[:8], bool(row[8]), allowed)  # receipts: SQLite's 0/1, PostgreSQL's boolean


def _copy(target: Any, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with target.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _move_counters(source: sqlite3.Connection, target: Any) -> None:
    """Set each identity past the highest id SQLite used (``sqlite_sequence`` remembers
    deleted ones for ``AUTOINCREMENT`` tables)."""
    used = dict(source.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    for table in IDENTITIES:
        highest = max(used.get(table, 0), source.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
        if highest > 0:
            target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (highest,))
