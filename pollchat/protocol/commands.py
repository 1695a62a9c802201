"""Slash commands: the command table and a total parser (pure).

A logged-in user's line that starts with ``/`` is a command; ``//text`` sends the literal
chat line ``/text``; ``!membres`` (seed 002) is an alias of ``/who``. The table below is
the single source of what exists: the dispatcher, ``/help`` and the tests all read it,
and a test fails if a command has no entry in the manual (``pollchat/manual.txt``).

:func:`parse_command` is total: every line gives a :class:`Command` or a
:class:`~pollchat.errors.ProtocolError` value (``UNKNOWN_COMMAND`` or ``USAGE``), never
an exception (a hypothesis test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pollchat.errors import ProtocolError
from pollchat.texts import ErrorCode


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command.

    Attributes:
        name: the command without ``/``, lower case.
        usage: the usage line shown on a wrong argument count (``/msg NAME text``).
        summary: one line for the ``/help`` index.
        words: how many whitespace-separated arguments come first.
        optional_words: how many of those ``words`` may be missing (from the end).
        rest: ``"required"``, ``"optional"`` or ``"none"``: whether the rest of the line
            after the words is one more argument (a message text keeps its spaces).
        aliases: other spellings that run this command (including the ``/``-less
            ``!membres``).
        admin: only admins may run it; others get ``NOT_ADMIN``.
        group_form: with a ``#group`` after the name it is a group owner's command,
            open to everyone (``/kick NAME #group``: a group owner's power); see
            :func:`group_argument`.
        passive: a look, not a sign of life: it does not end idleness (a client that
            polls ``/who`` would otherwise never turn inactive), as an IRC server's idle
            time counts messages only.
    """

    name: str
    usage: str
    summary: str
    words: int = 0
    optional_words: int = 0
    rest: str = "none"
    aliases: tuple[str, ...] = ()
    admin: bool = False
    group_form: bool = False
    passive: bool = False


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("msg", "/msg NAME text", "send a private message", words=1, rest="required"),
        CommandSpec(
            "who", "/who", "list everyone online with status and idle time", aliases=("!membres",), passive=True
        ),
        CommandSpec("whois", "/whois NAME", "show a user's status, times and account kind", words=1, passive=True),
        CommandSpec(
            "status",
            "/status active|busy|away|inactive [message]",
            "set your status, with an optional message",
            words=1,
            rest="optional",
        ),
        CommandSpec(
            "ignore",
            "/ignore [NAME]",
            "stop seeing NAME's lines, private messages, mentions and typing; /ignore alone lists whom you ignore",
            words=1,
            optional_words=1,
            passive=True,
        ),
        CommandSpec("unignore", "/unignore NAME", "see NAME's lines again", words=1, passive=True),
        CommandSpec("away", "/away [message]", "set yourself away; /away alone clears it", rest="optional"),
        CommandSpec("me", "/me action", "describe an action: * NAME action", rest="required"),
        CommandSpec(
            "say", "/say text", "say text to everyone in the main chat, even if it starts with #name or /", rest="required"
        ),
        CommandSpec("shrug", "/shrug [text]", "send text with ¯\\_(ツ)_/¯", rest="optional"),
        CommandSpec("tableflip", "/tableflip [text]", "send text with (╯°□°)╯︵ ┻━┻", rest="optional"),
        CommandSpec("unflip", "/unflip [text]", "send text with ┬─┬ノ( º _ ºノ)", rest="optional"),
        CommandSpec(
            "help", "/help [command]", "show the manual, or one command's entry", words=1, optional_words=1, passive=True
        ),
        CommandSpec("quit", "/quit [message]", "leave the chat, with an optional message", rest="optional"),
        CommandSpec("nick", "/nick NEWNAME", "rename your registered account", words=1),
        CommandSpec("passwd", "/passwd OLD,NEW", "change your password", rest="required"),
        CommandSpec("unregister", "/unregister PASSWORD", "delete your registered account", rest="required"),
        CommandSpec(
            "history",
            "/history [#group] [N]",
            "show the last N public messages (default 20, max 500) and your private ones, or a group's",
            words=2,
            optional_words=2,
            passive=True,
        ),
        CommandSpec(
            "older",
            "/older [#group|@NAME] BEFORE [N]",
            "scrollback: up to N (default and max 100) messages before message id or time BEFORE (or now)",
            words=3,
            optional_words=2,
            passive=True,
        ),
        CommandSpec(
            "search",
            "/search WORDS [#group|@NAME]",
            "find messages with all the WORDS in what you may read, newest first (at most 20)",
            rest="required",
            passive=True,
        ),
        CommandSpec(
            "read",
            "/read @NAME UNTIL",
            "(clients send this) you have read NAME's private messages up to time UNTIL (or now)",
            words=2,
            passive=True,
        ),
        CommandSpec(
            "receipts",
            "/receipts [on|off]",
            "show, or turn on or off, read receipts (off: both ways)",
            words=1,
            optional_words=1,
        ),
        CommandSpec("play", "/play [N]", "play guess-the-number while you are alone", words=1, optional_words=1),
        CommandSpec(
            "typing",
            "/typing on|off [NAME|#group]",
            "tell others you are typing (clients send this; JSON-mode users see it)",
            words=2,
            optional_words=1,
        ),
        # --- groups ---
        CommandSpec(
            "create",
            "/create #group [public|private]",
            "create a group you own; private groups need your yes to join",
            words=2,
            optional_words=1,
        ),
        CommandSpec("join", "/join #group", "join a public group, or ask to join a private one", words=1),
        CommandSpec("leave", "/leave #group", "leave a group", words=1),
        CommandSpec("groups", "/groups", "list your groups and the public ones", passive=True),
        CommandSpec("members", "/members #group", "list a group's members and who is online", words=1, passive=True),
        CommandSpec(
            "focus", "/focus [#group]", "send plain lines to a group; /focus alone: the main chat", words=1, optional_words=1
        ),
        CommandSpec("accept", "/accept NAME #group", "(owner) let NAME into your private group", words=2),
        CommandSpec("reject", "/reject NAME #group", "(owner) turn down NAME's request to join", words=2),
        CommandSpec("rename", "/rename #group #newname", "(owner) rename a group", words=2),
        CommandSpec("delete", "/delete #group", "(owner) delete a group; its members are told", words=1),
        CommandSpec("topic", "/topic #group [text]", "show a group's topic; the owner sets it", words=1, rest="optional"),
        CommandSpec(
            "kick",
            "/kick NAME [reason] | /kick NAME #group",
            "(admin) disconnect a user; (owner) remove a member from a group",
            words=1,
            rest="optional",
            admin=True,
            group_form=True,
        ),
        CommandSpec(
            "ban",
            "/ban NAME [DURATION] [reason] | /ban NAME #group",
            "(admin) ban an account, for good or for a while (30m, 2h, 7d); (owner) ban from a group",
            words=1,
            rest="optional",
            admin=True,
            group_form=True,
        ),
        CommandSpec(
            "unban",
            "/unban NAME | /unban NAME #group",
            "(admin) lift a ban; (owner) lift a group ban",
            words=1,
            rest="optional",
            admin=True,
            group_form=True,
        ),
        CommandSpec("announce", "/announce text", "(admin) a marked line to everyone", rest="required", admin=True),
        CommandSpec(
            "shutdown",
            "/shutdown [SECONDS] [reason] | /shutdown cancel",
            "(admin) stop the server after a countdown (default 30 s)",
            rest="optional",
            admin=True,
        ),
    )
}

_BY_SPELLING: dict[str, CommandSpec] = {}
for _spec in COMMANDS.values():
    _BY_SPELLING["/" + _spec.name] = _spec
    for _alias in _spec.aliases:
        _BY_SPELLING[_alias] = _spec


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its table name and its arguments (words, then the rest)."""

    name: str
    args: tuple[str, ...]


def group_argument(command: Command) -> str | None:
    """For a command with a group form (``/kick NAME #group``), the ``#group`` argument
    if that form was used, else ``None``."""
    spec = COMMANDS[command.name]
    if spec.group_form and len(command.args) > 1 and command.args[1].startswith("#"):
        return command.args[1]
    return None


def is_command_line(line: str) -> bool:
    """True if ``line`` is meant as a command (not a chat line)."""
    stripped = line.lstrip()
    head = stripped.split(maxsplit=1)[0].lower() if stripped else ""
    return (stripped.startswith("/") and not stripped.startswith("//")) or head in _BY_SPELLING


def parse_command(line: str) -> Command | ProtocolError:
    """Parse a command line (see :func:`is_command_line`).

    Returns:
        The :class:`Command`, or a ``ProtocolError`` value: ``UNKNOWN_COMMAND`` (with
        ``name``) for a name not in the table, ``USAGE`` (with ``usage``) for a wrong
        number of arguments.
    """
    head, tail = _split_word(line)
    spec = _BY_SPELLING.get(head.lower())
    if spec is None:
        return ProtocolError(ErrorCode.UNKNOWN_COMMAND, name=head.lstrip("/")[:40])
    words: list[str] = []
    for _ in range(spec.words):
        if not tail:
            break
        word, tail = _split_word(tail)
        words.append(word)
    missing = spec.words - len(words)
    rest_missing = spec.rest == "required" and not tail
    rest_forbidden = spec.rest == "none" and tail
    if missing > spec.optional_words or rest_missing or rest_forbidden:
        return ProtocolError(ErrorCode.USAGE, usage=spec.usage)
    if spec.rest != "none" and tail:
        words.append(tail)
    return Command(spec.name, tuple(words))


def _split_word(text: str) -> tuple[str, str]:
    """``(first word, rest)`` with the whitespace around them removed."""
    parts = text.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 10 * 365 * 86400
"""The longest ban duration accepted (10 years); longer is "for good"."""


def parse_duration(text: str) -> float | None:
    """``30s``, ``15m``, ``2h``, ``7d`` (or a bare number of seconds) in seconds; ``None``
    if ``text`` is not such a duration or is zero or longer than :data:`MAX_DURATION`."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:], None) if text else None
    number = text[:-1] if unit is not None else text
    if not number.isascii() or not number.isdigit() or len(number) > 12:
        return None
    seconds = int(number) * (unit or 1)
    return float(seconds) if 0 < seconds <= MAX_DURATION else None


def parse_cursor(text: str) -> tuple[int | None, float | None] | None:
    """A scrollback cursor (``/older``'s BEFORE) as ``(before_id, before_ts)``:
    a message id (``1234``: ids below it), a time in ISO 8601 (``2026-11-21T10:39:59.750Z``,
    UTC when no offset is given: messages sent before it), or ``now`` (the newest:
    ``(None, None)``). ``None`` for anything else, an id of 0 or above 2**63 included.
    """
    if text.lower() == "now":
        return None, None
    if text.isascii() and text.isdigit():
        number = int(text) if len(text) <= 19 else 0
        return (number, None) if 0 < number < 2**63 else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return None, moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
