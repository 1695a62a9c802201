"""IRCv3 labeled-response in the IRC codec (pollchat.protocol.irc): the framing of a
labelled answer (ACK, one labelled line, a labeled-response batch with nested batches
kept) and the ReplyStart/ReplyEnd markers around a labelled message's requests."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.events import Error, Labelled, Message, Welcome
from pollchat.protocol.irc import (
    CAPABILITIES,
    MAX_LABEL,
    IrcCodec,
    add_tag,
    format_message,
    frame_reply,
    has_tag,
    parse_message,
)
from pollchat.protocol.requests import REQUEST_TYPES, LogIn, ReplyEnd, ReplyStart, Say, Send, WhoIs
from pollchat.texts import ErrorCode


def registered(caps: str = "batch labeled-response") -> IrcCodec:
    c = IrcCodec("irc.test", "#lobby", guests=True)
    c.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\nNICK alice\r\nUSER u 0 * :R\r\n".encode())
    c.encode(Welcome("alice", ("alice",)), 0.0)
    return c


def lines(data: bytes) -> list[bytes]:
    return [line + b"\r\n" for line in data.split(b"\r\n") if line]


# --- framing (pure) ----------------------------------------------------------------------


def test_no_line_is_an_ack_with_the_label() -> None:
    assert frame_reply("abc", b"", "irc.test", "r1") == b"@label=abc :irc.test ACK\r\n"


def test_one_line_gets_the_label_first_among_its_tags() -> None:
    assert frame_reply("L", b":irc.test 306 a :away\r\n", "irc.test", "r1") == b"@label=L :irc.test 306 a :away\r\n"
    tagged = b"@msgid=1;time=t :a!a@pollchat PRIVMSG b :hi\r\n"
    assert frame_reply("L", tagged, "irc.test", "r1") == b"@label=L;msgid=1;time=t :a!a@pollchat PRIVMSG b :hi\r\n"


def test_several_lines_are_a_labeled_response_batch() -> None:
    data = b":irc.test 311 a b b pollchat * :b\r\n:irc.test 318 a b :End\r\n"
    assert frame_reply("w", data, "irc.test", "r7") == (
        b"@label=w :irc.test BATCH +r7 labeled-response\r\n"
        b"@batch=r7 :irc.test 311 a b b pollchat * :b\r\n"
        b"@batch=r7 :irc.test 318 a b :End\r\n"
        b":irc.test BATCH -r7\r\n"
    )


def test_a_nested_batch_keeps_its_lines_and_its_batch_lines_join_the_outer_one() -> None:
    data = (
        b":irc.test BATCH +h1 chathistory #lobby\r\n"
        b"@batch=h1;time=t :a!a@pollchat PRIVMSG #lobby :hi\r\n"
        b":irc.test BATCH -h1\r\n"
    )
    assert lines(frame_reply("c", data, "irc.test", "r2")) == [
        b"@label=c :irc.test BATCH +r2 labeled-response\r\n",
        b"@batch=r2 :irc.test BATCH +h1 chathistory #lobby\r\n",
        b"@batch=h1;time=t :a!a@pollchat PRIVMSG #lobby :hi\r\n",
        b"@batch=r2 :irc.test BATCH -h1\r\n",
        b":irc.test BATCH -r2\r\n",
    ]


def test_without_the_batch_capability_several_lines_go_unlabelled() -> None:
    data = b":irc.test 311 a b\r\n:irc.test 318 a b\r\n"
    assert frame_reply("w", data, "irc.test", "r1", batch=False) == data


def test_has_tag_and_add_tag() -> None:
    assert has_tag(b"@batch=x;time=t :s CMD\r\n", "batch") and has_tag(b"@a;batch :s CMD\r\n", "batch")
    assert not has_tag(b"@batches=x :s CMD\r\n", "batch") and not has_tag(b":s CMD :@batch=x\r\n", "batch")
    assert add_tag(b":s CMD\r\n", "label", "a b;c") == b"@label=a\\sb\\:c :s CMD\r\n"


_PARAM = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0 "), min_size=1, max_size=12)
_LINE = st.builds(
    lambda command, params, tags: format_message(command, *params, source="irc.test", tags=tags),
    st.sampled_from(["PRIVMSG", "NOTICE", "311", "318", "JOIN", "BATCH"]),
    st.lists(_PARAM, max_size=4),
    st.lists(st.tuples(st.sampled_from(["time", "msgid", "+x", "account"]), _PARAM), max_size=2, unique_by=lambda t: t[0]),
)
_LABEL = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(st.lists(_LINE, max_size=8), _LABEL)
def test_any_answer_frames_to_parseable_lines_that_keep_every_message(answer: list[bytes], label: str) -> None:
    """Whatever the lines, the label comes back exactly once (on the ACK, the line or the
    opening BATCH), every line of the answer is there unchanged but for the added tag,
    and each is in the batch or its own."""
    framed = lines(frame_reply(label, b"".join(answer), "irc.test", "r1"))
    parsed = [parse_message(line[:-2].decode()) for line in framed]
    assert all(m is not None for m in parsed)
    labelled = [m for m in parsed if m is not None and dict(m.tags).get("label") is not None]
    assert len(labelled) == 1 and dict(labelled[0].tags)["label"] == label
    if not answer:
        assert len(parsed) == 1 and parsed[0] is not None and parsed[0].command == "ACK"
        return
    if len(answer) == 1:
        original = parse_message(answer[0][:-2].decode())
        assert original is not None and parsed[0] is not None
        assert (parsed[0].command, parsed[0].params) == (original.command, original.params)
        assert [t for t in parsed[0].tags if t[0] != "label"] == list(original.tags)
        return
    first, last = parsed[0], parsed[-1]
    assert first is not None and first.command == "BATCH" and first.params == ("+r1", "labeled-response")
    assert last is not None and last.command == "BATCH" and last.params == ("-r1",)
    for inner, original_line in zip(parsed[1:-1], answer, strict=True):
        original = parse_message(original_line[:-2].decode())
        assert inner is not None and original is not None
        assert (inner.command, inner.params) == (original.command, original.params)
        assert dict(inner.tags)["batch"] == "r1"


# --- the codec -------------------------------------------------------------------------


def test_labeled_response_is_offered() -> None:
    assert "labeled-response" in CAPABILITIES and "batch" in CAPABILITIES


def test_a_labelled_message_s_requests_come_between_markers() -> None:
    c = registered()
    out = c.receive_data(b"@label=q1 WHOIS bob\r\n@label=q2 PRIVMSG #lobby,bob :hi\r\nWHOIS carl\r\n")
    assert out == [
        ReplyStart("q1"), WhoIs("bob"), ReplyEnd("q1"),
        ReplyStart("q2"), Say("#lobby", "hi"), Say("bob", "hi"), ReplyEnd("q2"),
        WhoIs("carl"),
    ]
    assert ReplyStart in REQUEST_TYPES and ReplyEnd in REQUEST_TYPES


def test_a_codec_answer_is_between_the_markers_too() -> None:
    c = registered()
    out = c.receive_data(b"@label=p PING :x\r\n")
    assert [type(r) for r in out] == [ReplyStart, Send, ReplyEnd]


def test_no_markers_without_the_capability_or_with_a_bad_label() -> None:
    c = registered(caps="batch")
    assert c.receive_data(b"@label=q1 WHOIS bob\r\n") == [WhoIs("bob")]
    c = registered()
    long = "x" * (MAX_LABEL + 1)
    assert c.receive_data(f"@label={long} WHOIS bob\r\n@label= WHOIS carl\r\n".encode()) == [WhoIs("bob"), WhoIs("carl")]
    assert c.receive_data(f"@label={'x' * MAX_LABEL} WHOIS bob\r\n".encode())[0] == ReplyStart("x" * MAX_LABEL)


def test_a_labelled_line_that_is_not_utf8_gets_its_fail_between_markers() -> None:
    c = registered()
    out = c.receive_data(b"@label=u PRIVMSG #lobby :hi\xaa\r\n")
    assert [type(r) for r in out] == [ReplyStart, Send, ReplyEnd] and out[0] == ReplyStart("u")
    assert b"FAIL PRIVMSG INVALID_UTF8" in out[1].data  # type: ignore[union-attr]


def test_a_labelled_login_command_is_marked_and_a_command_held_for_001_is_marked_when_carried_out() -> None:
    c = IrcCodec("irc.test", "#lobby")
    out = c.receive_data(b"CAP REQ :batch labeled-response\r\nCAP END\r\nPASS alice:pw\r\nNICK alice\r\n@label=u USER u 0 * :R\r\n")
    assert out[-3:] == [ReplyStart("u"), LogIn("alice", "pw"), ReplyEnd("u")]
    assert c.receive_data(b"@label=w WHOIS bob\r\n") == []  # waits for 001, unmarked until then
    c.encode(Welcome("alice", ("alice",)), 0.0)
    assert c.take_early() == [ReplyStart("w"), WhoIs("bob"), ReplyEnd("w")]


def test_labelled_reply_numbers_its_batches_and_knows_the_batch_capability() -> None:
    c = registered()
    two = b":irc.test 1 a\r\n:irc.test 2 a\r\n"
    assert c.labelled_reply("a", two).startswith(b"@label=a :irc.test BATCH +r1 ")
    assert c.labelled_reply("b", two).startswith(b"@label=b :irc.test BATCH +r2 ")
    assert registered(caps="labeled-response").labelled_reply("a", two) == two


def test_a_labelled_event_renders_as_the_event() -> None:
    c = registered()
    event = Message("bob", "hi there")
    assert c.encode(Labelled(event, "x"), 5.0) == c.encode(event, 5.0)
    error = Error.of(ErrorCode.NO_SUCH_USER, name="zed")
    assert c.encode(Labelled(error, "x"), 5.0) == c.encode(error, 5.0)
