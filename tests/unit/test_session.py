"""Session (pollchat.protocol.session): the per-connection login state machine, sans-IO.

Table tests per phase: verbs (lenient case and blanks), ``mode json``/``mode text`` only
before login, greeting for anything else, credentials parsing (password = everything after
the first comma, no control character but TAB), failures and the three-strikes close (0 = unlimited), chat lines (blank
ignored, control characters refused, TAB allowed), framing errors in every phase, and the
backlog held while a password is checked (replayed in order, EOF included, stops at a new
``Authenticate``). Properties: ``feed`` never raises whatever the phase and item, and
framer + session give the same actions whatever the chunking and whenever the password
check finishes.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.commands import Command
from pollchat.protocol.events import Error, Greeting
from pollchat.protocol.framing import LineFramer
from pollchat.protocol.requests import LogIn, Say
from pollchat.protocol.session import (
    BACKLOG_LIMIT,
    DEFAULT_MAX_FAILURES,
    Authenticate,
    Chat,
    Disconnect,
    Phase,
    Reply,
    Session,
    SwitchMode,
    Verb,
    has_control_characters,
    new_password_error,
    text_error,
)
from pollchat.texts import ErrorCode
from tests.strategies import bytes_and_chunkings, protocol_errors, wire_bytes

GREETING = Reply(Greeting())
BAD_FORMAT = Reply(Error.of(ErrorCode.BAD_FORMAT))
WRONG_PASSWORD = Reply(Error.of(ErrorCode.WRONG_PASSWORD))
TOO_MANY = Disconnect(Error.of(ErrorCode.TOO_MANY_ATTEMPTS))
CONTROL = Reply(Error.of(ErrorCode.CONTROL_CHARACTERS))


def at_credentials(verb: str = "login", **kwargs: int) -> Session:
    session = Session(**kwargs)
    assert session.feed(verb) == []
    assert session.phase is Phase.AWAIT_CREDENTIALS
    return session


def authenticating(**kwargs: int) -> Session:
    session = at_credentials(**kwargs)
    assert session.feed("alice,secret") == [Authenticate(Verb.LOGIN, "alice", "secret")]
    assert session.phase is Phase.AUTHENTICATING
    return session


def chatting() -> Session:
    session = authenticating()
    assert session.auth_succeeded() == []
    assert session.phase is Phase.CHATTING
    return session


def test_new_session_awaits_the_verb() -> None:
    session = Session()
    assert session.phase is Phase.AWAIT_VERB
    assert session.failures == 0
    assert session.max_failures == DEFAULT_MAX_FAILURES == 3
    assert not session.backlog_full


# --- AWAIT_VERB ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("login", Verb.LOGIN),
        ("register", Verb.REGISTER),
        (" LOGIN ", Verb.LOGIN),
        ("Register", Verb.REGISTER),
        ("\tlogin\t", Verb.LOGIN),
        ("REGISTER  ", Verb.REGISTER),
    ],
)
def test_verb_moves_to_credentials_and_chooses_the_verb(line: str, verb: Verb) -> None:
    session = Session()
    assert session.feed(line) == []
    assert session.phase is Phase.AWAIT_CREDENTIALS
    assert session.feed("bob,pw") == [Authenticate(verb, "bob", "pw")]


@pytest.mark.parametrize(
    ("line", "mode"),
    [("mode json", "json"), ("mode text", "text"), ("MODE JSON", "json"), ("  mode   text ", "text")],
)
def test_mode_lines_switch_mode_before_login(line: str, mode: str) -> None:
    session = Session()
    assert session.feed(line) == [SwitchMode(mode)]
    assert session.phase is Phase.AWAIT_VERB
    assert session.failures == 0


@pytest.mark.parametrize(
    "line",
    ["hello", "", "   ", "log in", "login now", "logins", "mode", "mode xml", "modejson", "alice,pw", "\x1b"],
)
def test_anything_else_before_the_verb_gets_the_greeting_and_is_not_a_failure(line: str) -> None:
    session = Session()
    assert session.feed(line) == [GREETING]
    assert session.phase is Phase.AWAIT_VERB
    assert session.failures == 0


def test_greetings_never_close_the_connection() -> None:
    session = Session()
    for _ in range(10):
        assert session.feed("hello") == [GREETING]
    assert session.phase is Phase.AWAIT_VERB


# --- AWAIT_CREDENTIALS ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "password"),
    [
        ("alice,secret", "alice", "secret"),
        ("user1,123", "user1", "123"),
        ("alice,a,b,c", "alice", "a,b,c"),
        ("alice,,,", "alice", ",,"),
        ("alice, spaced pw ", "alice", " spaced pw "),
        ("José,pässwörd ☃", "José", "pässwörd ☃"),
        ("e\u0301,pw", "\u00e9", "pw"),  # name NFC-normalised
        ("a.b_c-d,x", "a.b_c-d", "x"),
        ("ALICE,Secret", "ALICE", "Secret"),  # spelling kept; case folding is the hub's job
        ("alice,tab\there", "alice", "tab\there"),  # TAB is the one control character allowed
    ],
)
def test_credentials(line: str, name: str, password: str) -> None:
    session = at_credentials()
    assert session.feed(line) == [Authenticate(Verb.LOGIN, name, password)]
    assert session.phase is Phase.AUTHENTICATING
    assert session.failures == 0


@pytest.mark.parametrize(
    "line",
    [
        "alice",  # no comma
        ",pw",  # empty name
        "alice,",  # empty password
        ",",
        "",
        "al ice,pw",  # space in the name
        " alice,pw",
        "alice ,pw",
        "a@b,pw",
        "a" * 33 + ",pw",
        "login",
        "mode json",  # not a mode switch once the verb is given
        "alice,pw\x00",  # control characters in the password (PBKDF2 ignores trailing NULs)
        "alice,\x1b[0m",
        "alice,a\rb",
        "alice,\x7f",
    ],
)
def test_bad_credentials_are_a_failure_and_restart_the_flow(line: str) -> None:
    session = at_credentials()
    assert session.feed(line) == [BAD_FORMAT]
    assert session.phase is Phase.AWAIT_VERB
    assert session.failures == 1


def test_authenticate_repr_hides_the_password() -> None:
    action = Authenticate(Verb.REGISTER, "alice", "hunter2,s3cret")
    for text in (repr(action), str(action), repr([action]), f"{action}"):
        assert "hunter2" not in text
        assert "s3cret" not in text
        assert "alice" in text
        assert "hidden" in text


def test_third_failure_disconnects() -> None:
    session = Session()
    for attempt in (1, 2):
        session.feed("login")
        assert session.feed("nocomma") == [BAD_FORMAT]
        assert session.failures == attempt
        assert session.phase is Phase.AWAIT_VERB
    session.feed("login")
    assert session.feed("nocomma") == [BAD_FORMAT, TOO_MANY]
    assert session.phase is Phase.CLOSED
    assert session.feed("login") == []
    assert session.feed("alice,pw") == []
    assert session.feed(ProtocolError(ErrorCode.BAD_ENCODING)) == []
    assert session.feed_eof() == []


def test_refusals_and_bad_format_count_together() -> None:
    session = authenticating()
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD]
    session.feed("register")
    session.feed("bob,pw")
    assert session.auth_failed(ErrorCode.NAME_TAKEN) == [Reply(Error.of(ErrorCode.NAME_TAKEN))]
    assert session.failures == 2
    session.feed("login")
    assert session.feed("bad") == [BAD_FORMAT, TOO_MANY]
    assert session.phase is Phase.CLOSED


def test_third_refused_authentication_disconnects_and_drops_the_backlog() -> None:
    session = Session()
    for _ in range(2):
        session.feed("login")
        session.feed("alice,wrong")
        assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD]
    session.feed("login")
    session.feed("alice,wrong")
    session.feed("login")  # backlog, never replayed
    session.feed("alice,right")
    session.feed_eof()
    assert session.auth_failed(ErrorCode.ALREADY_ONLINE) == [
        Reply(Error.of(ErrorCode.ALREADY_ONLINE)),
        TOO_MANY,
    ]
    assert session.phase is Phase.CLOSED
    assert not session.backlog_full


def test_max_failures_one_closes_on_the_first_failure() -> None:
    session = at_credentials(max_failures=1)
    assert session.feed("x") == [BAD_FORMAT, TOO_MANY]
    assert session.phase is Phase.CLOSED


def test_max_failures_zero_means_unlimited() -> None:
    session = Session(max_failures=0)
    for attempt in range(1, 21):
        session.feed("login")
        assert session.feed("nocomma") == [BAD_FORMAT]
        session.feed("login")
        session.feed("alice,wrong")
        assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD]
        assert session.failures == 2 * attempt
        assert session.phase is Phase.AWAIT_VERB


def test_success_after_failures_logs_in() -> None:
    session = authenticating()
    session.auth_failed(ErrorCode.WRONG_PASSWORD)
    session.feed("login")
    session.feed("alice,right")
    assert session.auth_succeeded() == []
    assert session.phase is Phase.CHATTING


# --- CHATTING ------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["", " ", "\t", "   \t  ", "\u3000"])
def test_blank_chat_lines_are_ignored(line: str) -> None:
    session = chatting()
    assert session.feed(line) == []
    assert session.phase is Phase.CHATTING


@pytest.mark.parametrize("line", ["hello", "a\tb", "\tindented", "mode json", "user,pw", "żółć ☃ 😀", "a,b,c"])
def test_chat_lines_become_chat_actions(line: str) -> None:
    session = chatting()
    assert session.feed(line) == [Chat(line)]
    assert session.phase is Phase.CHATTING


ALREADY_IN = Reply(Error.of(ErrorCode.ALREADY_LOGGED_IN))


@pytest.mark.parametrize("verb", ["login", "register", " LOGIN "])
def test_a_pipelined_second_login_never_becomes_chat(verb: str) -> None:
    """'login\nbob,otherSecret' after a login that succeeded would broadcast a
    password: the verb and the credentials-shaped line after it are refused."""
    session = chatting()
    assert session.feed(verb) == [ALREADY_IN]
    assert session.feed("bob,otherSecret") == [ALREADY_IN]
    assert session.feed("bob,otherSecret") == [Chat("bob,otherSecret")]  # only the next line
    assert session.phase is Phase.CHATTING


def test_after_a_verb_an_ordinary_line_is_still_chat() -> None:
    session = chatting()
    assert session.feed("login") == [ALREADY_IN]
    assert session.feed("how do I log out?") == [Chat("how do I log out?")]
    assert session.feed("see you, then") == [Chat("see you, then")]  # no longer guarded


@pytest.mark.parametrize(
    "line",
    ["\x1b[31mred", "a\x00b", "a\rb", "\x07bell", "del\x7f", "nel\x85", "bs\x08", "\x00"],
)
def test_control_characters_are_refused_and_the_session_goes_on(line: str) -> None:
    session = chatting()
    assert session.feed(line) == [CONTROL]
    assert session.phase is Phase.CHATTING
    assert session.feed("fine") == [Chat("fine")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", False), ("plain", False), ("tab\there", False), ("\u200b\u2028é", False),
     ("\x1b", True), ("\x00", True), ("a\rb", True), ("\x7f", True), ("\x9f", True), ("\n", True)],
)
def test_has_control_characters(text: str, expected: bool) -> None:
    assert has_control_characters(text) is expected


# --- invisible and text-direction characters (issue 14) -----------------------------------------

BIDI_AND_ZERO_WIDTH = [
    *map(chr, range(0x202A, 0x202F)),  # embeddings and overrides, LRE .. RLO
    *map(chr, range(0x2066, 0x206A)),  # isolates, LRI .. PDI
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero width
]


def invisible(ch: str) -> Reply:
    return Reply(Error.of(ErrorCode.INVISIBLE_CHARACTERS, char=f"U+{ord(ch):04X}"))


@pytest.mark.parametrize("ch", BIDI_AND_ZERO_WIDTH, ids=lambda ch: f"U+{ord(ch):04X}")
@pytest.mark.parametrize(
    "template",
    ["gnp.{}exe", "{}", "/msg bob pay {}1000", "/me waves{}", "/topic #g sunday{}", "/away back at 5{}", "//{}x"],
)
def test_bidi_controls_and_zero_width_characters_are_refused_naming_the_character(ch: str, template: str) -> None:
    """A right-to-left override makes "gnp.\u202eexe" show as "gnp.exe" reversed; a zero
    width space makes two different texts look the same: such lines are refused, with a
    line that names the character, and the session goes on."""
    session = chatting()
    assert session.feed(template.format(ch)) == [invisible(ch)]
    assert session.phase is Phase.CHATTING
    assert session.feed("fine") == [Chat("fine")]


def test_the_first_invisible_character_is_named() -> None:
    assert chatting().feed("a\u2066b\u200bc") == [invisible("\u2066")]


@pytest.mark.parametrize(
    "text",
    [
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467",  # man ZWJ woman ZWJ girl
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: white flag, VS16, ZWJ, rainbow
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # woman, skin tone, ZWJ, laptop
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u200e\u200f",  # Arabic; LRM and RLM are allowed
        "a\u2028b \u00a0 \u3000c",  # separators and wide spaces: not invisible
    ],
)
def test_emoji_joiners_and_ordinary_rtl_text_pass(text: str) -> None:
    assert chatting().feed(text) == [Chat(text)]


def test_a_joiner_outside_an_emoji_sequence_is_refused() -> None:
    for text in ("pay\u200dpal", "\u200d\U0001f600", "\U0001f600\u200d", "\U0001f600\u200da"):
        assert chatting().feed(text) == [invisible("\u200d")], text


@pytest.mark.parametrize("command", ["/passwd old,new\u200b", "/unregister pass\u202eword"])
def test_lines_carrying_a_password_are_never_shown_so_not_refused(command: str) -> None:
    """A password may hold any character but a control character (login accepts it), so
    /passwd and /unregister, which nobody else sees, are not refused for them."""
    [action] = chatting().feed(command)
    assert isinstance(action, Command)


@pytest.mark.parametrize(("text", "expected"), [("plain", None), ("a\x1bb", CONTROL), ("a\u202eb", invisible("\u202e"))])
def test_text_error_is_the_one_check(text: str, expected: Reply | None) -> None:
    assert text_error(text) == (expected.event if expected is not None else None)


# --- framing errors --------------------------------------------------------------------------


def _session_in(phase: Phase) -> Session:
    if phase is Phase.AWAIT_VERB:
        return Session()
    if phase is Phase.AWAIT_CREDENTIALS:
        return at_credentials()
    return chatting()


@pytest.mark.parametrize("phase", [Phase.AWAIT_VERB, Phase.AWAIT_CREDENTIALS, Phase.CHATTING])
@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (
            ProtocolError(ErrorCode.LINE_TOO_LONG, limit=4096),
            Reply(Error(ErrorCode.LINE_TOO_LONG, "line too long (over 4096 bytes), discarded")),
        ),
        (
            ProtocolError(ErrorCode.BAD_ENCODING),
            Reply(Error(ErrorCode.BAD_ENCODING, "line is not valid UTF-8, discarded")),
        ),
    ],
)
def test_protocol_errors_are_answered_in_every_phase(phase: Phase, error: ProtocolError, reply: Reply) -> None:
    session = _session_in(phase)
    assert session.feed(error) == [reply]
    assert session.phase is phase
    assert session.failures == 0


# --- the backlog while authenticating ---------------------------------------------------------


def test_lines_while_authenticating_are_held_and_replayed_in_order_on_success() -> None:
    session = authenticating()
    assert session.feed("hello") == []
    assert session.feed("") == []
    assert session.feed(ProtocolError(ErrorCode.BAD_ENCODING)) == []
    assert session.feed("\x1bbad") == []
    assert session.feed("world") == []
    assert session.auth_succeeded() == [
        Chat("hello"),
        Reply(Error.of(ErrorCode.BAD_ENCODING)),
        CONTROL,
        Chat("world"),
    ]
    assert session.phase is Phase.CHATTING
    assert session.feed("again") == [Chat("again")]  # the backlog is empty now


def test_backlog_is_replayed_in_await_verb_after_a_refusal() -> None:
    session = authenticating()
    session.feed("hello")
    session.feed("mode json")
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD, GREETING, SwitchMode("json")]
    assert session.phase is Phase.AWAIT_VERB
    assert session.failures == 1


def test_replay_stops_at_a_new_authenticate_and_keeps_the_rest() -> None:
    session = authenticating()
    for line in ("register", "bob,pw,2", "hi", "there"):
        assert session.feed(line) == []
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [
        WRONG_PASSWORD,
        Authenticate(Verb.REGISTER, "bob", "pw,2"),
    ]
    assert session.phase is Phase.AUTHENTICATING
    assert session.feed("late") == []
    assert session.auth_succeeded() == [Chat("hi"), Chat("there"), Chat("late")]
    assert session.phase is Phase.CHATTING


def test_eof_while_authenticating_is_replayed_after_earlier_lines() -> None:
    session = authenticating()
    session.feed("hi")
    assert session.feed_eof() == []
    assert session.phase is Phase.AUTHENTICATING
    session.feed("after eof")
    assert session.auth_succeeded() == [Chat("hi"), Disconnect()]
    assert session.phase is Phase.CLOSED


def test_eof_while_authenticating_after_a_refusal() -> None:
    session = authenticating()
    session.feed_eof()
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD, Disconnect()]
    assert session.phase is Phase.CLOSED


def test_eof_behind_a_second_login_waits_for_that_login() -> None:
    session = authenticating()
    session.feed("login")
    session.feed("bob,pw")
    session.feed("hi")
    session.feed_eof()
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD, Authenticate(Verb.LOGIN, "bob", "pw")]
    assert session.auth_succeeded() == [Chat("hi"), Disconnect()]


@pytest.mark.parametrize("phase", [Phase.AWAIT_VERB, Phase.AWAIT_CREDENTIALS, Phase.CHATTING])
def test_eof_outside_authentication_disconnects_once(phase: Phase) -> None:
    session = _session_in(phase)
    assert session.feed_eof() == [Disconnect()]
    assert session.phase is Phase.CLOSED
    assert session.feed_eof() == []
    assert session.feed("hello") == []


def test_backlog_full_past_the_limit_and_cleared_by_the_replay() -> None:
    session = authenticating()
    line = "x" * 1000
    session.feed(line)
    assert not session.backlog_full
    for _ in range(BACKLOG_LIMIT // len(line) + 1):
        session.feed(line)
    assert session.backlog_full
    actions = session.auth_succeeded()
    assert actions == [Chat(line)] * len(actions)
    assert len(actions) == BACKLOG_LIMIT // len(line) + 2  # nothing dropped
    assert not session.backlog_full


def test_backlog_stays_full_while_a_replayed_login_is_checked() -> None:
    session = authenticating()
    session.feed("login")
    session.feed("bob,pw")
    big = "y" * (BACKLOG_LIMIT + 10)
    session.feed(big)
    assert session.backlog_full
    assert session.auth_failed(ErrorCode.WRONG_PASSWORD) == [WRONG_PASSWORD, Authenticate(Verb.LOGIN, "bob", "pw")]
    assert session.backlog_full  # the big line still waits
    assert session.auth_succeeded() == [Chat(big)]
    assert not session.backlog_full


@pytest.mark.parametrize("phase", [Phase.AWAIT_VERB, Phase.AWAIT_CREDENTIALS, Phase.CHATTING, Phase.CLOSED])
def test_auth_outcome_outside_authenticating_is_a_bug(phase: Phase) -> None:
    session = _session_in(phase) if phase is not Phase.CLOSED else Session()
    if phase is Phase.CLOSED:
        session.feed_eof()
    with pytest.raises(RuntimeError):
        session.auth_succeeded()
    with pytest.raises(RuntimeError):
        session.auth_failed(ErrorCode.WRONG_PASSWORD)
    assert session.phase is phase


# --- properties ------------------------------------------------------------------------------

items = st.one_of(st.text(max_size=40), protocol_errors(), st.sampled_from(["login", "register", "a,b", "mode json"]))


@given(st.sampled_from(list(Phase)), items)
def test_feed_never_raises_in_any_phase(phase: Phase, item: object) -> None:
    session = Session()
    session.phase = phase
    actions = session.feed(item)  # type: ignore[arg-type]
    assert isinstance(actions, list)
    assert all(isinstance(a, (Reply, Authenticate, Chat, Command, SwitchMode, Disconnect)) for a in actions)
    assert isinstance(session.phase, Phase)
    if phase is Phase.AUTHENTICATING:
        assert actions == []
        assert isinstance(session.auth_succeeded(), list)
        assert isinstance(session.phase, Phase)
    waiting = session.phase is Phase.AUTHENTICATING
    expected = [] if waiting or session.phase is Phase.CLOSED else [Disconnect()]
    assert session.feed_eof() == expected
    assert session.phase is (Phase.AUTHENTICATING if waiting else Phase.CLOSED)


steps = st.lists(
    st.one_of(
        items.map(lambda item: ("feed", item)),
        st.just(("eof", None)),
        st.just(("ok", None)),
        st.sampled_from(list(ErrorCode)).map(lambda code: ("refuse", code)),
    ),
    max_size=40,
)


@given(st.integers(0, 4), steps)
def test_random_walk_keeps_the_state_machine_consistent(max_failures: int, walk: list[tuple[str, object]]) -> None:
    session = Session(max_failures=max_failures)
    actions: list[object] = []
    for kind, arg in walk:
        before = session.phase
        if kind in ("ok", "refuse") and before is not Phase.AUTHENTICATING:
            with pytest.raises(RuntimeError):
                session.auth_succeeded() if kind == "ok" else session.auth_failed(arg)  # type: ignore[arg-type]
            assert session.phase is before
            continue
        if kind == "feed":
            new = session.feed(arg)  # type: ignore[arg-type]
        elif kind == "eof":
            new = session.feed_eof()
        elif kind == "ok":
            new = session.auth_succeeded()
        else:
            new = session.auth_failed(arg)  # type: ignore[arg-type]
        assert isinstance(session.phase, Phase)
        if before is Phase.CLOSED:
            assert new == [] and session.phase is Phase.CLOSED
        if session.phase is Phase.AUTHENTICATING:
            assert new and isinstance(new[-1], Authenticate) or new == []
        actions += new
        if max_failures:
            assert session.failures <= max_failures
    disconnects = [i for i, a in enumerate(actions) if isinstance(a, Disconnect)]
    assert len(disconnects) <= 1
    if disconnects:
        assert disconnects[0] == len(actions) - 1  # nothing after a disconnect
        assert session.phase is Phase.CLOSED


def drive(chunks: list[bytes], max_line: int) -> list[object]:
    """Framer + session; a pending password check finishes at the end of each chunk
    (accepted when the password has an even length, else refused)."""
    framer, session = LineFramer(max_line), Session()
    actions: list[object] = []

    def settle() -> None:
        while session.phase is Phase.AUTHENTICATING:
            pending = [a for a in actions if isinstance(a, Authenticate)][-1]
            if len(pending.password) % 2 == 0:
                actions.extend(session.auth_succeeded())
            else:
                actions.extend(session.auth_failed(ErrorCode.WRONG_PASSWORD))

    for chunk in chunks:
        for item in framer.feed(chunk):
            actions.extend(session.feed(item))
        settle()
    actions.extend(session.feed_eof())
    settle()
    return actions


@given(bytes_and_chunkings(wire_bytes()), st.sampled_from([16, 64, 4096]))
def test_framer_and_session_give_the_same_actions_in_any_chunking(
    data_chunks: tuple[bytes, list[bytes]], max_line: int
) -> None:
    data, chunks = data_chunks
    assert drive(chunks, max_line) == drive([data], max_line)


@given(wire_bytes(), st.sampled_from([16, 4096]))
def test_byte_by_byte_equals_one_packet(data: bytes, max_line: int) -> None:
    assert drive([data[i : i + 1] for i in range(len(data))], max_line) == drive([data], max_line)


def test_seed_one_packet_login_then_chat_then_close() -> None:
    # docs/protocol.md: "login\nuser1,123\nhi\n" then half-close: login, "hi", then the close
    assert drive([b"login\nuser1,1234\nhi\n"], 4096) == [
        Authenticate(Verb.LOGIN, "user1", "1234"),
        Chat("hi"),
        Disconnect(),
    ]


# --- minimum password length for new passwords (issue 14) -------------------------------------------

TOO_SHORT = Reply(Error.of(ErrorCode.PASSWORD_TOO_SHORT, minimum=8))


def test_a_registration_with_a_short_password_is_a_failed_attempt() -> None:
    session = at_credentials("register", min_password_length=8)
    assert session.feed("alice, ") == [Reply(Error.of(ErrorCode.PASSWORD_BLANK))]
    assert session.phase is Phase.AWAIT_VERB and session.failures == 1
    session.feed("register")
    assert session.feed("alice,1234567") == [TOO_SHORT]
    session.feed("register")
    assert session.feed("alice,12345678") == [Authenticate(Verb.REGISTER, "alice", "12345678")]


def test_logins_with_an_old_short_password_still_work() -> None:
    """The rule is for new passwords: existing accounts (and the accounts file's) keep
    theirs."""
    session = at_credentials("login", min_password_length=8)
    assert session.feed("user1,123") == [Authenticate(Verb.LOGIN, "user1", "123")]


def test_new_password_error_is_the_rule() -> None:
    assert new_password_error("x" * 7, 8) == Error.of(ErrorCode.PASSWORD_TOO_SHORT, minimum=8)
    assert new_password_error("x" * 8, 8) is None
    assert new_password_error("é" * 8, 8) is None  # characters, not bytes
    assert new_password_error("x", 0) is None  # 0 turns the length rule off
    assert new_password_error("   ", 0) == Error.of(ErrorCode.PASSWORD_BLANK)  # issue 14: spaces only, never
    assert new_password_error("a b", 3) is None
    assert Session().min_password_length == 0


# --- typed requests (front ends with a protocol of their own: IRC) ------------------------------


def test_a_typed_login_authenticates_like_a_credentials_line() -> None:
    s = Session()
    assert s.feed(LogIn("alice", "pw")) == [Authenticate(Verb.LOGIN, "alice", "pw")]
    assert s.feed(Say("#lobby", "held")) == []  # waits while the password is checked
    assert s.auth_succeeded() == [Say("#lobby", "held")]
    assert s.feed(Say("bob", "hi")) == [Say("bob", "hi")]
    assert s.feed(LogIn("alice", "pw")) == [Reply(Error.of(ErrorCode.ALREADY_LOGGED_IN))]


def test_typed_registration_and_guest_logins() -> None:
    assert Session().feed(LogIn("bob", "pw", register=True)) == [Authenticate(Verb.REGISTER, "bob", "pw")]
    assert Session().feed(LogIn("bob", guest=True)) == [Authenticate(Verb.GUEST, "bob", "")]
    refused = Session(min_password_length=8).feed(LogIn("bob", "short", register=True))
    assert refused[0] == Reply(Error.of(ErrorCode.PASSWORD_TOO_SHORT, minimum=8))
    s = Session(max_failures=2)
    assert s.feed(LogIn("no way!", "pw"))[0] == Reply(Error.of(ErrorCode.BAD_NAME, name="no way!"))
    assert s.feed(LogIn("bob", ""))[-1] == Disconnect(Error.of(ErrorCode.TOO_MANY_ATTEMPTS))


def test_typed_requests_count_their_text_against_the_backlog_bound() -> None:
    s = Session()
    s.feed(LogIn("alice", "pw"))
    big = "x" * 4000
    for _ in range(BACKLOG_LIMIT // 4000 + 1):
        s.feed(Say("#lobby", big))
    assert s.backlog_full
    s.auth_succeeded()
    assert not s.backlog_full


def test_input_behind_a_request_answered_later_waits_in_order() -> None:
    session = chatting()
    assert session.feed("/search lunch") == [Command("search", ("lunch",))]
    session.await_answer()  # the server's query goes to the database
    assert session.answering
    assert session.feed("hello") == [] and session.feed("/older now") == []
    session.feed_eof()
    assert session.next_held() is None  # still waiting: nothing comes out
    session.answered()
    assert session.next_held() == [Chat("hello")]
    assert session.next_held() == [Command("older", ("now",))]
    session.await_answer()  # that one is answered later too: the hang-up stays behind it
    assert session.next_held() is None and session.phase is Phase.CHATTING
    session.answered()
    assert session.next_held() == [Disconnect()]
    assert session.next_held() is None and session.feed("late") == []


@given(st.lists(st.text(alphabet="ab /", min_size=1, max_size=5), max_size=12))
def test_held_input_comes_back_in_order_however_many_requests_wait(lines: list[str]) -> None:
    direct = chatting()
    expected = [steps for steps in (direct.feed(line) for line in lines) if steps]
    session, outputs = chatting(), []

    def handle(steps: list[object]) -> None:
        if steps:
            outputs.append(steps)
        if any(isinstance(step, Command) for step in steps):
            session.await_answer()  # every command is answered in a later pass here

    for line in lines:
        handle(session.feed(line))  # type: ignore[arg-type]
    while session.answering:
        session.answered()
        while (more := session.next_held()) is not None:
            handle(more)  # type: ignore[arg-type]
    assert outputs == expected
