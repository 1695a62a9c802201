"""Several attached PostgreSQL view stores on one database, as the nodes of a cluster
use them (docs/scaling.md, "How the views stay current"): ids from the sequences never
collide, every view write is a record another view applies without writing, a miss asks
the database, a registration the database refuses is told apart, and a view reads
itself again after lost records. The bus between them is a list here (each record goes
through JSON, as on the bus)."""

from __future__ import annotations

import json
import select
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pollchat.core.accounts import Account
from pollchat.core.groups import PendingChange
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.store.pgviews import ID_BLOCKS, PgViewStore, open_pg_views
from pollchat.texts import ErrorCode
from tests.loopback.test_store_contract import HASH, T, attached, chat, make, private, registered

psycopg = pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")


def settle(*stores: PgViewStore) -> None:
    """Run each store's driver until every transaction it sent is answered (the loop's
    part, done by hand: nobody runs a loop here)."""
    deadline = time.monotonic() + 10
    for store in stores:
        driver = store.driver
        assert driver is not None
        while driver.done < driver.issued:  # reads too: the store's own count is writes only
            assert time.monotonic() < deadline, "the database did not answer"
            driver._send()
            select.select([driver._fd], [], [], 0.2)
            driver._on_readable()


def over_the_bus(records: list[list[Any]]) -> list[list[Any]]:
    return [json.loads(json.dumps(record)) for record in records]


@pytest.fixture
def pair(pg_url: str) -> Iterator[tuple[PgViewStore, PgViewStore]]:
    a, b = attached(open_pg_views(pg_url)), attached(open_pg_views(pg_url))
    a.changes, b.changes = [], []
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_two_views_on_one_database_never_take_one_id(pg_url: str, pair: tuple[PgViewStore, PgViewStore]) -> None:
    a, b = pair
    accounts = [make(store, f"{side}{i}") for i in range(5) for side, store in (("a", a), ("b", b))]
    groups = [store.create_group(f"g{i}{n}", "public", accounts[0].id, T) for i, store in enumerate((a, b)) for n in range(3)]
    for store in (a, b):
        store.append_messages([chat(accounts[0], f"line {n}") for n in range(4)])
        store.queue_change(accounts[1].id, PendingChange("kicked", "g", "a0", "b0", T))
    settle(a, b)
    assert len({account.id for account in accounts}) == 10 and len(set(groups)) == 6
    b.close()  # a restarted node reserves past every block handed out, the unused ones included
    again = attached(open_pg_views(pg_url))
    try:
        later = make(again, "late")
        assert later.id > max(account.id for account in accounts)
        assert make(a, "after").id not in {later.id, *(account.id for account in accounts)}
        settle(a, again)
    finally:
        again.close()
    with psycopg.connect(pg_url) as conn:  # every write reached the database: no id was refused
        assert conn.execute("SELECT count(*) FROM account").fetchone()[0] == 12
        assert conn.execute("SELECT count(*) FROM message").fetchone()[0] == 8


def test_a_view_takes_another_block_before_it_runs_out(pair: tuple[PgViewStore, PgViewStore]) -> None:
    a, _ = pair
    ann = make(a, "ann")
    for n in range(ID_BLOCKS["message"] // 1000 + 1):  # past the first block, settling between batches
        a.append_messages([chat(ann, f"{n}.{i}") for i in range(1000)])
        settle(a)
    assert a.count_messages() == 1000 * (ID_BLOCKS["message"] // 1000 + 1)


def test_every_view_write_is_a_record_the_other_view_applies_without_writing(
    pair: tuple[PgViewStore, PgViewStore],
) -> None:
    a, b = pair
    ann, ben = make(a, "ann"), make(a, "ben")
    assert a.rename(ben.id, "Benny") and a.rename(ben.id, "ann") is False  # refused: not recorded
    a.set_password(ann.id, HASH.replace("A", "B"))
    a.set_ban(ben.id, None, "spam", "root", T)
    a.set_address_ban("10.0.0.0/8", None, "flood", "root", T)
    tea = a.create_group("tea", "private", ann.id, T)
    a.add_request(tea, ben.id, T)
    a.set_topic(tea, "oolong")
    a.queue_change(ben.id, PendingChange("rejected", "tea", "benny", "ann", T))
    a.append_messages([chat(ann, "hello"), private(ann, ben, "psst")])
    a.set_last_seen(ann.id, T + 5)
    records = over_the_bus(a.changes or [])
    assert all(record[0] == "store" for record in records)
    assert [record[1] for record in records] == [
        "create", "create", "rename", "set_password", "set_ban", "set_address_ban", "create_group", "add_request",
        "set_topic", "queue_change", "append_messages", "set_last_seen",
    ]
    issued = b.issued
    for record in records:
        b.apply_remote(record)
    assert b.issued == issued and b.changes == []  # applied, not written again nor published
    assert b.find("ann") == a.find("ann") and b.find("benny") == a.find("benny")
    assert b.ban_of(ben.id, T) == (None, "spam", "root")
    assert b.address_bans(T) == a.address_bans(T)
    assert b.load_groups() == a.load_groups()
    assert b.recent_public(5) == a.recent_public(5) and b.private_for(ben.id, 5) == a.private_for(ben.id, 5)
    assert b.count_private_since(ben.id, 0) == 1 and b.last_seen(ann.id) == T + 5
    assert b.created_at(ann.id) == a.created_at(ann.id)
    assert [c.change for c in b.take_changes(ben.id)] == ["rejected"]
    settle(a, b)
    with psycopg.connect(a.url) as conn:
        assert conn.execute("SELECT count(*) FROM account").fetchone()[0] == 2  # written once


def test_a_record_this_version_does_not_share_is_refused(pair: tuple[PgViewStore, PgViewStore]) -> None:
    _, b = pair
    with pytest.raises(ValueError):
        b.apply_remote(["store", "close", [], {}, []])
    with pytest.raises(ValueError):
        b.apply_remote(["store", "create", [{"@": "Path"}], {}, []])
    with pytest.raises(ValueError):
        b.apply_remote(["store", "create", [{"@e": "AccountKind"}], {}, []])
    with pytest.raises(ValueError):
        b.apply_remote(["store", "create", [{"@": "Account", "nickname": "x"}], {}, []])


def test_a_miss_asks_the_database_and_loads_the_account_with_its_ban(pair: tuple[PgViewStore, PgViewStore]) -> None:
    a, b = pair
    zed = make(a, "zed")
    a.set_ban(zed.id, None, "spam", "root", T)
    settle(a)
    assert b.find("zed") is None  # its records never reached b
    called: list[bool] = []
    b.fetch_account("zed", lambda: called.append(True))
    settle(b)
    assert called == [True] and b.find("zed") == zed and b.ban_of(zed.id, T) == (None, "spam", "root")
    b.fetch_account("nobody", lambda: called.append(False))
    settle(b)
    assert called == [True, False] and b.find("nobody") is None


def test_a_group_miss_asks_the_database_with_members_requests_and_bans(pair: tuple[PgViewStore, PgViewStore]) -> None:
    """A group another view made a moment ago (its records not applied here) is looked
    up by name key with its members (the rows of accounts this view lacks too), its
    requests and its bans; a change to it applied while the answer was on its way is
    applied again over the answer; a name no live group has stays unknown."""
    a, b = pair
    ann, ben, cy = make(a, "ann"), make(a, "ben"), make(a, "cy")
    for record in over_the_bus(a.changes or [])[:1]:  # b has heard of ann only
        b.apply_remote(record)
    a.changes = []
    tea = a.create_group("Tea", "private", ann.id, T)
    a.add_member(tea, ben.id, T + 1)
    a.add_request(tea, cy.id, T + 2)
    a.add_group_ban(tea, make(a, "dan").id, "ann", T + 3)
    a.create_group("gone", "public", ann.id, T)
    settle(a)
    records = over_the_bus(a.changes or [])
    assert b.load_groups() == [] and b.find("ben") is None
    called: list[str] = []
    b.fetch_group("tea", lambda: called.append("tea"))
    b.fetch_group("gone", lambda: called.append("gone"))
    a.changes = []
    a.delete_group(records[-1][4][0], T + 4)  # "gone" is deleted; b applies it before the answers
    settle(a)
    b.apply_remote(over_the_bus(a.changes)[0])
    settle(b)
    assert called == ["tea", "gone"]
    assert b.load_groups() == [g for g in a.load_groups() if g.id == tea]
    assert b.find("ben") == ben and b.find("cy") == cy  # the members' and requesters' accounts came along
    for record in records[:-1]:  # tea's records arrive late: the view has the group already
        b.apply_remote(record)
    assert b.load_groups() == a.load_groups()
    b.fetch_group("nothing", lambda: called.append("nothing"))
    settle(b)
    assert called[-1] == "nothing" and [g.name for g in b.load_groups()] == ["Tea"]
    assert b.issued == 0  # looked up and applied, never written


def test_a_registration_the_database_refuses_is_told_the_name_is_taken(
    pg_url: str, pair: tuple[PgViewStore, PgViewStore]
) -> None:
    """Two nodes register one name before either hears of the other's: the unique index
    keeps the first; the second's client is to be told ``username is already used``,
    every view that took the loser drops it, and the loser's node loads the winner."""
    a, b = pair
    third = attached(open_pg_views(pg_url))
    zed = make(a, "zed")
    settle(a)
    mark = b.issued
    loser = b.create(Account("ZED", HASH.replace("A", "C"), AccountKind.REGISTERED))
    assert loser is not None  # the view did not know: yes for now, held by the barrier
    try:
        third.apply_remote(over_the_bus(b.changes or [])[0])  # a third node heard of the loser first
        assert third.find("zed") == loser
        b.changes = []
        settle(b)
        assert b.failed_between(mark, b.issued) and b.refusal_between(mark, b.issued) is ErrorCode.NAME_TAKEN
        refusal = over_the_bus(b.changes)
        assert refusal == [["store", "@refused", [loser.id, "zed"], {}, []]]
        third.apply_remote(refusal[0])
        assert third.find("zed") is None
        settle(b)  # the lookup the refusal asked for
        assert b.find("zed") == zed
    finally:
        third.close()


def test_a_group_another_view_made_first_replaces_this_view_s_own(
    pg_url: str, pair: tuple[PgViewStore, PgViewStore]
) -> None:
    """Two nodes make one group name before either hears of the other's: the partial
    unique index keeps the first; the second's view takes the winner (with its members)
    in place of its own, says so to the client (``#Tea exists already``, staying
    connected) and to the other views, and nothing of its own group reaches the database."""
    a, b = pair
    third = attached(open_pg_views(pg_url))
    ann, bob = make(a, "ann"), make(b, "bob")
    settle(a, b)
    for record in over_the_bus(a.changes or []):
        b.apply_remote(record)
        third.apply_remote(record)
    for record in over_the_bus(b.changes or []):
        a.apply_remote(record)
        third.apply_remote(record)
    a.changes, b.changes = [], []
    corrected: list[str] = []
    b.on_corrected = corrected.append
    winner = a.create_group("Tea", "public", ann.id, T)
    a.add_member(winner, bob.id, T + 1)
    settle(a)
    mark = b.issued
    loser = b.create_group("tea", "private", bob.id, T + 2)  # b has not heard of a's
    third.apply_remote(over_the_bus(b.changes or [])[-1])  # a third node heard of b's first
    line = HistoryRecord(T + 3, RecordKind.CHAT, bob.id, "bob", "in ours", group_id=loser)
    b.append_messages([line])  # bob's line in b's own #tea, before the refusal
    third.apply_remote(over_the_bus(b.changes or [])[-1])
    lost: list[tuple[str, list[str]]] = []
    b.on_lines_lost = lambda group, lines: lost.append((group, [record.text for record in lines]))
    b.changes = []
    settle(b)
    assert lost == [("Tea", ["in ours"])]  # its sender is to be told
    settle(b)  # the deletion of what was written for b's group
    assert b.group_messages(loser, 5) == []
    refusal = b.refusal_of(mark, b.issued)
    assert b.failed_between(mark, b.issued) and refusal is not None
    assert (refusal.code, dict(refusal.detail), refusal.stays) == (ErrorCode.GROUP_EXISTS, {"group": "Tea"}, True)
    assert corrected == ["create_group"]
    [group] = [g for g in b.load_groups() if g.key == "tea"]
    assert (group.id, group.name, group.owner_id, sorted(group.members)) == (winner, "Tea", ann.id, sorted([ann.id, bob.id]))
    records = over_the_bus(b.changes)
    assert [record[1] for record in records] == ["@group_refused"]
    try:
        assert [g.id for g in third.load_groups()] == [loser]
        assert third.group_messages(loser, 5) != []
        assert third.apply_remote(records[0]) == "create_group"
        assert [(g.id, g.name) for g in third.load_groups()] == [(winner, "Tea")]
        assert third.group_messages(loser, 5) == []
        assert a.apply_remote(records[0]) == "create_group"  # the winner's own view keeps its group
        assert [(g.id, g.name) for g in a.load_groups()] == [(winner, "Tea")]
    finally:
        third.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id FROM chat_group WHERE deleted IS NULL").fetchall() == [(winner,)]
        assert conn.execute("SELECT count(*) FROM group_member WHERE group_id = %s", (loser,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM message WHERE group_id = %s", (loser,)).fetchone()[0] == 0


def test_a_view_reads_itself_again_and_keeps_the_writes_made_meanwhile(
    pair: tuple[PgViewStore, PgViewStore],
) -> None:
    a, b = pair
    ann = make(a, "ann")
    a.create_group("tea", "public", ann.id, T)
    a.set_address_ban("10.0.0.0/8", None, "flood", "root", T)
    settle(a)  # their records are lost: b never hears of them
    done: list[bool] = []
    b.reload_views(lambda: done.append(True))
    bob = make(b, "bob")  # made while the answer is on its way
    settle(b)
    assert done == [True]
    assert b.find("ann") == ann and b.find("bob") == bob
    assert [group.name for group in b.load_groups()] == ["tea"]
    assert b.address_bans(T) == [("10.0.0.0/8", None, "flood", "root")]


def test_ignores_receipt_settings_and_read_marks_are_shared_once_changed(
    pair: tuple[PgViewStore, PgViewStore],
) -> None:
    a, b = pair
    ann, ben = make(a, "ann"), make(a, "ben")
    for record in over_the_bus(a.changes or []):
        b.apply_remote(record)
    a.changes = []
    a.add_ignore(ann.id, ben.id, T)
    a.set_receipts(ben.id, False)
    assert a.mark_read(ben.id, ann.id, T + 5) == T + 5
    recorded = len(a.changes or [])
    a.add_ignore(ann.id, ben.id, T)  # no change: nothing recorded
    a.set_receipts(ben.id, False)
    assert a.mark_read(ben.id, ann.id, T + 1) == T + 5  # a mark never moves back
    assert recorded == 3 and len(a.changes or []) == 3
    for record in over_the_bus(a.changes or []):
        b.apply_remote(record)
    settle(a, b)
    assert b.ignored_ids(ann.id) == [ben.id] and b.receipts_off_accounts() == [ben.id]
    assert b.read_by_others(ann.id) == [(ben.id, "ben", T + 5)]
    a.changes = []
    a.remove_ignore(ann.id, ben.id)
    for record in over_the_bus(a.changes):
        b.apply_remote(record)
    assert b.ignored_ids(ann.id) == []
    assert b.issued == 0  # b applied, never wrote


def test_a_registration_burst_past_the_reserved_ids_waits_for_the_next_block(
    pair: tuple[PgViewStore, PgViewStore],
) -> None:
    a, _ = pair
    made = [make(a, f"r{i}") for i in range(len(a._ids["account"]))]  # every reserved id, in one pass
    assert not a._ids["account"]
    with pytest.raises(StoreError):  # what a registration met before it waited
        make(a, "late")
    called: list[bool] = []
    assert a.await_id("account", lambda: called.append(True)) is False
    settle(a)
    assert called == [True] and a.await_id("account", lambda: called.append(False)) is True
    assert make(a, "late").id not in {account.id for account in made}
