"""Slash commands (pollchat.protocol.commands), the manual (pollchat.protocol.manual), the
session's command handling in the CHATTING phase, and the dispatcher's coverage of the
command table (pollchat.server.commands).

Golden cases for every command: argument counts, a rest-of-line argument keeps its inner
spaces, names are case-insensitive, ``!membres`` runs ``/who``, tabs separate words. An
unknown name is ``UNKNOWN_COMMAND`` naming it; a wrong count is ``USAGE`` with the
command's usage line. Hypothesis: :func:`parse_command` is total, and a chatting session
turns any line into a chat line, a command, an error reply or nothing. The dispatcher's
methods run against a real hub and a fake chat layer (no sockets, password work run
inline).
"""

from __future__ import annotations

import inspect
import random
from concurrent.futures import Future
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.effects import Delivery, Effect, ToEveryone
from pollchat.core.passwords import hash_password, verify_password
from pollchat.core.seats import AccountKind
from pollchat.errors import ProtocolError
from pollchat.protocol.commands import (
    COMMANDS,
    MAX_DURATION,
    Command,
    is_command_line,
    parse_command,
    parse_cursor,
    parse_duration,
)
from pollchat.protocol.events import (
    Emote,
    Error,
    Left,
    Message,
    Notice,
    PrivateMessage,
    Renamed,
    StatusChanged,
)
from pollchat.protocol.manual import entries, help_text
from pollchat.protocol.session import Authenticate, Chat, Phase, Reply, Session
from pollchat.server.build import build_chat
from pollchat.server.commands import Commands
from pollchat.server.service import PeerOutput
from pollchat.server.timers import Timers
from pollchat.store.database import Database
from pollchat.texts import ErrorCode, NoticeCode

# --- the parser: golden cases ------------------------------------------------------------------

PARSED = [
    # /msg NAME text: one word, then the rest of the line (required)
    ("/msg bob hi", Command("msg", ("bob", "hi"))),
    ("/msg bob  hello   there ", Command("msg", ("bob", "hello   there"))),
    ("/msg   bob   a,b:c ", Command("msg", ("bob", "a,b:c"))),
    ("/MSG Bob Hi", Command("msg", ("Bob", "Hi"))),
    ("/msg\tbob\thello\tthere", Command("msg", ("bob", "hello\tthere"))),
    ("/msg bob /who", Command("msg", ("bob", "/who"))),
    # /who and its alias
    ("/who", Command("who", ())),
    ("/WHO  ", Command("who", ())),
    ("!membres", Command("who", ())),
    ("!MEMBRES", Command("who", ())),
    # /whois NAME
    ("/whois alice", Command("whois", ("alice",))),
    ("/Whois\talice", Command("whois", ("alice",))),
    # /status WORD [message]
    ("/status busy", Command("status", ("busy",))),
    ("/status away  out for lunch ", Command("status", ("away", "out for lunch"))),
    ("/status nonsense", Command("status", ("nonsense",))),  # the value is checked later
    # /away [message]
    ("/away", Command("away", ())),
    ("/away back  at 2", Command("away", ("back  at 2",))),
    # /me action
    ("/me waves  at everyone", Command("me", ("waves  at everyone",))),
    # /say text: the rest, whatever it starts with
    ("/say #famila  is a typo", Command("say", ("#famila  is a typo",))),
    ("/say /help", Command("say", ("/help",))),
    # emoticons, optional text
    ("/shrug", Command("shrug", ())),
    ("/shrug no  idea", Command("shrug", ("no  idea",))),
    ("/tableflip", Command("tableflip", ())),
    ("/tableflip mondays", Command("tableflip", ("mondays",))),
    ("/unflip", Command("unflip", ())),
    ("/unflip sorry", Command("unflip", ("sorry",))),
    # /help [command]
    ("/help", Command("help", ())),
    ("/help msg", Command("help", ("msg",))),
    ("/HELP /msg", Command("help", ("/msg",))),
    # /quit [message]
    ("/quit", Command("quit", ())),
    ("/quit good  night", Command("quit", ("good  night",))),
    # /nick NEWNAME
    ("/nick alice_w", Command("nick", ("alice_w",))),
    # /passwd OLD,NEW: the whole rest (passwords may contain spaces)
    ("/passwd old pw,new pw", Command("passwd", ("old pw,new pw",))),
    # /unregister PASSWORD
    ("/unregister my secret", Command("unregister", ("my secret",))),
    # /history [N]
    ("/history", Command("history", ())),
    ("/history 50", Command("history", ("50",))),
    ("/history lots", Command("history", ("lots",))),  # the value is checked later
    # /play [N]
    ("/play", Command("play", ())),
    ("/play 42", Command("play", ("42",))),
    # /typing on|off [NAME] (issue 6; sent by the TUI client)
    ("/typing on", Command("typing", ("on",))),
    ("/typing off bob", Command("typing", ("off", "bob"))),
    ("/TYPING\ton\tbob", Command("typing", ("on", "bob"))),
    # issue 5, admin commands: /kick NAME [reason]
    ("/kick bob", Command("kick", ("bob",))),
    ("/KICK\tbob  flooding the  room ", Command("kick", ("bob", "flooding the  room"))),
    # /ban NAME [DURATION] [reason]: the duration stays in the rest (AdminActions splits it)
    ("/ban bob", Command("ban", ("bob",))),
    ("/ban bob 2h calm  down", Command("ban", ("bob", "2h calm  down"))),
    ("/ban bob spamming", Command("ban", ("bob", "spamming"))),
    # /unban NAME
    ("/unban bob", Command("unban", ("bob",))),
    # /announce text
    ("/announce the server  restarts at 22:00", Command("announce", ("the server  restarts at 22:00",))),
    # /shutdown [SECONDS] [reason] | /shutdown cancel
    ("/shutdown", Command("shutdown", ())),
    ("/shutdown 60 upgrading  now", Command("shutdown", ("60 upgrading  now",))),
    ("/Shutdown cancel", Command("shutdown", ("cancel",))),
    # issue 4, groups
    ("/create #fam", Command("create", ("#fam",))),
    ("/create #fam private", Command("create", ("#fam", "private"))),
    ("/join #fam", Command("join", ("#fam",))),
    ("/leave #fam", Command("leave", ("#fam",))),
    ("/groups", Command("groups", ())),
    ("/members #fam", Command("members", ("#fam",))),
    ("/focus", Command("focus", ())),
    ("/focus #fam", Command("focus", ("#fam",))),
    ("/accept bob #fam", Command("accept", ("bob", "#fam"))),
    ("/reject bob #fam", Command("reject", ("bob", "#fam"))),
    ("/rename #fam #family", Command("rename", ("#fam", "#family"))),
    ("/delete #fam", Command("delete", ("#fam",))),
    ("/topic #fam", Command("topic", ("#fam",))),
    ("/topic #fam sunday  lunch", Command("topic", ("#fam", "sunday  lunch"))),
    ("/kick bob #fam", Command("kick", ("bob", "#fam"))),
    ("/ban bob #fam", Command("ban", ("bob", "#fam"))),
    ("/unban bob #fam", Command("unban", ("bob", "#fam"))),
    ("/history #fam 50", Command("history", ("#fam", "50"))),
    ("/typing on #fam", Command("typing", ("on", "#fam"))),
    ("/older now", Command("older", ("now",))),
    ("/older #fam 1234 50", Command("older", ("#fam", "1234", "50"))),
    ("/older @bob 2026-11-21T10:39:59.750Z", Command("older", ("@bob", "2026-11-21T10:39:59.750Z"))),
    ("/search lunch  on friday #fam", Command("search", ("lunch  on friday #fam",))),
    ("/read @bob 2026-11-21T10:39:59.750Z", Command("read", ("@bob", "2026-11-21T10:39:59.750Z"))),
    ("/receipts", Command("receipts", ())),
    ("/receipts off", Command("receipts", ("off",))),
    ("/ignore", Command("ignore", ())),
    ("/ignore troll", Command("ignore", ("troll",))),
    ("/unignore troll", Command("unignore", ("troll",))),
]


@pytest.mark.parametrize(("line", "expected"), PARSED, ids=[line for line, _ in PARSED])
def test_parse_command_golden(line: str, expected: Command) -> None:
    assert is_command_line(line)
    assert parse_command(line) == expected


def test_golden_cases_cover_every_command_and_alias() -> None:
    assert {command.name for _, command in PARSED} == set(COMMANDS)
    spellings = {line.split()[0].lower() for line, _ in PARSED}
    for spec in COMMANDS.values():
        assert set(spec.aliases) <= spellings


def usage(name: str) -> ProtocolError:
    return ProtocolError(ErrorCode.USAGE, usage=COMMANDS[name].usage)


WRONG_COUNT = [
    ("/msg", "msg"),
    ("/msg bob", "msg"),
    ("/msg   bob   ", "msg"),
    ("/who everyone", "who"),
    ("!membres now", "who"),
    ("/whois", "whois"),
    ("/whois alice bob", "whois"),
    ("/status", "status"),
    ("/me", "me"),
    ("/me   ", "me"),
    ("/say", "say"),
    ("/help msg who", "help"),
    ("/nick", "nick"),
    ("/nick new name", "nick"),
    ("/passwd", "passwd"),
    ("/unregister", "unregister"),
    ("/history #fam 5 6", "history"),
    ("/older", "older"),
    ("/older #fam 1 2 3", "older"),
    ("/search", "search"),
    ("/read @bob", "read"),
    ("/receipts on off", "receipts"),
    ("/search   ", "search"),
    ("/play 1 2", "play"),
    ("/typing", "typing"),
    ("/typing on bob carol", "typing"),
    ("/kick", "kick"),
    ("/ban", "ban"),
    ("/unban", "unban"),
    ("/announce", "announce"),
    ("/announce   ", "announce"),
]


@pytest.mark.parametrize(("line", "name"), WRONG_COUNT, ids=[line for line, _ in WRONG_COUNT])
def test_wrong_argument_count_is_the_usage_line(line: str, name: str) -> None:
    result = parse_command(line)
    assert result == usage(name)
    assert str(result) == f"usage: {COMMANDS[name].usage}"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "name"),
    [("/foo", "foo"), ("/Foo bar baz", "Foo"), ("/", ""), ("/msgs bob hi", "msgs"), ("/membres", "membres")],
)
def test_unknown_command_names_it(line: str, name: str) -> None:
    result = parse_command(line)
    assert result == ProtocolError(ErrorCode.UNKNOWN_COMMAND, name=name)
    assert str(result) == f"unknown command /{name} (try /help)"


def test_unknown_command_name_is_cut_short() -> None:
    result = parse_command("/" + "x" * 1000)
    assert isinstance(result, ProtocolError) and result.code is ErrorCode.UNKNOWN_COMMAND
    assert len(result.detail["name"]) <= 40  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [("/who", True), ("!membres", True), ("!Membres x", True), ("//who", False), ("hello /who", False),
     ("!membresx", False), ("who", False), ("/", True)],
)
def test_is_command_line(line: str, expected: bool) -> None:
    assert is_command_line(line) is expected


def test_command_table_is_consistent() -> None:
    for name, spec in COMMANDS.items():
        assert spec.name == name == name.lower()
        assert spec.usage.split()[0] == "/" + name
        assert 0 <= spec.optional_words <= spec.words
        assert spec.rest in ("required", "optional", "none")
        assert spec.summary


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("2h", 7200.0), ("7d", 604_800.0), ("2H", 7200.0), (" 2h ", 7200.0),
     ("90", 90.0), ("3650d", 3650 * 86_400.0),
     ("", None), ("0", None), ("0m", None), ("2x", None), ("h", None), ("1.5h", None), ("-1h", None),
     ("\u0661\u0662h", None), ("3651d", None), ("9" * 13, None), ("2 h", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@given(st.text(max_size=16))
def test_parse_duration_is_total_and_bounded(text: str) -> None:
    result = parse_duration(text)
    assert result is None or 0 < result <= MAX_DURATION


def test_only_the_issue_5_commands_are_for_admins() -> None:
    assert {name for name, spec in COMMANDS.items() if spec.admin} == {"kick", "ban", "unban", "announce", "shutdown"}


# --- the parser: properties ----------------------------------------------------------------------


def _command_like_lines() -> st.SearchStrategy[str]:
    heads = st.sampled_from(["/" + name for name in COMMANDS] + ["!membres", "/", "//", "/nope", "!x"])
    heads = heads.flatmap(lambda h: st.sampled_from([h, h.upper(), h.title()]))
    word = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
    sep = st.sampled_from([" ", "\t", "  ", " \t ", "\u00a0", "\u3000"])
    tail = st.lists(st.tuples(sep, word), max_size=4).map(lambda parts: "".join(s + w for s, w in parts))
    return st.tuples(heads, tail).map("".join)


@given(st.one_of(st.text(), _command_like_lines()))
def test_parse_command_is_total(line: str) -> None:
    result = parse_command(line)
    if isinstance(result, ProtocolError):
        assert result.code in (ErrorCode.UNKNOWN_COMMAND, ErrorCode.USAGE)
        assert str(result)  # the wording formats
        return
    assert isinstance(result, Command)
    spec = COMMANDS[result.name]
    extra = 1 if spec.rest != "none" else 0
    assert spec.words - spec.optional_words <= len(result.args) <= spec.words + extra
    assert all(arg and arg == arg.strip() for arg in result.args)


@given(_command_like_lines())
def test_parsed_arguments_come_from_the_line_in_order(line: str) -> None:
    result = parse_command(line)
    if isinstance(result, Command):
        position = 0
        for arg in result.args:
            found = line.find(arg, position)
            assert found >= position, (line, result)
            position = found + len(arg)


# --- the session in the CHATTING phase -------------------------------------------------------------


def chatting_session() -> Session:
    session = Session()
    assert session.feed("login") == []
    [action] = session.feed("alice,pw")
    assert isinstance(action, Authenticate)
    assert session.auth_succeeded() == []
    assert session.phase is Phase.CHATTING
    return session


@given(st.one_of(st.text(), _command_like_lines(), st.text().map(lambda s: "/" + s), st.text().map(lambda s: "//" + s)))
@example("\u200b")  # an invisible character alone: refused, as any line carrying one
def test_chatting_session_turns_any_line_into_chat_command_error_or_nothing(line: str) -> None:
    session = chatting_session()
    actions = session.feed(line)
    assert session.phase is Phase.CHATTING
    if not line.strip():
        assert actions == []
        return
    assert len(actions) == 1
    [action] = actions
    if isinstance(action, Chat):
        assert action.text in (line, line[1:])
        assert action.text == (line[1:] if line.startswith("//") else line)
    elif isinstance(action, Command):
        assert action.name in COMMANDS
        assert action == parse_command(line)
    else:
        assert isinstance(action, Reply) and isinstance(action.event, Error)
        assert action.event.code in (
            ErrorCode.CONTROL_CHARACTERS, ErrorCode.INVISIBLE_CHARACTERS, ErrorCode.UNKNOWN_COMMAND, ErrorCode.USAGE
        )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("//text", Chat("/text")),
        ("//who", Chat("/who")),
        ("//", Chat("/")),
        ("// spaced ", Chat("/ spaced ")),
        ("hello /who", Chat("hello /who")),
        ("/msg bob hi there", Command("msg", ("bob", "hi there"))),
        ("!membres", Command("who", ())),
        ("/foo", Reply(Error.of(ErrorCode.UNKNOWN_COMMAND, name="foo"))),
        ("/msg bob", Reply(Error.of(ErrorCode.USAGE, usage="/msg NAME text"))),
        ("/msg bob \x1b[2J", Reply(Error.of(ErrorCode.CONTROL_CHARACTERS))),
        ("/msg bob\ttab\tok", Command("msg", ("bob", "tab\tok"))),
    ],
)
def test_chatting_session_examples(line: str, expected: object) -> None:
    assert chatting_session().feed(line) == [expected]


def test_a_bad_command_does_not_end_the_session() -> None:
    session = chatting_session()
    for line in ("/foo", "/msg", "/who x"):
        session.feed(line)
    assert session.phase is Phase.CHATTING
    assert session.feed("hi") == [Chat("hi")]


# --- the manual -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_a_manual_entry_with_an_example(name: str) -> None:
    entry = entries().get(name)
    assert entry is not None, f"/{name} has no entry in pollchat/manual.txt"
    # A usage with alternatives ("/shutdown [SECONDS] [reason] | /shutdown cancel"): the
    # entry starts with the first and mentions the others.
    first, *alternatives = COMMANDS[name].usage.split(" | ")
    assert entry.startswith(first)
    for alternative in alternatives:
        assert alternative in entry, (name, alternative)
    example = next(line for line in entry.splitlines() if "Example:" in line)
    example_line = example.split("Example:", 1)[1].strip()
    parsed = parse_command(example_line)
    assert isinstance(parsed, Command) and parsed.name == name, (example_line, parsed)


def test_manual_has_no_entry_for_a_command_that_does_not_exist() -> None:
    assert set(entries()) == set(COMMANDS)


def test_help_index_lists_every_usage_line() -> None:
    index = help_text()
    assert index is not None
    lines = index.splitlines()
    for spec in COMMANDS.values():
        assert any(line.startswith(spec.usage) and line.rstrip().endswith(spec.summary) for line in lines), spec.usage
    assert "/help" in lines[-1]


@pytest.mark.parametrize("topic", ["msg", "MSG", "/msg", "/Msg"])
def test_help_on_one_command(topic: str) -> None:
    assert help_text(topic) == entries()["msg"]
    assert "Example: /msg" in help_text(topic)  # type: ignore[operator]


@pytest.mark.parametrize("topic", ["nope", "", "/", "membres", "manual"])
def test_help_on_an_unknown_topic_is_none(topic: str) -> None:
    assert help_text(topic) is None


# --- the dispatcher ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_a_method(name: str) -> None:
    method = getattr(Commands, "do_" + name, None)
    assert callable(method), f"Commands has no do_{name}"
    assert list(inspect.signature(method).parameters) == ["self", "conn", "args"]


def test_every_method_is_a_command() -> None:
    methods = {name.removeprefix("do_") for name in vars(Commands) if name.startswith("do_")}
    assert methods == set(COMMANDS)


# --- the dispatcher with a fake chat layer (no sockets) -------------------------------------------------


class FakeConn:
    """A connection handle with the one attribute the command methods read."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.closing = False

    def __repr__(self) -> str:
        return f"<{self.label}>"


class FakePool:
    """Runs the password work at once, on the calling thread."""

    def submit(self, fn, *args, on_done) -> None:  # type: ignore[no-untyped-def]
        future: Future[object] = Future()
        future.set_result(fn(*args))
        on_done(future)


class FakeChat:
    """The output port and history log that Commands uses, recording what would be sent."""

    def __init__(self, config: ServerConfig) -> None:
        self.pool = FakePool()
        self.config = config
        self.sent: list[tuple[object, object]] = []  # (connection, event)
        self.closed: list[tuple[object, str]] = []
        self.left: list[object] = []
        self.history_asked: list[tuple[int, int]] = []
        self.loop = self
        self.history = self

    def deliver(self, effects: list[Effect[object]]) -> None:
        for effect in effects:
            if isinstance(effect, (Delivery, ToEveryone)):  # joins and leaves send nothing
                for target in effect.targets:
                    self.sent.append((target, effect.event))

    def send(self, conn: object, event: object) -> None:
        self.sent.append((conn, event))

    def close(self, conn: object, reason: str) -> None:  # loop.close
        self.closed.append((conn, reason))

    def leaving(self, conn: object) -> None:  # the service's on_leaving hooks
        self.left.append(conn)

    def conversation(self, account_id: int, limit: int) -> list[object]:  # history.conversation
        self.history_asked.append((account_id, limit))
        return []

    def send_history(self, conn: object, events: list[object], *, empty_notice: bool = False) -> None:
        if not events and empty_notice:
            self.send(conn, Notice.of(NoticeCode.HISTORY_EMPTY))

    def to(self, conn: object) -> list[object]:
        """Events sent to ``conn`` so far (and forget them)."""
        events = [event for target, event in self.sent if target is conn]
        self.sent = [(target, event) for target, event in self.sent if target is not conn]
        return events


@pytest.fixture
def room() -> tuple[Commands, FakeChat, FakeConn, FakeConn]:
    """user1 (id 1) and bob (registered, id 2, password "pw") online, user1 first.

    The hub and the groups are the ones the server builds (:func:`build_chat`, over
    SQLite in memory); the commands' output and history ports are a :class:`FakeChat`."""
    config = ServerConfig(max_users=3, kdf_iterations=1, min_password_length=1)  # short test passwords
    database = Database.open(Path(":memory:"))
    pre = database.sync_preconfigured([Account("user1", hash_password("123", iterations=1), AccountKind.PRECONFIGURED)])
    chat = FakeChat(config)
    service = build_chat(
        config,
        pre,
        database,
        pool=chat.pool,
        timers=Timers(),
        output=PeerOutput(),
        clock=lambda: 1_700_000_000.0,
        dummy_hash=hash_password("x", iterations=1),
    )
    hub, groups = service.hub, service.groups
    a, b = FakeConn("user1"), FakeConn("bob")
    assert hub.login(a, hub.accounts.find("user1"), True).refusal is None
    assert hub.register(b, "bob", hash_password("pw", iterations=1)).refusal is None
    chat.hub, chat.groups = hub, groups
    commands = Commands(hub, groups, chat, chat.pool, chat, config, rng=random.Random(1))  # type: ignore[arg-type]
    return commands, chat, a, b


def run(commands: Commands, conn: FakeConn, line: str) -> None:
    command = parse_command(line)
    assert isinstance(command, Command), command
    commands.run(conn, command)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("/shrug", "¯\\_(ツ)_/¯"),
        ("/shrug no idea", "no idea ¯\\_(ツ)_/¯"),
        ("/tableflip mondays", "mondays (╯°□°)╯︵ ┻━┻"),
        ("/unflip", "┬─┬ノ( º _ ºノ)"),
        ("/unflip sorry", "sorry ┬─┬ノ( º _ ºノ)"),
    ],
)
def test_emoticon_commands_send_text_with_the_emoticon(room, line: str, text: str) -> None:
    commands, chat, a, b = room
    run(commands, a, line)
    assert chat.to(b) == [Message("user1", text)]
    assert chat.to(a) == []


def test_msg_me_who_whois_dispatch_to_the_hub(room) -> None:
    commands, chat, a, b = room
    run(commands, a, "/msg BOB psst  there")
    assert chat.to(b) == [PrivateMessage("user1", "bob", "psst  there")]
    assert chat.to(a) == [PrivateMessage("user1", "bob", "psst  there", outgoing=True)]
    run(commands, b, "/me waves")
    assert chat.to(a) == [Emote("bob", "waves")]
    run(commands, a, "!membres")
    [who] = chat.to(a)
    assert [entry.name for entry in who.users] == ["user1", "bob"]  # type: ignore[attr-defined]
    run(commands, a, "/whois nobody")
    assert chat.to(a) == [Error.of(ErrorCode.NO_SUCH_USER, name="nobody")]


def test_say_sends_the_line_as_it_is_to_the_main_chat(room) -> None:
    commands, chat, a, b = room
    chat.groups.create(a, "#familia")
    chat.groups.focus(a, "#familia")
    chat.sent.clear()
    run(commands, a, "/say #famila is no group")  # neither a group line nor the focus
    assert chat.to(b) == [Message("user1", "#famila is no group")]
    run(commands, a, "/say /who is a command")
    assert chat.to(b) == [Message("user1", "/who is a command")]
    assert chat.to(a) == []


def test_status_and_away(room) -> None:
    commands, chat, a, b = room
    run(commands, a, "/status BUSY in a meeting")
    assert chat.to(b) == [StatusChanged("user1", "busy", "in a meeting")]
    run(commands, a, "/status sleeping")
    assert chat.to(a) == [StatusChanged("user1", "busy", "in a meeting"), Error.of(ErrorCode.USAGE, usage=COMMANDS["status"].usage)]
    run(commands, a, "/away lunch")
    assert chat.to(b) == [StatusChanged("user1", "away", "lunch")]
    run(commands, a, "/away")  # bare /away clears
    assert chat.to(b) == [StatusChanged("user1", "active", "")]


def test_help(room) -> None:
    commands, chat, a, _ = room
    run(commands, a, "/help")
    assert chat.to(a) == [Notice.of(NoticeCode.HELP, text=help_text())]
    run(commands, a, "/help /nick")
    assert chat.to(a) == [Notice.of(NoticeCode.HELP, text=entries()["nick"])]
    run(commands, a, "/help /nope")
    assert chat.to(a) == [Error.of(ErrorCode.NO_SUCH_COMMAND_HELP, name="nope")]


@pytest.mark.parametrize("count", ["0", "501", "many", "-1"])
def test_history_count_out_of_range_is_the_usage_line(room, count: str) -> None:
    commands, chat, a, _ = room
    run(commands, a, f"/history {count}")
    assert chat.to(a) == [Error.of(ErrorCode.USAGE, usage=COMMANDS["history"].usage)]
    assert chat.history_asked == []


def test_history_asks_for_the_users_conversation(room) -> None:
    commands, chat, a, b = room
    run(commands, a, "/history")
    run(commands, b, "/history 500")
    assert chat.history_asked == [(1, 20), (2, 500)]
    assert chat.to(a) == [Notice.of(NoticeCode.HISTORY_EMPTY)]


def test_quit_says_goodbye_tells_the_others_and_closes(room) -> None:
    commands, chat, a, b = room
    run(commands, b, "/quit good  night")
    assert chat.to(b) == [Notice.of(NoticeCode.GOODBYE)]
    assert chat.to(a) == [Left("bob", "good  night")]
    assert [conn for conn, _ in chat.closed] == [b]
    assert commands.hub.session_of(b) is None
    assert chat.left == [b]  # the front ends were told while the session was there


@pytest.mark.parametrize("arg", ["nocomma", ",new", "old,"])
def test_passwd_without_old_and_new_is_the_usage_line(room, arg: str) -> None:
    commands, chat, _, b = room
    run(commands, b, f"/passwd {arg}")
    assert chat.to(b) == [Error.of(ErrorCode.USAGE, usage=COMMANDS["passwd"].usage)]


def test_passwd_checks_the_old_password_then_changes_it(room) -> None:
    commands, chat, _, b = room
    run(commands, b, "/passwd wrong,new pw")
    assert chat.to(b) == [Error.of(ErrorCode.WRONG_PASSWORD)]
    run(commands, b, "/passwd pw,new pw")
    assert chat.to(b) == [Notice.of(NoticeCode.PASSWORD_CHANGED)]
    stored = commands.hub.accounts.find("bob")
    assert stored is not None and verify_password("new pw", stored.password_hash)


def test_unregister_checks_the_password_then_deletes_and_closes(room) -> None:
    commands, chat, a, b = room
    run(commands, b, "/unregister wrong")
    assert chat.to(b) == [Error.of(ErrorCode.WRONG_PASSWORD)]
    assert chat.closed == []
    run(commands, b, "/unregister pw")
    assert chat.to(b) == [Notice.of(NoticeCode.UNREGISTERED, name="bob")]
    assert chat.to(a) == [Left("bob")]
    assert [conn for conn, _ in chat.closed] == [b]
    assert commands.hub.accounts.find("bob") is None


def test_nick_and_play_dispatch_to_the_hub(room) -> None:
    commands, chat, a, b = room
    run(commands, b, "/nick bobby")
    assert chat.to(a) == [Renamed("bob", "bobby")]
    run(commands, a, "/play")
    assert chat.to(a) == [Error.of(ErrorCode.NOT_ALONE)]


def test_renames_are_remembered_for_users_who_were_away(room) -> None:
    commands, chat, a, b = room
    assert commands.renames_since(0.0) == []
    run(commands, b, "/nick bobby")
    run(commands, b, "/nick bobby")  # no change: nothing to remember
    run(commands, b, "/nick rob")
    run(commands, a, "/nick x")  # refused (a preconfigured account): nothing either
    now = chat.hub.clock()
    assert commands.renames_since(now - 1) == [
        Renamed("bob", "bobby", history=True, at=now),
        Renamed("bobby", "rob", history=True, at=now),
    ]
    assert commands.renames_since(now + 1) == []


def test_a_password_command_that_fails_after_the_check_answers_one_error_line(room, monkeypatch) -> None:
    commands, chat, a, b = room
    b.id = 2

    def disk_full(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(chat.hub, "change_password", disk_full)
    run(commands, b, "/passwd pw,pw2")
    assert chat.to(b) == [Error.of(ErrorCode.INTERNAL)]  # not silence
    assert chat.closed == []


@pytest.mark.parametrize(
    ("text", "cursor"),
    [
        ("now", (None, None)),
        ("NOW", (None, None)),
        ("1234", (1234, None)),
        ("2026-11-21T10:39:59.750Z", (None, 1795257599.75)),
        ("2026-11-21T10:39:59.750", (None, 1795257599.75)),  # UTC when no offset is given
        ("2026-11-21T11:39:59.750+01:00", (None, 1795257599.75)),
        ("0", None),
        ("99999999999999999999", None),
        ("٣", None),  # a digit, not an ASCII one
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_cursor(text: str, cursor: tuple[int | None, float | None] | None) -> None:
    assert parse_cursor(text) == cursor


@given(st.text(max_size=40))
def test_parse_cursor_is_total(text: str) -> None:
    cursor = parse_cursor(text)
    assert cursor is None or (isinstance(cursor, tuple) and len(cursor) == 2 and None in cursor or cursor == (None, None))
