"""Loopback tests of the login flow (foundation issue, protocol steps 1 to 4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pollchat import texts
from pollchat.store.database import DATABASE_NAME
from tests.harness import ENGINES, Harness, harnesses_on_engine


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Every test here runs on SQLite and on PostgreSQL (data the chat keeps)."""
    yield from harnesses_on_engine(request, tmp_path)


GREETING = texts.GREETING
WRONG = "Wrong Password"
ALREADY = "Password already used"
TAKEN = "username is already used"
FORMAT = "Type the format user,password"
FULL = "Max number of chat users"
TOO_MANY = "too many failed attempts, closing the connection"


# --- step 1: greeting ------------------------------------------------------------------------


def test_greeting_on_connect_is_one_exact_line(harness: Harness) -> None:
    client = harness.connect(greet=False)
    assert client.raw(len(GREETING) + 1) == b"type login or register and then give user,password\n"
    client.expect_silence()


# --- step 3: success -------------------------------------------------------------------------


def test_login_success_bytes_list_includes_self(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"login\nuser1,123\n")
    assert client.raw(len(b"Access Provided\nactive users are: user1\n")) == (
        b"Access Provided\nactive users are: user1\n"
    )
    client.expect_silence()


def test_active_users_in_login_order_and_entered_notice_to_each_other_user(harness: Harness) -> None:
    u2 = harness.connect()
    u2.send(b"login\nuser2,345\n")
    u2.expect("Access Provided", "active users are: user2")
    u3 = harness.connect()
    u3.send(b"login\nuser3,123\n")
    u3.expect("Access Provided", "active users are: user2 user3")
    assert u2.raw(len(b"user3 has entered the chat\n")) == b"user3 has entered the chat\n"
    u1 = harness.connect()
    u1.send(b"login\nuser1,123\n")
    u1.expect("Access Provided", "active users are: user2 user3 user1")
    assert u2.line() == "user1 has entered the chat"
    assert u3.line() == "user1 has entered the chat"
    for client in (u1, u2, u3):
        client.expect_silence(0.05)


def test_connections_not_logged_in_get_no_notices(harness: Harness) -> None:
    greeted = harness.connect()  # at the greeting
    mid_verb = harness.connect()
    mid_verb.send(b"login\n")  # waiting for credentials
    failed = harness.connect()
    failed.send(b"login\nuser2,wrong\n")
    assert failed.line() == WRONG
    user1 = harness.login("user1", "123")
    user3 = harness.login("user3", "123")
    user1.send(b"hello\n")
    assert user3.line() == "user1: hello"
    user1.close()
    assert user3.line() == "user1 has left the chat"
    for client in (greeted, mid_verb, failed):
        client.expect_silence(0.05)


def test_login_name_is_case_insensitive_and_shown_as_stored(harness: Harness) -> None:
    other = harness.login("user2", "345")
    harness.login("USER1", "123", shown_as="user1")
    other.expect_silence(0.05)


# --- step 2: credentials ---------------------------------------------------------------------


def test_password_is_everything_after_the_first_comma(harness: Harness) -> None:
    bob = harness.register("bob", "pw,with,commas")
    bob.close()
    client = harness.connect()
    client.send(b"login\nbob,pw\n")
    assert client.line() == WRONG
    client.send(b"login\nbob,pw,with,commas\n")
    client.expect("Access Provided", "active users are: bob")
    account = harness.find_account("bob")
    assert account is not None and account.name == "bob"


def test_register_unicode_name_and_password(harness: Harness) -> None:
    watcher = harness.login("user1", "123")
    jose = harness.register("Jos\u00e9", "p\u00e4ss,w\u00f6rd")
    jose.send("ol\u00e9 \u2713\n".encode())
    assert watcher.line() == "Jos\u00e9: ol\u00e9 \u2713"
    jose.close()
    assert watcher.line() == "Jos\u00e9 has left the chat"
    harness.login("JOS\u00c9", "p\u00e4ss,w\u00f6rd", shown_as="Jos\u00e9")


def test_verb_ignores_case_and_blanks(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"  LOGIN \nuser1,123\n")
    client.expect("Access Provided", "active users are: user1")


# --- step 4: errors, each followed by a retry on the same connection -----------------------------


def test_wrong_password_and_unknown_account_get_the_same_reply_then_retry(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"login\nuser1,1234\n")
    assert client.line() == WRONG
    client.expect_silence(0.05)  # one line, no greeting after it
    client.send(b"login\nnobody,123\n")
    assert client.line() == WRONG
    client.expect_silence(0.05)
    harness.login("user1", "123", client=client)


def test_old_prefix_match_does_not_log_in(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"login\nuser2,3456789\n")  # the seed program let this in as user2
    assert client.line() == WRONG
    client.send(b"login\nuser2,34\n")
    assert client.line() == WRONG


def test_same_account_twice_any_case_then_retry_after_it_left(harness: Harness) -> None:
    first = harness.login("user1", "123")
    second = harness.connect()
    second.send(b"login\nuser1,123\n")
    assert second.line() == ALREADY
    second.expect_silence(0.05)
    second.send(b"login\nUSER1,123\n")
    assert second.line() == ALREADY
    first.expect_silence(0.05)  # the online session is not disturbed
    first.send(b"still here\n")
    first.close()
    second.expect_silence(0.05)  # not logged in: no left notice, no chat
    harness.login("user1", "123", client=second)


def test_same_account_twice_with_wrong_password_is_wrong_password(harness: Harness) -> None:
    harness.login("user1", "123")
    client = harness.connect()
    client.send(b"login\nuser1,999\n")
    assert client.line() == WRONG  # the password is checked first


def test_same_account_logging_in_on_two_connections_at_once(harness: Harness) -> None:
    a = harness.connect()
    b = harness.connect()
    with harness.workers_held():
        a.send(b"login\nuser1,123\n")
        b.send(b"login\nUser1,123\n")
        for c in (a, b):
            conn = harness.server_conn(c)
            harness.pump_until(lambda: conn.session.phase.name == "AUTHENTICATING", "both checks queued")
    first_a, first_b = a.line(), b.line()
    assert sorted([first_a, first_b]) == ["Access Provided", ALREADY]
    winner, loser = (a, b) if first_a == "Access Provided" else (b, a)
    assert winner.line() == "active users are: user1"
    loser.expect_silence(0.05)
    assert harness.server.hub.online_names() == ("user1",)


def test_name_already_used_for_preconfigured_and_registered_names_any_case(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"register\nuser1,other\n")
    assert client.line() == TAKEN
    client.expect_silence(0.05)
    client.send(b"register\nUSER2,other\n")
    assert client.line() == TAKEN
    bob = harness.register("Bob", "first", client=client)
    bob.close()
    again = harness.connect()
    again.send(b"register\nbOB,second\n")
    assert again.line() == TAKEN
    account = harness.find_account("bob")
    assert account is not None and account.name == "Bob"
    again.send(b"login\nbob,second\n")  # the refused registration changed nothing
    assert again.line() == WRONG
    harness.login("BOB", "first", client=again, shown_as="Bob")


@pytest.mark.parametrize("verb", ["login", "register"])
@pytest.mark.parametrize(
    "credentials",
    [b"nocomma", b",123", b"carol,", b"a b,123", b"carol\t,123", b"c" * 33 + b",123", b"car:ol,123", b""],
    ids=["no-comma", "empty-name", "empty-password", "space", "tab", "33-chars", "colon", "empty-line"],
)
def test_bad_format_then_retry(harness: Harness, verb: str, credentials: bytes) -> None:
    client = harness.connect()
    client.send(verb.encode() + b"\n" + credentials + b"\n")
    assert client.line() == FORMAT
    client.expect_silence(0.05)
    assert harness.find_account("carol") is None
    assert harness.server.database.count_accounts() == 0
    harness.login("user1", "123", client=client)


def test_longest_valid_name_is_accepted(harness: Harness) -> None:
    name = "n" * 32
    harness.register(name, "pw")
    assert harness.find_account(name) is not None


def test_first_line_not_a_verb_gets_greeting_and_is_not_a_failed_attempt(harness: Harness) -> None:
    client = harness.connect()
    for junk in (b"hello", b"user1,123", b"loginx", b"", b"mode xml"):
        client.send(junk + b"\n")
        assert client.line() == GREETING
    client.send(b"login\nuser1,bad\nlogin\nuser1,bad\n")  # two real failures
    assert client.lines(2) == [WRONG, WRONG]
    harness.login("user1", "123", client=client)  # the third attempt is still allowed


def test_three_failed_attempts_close_the_connection(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect()
    client.send(b"login\nuser1,bad\n")
    assert client.line() == WRONG
    client.send(b"register\nuser3,x\n")
    assert client.line() == TAKEN
    client.send(b"login\nnocomma\n")
    assert client.line() == FORMAT
    assert client.closed() == [TOO_MANY]
    watcher.expect_silence(0.05)


def test_three_failures_in_one_packet_drop_the_lines_after_them(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect()
    client.send(b"login\nuser1,x\nlogin\nuser1,y\nlogin\nuser1,z\nlogin\nuser1,123\nhello\n")
    assert client.closed() == [WRONG, WRONG, WRONG, TOO_MANY]
    watcher.expect_silence(0.05)  # user1 never entered, hello never sent
    assert harness.server.hub.online_names() == ("user2",)
    harness.login("user1", "123")


def test_pipelined_retry_after_a_failure_in_one_packet(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect()
    client.send(b"login\nuser1,nope\nlogin\nuser1,123\nhi\n")
    client.expect(WRONG, "Access Provided", "active users are: user2 user1")
    watcher.expect("user1 has entered the chat", "user1: hi")


# --- new passwords have a minimum length (issue 14) ---------------------------------------------


def test_registration_needs_a_long_enough_password(make_harness) -> None:
    h = make_harness(min_password_length=8)
    client = h.connect()
    client.send(b"register\nalice, \n")
    assert client.line() == "a password cannot be only spaces"
    client.send(b"register\nalice,1234567\n")
    assert client.line() == "password too short: at least 8 characters"
    assert h.find_account("alice") is None
    h.register("alice", "12345678", client=client)
    h.login("user1", "123")  # preconfigured accounts keep their passwords


def test_passwd_needs_a_long_enough_new_password(make_harness) -> None:
    h = make_harness(min_password_length=8)
    alice = h.register("alice", "12345678")
    alice.send(b"/passwd 12345678,short\n")
    assert alice.line() == "password too short: at least 8 characters"
    alice.send(b"/passwd 12345678,long enough\n")
    assert alice.line() == "password changed"
    u1 = h.login("user1", "123")
    u1.send(b"/passwd 123,456\n")  # the accounts file's business, not the length rule's
    assert u1.line() == "user1 is a preconfigured account: it belongs to the server's accounts file"


def test_registration_is_refused_once_the_database_file_is_deleted(harness: Harness) -> None:
    # Audit finding: SQLite went on writing to the unlinked file, so registrations were
    # acknowledged and gone after a restart. Now the store refuses the write.
    harness.sqlite_only("a deleted database file")
    harness.register("alice", "password1").close()
    for suffix in ("", "-wal", "-shm"):
        (harness.data_dir / (DATABASE_NAME + suffix)).unlink(missing_ok=True)
    client = harness.connect()
    client.send(b"register\nbob,password2\n")
    assert client.closed() == [texts.ErrorCode.INTERNAL.value]
