"""The group tables of the database (pollchat.store.groups, schema 4) on a real SQLite
file: groups and their members, hand-over, deletion (the row and the messages stay, the
name is freed), unique live names, bans, join requests, changes kept for offline
accounts (capped), forgetting a deleted account, group history, and the migration of a
schema-3 database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.groups import Groups, Member, PendingChange, Visibility
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.errors import StoreConflict, StoreError
from pollchat.core.seats import AccountKind
from pollchat.store.database import (
    APPLICATION_ID,
    DATABASE_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Database,
)
from pollchat.store.groups import MAX_PENDING_CHANGES

HASH = "pbkdf2_sha256$1000$salt$" + "A" * 43 + "="
T = 1_700_000_000.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DATABASE_NAME


@pytest.fixture
def db(db_path: Path):
    with Database.open(db_path) as database:
        yield database


def account(db: Database, name: str) -> Account:
    stored = db.create(Account(name, HASH, AccountKind.REGISTERED))
    assert stored is not None
    return stored


@pytest.fixture
def people(db: Database) -> dict[str, Account]:
    return {name: account(db, name) for name in ("ann", "bob", "cat", "dan")}


def rows(path: Path, sql: str, *args: object) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def only(db: Database):
    (group,) = db.load_groups()
    return group


def member_names(group) -> list[str]:
    return [m.name for m in group.members.values()]


# --- groups and members -----------------------------------------------------------------------------


def test_a_new_group_is_loaded_with_its_owner_as_only_member(db: Database, people: dict[str, Account]) -> None:
    ann = people["ann"]
    group_id = db.create_group("Tea", "private", ann.id, T)
    assert group_id >= 1
    group = only(db)
    assert (group.id, group.name, group.visibility, group.owner_id, group.topic) == (
        group_id,
        "Tea",
        Visibility.PRIVATE,
        ann.id,
        "",
    )
    assert list(group.members.values()) == [Member(ann.id, "ann", T)]
    assert group.bans == set() and group.requests == {} and not group.deleted


def test_an_empty_database_has_no_groups(db: Database) -> None:
    assert db.load_groups() == []


def test_members_load_in_joining_order_with_current_names(db: Database, people: dict[str, Account]) -> None:
    # ids: ann 1, bob 2, cat 3, dan 4; they join in another order
    group_id = db.create_group("tea", "public", people["cat"].id, T)
    db.add_member(group_id, people["dan"].id, T + 1)
    db.add_member(group_id, people["ann"].id, T + 2)
    db.add_member(group_id, people["bob"].id, T + 3)
    assert member_names(only(db)) == ["cat", "dan", "ann", "bob"]
    assert db.rename(people["ann"].id, "Annie")
    assert member_names(only(db)) == ["cat", "dan", "Annie", "bob"]


def test_adding_a_member_twice_keeps_the_first_joining_time(db: Database, people: dict[str, Account]) -> None:
    group_id = db.create_group("tea", "public", people["ann"].id, T)
    db.add_member(group_id, people["bob"].id, T + 1)
    db.add_member(group_id, people["cat"].id, T + 2)
    db.add_member(group_id, people["bob"].id, T + 3)
    group = only(db)
    assert member_names(group) == ["ann", "bob", "cat"]
    assert group.members[people["bob"].id].since == T + 1


def test_a_deleted_account_is_left_out_of_the_members(db: Database, people: dict[str, Account]) -> None:
    group_id = db.create_group("tea", "public", people["ann"].id, T)
    db.add_member(group_id, people["bob"].id, T + 1)
    db.add_request(group_id, people["cat"].id, T + 2)
    db.delete(people["bob"].id)
    db.delete(people["cat"].id)
    group = only(db)
    assert member_names(group) == ["ann"]
    assert group.requests == {}


def test_remove_member_hands_the_group_over_when_told(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    group_id = db.create_group("tea", "public", ann.id, T)
    db.add_member(group_id, bob.id, T + 1)
    db.add_member(group_id, cat.id, T + 2)
    db.remove_member(group_id, cat.id, None)  # a member leaves: the owner stays
    assert (only(db).owner_id, member_names(only(db))) == (ann.id, ["ann", "bob"])
    db.remove_member(group_id, ann.id, bob.id)  # the owner leaves: bob takes over
    group = only(db)
    assert group.owner_id == bob.id
    assert member_names(group) == ["bob"]


def test_groups_hand_over_to_the_longest_standing_member_across_a_reload(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat, dan = (people[n] for n in ("ann", "bob", "cat", "dan"))
    groups = Groups(db)
    group = groups.create("tea", Visibility.PUBLIC, ann.id, "ann", T)
    groups.add_member(group, dan.id, "dan", T + 1)
    groups.add_member(group, bob.id, "bob", T + 2)
    groups.add_member(group, cat.id, "cat", T + 3)
    assert groups.remove_member(group, ann.id, T + 4) == Member(dan.id, "dan", T + 1)
    again = Groups(db).find("TEA")
    assert again is not None
    assert again.owner_id == dan.id
    assert list(again.members) == [dan.id, bob.id, cat.id]
    assert again.successor() == Member(bob.id, "bob", T + 2)


def test_joining_order_survives_a_reload_even_when_join_times_tie(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]  # ids 1, 2, 3
    groups = Groups(db)
    group = groups.create("tea", Visibility.PUBLIC, ann.id, "ann", T)
    groups.add_member(group, cat.id, "cat", T + 1)
    groups.add_member(group, bob.id, "bob", T + 1)  # same second (or a clock stepped back)
    assert group.successor().account_id == cat.id  # in memory: cat joined first
    reloaded = Groups(db).find("tea")
    assert reloaded is not None
    assert list(reloaded.members) == list(group.members)
    assert reloaded.successor().account_id == cat.id


# --- deletion and names --------------------------------------------------------------------------------


def test_delete_keeps_the_row_and_messages_and_frees_the_name(db: Database, db_path: Path, people: dict[str, Account]) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    old = db.create_group("tea", "private", ann.id, T)
    db.add_member(old, bob.id, T + 1)
    db.add_group_ban(old, cat.id, "ann", T + 2)
    db.add_request(old, people["dan"].id, T + 3)
    db.set_topic(old, "old topic")
    db.append_messages([HistoryRecord(T + 4, RecordKind.CHAT, ann.id, "ann", "in the old tea", group_id=old)])
    db.delete_group(old, T + 5)
    assert db.load_groups() == []
    assert rows(db_path, "SELECT id, name, deleted FROM chat_group") == [(old, "tea", T + 5)]
    for table in ("group_member", "group_ban", "group_request"):
        assert rows(db_path, f"SELECT count(*) FROM {table}") == [(0,)]
    new = db.create_group("TEA", "public", bob.id, T + 6)
    assert new > old
    group = only(db)
    assert (group.id, group.name, group.owner_id, group.topic, group.bans) == (new, "TEA", bob.id, "", set())
    assert [r.text for r in db.group_messages(old, 10)] == ["in the old tea"]
    assert db.group_messages(new, 10) == []


def test_live_names_are_unique_in_any_case(db: Database, people: dict[str, Account]) -> None:
    ann, bob = people["ann"], people["bob"]
    tea = db.create_group("tea", "public", ann.id, T)
    with pytest.raises(StoreConflict):
        db.create_group("TEA", "private", bob.id, T)
    bar = db.create_group("bar", "public", bob.id, T)
    with pytest.raises(StoreConflict):
        db.rename_group(bar, "Tea")
    assert sorted(g.name for g in db.load_groups()) == ["bar", "tea"]  # the failed calls changed nothing
    db.rename_group(tea, "Tea")  # a change of case only
    db.rename_group(bar, "pub")
    assert sorted(g.name for g in db.load_groups()) == ["Tea", "pub"]
    db.create_group("bar", "public", people["cat"].id, T)  # the old name is free again


def test_topic_is_stored_and_cleared(db: Database, people: dict[str, Account]) -> None:
    group_id = db.create_group("tea", "public", people["ann"].id, T)
    db.set_topic(group_id, "ünïcode topic")
    assert only(db).topic == "ünïcode topic"
    db.set_topic(group_id, "")
    assert only(db).topic == ""


def test_visibility_must_be_public_or_private(db: Database, people: dict[str, Account]) -> None:
    with pytest.raises(StoreError):
        db.create_group("tea", "secret", people["ann"].id, T)
    assert db.load_groups() == []


# --- bans and requests ----------------------------------------------------------------------------------


def test_a_ban_drops_membership_and_request_and_is_lifted_by_unban(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    group_id = db.create_group("tea", "private", ann.id, T)
    db.add_member(group_id, bob.id, T + 1)
    db.add_request(group_id, cat.id, T + 2)
    db.add_group_ban(group_id, bob.id, "ann", T + 3)
    db.add_group_ban(group_id, cat.id, "ann", T + 4)
    db.add_group_ban(group_id, cat.id, "ann", T + 5)  # again: no error
    group = only(db)
    assert member_names(group) == ["ann"]
    assert group.requests == {}
    assert group.bans == {bob.id, cat.id}
    db.remove_group_ban(group_id, bob.id)
    db.remove_group_ban(group_id, people["dan"].id)  # not banned: nothing happens
    assert only(db).bans == {cat.id}


def test_a_ban_follows_the_account_through_a_rename(db: Database, people: dict[str, Account]) -> None:
    group_id = db.create_group("tea", "public", people["ann"].id, T)
    db.add_group_ban(group_id, people["bob"].id, "ann", T)
    assert db.rename(people["bob"].id, "robert")
    assert only(db).bans == {people["bob"].id}


def test_requests_load_oldest_first_and_a_repeat_keeps_its_time(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat, dan = (people[n] for n in ("ann", "bob", "cat", "dan"))
    group_id = db.create_group("tea", "private", ann.id, T)
    db.add_request(group_id, dan.id, T + 1)
    db.add_request(group_id, bob.id, T + 2)
    db.add_request(group_id, cat.id, T + 3)
    db.add_request(group_id, dan.id, T + 4)
    group = only(db)
    assert list(group.requests.values()) == [
        Member(dan.id, "dan", T + 1),
        Member(bob.id, "bob", T + 2),
        Member(cat.id, "cat", T + 3),
    ]
    db.remove_request(group_id, bob.id)
    db.add_member(group_id, dan.id, T + 5)  # accepting answers the request
    group = only(db)
    assert list(group.requests) == [cat.id]
    assert member_names(group) == ["ann", "dan"]


# --- changes kept for offline accounts --------------------------------------------------------------------


def change(n: int, group: str = "tea") -> PendingChange:
    return PendingChange("kicked", group, "bob", "ann", T + n)


def test_changes_are_taken_once_oldest_first_per_account(db: Database, people: dict[str, Account]) -> None:
    bob, cat = people["bob"].id, people["cat"].id
    db.queue_change(bob, change(1))
    db.queue_change(cat, change(2, "bar"))
    db.queue_change(bob, PendingChange("deleted", "tea", "", "ann", T + 3))
    assert db.take_changes(bob) == [change(1), PendingChange("deleted", "tea", "", "ann", T + 3)]
    assert db.take_changes(bob) == []
    assert db.take_changes(cat) == [change(2, "bar")]
    assert db.take_changes(people["dan"].id) == []


def test_changes_are_capped_and_the_oldest_dropped(db: Database, people: dict[str, Account]) -> None:
    bob, cat = people["bob"].id, people["cat"].id
    db.queue_change(cat, change(-1))
    for n in range(MAX_PENDING_CHANGES + 5):
        db.queue_change(bob, change(n))
    kept = db.take_changes(bob)
    assert len(kept) == MAX_PENDING_CHANGES
    assert kept == [change(n) for n in range(5, MAX_PENDING_CHANGES + 5)]
    assert db.take_changes(cat) == [change(-1)]  # another account's changes are not dropped


def test_forget_account_drops_requests_and_changes_only(db: Database, people: dict[str, Account]) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    tea = db.create_group("tea", "private", ann.id, T)
    bar = db.create_group("bar", "private", cat.id, T)
    db.add_request(tea, bob.id, T + 1)
    db.add_request(bar, bob.id, T + 1)
    db.add_request(bar, ann.id, T + 2)
    db.add_member(tea, cat.id, T + 3)
    db.add_group_ban(bar, people["dan"].id, "cat", T + 4)
    db.queue_change(bob.id, change(1))
    db.queue_change(cat.id, change(2))
    db.forget_account(bob.id)
    groups = {g.name: g for g in db.load_groups()}
    assert groups["tea"].requests == {}
    assert list(groups["bar"].requests) == [ann.id]
    assert member_names(groups["tea"]) == ["ann", "cat"]
    assert groups["bar"].bans == {people["dan"].id}
    assert db.take_changes(bob.id) == []
    assert db.take_changes(cat.id) == [change(2)]


# --- group history -------------------------------------------------------------------------------------


def test_group_messages_are_their_groups_only_and_not_in_the_main_chat(db: Database, people: dict[str, Account]) -> None:
    ann, bob = people["ann"], people["bob"]
    tea = db.create_group("tea", "public", ann.id, T)
    bar = db.create_group("bar", "public", bob.id, T)
    db.append_messages(
        [
            HistoryRecord(T + 1, RecordKind.CHAT, ann.id, "ann", "main 1"),
            HistoryRecord(T + 2, RecordKind.CHAT, ann.id, "ann", "tea 1", group_id=tea),
            HistoryRecord(T + 3, RecordKind.ACTION, bob.id, "bob", "bar 1", group_id=bar),
            HistoryRecord(T + 4, RecordKind.ACTION, bob.id, "bob", "tea 2", group_id=tea),
            HistoryRecord(T + 5, RecordKind.PRIVATE, ann.id, "ann", "psst", bob.id, "bob"),
            HistoryRecord(T + 6, RecordKind.CHAT, bob.id, "bob", "main 2"),
            HistoryRecord(T + 7, RecordKind.CHAT, ann.id, "ann", "tea 3", group_id=tea),
        ]
    )
    tea_history = db.group_messages(tea, 10)
    assert [r.text for r in tea_history] == ["tea 1", "tea 2", "tea 3"]
    assert {r.group_id for r in tea_history} == {tea}
    assert [r.kind for r in tea_history] == [RecordKind.CHAT, RecordKind.ACTION, RecordKind.CHAT]
    assert tea_history[0].id < tea_history[1].id < tea_history[2].id
    assert [r.text for r in db.group_messages(tea, 2)] == ["tea 2", "tea 3"]
    assert db.group_messages(tea, 0) == []
    assert [r.text for r in db.group_messages(bar, 10)] == ["bar 1"]
    main = db.recent_public(10)
    assert [r.text for r in main] == ["main 1", "main 2"]
    assert all(r.group_id is None for r in main)
    assert [r.text for r in db.recent_public(1)] == ["main 2"]  # the limit counts main-chat lines only
    assert [r.text for r in db.private_for(bob.id, 10)] == ["psst"]
    with pytest.raises(ValueError):
        db.group_messages(tea, -1)


def test_a_private_message_cannot_belong_to_a_group(db: Database, people: dict[str, Account]) -> None:
    ann, bob = people["ann"], people["bob"]
    tea = db.create_group("tea", "public", ann.id, T)
    bad = HistoryRecord(T, RecordKind.PRIVATE, ann.id, "ann", "psst", bob.id, "bob", group_id=tea)
    with pytest.raises(ValueError):
        db.append_messages([HistoryRecord(T, RecordKind.CHAT, ann.id, "ann", "ok", group_id=tea), bad])
    assert db.count_messages() == 0


# --- persistence across a reopen -------------------------------------------------------------------------


def test_groups_survive_closing_and_reopening(db_path: Path) -> None:
    with Database.open(db_path) as db:
        ann, bob, cat = (account(db, n) for n in ("ann", "bob", "cat"))
        groups = Groups(db)
        tea = groups.create("tea", Visibility.PRIVATE, ann.id, "ann", T)
        groups.add_member(tea, bob.id, "bob", T + 1)
        groups.request(tea, cat.id, "cat", T + 2)
        groups.set_topic(tea, "five o'clock")
        bar = groups.create("bar", Visibility.PUBLIC, bob.id, "bob", T + 3)
        groups.ban(bar, cat.id, "bob", T + 4)
        groups.rename(bar, "Pub")
        gone = groups.create("gone", Visibility.PUBLIC, cat.id, "cat", T + 5)
        groups.delete(gone, T + 6)
        before = sorted(
            (g.id, g.name, g.visibility, g.owner_id, g.topic, list(g.members.values()), g.bans, list(g.requests.values()))
            for g in groups
        )
    with Database.open(db_path) as db:
        after = sorted(
            (g.id, g.name, g.visibility, g.owner_id, g.topic, list(g.members.values()), g.bans, list(g.requests.values()))
            for g in Groups(db)
        )
    assert after == before
    assert [entry[1] for entry in after] == ["tea", "Pub"]


# --- migration 3 -> 4 ------------------------------------------------------------------------------------


def make_v3(path: Path) -> None:
    """A schema-3 database as the previous release left it, with an account and a
    main-chat message."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(MIGRATIONS[:3], 1):
            connection.execute("BEGIN")
            for statement in (part.strip() for part in script.split(";")):
                if statement:
                    connection.execute(statement)
            connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version={number}")
            connection.execute("COMMIT")
        connection.execute(
            "INSERT INTO account (key, name, kind, password_hash, created_at)"
            " VALUES ('ann', 'ann', 'registered', ?, '2024-01-01T00:00:00+00:00')",
            (HASH,),
        )
        connection.execute(
            "INSERT INTO message (ts, kind, sender_id, sender, text) VALUES (?, 'chat', 1, 'ann', 'from v3')", (T,)
        )
    finally:
        connection.close()


def test_a_schema_3_database_is_backed_up_and_migrated(db_path: Path) -> None:
    make_v3(db_path)
    assert rows(db_path, "PRAGMA user_version") == [(3,)]
    with Database.open(db_path) as db:
        (record,) = db.recent_public(10)
        assert (record.text, record.group_id) == ("from v3", None)
        assert rows(db_path, "SELECT text, group_id FROM message") == [("from v3", None)]
        assert db.load_groups() == []
        ann = db.find("ann")
        assert ann is not None
        tea = db.create_group("tea", "public", ann.id, T)
        assert only(db).id == tea
    assert rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION >= 4
    backup = db_path.with_name(f"{DATABASE_NAME}.v3-backup")
    assert backup.is_file()
    assert rows(backup, "PRAGMA user_version") == [(3,)]
    assert rows(backup, "SELECT text FROM message") == [("from v3",)]
    assert "group_id" not in [column[1] for column in rows(backup, "PRAGMA table_info(message)")]
    assert rows(backup, "SELECT name FROM sqlite_master WHERE name = 'chat_group'") == []
