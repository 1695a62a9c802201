"""Loopback tests of chat delivery and framing (protocol step 5, limits): one
end-to-end smoke test, framing across TCP segments, line limits, end of input. Who
receives what is tested at the service, over in-memory peers
(``tests/unit/test_service_chat.py``)."""

from __future__ import annotations

from tests.harness import Harness

TOO_LONG = "line too long (over 4096 bytes), discarded"
BAD_UTF8 = "line is not valid UTF-8, discarded"


def test_chat_reaches_every_other_user_without_echo(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    u1.send(b"hello\n")
    assert u2.raw(len(b"user1: hello\n")) == b"user1: hello\n"
    assert u3.raw(len(b"user1: hello\n")) == b"user1: hello\n"
    u1.expect_silence(0.05)
    u3.send(b"hi, user1: how are you?\n")
    assert u1.line() == "user3: hi, user1: how are you?"
    assert u2.line() == "user3: hi, user1: how are you?"
    u3.expect_silence(0.05)


def test_crlf_accepted_and_never_sent(harness: Harness) -> None:
    u2 = harness.login("user2", "345")
    u1 = harness.connect()
    u1.send(b"login\r\nuser1,123\r\n")
    u1.expect("Access Provided", "active users are: user2 user1")
    assert u2.line() == "user1 has entered the chat"
    u1.send(b"hello\r\n")
    assert u2.raw(len(b"user1: hello\n")) == b"user1: hello\n"




# --- framing ---------------------------------------------------------------------------------


def test_login_and_credentials_in_one_segment(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"login\nuser1,123\n")
    client.expect("Access Provided", "active users are: user1")


def test_one_byte_per_segment(harness: Harness) -> None:
    u2 = harness.login("user2", "345")
    client = harness.connect()
    client.send_bytewise(b"login\r\nuser1,123\r\nhi there\r\n")
    client.expect("Access Provided", "active users are: user2 user1")
    u2.expect("user1 has entered the chat", "user1: hi there")


def test_lines_after_credentials_in_the_same_segment_are_delivered_in_order(harness: Harness) -> None:
    u2 = harness.login("user2", "345")
    u3 = harness.login("user3", "123")
    client = harness.connect()
    client.send(b"login\nuser1,123\nhello\nsecond\nthird\n")
    client.expect("Access Provided", "active users are: user2 user3 user1")
    for other in (u2, u3):
        other.expect("user1 has entered the chat", "user1: hello", "user1: second", "user1: third")
    client.expect_silence(0.05)


def test_pipe_like_client_eof_right_after_its_lines(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect(greet=False)
    client.send(b"login\nuser1,123\nhi\n")
    client.half_close()  # like `printf ... | nc`: end of input right away
    assert client.closed() == [
        "type login or register and then give user,password",
        "Access Provided",
        "active users are: user2 user1",
    ]
    watcher.expect("user1 has entered the chat", "user1: hi", "user1 has left the chat")
    watcher.expect_silence(0.05)
    assert harness.server.hub.online_names() == ("user2",)


def test_pipe_like_client_that_closes_fully(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect(greet=False)
    client.send(b"login\nuser1,123\nbye now\n")
    client.close()  # FIN at once; unread greeting is drained first so no reset
    watcher.expect("user1 has entered the chat", "user1: bye now", "user1 has left the chat")
    watcher.expect_silence(0.05)


def test_line_of_exactly_the_limit_is_delivered(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    text = "x" * 4096
    u1.send(text.encode() + b"\n")
    assert u2.line() == "user1: " + text
    u1.send(text.encode() + b"\r\n")  # the CR does not count
    assert u2.line() == "user1: " + text
    u1.expect_silence(0.05)


def test_over_long_line_is_discarded_and_the_connection_survives(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    u1.send(b"y" * 4097 + b"\n")
    assert u1.raw(len(TOO_LONG) + 1) == TOO_LONG.encode() + b"\n"
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)
    u1.send(b"z" * 100_000)  # one error for the whole line, however long
    u1.send(b"z" * 100_000 + b"\nafter\n")
    assert u1.line() == TOO_LONG
    assert u2.line() == "user1: after"
    u1.expect_silence(0.05)
    u2.expect_silence(0.05)


def test_over_long_line_before_login_is_not_a_failed_attempt(harness: Harness) -> None:
    client = harness.connect()
    for _ in range(4):
        client.send(b"L" * 5000 + b"\n")
        assert client.line() == TOO_LONG
    client.send(b"login\n" + b"u" * 5000 + b",123\n")
    assert client.line() == TOO_LONG
    client.send(b"user1,123\n")  # still waiting for credentials
    client.expect("Access Provided", "active users are: user1")


def test_invalid_utf8_is_discarded_and_the_connection_survives(harness: Harness) -> None:
    u1 = harness.login("user1", "123")
    u2 = harness.login("user2", "345")
    u1.send(b"bad \xff\xfe bytes\n")
    assert u1.raw(len(BAD_UTF8) + 1) == BAD_UTF8.encode() + b"\n"
    u2.expect_silence(0.05)
    u1.send(b"\xc3\n")  # a truncated sequence
    assert u1.line() == BAD_UTF8
    u1.send(b"fine\n")
    assert u2.line() == "user1: fine"


def test_invalid_utf8_before_login(harness: Harness) -> None:
    client = harness.connect()
    client.send(b"log\xffin\n")
    assert client.line() == BAD_UTF8
    client.send(b"login\nuser1,\xff\n")
    assert client.line() == BAD_UTF8
    client.send(b"user1,123\n")
    client.expect("Access Provided", "active users are: user1")


def test_eof_while_a_failed_login_is_checked(harness: Harness) -> None:
    watcher = harness.login("user2", "345")
    client = harness.connect()
    client.send(b"login\nuser1,wrong\nhello\n")
    client.half_close()
    assert client.closed() == ["Wrong Password", "type login or register and then give user,password"]
    watcher.expect_silence(0.05)


def test_input_while_authenticating_is_held_not_dropped(make_harness) -> None:
    h = make_harness(hash_workers=1)
    watcher = h.login("user2", "345")
    client = h.connect()
    texts_sent = [f"{i:04d} " + "b" * 2000 for i in range(150)]  # ~300 KB, past the 64 Ki backlog
    data = b"login\nuser1,123\n" + "".join(t + "\n" for t in texts_sent).encode()
    with h.workers_held():
        client.send(data)
        conn = h.server_conn(client)
        h.pump_until(lambda: not conn.reading, "the server to stop reading (backlog full)")
        h.pump(5)
        assert not conn.reading and not conn.closing
    client.expect("Access Provided", "active users are: user2 user1")
    assert watcher.line() == "user1 has entered the chat"
    assert watcher.lines(len(texts_sent)) == [f"user1: {t}" for t in texts_sent]
    watcher.expect_silence(0.05)
