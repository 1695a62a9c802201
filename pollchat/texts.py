"""Every user-facing text pollchat prints or sends, in one table.

Seed 000 asks for "all hard-coded messages in a common file"; this is that file. The
wire texts keep the wording of the original seed-004 chatroom (see
``docs/protocol.md``), so they are matched byte for byte by tests and by scripts that
talked to the old program. Placeholders use ``str.format`` names.

Nothing here imports anything from pollchat.
"""

from __future__ import annotations

import enum

# --- Server to client, text mode (one line each, sent with a trailing "\n") -------------
GREETING = "type login or register and then give user,password"
ACCESS_PROVIDED = "Access Provided"
ACTIVE_USERS = "active users are: {names}"
ENTERED = "{name} has entered the chat"
LEFT = "{name} has left the chat"
CHAT_LINE = "{name}: {text}"
SHUTTING_DOWN = "server is shutting down"
MODE_SWITCHED = "mode {mode}"


class ErrorCode(enum.Enum):
    """Every error line the server sends, with its text-mode wording.

    The member name, lower-cased, is the stable ``code`` of the JSON ``error`` event.
    The first five are the seed-004 replies to a failed login or registration; each
    counts as one failed attempt.
    """

    WRONG_PASSWORD = "Wrong Password"
    ALREADY_ONLINE = "Password already used"
    NAME_TAKEN = "username is already used"
    BAD_FORMAT = "Type the format user,password"
    SERVER_FULL = "Max number of chat users"
    TOO_MANY_ATTEMPTS = "too many failed attempts, closing the connection"
    LINE_TOO_LONG = "line too long (over {limit} bytes), discarded"
    BAD_ENCODING = "line is not valid UTF-8, discarded"
    CONTROL_CHARACTERS = "line contains control characters, discarded"
    TOO_SLOW = "you are not reading your messages, closing the connection"
    INTERNAL = "server error, please try again later"

    @property
    def code(self) -> str:
        """The stable machine-readable code, e.g. ``"wrong_password"``."""
        return self.name.lower()


# --- Server command line ---------------------------------------------------------------
MAX_USERS_PROMPT = "enter the number of people the chat can have"
LISTENING = "listening on {host}:{port}"
TOO_FEW_SEATS = "login users > max users, change settings"

# --- Client ----------------------------------------------------------------------------
CLIENT_UNREACHABLE = "cannot connect to {host}:{port}: {reason}"
CLIENT_SERVER_CLOSED = "the server closed the connection"
CLIENT_CONNECTION_LOST = "connection to the server lost: {reason}"
CLIENT_PASSWORD_PROMPT = "password for {name}: "
CLIENT_NO_PASSWORD = "no password for {name}: no terminal to ask on, and no first line on stdin"
CLIENT_BAD_USER = "invalid user name {name!r}: 1 to {limit} letters, digits, '_', '-' or '.'"
CLIENT_INPUT_DISCARDED = "input line not sent: {reason}"
CLIENT_BAD_SERVER_LINE = "line from the server not shown: {reason}"
