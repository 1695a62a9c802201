"""Loopback tests of the seat budget, of refused registrations and of persistence.

Default harness: max users 4 and the three seed-004 preconfigured accounts, so exactly one
registered session fits at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pollchat.errors import StoreError
from pollchat.protocol.names import name_key
from pollchat.protocol.session import Phase
from tests.harness import Client, ENGINES, Harness, harnesses_on_engine


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Every test here runs on SQLite and on PostgreSQL (data the chat keeps)."""
    yield from harnesses_on_engine(request, tmp_path)


FULL = "Max number of chat users"
TAKEN = "username is already used"


def _authenticating(harness: Harness, *clients: Client) -> None:
    for client in clients:
        conn = harness.server_conn(client)
        harness.pump_until(lambda: conn.session.phase is Phase.AUTHENTICATING, f"{client!r} authenticating")


def test_one_registered_session_beside_three_preconfigured(harness: Harness) -> None:
    bob = harness.register("bob", "pw")
    carol = harness.connect()
    carol.send(b"register\ncarol,pw\n")
    assert carol.line() == FULL
    carol.expect_silence(0.05)
    assert harness.find_account("carol") is None
    # every preconfigured account still gets its reserved seat
    harness.login("user1", "123")
    harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    assert harness.server.hub.online_names() == ("bob", "user1", "user2", "user3")
    # the refused client may retry on the same connection once a seat is free
    bob.close()
    assert u3.line() == "bob has left the chat"
    carol.send(b"register\ncarol,pw\n")
    carol.expect("Access Provided", "active users are: user1 user2 user3 carol")
    assert harness.find_account("carol") is not None


def test_registered_account_login_refused_when_shared_seats_are_full(harness: Harness) -> None:
    harness.register("carol", "cpw").close()
    harness.register("bob", "bpw")
    carol = harness.connect()
    carol.send(b"login\ncarol,cpw\n")
    assert carol.line() == FULL
    carol.send(b"login\ncarol,wrong\n")
    assert carol.line() == "Wrong Password"  # the password is still checked first
    harness.login("user1", "123")  # a reserved seat is not a shared one


def test_more_preconfigured_seats_than_registered(make_harness) -> None:
    h = make_harness(accounts={"user1": "123"}, max_users=3)  # two shared seats
    h.register("bob", "pw")
    h.register("carol", "pw")
    dave = h.connect()
    dave.send(b"register\ndave,pw\n")
    assert dave.line() == FULL
    h.login("user1", "123")
    assert h.server.hub.budget.total_online == 3


def test_no_preconfigured_accounts(make_harness) -> None:
    h = make_harness(accounts={}, max_users=1)
    h.register("bob", "pw")
    carol = h.connect()
    carol.send(b"register\ncarol,pw\n")
    assert carol.line() == FULL
    carol.send(b"login\nuser1,123\n")
    assert carol.line() == "Wrong Password"


def test_connections_closing_before_login_free_no_seat(harness: Harness) -> None:
    harness.register("bob", "pw")
    # connections that leave before logging in, in every way
    harness.connect().close()
    mid = harness.connect()
    mid.send(b"register\n")
    mid.close()
    half = harness.connect()
    half.send(b"login\n")
    half.half_close()
    assert half.closed() == []
    harness.connect().reset_connection()
    failed = harness.connect()
    failed.send(b"register\ncarol,pw\n")
    assert failed.line() == FULL
    failed.close()
    harness.pump(5)
    assert harness.server.hub.budget.total_online == 1
    carol = harness.connect()
    carol.send(b"register\ncarol,pw\n")
    assert carol.line() == FULL
    assert harness.find_account("carol") is None


def test_refused_registrations_create_no_account(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"register\ncarol,\n")  # bad format
    assert client.line() == "Type the format user,password"
    client.send(b"register\nUser1,pw\n")  # preconfigured name
    assert client.line() == TAKEN
    harness.register("bob", "pw")
    client.send(b"register\ncarol,pw\n")  # no seat
    assert client.line() == FULL
    assert client.closed() == ["too many failed attempts, closing the connection"]
    assert harness.server.database.count_accounts() == 1
    for name in ("carol", "user1"):
        assert harness.find_account(name) is None
    with harness.stored() as fresh:  # what is on disk
        assert fresh.count_accounts() == 1
        assert fresh.find(name_key("carol")) is None


def test_two_registrations_racing_for_the_last_seat(make_harness) -> None:
    h = make_harness(hash_workers=1)
    carol, dave = h.connect(), h.connect()
    with h.workers_held():  # both pass the cheap checks before either hash is done
        carol.send(b"register\ncarol,pw\n")
        dave.send(b"register\ndave,pw\n")
        _authenticating(h, carol, dave)
    first = {c: c.line() for c in (carol, dave)}
    assert sorted(first.values()) == ["Access Provided", FULL]
    winner = carol if first[carol] == "Access Provided" else dave
    loser = dave if winner is carol else carol
    assert winner.line() == f"active users are: {'carol' if winner is carol else 'dave'}"
    loser.expect_silence(0.05)
    assert h.server.database.count_accounts() == 1
    assert h.find_account("dave" if winner is carol else "carol") is None
    assert h.server.hub.budget.total_online == 1


def test_two_registrations_racing_for_the_same_name(make_harness) -> None:
    h = make_harness(accounts={}, max_users=4, hash_workers=1)
    a, b = h.connect(), h.connect()
    with h.workers_held():
        a.send(b"register\nbob,apw\n")
        b.send(b"register\nBOB,bpw\n")
        _authenticating(h, a, b)
    first = {c: c.line() for c in (a, b)}
    assert sorted(first.values()) == ["Access Provided", TAKEN]
    winner = a if first[a] == "Access Provided" else b
    winner.line()  # active users
    password = "apw" if winner is a else "bpw"
    winner.close()
    h.pump(3)
    h.login("bob", password, shown_as="bob" if winner is a else "BOB")


def test_registration_abandoned_while_hashing_creates_no_account(make_harness) -> None:
    h = make_harness(hash_workers=1)
    watcher = h.login("user1", "123")
    client = h.connect()
    with h.workers_held():
        client.send(b"register\ncarol,pw\n")
        _authenticating(h, client)
        conn = h.server_conn(client)
        client.reset_connection()
        h.pump_until(lambda: conn.closed, "the reset connection to be closed")
    h.pump(10)  # the hash result comes back for a connection that is gone
    assert h.find_account("carol") is None
    assert h.server.hub.budget.total_online == 1
    watcher.expect_silence(0.05)  # carol never entered
    h.register("dave", "pw")  # the shared seat is still free


def test_registered_accounts_persist_across_restart(harness: Harness) -> None:
    harness.register("Bob", "s3cret,with comma").close()
    harness.restart()
    with harness.stored() as fresh:
        account = fresh.find(name_key("bob"))
        assert account is not None and account.name == "Bob"
        assert "s3cret" not in account.password_hash
    client = harness.connect()
    client.send(b"login\nbob,s3cret\n")
    assert client.line() == "Wrong Password"
    client.send(b"register\nbob,other\n")
    assert client.line() == TAKEN
    harness.login("bob", "s3cret,with comma", client=client, shown_as="Bob")
    harness.restart()
    harness.login("BOB", "s3cret,with comma", shown_as="Bob")


def test_no_shared_seats_when_every_seat_is_reserved(make_harness) -> None:
    h = make_harness(max_users=3)
    client = h.connect()
    client.send(b"register\nbob,pw\n")
    assert client.line() == FULL
    assert h.server.database.count_accounts() == 0
    h.login("user1", "123", client=client)


def test_a_database_failure_during_registration_is_reported_not_hidden(harness: Harness, monkeypatch) -> None:
    """A registration whose INSERT fails gets one clear line, frees nothing, and the
    server carries on serving everyone else."""
    watcher = harness.login("user1", "123")

    def failing_create(account):
        raise StoreError("database error: database or disk is full")  # what the store raises

    monkeypatch.setattr(harness.server.database, "create", failing_create)
    client = harness.connect()
    client.send(b"register\nbob,pw\n")
    assert client.line() == "server error, please try again later"
    client.closed()
    watcher.expect_silence(0.1)
    assert harness.server.hub.online_names() == ("user1",)
    monkeypatch.undo()
    harness.register("bob", "pw")


def test_a_database_failure_when_someone_leaves_still_frees_the_seat_and_tells_the_others(
    make_harness: Callable[..., Harness], monkeypatch
) -> None:
    """Recording when an account was last seen is a bookkeeping write: a full disk at that
    moment costs the record (logged), never the left notice or the freed seat."""
    h = make_harness(max_users=3)
    watcher = h.login("user1", "123")
    leaver = h.login("user2", "345")  # the harness checks user1 saw user2 enter

    def full(*args: object) -> None:
        raise StoreError("database error: database or disk is full")  # what the store raises

    monkeypatch.setattr(h.server.database, "set_last_seen", full)
    leaver.send(b"/quit\n")
    assert watcher.line() == "user2 has left the chat"
    leaver.closed()
    leaver.close()  # and the harness forgets it
    monkeypatch.undo()
    assert h.server.hub.online_names() == ("user1",)
    h.login("user2", "345")  # the seat was freed
