"""The IRC codec (pollchat.protocol.irc): bytes in, typed requests out; events in, IRC out."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.protocol.events import Emote, Entered, Error, GroupEvent, Left, Message, PrivateMessage, Welcome
from pollchat.protocol.irc import IrcCodec, format_message, message_id, parse_message, server_time
from pollchat.protocol.requests import (
    REQUEST_TYPES,
    Away,
    ChangeMode,
    ChatHistory,
    HistoryPoint,
    Join,
    Kick,
    LogIn,
    Part,
    Quit,
    Registered,
    Rename,
    Say,
    Send,
    SlashCommand,
    Topic,
    Who,
)
from pollchat.texts import ErrorCode, GroupChange


def codec(**kw: object) -> IrcCodec:
    kw.setdefault("guests", True)
    return IrcCodec("irc.test", "#lobby", **kw)  # type: ignore[arg-type]


def sent(requests: list) -> bytes:  # type: ignore[type-arg]
    return b"".join(r.data for r in requests if isinstance(r, Send))


def registered(nick: str = "alice", **kw: object) -> IrcCodec:
    c = codec(**kw)
    c.receive_data(f"NICK {nick}\r\nUSER u 0 * :Real Name\r\n".encode())
    c.encode(Welcome(nick, (nick,)), 0.0)
    return c


# --- parsing -----------------------------------------------------------------------------


def test_parse_message_with_tags_source_and_trailing() -> None:
    m = parse_message(r"@time=x;+a=b\sc :nick!u@h PRIVMSG #chan :hello world")
    assert m is not None
    assert m.tags == (("time", "x"), ("+a", "b c"))
    assert (m.source, m.command, m.params) == ("nick!u@h", "PRIVMSG", ("#chan", "hello world"))


def test_parse_message_collapses_spaces_and_upper_cases() -> None:
    m = parse_message("join   #a   ")
    assert m is not None and m.command == "JOIN" and m.params == ("#a",)
    assert parse_message("") is None and parse_message("@a=b") is None


def test_format_message_adds_colon_only_when_needed_and_never_breaks_a_line() -> None:
    assert format_message("PRIVMSG", "#a", "hi") == b"PRIVMSG #a hi\r\n"
    assert format_message("PRIVMSG", "#a", "hi there") == b"PRIVMSG #a :hi there\r\n"
    assert format_message("TOPIC", "#a", "") == b"TOPIC #a :\r\n"
    assert format_message("NOTICE", "x", "a\r\nQUIT") == b"NOTICE x :a  QUIT\r\n"


def test_server_time_is_utc_with_milliseconds() -> None:
    assert server_time(0.5) == "1970-01-01T00:00:00.500Z"


# --- registration -------------------------------------------------------------------------


def test_nick_user_without_credentials_is_a_guest_login_when_allowed() -> None:
    c = codec()
    assert c.receive_data(b"NICK alice\r\nUSER u 0 * :Alice A\r\n") == [LogIn("alice", guest=True)]
    assert (c.user, c.realname) == ("u", "Alice A")


def test_without_guests_credentials_are_required() -> None:
    out = codec(guests=False).receive_data(b"NICK alice\nUSER u 0 * :A\n")
    assert b" 464 alice " in sent(out) and Quit("no credentials") in out


def test_pass_user_colon_password_logs_in_as_that_account() -> None:
    out = codec().receive_data(b"PASS bob:s3cret:x\r\nNICK b\r\nUSER u 0 * :B\r\n")
    assert out == [LogIn("bob", "s3cret:x")]
    out = codec().receive_data(b"PASS s3cret\r\nNICK carol\r\nUSER u 0 * :C\r\n")
    assert out == [LogIn("carol", "s3cret")]


def test_login_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(LogIn("bob", "s3cret"))


def test_cap_negotiation_holds_registration_until_cap_end() -> None:
    c = codec()
    out = c.receive_data(b"CAP LS 302\r\nNICK alice\r\nUSER u 0 * :A\r\n")
    assert b"CAP * LS :" in sent(out) and b"sasl=PLAIN" in sent(out)
    assert not any(isinstance(r, LogIn) for r in out)
    out = c.receive_data(b"CAP REQ :server-time echo-message\r\n")
    assert b"CAP alice ACK :server-time echo-message" in sent(out)
    assert ChangeMode(c._make_key({"server-time", "echo-message"})) in out
    assert c.receive_data(b"CAP END\r\n") == [LogIn("alice", guest=True)]


def test_cap_req_of_an_unknown_capability_is_refused_whole() -> None:
    c = codec()
    out = c.receive_data(b"CAP REQ :server-time bogus\r\n")
    assert b"NAK :server-time bogus" in sent(out) and "server-time" not in c.caps


def test_mode_key_depends_on_rendering_caps_and_the_main_channel_only() -> None:
    a, b = codec(), codec()
    for c in (a, b):
        c.switch_mode(c._make_key({"server-time", "multi-prefix"}))
    assert a.mode_key == b.mode_key
    b.switch_mode(b._make_key(in_main=False))
    assert a.mode_key != b.mode_key


def test_sasl_plain_gives_a_login_then_900_903_and_001_after_cap_end() -> None:
    c = codec()
    c.receive_data(b"CAP LS 302\r\nCAP REQ :sasl\r\n")
    assert sent(c.receive_data(b"AUTHENTICATE PLAIN\r\n")) == b"AUTHENTICATE +\r\n"
    blob = base64.b64encode(b"\0jilles\0sesame").decode()
    assert c.receive_data(f"AUTHENTICATE {blob}\r\n".encode()) == [LogIn("jilles", "sesame", sasl=True)]
    reply = c.encode(Welcome("jilles", ("jilles",)), 0.0)
    assert b" 900 " in reply and b" 903 " in reply and b" 001 " not in reply
    c.receive_data(b"NICK jilles\r\nUSER u 0 * :J\r\n")
    assert b" 001 jilles " in sent(c.receive_data(b"CAP END\r\n")) and c.registered


def test_sasl_wrong_password_is_904_and_a_bad_mechanism_908() -> None:
    c = codec()
    c.receive_data(b"CAP LS 302\r\nCAP REQ :sasl\r\nAUTHENTICATE PLAIN\r\n")
    c.receive_data(b"AUTHENTICATE " + base64.b64encode(b"\0jilles\0nope") + b"\r\n")
    assert b" 904 " in c.encode(Error.of(ErrorCode.WRONG_PASSWORD), 0.0)
    assert b" 908 " in sent(c.receive_data(b"AUTHENTICATE SCRAM-SHA-256\r\n"))


def test_refusals_map_to_numerics() -> None:
    c = codec()
    c.receive_data(b"NICK alice\r\nUSER u 0 * :A\r\n")
    assert b" 433 * alice :" in c.encode(Error.of(ErrorCode.NAME_TAKEN), 0.0)
    assert b" 465 " in c.encode(Error.of(ErrorCode.SERVER_FULL), 0.0)
    assert b" 464 " in c.encode(Error.of(ErrorCode.WRONG_PASSWORD), 0.0)
    assert b"465 * :Max number of chat users" in c.encode(Error.of(ErrorCode.SERVER_FULL), 0.0)


def test_a_login_past_the_sessions_per_account_is_433_saying_why() -> None:
    c = codec()
    c.receive_data(b"NICK alice\r\nUSER u 0 * :A\r\n")
    data = c.encode(Error.of(ErrorCode.TOO_MANY_SESSIONS, limit=2), 0.0)
    assert b" 433 * alice :this account is logged in on 2 devices already" in data


def test_commands_before_registration_get_451_and_unknown_ones_421() -> None:
    c = codec()
    assert b" 451 * JOIN " in sent(c.receive_data(b"JOIN #a\r\n"))
    assert b" 421 * FROB " in sent(c.receive_data(b"FROB\r\n"))
    assert b"PONG irc.test tok" in sent(c.receive_data(b"PING tok\r\n"))


def test_invalid_nick_is_432() -> None:
    assert b" 432 * a$b " in sent(codec().receive_data(b"NICK a$b\r\n"))


# --- after registration: typed requests ---------------------------------------------------------


def test_chat_commands_become_typed_requests() -> None:
    c = registered()
    data = (
        b"PRIVMSG #lobby :hello there\r\nPRIVMSG bob,#g :hi\r\nPRIVMSG #g :\x01ACTION waves\x01\r\n"
        b"NOTICE bob :psst\r\nJOIN #a,#b\r\nPART #a :bye\r\nTOPIC #b :new topic\r\nTOPIC #b\r\n"
        b"KICK #b carol,dave :out\r\nAWAY :lunch\r\nAWAY\r\nNICK alicia\r\nWHO #b %nuf,42\r\n"
        b"PRIVMSG *pollchat :/who\r\nQUIT :see you\r\n"
    )
    assert c.receive_data(data) == [
        Say("#lobby", "hello there"),
        Say("bob", "hi"),
        Say("#g", "hi"),
        Say("#g", "waves", action=True),
        Say("bob", "psst", notice=True),
        Join("#a"),
        Join("#b"),
        Part("#a", "bye"),
        Topic("#b", "new topic"),
        Topic("#b"),
        Kick("#b", "carol", "out"),
        Kick("#b", "dave", "out"),
        Away("lunch"),
        Away(""),
        Rename("alicia"),
        Who("#b", "nuf", "42"),
        SlashCommand("/who"),
        Quit("see you"),
    ]


def test_missing_parameters_are_461_411_412() -> None:
    c = registered()
    assert b" 461 alice JOIN " in sent(c.receive_data(b"JOIN\r\n"))
    assert b" 411 alice " in sent(c.receive_data(b"PRIVMSG\r\n"))
    assert b" 412 alice " in sent(c.receive_data(b"PRIVMSG bob\r\n"))
    assert sent(c.receive_data(b"NOTICE bob\r\n")) == b""  # NOTICE is never answered


def test_a_body_over_512_bytes_is_417_and_skipped() -> None:
    c = registered()
    out = c.receive_data(b"PRIVMSG #lobby :" + b"x" * 600 + b"\r\nPRIVMSG #lobby :ok\r\n")
    assert b" 417 " in sent(out) and Say("#lobby", "ok") in out


def test_client_tags_over_4094_bytes_are_417_but_smaller_tags_are_fine() -> None:
    c = registered()
    assert b" 417 " in sent(c.receive_data(b"@+x=" + b"a" * 4096 + b" PRIVMSG #lobby hi\r\n"))
    assert c.receive_data(b"@+x=" + b"a" * 4000 + b" PRIVMSG #lobby hi\r\n") == [Say("#lobby", "hi")]


def test_invalid_utf8_is_a_fail_invalid_utf8() -> None:
    assert b"FAIL PRIVMSG INVALID_UTF8" in sent(registered().receive_data(b"PRIVMSG bob hi\xaa\r\n"))


def test_an_endless_line_is_dropped_with_bounded_memory() -> None:
    c = registered()
    out = []
    for _ in range(100):
        out += c.receive_data(b"x" * 10_000)
    assert b" 417 " in sent(out) and len(c._buf) <= 10_000
    assert c.receive_data(b"\r\nPRIVMSG #lobby ok\r\n") == [Say("#lobby", "ok")]


# --- events to IRC --------------------------------------------------------------------------


def test_welcome_is_001_to_005_lusers_motd_and_the_main_channel() -> None:
    c = codec()
    c.receive_data(b"NICK alice\r\nUSER u 0 * :A\r\n")
    data = c.encode(Welcome("alice", ("bob", "alice")), 0.0)
    for numeric in (b" 001 ", b" 002 ", b" 003 ", b" 004 ", b" 005 ", b" 251 ", b" 375 ", b" 372 ", b" 376 ", b" 366 "):
        assert numeric in data
    assert b" 422 " not in data
    bare = IrcCodec("irc.test", motd=())
    bare.receive_data(b"NICK alice\r\nUSER u 0 * :A\r\n")
    assert b" 422 " in bare.encode(Welcome("alice", ("alice",)), 0.0)
    assert b":alice!alice@pollchat JOIN #lobby\r\n" in data and b"353 alice = #lobby :bob alice" in data
    assert codec(autojoin=False).encode(Welcome("alice", ("alice",)), 0.0).count(b" JOIN #") == 0


def test_chat_events_render_as_irc_messages() -> None:
    c = registered()
    assert c.encode(Message("bob", "hi all"), 0.0) == b":bob!bob@pollchat PRIVMSG #lobby :hi all\r\n"
    assert c.encode(Message("bob", "hi", group="g"), 0.0) == b":bob!bob@pollchat PRIVMSG #g hi\r\n"
    assert c.encode(Emote("bob", "waves"), 0.0) == b":bob!bob@pollchat PRIVMSG #lobby :\x01ACTION waves\x01\r\n"
    assert c.encode(PrivateMessage("bob", "alice", "psst"), 0.0) == b":bob!bob@pollchat PRIVMSG alice psst\r\n"
    assert c.encode(Entered("bob"), 0.0) == b":bob!bob@pollchat JOIN #lobby\r\n"
    assert c.encode(Left("bob", "tired"), 0.0) == b":bob!bob@pollchat QUIT :Quit: tired\r\n"
    joined = GroupEvent("g", GroupChange.JOINED, "bob")
    assert c.encode(joined, 0.0) == b":bob!bob@pollchat JOIN #g\r\n"


def test_main_channel_events_are_not_shown_outside_it() -> None:
    c = registered(autojoin=False)
    assert c.encode(Message("bob", "hi"), 0.0) == b"" and c.encode(Entered("bob"), 0.0) == b""
    assert c.encode(Message("bob", "hi", group="g"), 0.0) != b""


def test_history_carries_its_real_time_with_server_time() -> None:
    c = registered()
    c.switch_mode(c._make_key({"server-time"}))
    line = c.encode(Message("bob", "old", history=True, at=86400.0), 999.0)
    assert line.startswith(b"@time=1970-01-02T00:00:00.000Z;") or line.startswith(b"@time=1970-01-02T00:00:00.000Z ")


# --- never an exception, chunking does not matter ---------------------------------------------

_WORDS = st.sampled_from(
    [b"NICK a\r\n", b"USER u 0 * :r\r\n", b"CAP LS 302\r\n", b"CAP REQ :sasl\r\n", b"CAP END\r\n", b"PING x\r\n",
     b"AUTHENTICATE PLAIN\r\n", b"AUTHENTICATE +\r\n", b"JOIN #a\r\n", b"PRIVMSG #a :hi\r\n", b"@a=b;c :s X y :z\r\n",
     b"\r\n", b"\xff\xfe\n", b"PASS x:y\r\n", b"MODE a +i\r\n", b"WHO * %cuf,1\r\n", b"QUIT\r\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_WORDS, st.binary(max_size=40)), max_size=30), st.data())
def test_any_bytes_in_any_chunking_give_the_same_requests(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    whole = codec().receive_data(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunked: list = []  # type: ignore[type-arg]
    c, start = codec(), 0
    for cut in [*cuts, len(stream)]:
        chunked += c.receive_data(stream[start:cut])
        start = cut
    assert chunked == whole
    assert all(isinstance(r, REQUEST_TYPES) for r in whole)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_after_registration_never_raise(data: bytes) -> None:
    c = registered()
    for request in c.receive_data(data + b"\r\n"):
        assert isinstance(request, REQUEST_TYPES)


def test_client_tags_travel_with_message_tags_only_and_tagmsg_is_tag_only() -> None:
    plain = registered()
    assert plain.receive_data(b"@+draft/reply=1;fizz=x PRIVMSG #g :hi\r\n") == [Say("#g", "hi")]
    tagged = registered()
    tagged.switch_mode(tagged._make_key({"message-tags"}))
    tagged.caps.add("message-tags")
    out = tagged.receive_data(b"@+draft/reply=1;fizz=x PRIVMSG #g :hi\r\n@+typing=active TAGMSG bob\r\n")
    assert out == [
        Say("#g", "hi", tags=(("+draft/reply", "1"),)),
        Say("bob", "", tags=(("+typing", "active"),), tag_only=True),
    ]
    line = tagged.chat_line("bob", "#g", "hi", 1.0, client_tags=(("+draft/reply", "1"),))
    assert line.startswith(b"@+draft/reply=1;msgid=")
    assert plain.chat_line("bob", "#g", "", 1.0, tag_only=True) == b""


# --- draft/chathistory ---------------------------------------------------------------------


def test_chathistory_requests_are_typed_with_their_selectors() -> None:
    c = registered()
    got = c.receive_data(
        b"CHATHISTORY LATEST #lobby * 500\r\n"
        b"CHATHISTORY before Bob msgid=5f-626f62 20\r\n"
        b"CHATHISTORY BETWEEN #g timestamp=2026-12-07T02:30:00.123Z timestamp=2026-12-07T02:30:01Z 5\r\n"
    )
    assert got == [
        ChatHistory("LATEST", "#lobby", (None,), 100),  # at most the ISUPPORT limit
        ChatHistory("BEFORE", "Bob", (HistoryPoint(msgid="5f-626f62"),), 20),
        ChatHistory("BETWEEN", "#g", (HistoryPoint(ms=1796610600123), HistoryPoint(ms=1796610601000)), 5),
    ]
    assert server_time(1796610600.123) == "2026-12-07T02:30:00.123Z"


@given(st.lists(st.sampled_from(["LATEST", "AROUND", "BETWEEN", "TARGETS", "x", "*", "#c", "msgid=1-2",
                                 "timestamp=2026-01-01T00:00:00Z", "timestamp=", "0", "7", "-1", "٣"]), max_size=6))
def test_any_chathistory_line_is_a_request_or_a_fail(words: list[str]) -> None:
    c = registered()
    for request in c.receive_data(("CHATHISTORY " + " ".join(words) + "\r\n").encode()):
        if isinstance(request, Send):
            assert request.data.startswith(b":irc.test FAIL CHATHISTORY INVALID_PARAMS ")
        else:
            assert isinstance(request, ChatHistory) and 1 <= request.limit <= 100
            assert len(request.points) == (2 if request.subcommand in ("BETWEEN", "TARGETS") else 1)


def test_history_batch_gives_each_line_its_record_time_and_msgid() -> None:
    c = registered()
    for request in c.receive_data(b"CAP REQ :batch message-tags server-time\r\n"):
        if isinstance(request, ChangeMode):
            c.switch_mode(request.mode)
    assert {"batch", "message-tags", "server-time"} <= c.caps
    at = 1796610600.123456
    data = c.history_batch("#lobby", [Message("bob", "hi", history=True, at=at), PrivateMessage("bob", "alice", "psst", history=True, at=at + 1)])
    lines = data.decode().split("\r\n")
    assert lines[0] == ":irc.test BATCH +h1 chathistory #lobby"
    assert lines[1] == f"@batch=h1;msgid={message_id('bob', at)};time=2026-12-07T02:30:00.123Z :bob!bob@pollchat PRIVMSG #lobby hi"
    assert lines[2].endswith(" :bob!bob@pollchat PRIVMSG alice psst") and lines[3] == ":irc.test BATCH -h1"
    # live, the same line carries the same tags when the server says it is that record's
    c.recorded = lambda sender, text: at if (sender, text) == ("bob", "hi") else None
    assert c.encode(Message("bob", "hi"), at + 5).decode() == lines[1].split(";", 1)[1].join(("@", "\r\n"))


def test_commands_behind_the_credentials_wait_for_001() -> None:
    c = codec(guests=False)
    got = c.receive_data(b"PASS alice:pw\r\nNICK alice\r\nUSER u 0 * :A\r\nJOIN #x\r\nPRIVMSG #lobby :hi there\r\n")
    assert got == [LogIn("alice", "pw")]  # no 451: held while the password is checked
    assert c.take_early() == []  # not before 001
    c.encode(Welcome("alice", ("alice",)), 0.0)
    assert c.take_early() == [Join("#x"), Say("#lobby", "hi there")]
    assert c.take_early() == []


def test_an_early_register_is_answered_at_once_and_001_waits_for_user() -> None:
    c = codec(guests=False)
    assert c.receive_data(b"REGISTER * * pw\r\n") == [
        Send(b":irc.test FAIL REGISTER NEED_NICK * :Send NICK first, or name the account\r\n")
    ]
    assert c.receive_data(b"REGISTER dan * pw\r\n") == [LogIn("dan", "pw", register=True)]
    data = c.encode(Welcome("dan", ("dan",)), 0.0)
    assert data.startswith(b":irc.test REGISTER SUCCESS dan :Account created\r\n:irc.test 900 dan ") and b" 001 " not in data
    got = c.receive_data(b"NICK dan\r\nUSER u 0 * :D\r\n")
    assert b" 001 dan " in sent(got) and got[-1] == Registered()
    refused = codec(guests=False)
    refused.receive_data(b"REGISTER bob * pw\r\n")
    assert refused.encode(Error(ErrorCode.NAME_TAKEN, "taken"), 0.0) == b":irc.test FAIL REGISTER ACCOUNT_EXISTS bob taken\r\n"
