"""The per-connection protocol state machine: lines in, actions out (sans-IO).

Phases (seed 004's flow)::

    AWAIT_VERB --"login"/"register"--> AWAIT_CREDENTIALS --"user,password"--> AUTHENTICATING
        ^                                    |                                   |      |
        +---- bad format (failure) ----------+<----- refused (failure) ----------+      |
                                                                                 ok     v
                                                                                    CHATTING

While AUTHENTICATING (the password check runs off the event loop), further input is
held in a backlog and replayed, in order, when the outcome is known: a client may send
``login\\nuser1,123\\nhello\\n`` in one packet and ``hello`` is still delivered. After
``max_failures`` failed attempts the session asks to close the connection.

The session never touches a socket and never raises on any input: every line gives a
list of actions (:class:`Reply`, :class:`Authenticate`, :class:`Chat`,
:class:`~pollchat.protocol.commands.Command`, :class:`SwitchMode`, :class:`Disconnect`)
for the server to carry out. In the CHATTING phase a line starting with ``/`` is a
command (``//text`` is the chat line ``/text``).
"""

from __future__ import annotations

import enum
import unicodedata
from collections import deque
from dataclasses import dataclass

from pollchat.config import DEFAULT_MAX_FAILURES
from pollchat.errors import ProtocolError
from pollchat.protocol.commands import Command, is_command_line, parse_command
from pollchat.protocol.events import Error, Greeting, ServerEvent
from pollchat.protocol.framing import Item
from pollchat.protocol.names import normalize_name
from pollchat.protocol.requests import REQUEST_TYPES, LogIn, Request
from pollchat.texts import ErrorCode


BACKLOG_LIMIT = 64 * 1024
"""Characters of input held while a password check runs; past it the server stops reading
from the connection until the check is done (backpressure, nothing is dropped)."""


class Phase(enum.Enum):
    """Where a connection is in the login flow."""

    AWAIT_VERB = enum.auto()
    AWAIT_CREDENTIALS = enum.auto()
    AUTHENTICATING = enum.auto()
    CHATTING = enum.auto()
    CLOSED = enum.auto()


class Verb(enum.Enum):
    """The first line of the seed-004 login flow."""

    LOGIN = "login"
    REGISTER = "register"
    GUEST = "guest"
    """Not a line of the flow: a front end's guest login (:class:`~pollchat.protocol.requests.LogIn`)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``event`` to this connection only."""

    event: ServerEvent


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check credentials off the loop, then call ``auth_succeeded`` or ``auth_failed``.

    ``name`` is valid (:func:`~pollchat.protocol.names.normalize_name` accepts it) and
    NFC-normalised but otherwise as typed: its NFKC form is the spelling a registration
    stores, and the account directory finds an account by either (an old account may
    have kept a key from before NFKC). ``password`` is everything after the first comma
    (it may contain commas), never empty and without control characters (TAB allowed).
    Never log this action.
    """

    verb: Verb
    name: str
    password: str

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"Authenticate(verb={self.verb}, name={self.name!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class Chat:
    """A logged-in user's chat line for the main chat."""

    text: str


@dataclass(frozen=True, slots=True)
class SwitchMode:
    """From now on render events for this connection in ``mode`` (``"json"``/``"text"``)."""

    mode: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Send ``event`` (if any), flush, then close the connection."""

    event: ServerEvent | None = None


SessionStep = Reply | Authenticate | Chat | Command | SwitchMode | Disconnect | Request
"""What the server carries out; a typed :data:`~pollchat.protocol.requests.Request` from a
front end (other than :class:`~pollchat.protocol.requests.LogIn`) passes through as it came."""

_EOF = object()  # backlog marker: the peer closed its side while we were authenticating
_MODE_LINES = {"mode json": "json", "mode text": "text"}
_VERBS = {verb.value: verb for verb in (Verb.LOGIN, Verb.REGISTER)}


def _size(item: object) -> int:
    """Characters an item holds in the backlog: a line's length, a typed request's text and
    tags (at least one), so the backlog bound holds for every front end."""
    if isinstance(item, str):
        return len(item) + 1
    text = getattr(item, "text", None)
    tags = getattr(item, "tags", ())
    return 1 + (len(text) if isinstance(text, str) else 0) + sum(len(k) + len(v) for k, v in tags)


def has_control_characters(text: str) -> bool:
    """True if ``text`` has a control character (Unicode Cc) other than TAB.

    Such lines are refused so that no client can put ``\\r``, NUL or terminal escape
    sequences on another user's screen. This is also the whole rule for passwords (a
    password is never shown, so :func:`text_error`'s further rule does not apply)."""
    return any(ch != "\t" and unicodedata.category(ch) == "Cc" for ch in text)


BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
"""The explicit embeddings, overrides (LRE .. RLO, PDF) and isolates (LRI .. PDI) of
UAX #9: they reorder the text that follows, so ``invoice\u202egnp.exe`` shows as
``invoiceexe.png`` (the "Trojan Source" trick). The implicit marks LRM, RLM and ALM stay
allowed: they only nudge neutral characters, and right-to-left writers need them."""

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
"""Zero width space, non-joiner, joiner, word joiner and the BOM (zero width no-break
space): invisible, so they make two different texts look the same (UTS #39)."""

_ZWJ = "\u200d"
_VS16 = "\ufe0f"


def hidden_character(text: str) -> str | None:
    """The first bidi control or zero-width character of ``text`` (see
    :data:`BIDI_CONTROLS`, :data:`ZERO_WIDTH`), or ``None``.

    The one exception is the zero width joiner inside an emoji sequence
    (``\U0001f468\u200d\U0001f469``: a symbol, or a symbol's variation selector or skin
    tone, then the joiner, then a symbol): there it draws one picture and hides nothing.
    """
    for i, ch in enumerate(text):
        if ch in BIDI_CONTROLS:
            return ch
        if ch in ZERO_WIDTH and not (ch == _ZWJ and _joins_emoji(text, i)):
            return ch
    return None


def _joins_emoji(text: str, i: int) -> bool:
    if i == 0 or i + 1 >= len(text):
        return False
    before, after = text[i - 1], text[i + 1]
    return (before == _VS16 or unicodedata.category(before) in ("So", "Sk")) and unicodedata.category(after) == "So"


def text_error(text: str) -> Error | None:
    """Why ``text`` may not be shown to other users, or ``None`` if it may.

    The session's check of every line a logged-in user sends (chat lines, and the texts
    of commands such as group topics and away messages, which end up on other screens):
    control characters but TAB (:func:`has_control_characters`), then bidi controls and
    zero-width characters (:func:`hidden_character`), named in the error so the sender
    can find the one pasted by mistake."""
    if has_control_characters(text):
        return Error.of(ErrorCode.CONTROL_CHARACTERS)
    hidden = hidden_character(text)
    if hidden is not None:
        return Error.of(ErrorCode.INVISIBLE_CHARACTERS, char=f"U+{ord(hidden):04X}")
    return None


def new_password_error(password: str, minimum: int) -> Error | None:
    """Why ``password`` may not become a registered account's new password (at a
    registration or a ``/passwd``), or ``None``: fewer than ``minimum`` characters
    (``--min-password-length``; 0 turns the rule off). Only new passwords are checked:
    existing ones, and the accounts file's, keep working whatever their length. A
    password of spaces only is never taken (a one-space password would guess in one try)."""
    if not password.strip():
        return Error.of(ErrorCode.PASSWORD_BLANK)
    if minimum and len(password) < minimum:
        return Error.of(ErrorCode.PASSWORD_TOO_SHORT, minimum=minimum)
    return None


_SECRET_COMMANDS = frozenset({"passwd", "unregister"})
"""Commands whose argument is a password: never shown to anyone, so only control
characters are refused in them (a password may hold any other character)."""



def _carries_password(line: str) -> bool:
    if not is_command_line(line) or line.startswith("//"):
        return False
    parsed = parse_command(line)
    return isinstance(parsed, Command) and parsed.name in _SECRET_COMMANDS


class Session:
    """One connection's protocol state.

    Args:
        max_failures: failed attempts before the connection is closed (0 = unlimited).
        min_password_length: the shortest password a registration may choose (0 = any;
            see :func:`new_password_error`). A refused one is a failed attempt.

    Attributes:
        phase: the current :class:`Phase`.
        failures: failed login/registration attempts so far.
    """

    __slots__ = (
        "phase",
        "failures",
        "max_failures",
        "min_password_length",
        "_verb_chosen",
        "_backlog",
        "_backlog_size",
        "_guarding",
        "_answering",
    )

    def __init__(self, max_failures: int = DEFAULT_MAX_FAILURES, min_password_length: int = 0) -> None:
        self.phase = Phase.AWAIT_VERB
        self.failures = 0
        self.max_failures = max_failures
        self.min_password_length = min_password_length
        self._verb_chosen = Verb.LOGIN
        self._backlog: deque[object] | None = None  # made on first use: most sessions never need it
        self._backlog_size = 0  # characters of lines waiting in the backlog
        self._guarding = False  # a login verb came while chatting: the next line may be credentials
        self._answering = False  # a request's answer comes later: input waits in the backlog

    # --- input ---------------------------------------------------------------------------

    def feed(self, item: Item | Request) -> list[SessionStep]:
        """Handle one framed item (a line or a framing error) or a front end's typed
        request, and return the actions. A :class:`~pollchat.protocol.requests.LogIn`
        starts a login as ``user,password`` would; any other request passes through
        (held, in order, while a password check runs)."""
        if self.phase is Phase.AUTHENTICATING or self._answering:
            self._held().append(item)
            self._backlog_size += _size(item)
            return []
        if self.phase is Phase.CLOSED:
            return []
        if isinstance(item, LogIn):
            return self._log_in(item)
        if isinstance(item, REQUEST_TYPES):
            return [item]
        if isinstance(item, ProtocolError):
            return [Reply(Error.of(item.code, **item.detail))]
        if self.phase is Phase.CHATTING:
            return self._chat(item)
        if self.phase is Phase.AWAIT_VERB:
            return self._verb(item)
        return self._credentials(item)

    def feed_eof(self) -> list[SessionStep]:
        """The peer closed its sending side (or the connection). Returns the actions;
        while authenticating, the hang-up waits in the backlog behind earlier lines."""
        if self.phase is Phase.AUTHENTICATING or self._answering:
            self._held().append(_EOF)
            return []
        if self.phase is Phase.CLOSED:
            return []
        self.phase = Phase.CLOSED
        return [Disconnect()]

    @property
    def backlog_full(self) -> bool:
        """True when the server should stop reading until authentication is done."""
        return self._backlog_size >= BACKLOG_LIMIT

    # --- answers that come later ---------------------------------------------------------

    @property
    def answering(self) -> bool:
        """A request's answer is still to come (:meth:`await_answer`)."""
        return self._answering

    def await_answer(self) -> None:
        """The last request is answered later (a query the event loop does not wait
        for): hold further input in the backlog, in order, so that nothing sent after
        it is answered before it. :meth:`next_held` gives it back once answered."""
        self._answering = True

    def answered(self) -> None:
        """The awaited answer was sent: input is handled again (:meth:`next_held` first)."""
        self._answering = False

    def next_held(self) -> list[SessionStep] | None:
        """The actions of the oldest item held while an answer was awaited, ``None``
        when none is left or an answer is awaited again (one item at a time, so a
        request that awaits an answer holds the items behind it)."""
        if not self._backlog or self._answering or self.phase is Phase.AUTHENTICATING:
            return None
        item = self._backlog.popleft()
        if not self._backlog:
            self._backlog = None
        if item is _EOF:
            return self.feed_eof()
        self._backlog_size -= _size(item)
        return self.feed(item)  # type: ignore[arg-type]

    # --- authentication outcome ----------------------------------------------------------

    def auth_succeeded(self) -> list[SessionStep]:
        """The credentials were accepted: start chatting and replay the backlog."""
        self._expect_authenticating()
        self.phase = Phase.CHATTING
        return self._replay()

    def auth_failed(self, code: ErrorCode, **detail: object) -> list[SessionStep]:
        """The credentials were refused with ``code`` (its text filled with ``detail``):
        count a failure, go back to the start of the flow (or close after too many
        failures) and replay the backlog."""
        self._expect_authenticating()
        self.phase = Phase.AWAIT_VERB
        return self._fail(code, **detail) + self._replay()

    # --- internals -----------------------------------------------------------------------

    def _verb(self, line: str) -> list[SessionStep]:
        word = " ".join(line.split()).lower()
        if word in _VERBS:
            self._verb_chosen = _VERBS[word]
            self.phase = Phase.AWAIT_CREDENTIALS
            return []
        if word in _MODE_LINES:
            return [SwitchMode(_MODE_LINES[word])]
        return [Reply(Greeting())]

    def _credentials(self, line: str) -> list[SessionStep]:
        user, comma, password = line.partition(",")
        name = unicodedata.normalize("NFC", user) if normalize_name(user) is not None else None
        # A NUL or other control character in a password is refused: PBKDF2's HMAC pads
        # keys with NULs, so "pw" and "pw\0" would be the same password.
        if not comma or name is None or not password or has_control_characters(password):
            self.phase = Phase.AWAIT_VERB
            return self._fail(ErrorCode.BAD_FORMAT)
        if self._verb_chosen is Verb.REGISTER:
            error = new_password_error(password, self.min_password_length)
            if error is not None:
                self.phase = Phase.AWAIT_VERB
                return self._fail(error.code, minimum=self.min_password_length)
        self.phase = Phase.AUTHENTICATING
        return [Authenticate(self._verb_chosen, name, password)]

    def _log_in(self, request: LogIn) -> list[SessionStep]:
        """A front end's typed login: the same checks as ``user,password`` lines."""
        if self.phase is Phase.CHATTING:
            return [Reply(Error.of(ErrorCode.ALREADY_LOGGED_IN))]
        self.phase = Phase.AWAIT_VERB
        name = unicodedata.normalize("NFC", request.name) if normalize_name(request.name) is not None else None
        if name is None:
            return self._fail(ErrorCode.BAD_NAME, name=request.name[:40])
        if request.guest:
            self.phase = Phase.AUTHENTICATING
            return [Authenticate(Verb.GUEST, name, "")]
        password = request.password
        if not password or has_control_characters(password):
            return self._fail(ErrorCode.WRONG_PASSWORD if not request.register else ErrorCode.BAD_FORMAT)
        if request.register:
            error = new_password_error(password, self.min_password_length)
            if error is not None:
                return self._fail(error.code, minimum=self.min_password_length)
        self.phase = Phase.AUTHENTICATING
        return [Authenticate(Verb.REGISTER if request.register else Verb.LOGIN, name, password)]

    def _chat(self, line: str) -> list[SessionStep]:
        if not line.strip():
            return []
        # A client that pipelines a second login ("login\nbob,secret\n") after one that
        # succeeded must not broadcast its password: the verb and a credentials-shaped
        # line right after it are refused, not chatted.
        guarding, self._guarding = self._guarding, False
        if " ".join(line.split()).lower() in _VERBS:
            self._guarding = True
            return [Reply(Error.of(ErrorCode.ALREADY_LOGGED_IN))]
        if guarding:
            user, comma, _ = line.partition(",")
            if comma and normalize_name(user) is not None:
                return [Reply(Error.of(ErrorCode.ALREADY_LOGGED_IN))]
        error = text_error(line)
        if error is not None and (error.code is ErrorCode.CONTROL_CHARACTERS or not _carries_password(line)):
            return [Reply(error)]
        if line.startswith("//"):  # an escaped slash: the chat line "/text"
            return [Chat(line[1:])]
        if is_command_line(line):
            parsed = parse_command(line)
            if isinstance(parsed, ProtocolError):
                return [Reply(Error.of(parsed.code, **parsed.detail))]
            return [parsed]
        return [Chat(line)]

    def _fail(self, code: ErrorCode, **detail: object) -> list[SessionStep]:
        self.failures += 1
        actions: list[SessionStep] = [Reply(Error.of(code, **detail))]
        if self.max_failures and self.failures >= self.max_failures:
            self.phase = Phase.CLOSED
            self._backlog = None
            self._backlog_size = 0
            actions.append(Disconnect(Error.of(ErrorCode.TOO_MANY_ATTEMPTS)))
        return actions

    def _replay(self) -> list[SessionStep]:
        actions: list[SessionStep] = []
        while self._backlog and self.phase is not Phase.AUTHENTICATING and not self._answering:
            item = self._backlog.popleft()
            if item is _EOF:
                actions += self.feed_eof()
            else:
                self._backlog_size -= _size(item)
                actions += self.feed(item)  # type: ignore[arg-type]
        if not self._backlog:
            self._backlog = None  # an empty deque keeps a 64-slot block (about 600 bytes)
        return actions

    def _held(self) -> deque[object]:
        if self._backlog is None:
            self._backlog = deque()
        return self._backlog

    def _expect_authenticating(self) -> None:
        if self.phase is not Phase.AUTHENTICATING:
            raise RuntimeError(f"no authentication in progress (phase {self.phase.name})")
