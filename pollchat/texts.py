"""Every user-facing text pollchat prints or sends, in one table.

Seed 000 asks for "all hard-coded messages in a common file"; this is that file. The
wire texts keep the wording of the original seed-004 chatroom (see
``docs/protocol.md``), so they are matched byte for byte by tests and by scripts that
talked to the old program. Placeholders use ``str.format`` names.

Nothing here imports anything from pollchat.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

# --- Server to client, text mode (one line each, sent with a trailing "\n") -------------
GREETING = "type login or register and then give user,password"
ACCESS_PROVIDED = "Access Provided"
ACTIVE_USERS = "active users are: {names}"
ENTERED = "{name} has entered the chat"
LEFT = "{name} has left the chat"
CHAT_LINE = "{name}: {text}"
SHUTTING_DOWN = "server is shutting down"
MODE_SWITCHED = "mode {mode}"
LEFT_WITH_REASON = "{name} has left the chat ({reason})"
ACTION_LINE = "* {name} {text}"
PRIVATE_IN = "[private] {name}: {text}"
PRIVATE_OUT = "[private to {name}] {text}"
STATUS_CHANGED = "{name} is now {status}"
STATUS_CHANGED_WITH_MESSAGE = "{name} is now {status}: {message}"
RENAMED = "{old} is now known as {new}"
WHO_HEADER = "online users ({count}):"
WHO_ENTRY = "  {name} - {status}, idle {idle}"
WHOIS_ONLINE = "{name}: {status}, online since {since}, idle {idle}, {kind} account"
WHOIS_OFFLINE = "{name}: offline, last seen {since}, {kind} account"
WHOIS_NEVER_SEEN = "{name}: offline, never seen, {kind} account"
WHO_ENTRY_ADMIN = "  {name} - {status}, idle {idle} (connection #{connection} from {address})"
ANNOUNCEMENT = "*** announcement from {name}: {text}"
SHUTDOWN_WARNING = "*** the server shuts down in {seconds} second(s){reason}"
SHUTDOWN_CANCELLED = "*** the shutdown was cancelled"
TYPING = "{name} is typing..."
TYPING_STOPPED = "{name} stopped typing"
HISTORY_START = "--- {count} earlier messages ---"
HISTORY_START_ONE = "--- 1 earlier message ---"
HISTORY_END = "--- end of history ---"
GROUP_PREFIX = "[#{group}] "
"""Prefix of a group's chat line, action or change: ``[#familia] alice: hi``."""
MENTION = "[mention] {name} mentioned you in {where}"
MENTION_MAIN = "the main chat"
GROUPS_HEADER = "groups ({count}):"
GROUPS_NONE = "  none yet: /create #name starts one"
GROUPS_ENTRY = "  #{name} - {visibility}, {members} member(s){role}{topic}"
MEMBERS_HEADER = "members of #{group} ({count}):"
MEMBERS_ENTRY = "  {name} - {status}{owner}"
MEMBERS_PENDING = "  waiting to join: {names}"
OLDER_START = "--- {count} older message(s) {where} ---"
"""Header of a ``/older`` page; ``where``: :data:`WHERE_MAIN`, :data:`WHERE_GROUP` or :data:`WHERE_PRIVATE`."""
OLDER_MORE = "--- more: /older {target}{cursor} ---"
OLDER_ALL = "--- start of the history ---"
RECEIPT = "{name} has read your messages sent until {time}"
"""A read receipt's wording (for completeness: text mode is never sent one)."""
WHERE_MAIN = "in the main chat"
WHERE_GROUP = "in #{group}"
WHERE_PRIVATE = "with {name}"
WHERE_EVERYWHERE = "in everything you can read"
SEARCH_START = "--- {count} result(s) for '{query}' {where}, newest first (at most {limit}) ---"
SEARCH_NONE = "no messages match '{query}' {where}"
SEARCH_END = "--- end of results ---"
HISTORY_TIME = "[{time}] "
"""Prefix of a history line; ``time`` is ``YYYY-MM-DD HH:MM`` in UTC."""

# Emoticons of seed 002's /shrug, /tableflip and /unflip (Slack's wording).
SHRUG = "¯\\_(ツ)_/¯"
TABLEFLIP = "(╯°□°)╯︵ ┻━┻"
UNFLIP = "┬─┬ノ( º _ ºノ)"


class GroupChange(enum.Enum):
    """What happened to a group, with its text-mode wording.

    Each is sent as a ``group`` event; the member name, lower-cased, is the ``change``
    of the JSON form. ``{group}`` is the group's name without ``#``; ``{name}`` the
    member concerned; ``{by}`` who did it; ``{text}`` the topic, the new name or the
    visibility.
    """

    CREATED = "[#{group}] {text} group created: others join with /join #{group}"
    JOINED = "[#{group}] {name} has joined the group"
    LEFT = "[#{group}] {name} has left the group"
    REQUESTED = "[#{group}] your request to join was sent to the owner: analysis in progress"
    REQUEST = "[#{group}] {name} asks to join: /accept {name} #{group} or /reject {name} #{group}"
    ACCEPTED = "[#{group}] your request to join was accepted by {by}"
    REJECTED = "[#{group}] your request to join was rejected by {by}"
    REQUEST_REJECTED = "[#{group}] the request of {name} was rejected by {by}"
    KICKED = "[#{group}] {name} was removed from the group by {by}"
    BANNED = "[#{group}] {name} was banned from the group by {by}"
    UNBANNED = "[#{group}] {name} is no longer banned from the group"
    OWNER = "[#{group}] {name} is now the owner"
    RENAMED = "[#{group}] the group is now #{text} (renamed by {by})"
    DELETED = "[#{group}] the group was deleted by {by}"
    DISBANDED = "[#{group}] the group was deleted: its last member left"
    TOPIC = "[#{group}] {by} set the topic: {text}"
    TOPIC_CLEARED = "[#{group}] {by} cleared the topic"
    TOPIC_IS = "[#{group}] topic: {text}"
    NO_TOPIC = "[#{group}] no topic set"

    @property
    def code(self) -> str:
        """The stable machine-readable code, e.g. ``"joined"``."""
        return self.name.lower()


class NoticeCode(enum.Enum):
    """Informational lines to one user, with their text-mode wording.

    The member name, lower-cased, is the ``code`` of the JSON ``notice`` event.
    """

    PRIVATE_OFFLINE = "{name} is offline; they will see your message when they log in"
    PRIVATE_OFFLINE_UNSAVED = (
        "{name} is offline, and the server cannot save messages right now: "
        "yours is kept and retried, but {name} may never see it"
    )
    NOT_SAVED = (
        "your message to {where} could not be saved yet (the server cannot write its history): "
        "it is kept and retried, but may be lost"
    )
    GROUP_LINES_LOST = (
        "{count} line(s) you sent to #{group} just now went to a group of that name another server had "
        "already made: they were not kept; #{group} is that group now, send them again there"
    )
    RECIPIENT_AWAY = "{name} is {status}: {message}"
    RECIPIENT_AWAY_NO_MESSAGE = "{name} is {status}"
    PASSWORD_CHANGED = "password changed"
    UNREGISTERED = "account {name} deleted, goodbye"
    GOODBYE = "goodbye"
    OFFLINE_MESSAGES = "{count} private message(s) arrived while you were away: type /history to read them"
    HISTORY_EMPTY = "no messages yet"
    HELP = "{text}"
    GAME_OFFER = "nobody else is here yet: type /play for a guess-the-number game while you wait"
    GAME_START = "I picked a number from 1 to {top}: type your guesses (/play again to stop)"
    GAME_HIGHER = "{guess} is too low, try higher"
    GAME_LOWER = "{guess} is too high, try lower"
    GAME_WON = "{guess} is right, found in {tries} guess(es)!"
    GAME_NOT_A_NUMBER = "type a number from 1 to {top} (or /play to stop)"
    GAME_STOPPED = "game stopped"
    GAME_OVER = "{name} has arrived: the game is over"
    ANNOUNCEMENTS_OFF = (
        "more than {limit} users are online: entered and left notices are off while so many are "
        "(/who lists who is online)"
    )
    KICKED = "you were disconnected by {by}{reason}"
    BANNED_NOW = "you are banned by {by} {until}{reason}"
    KICK_DONE = "{name} was disconnected"
    BAN_DONE = "{name} is banned {until}"
    UNBAN_DONE = "{name} is no longer banned"
    SHUTDOWN_STARTED = "shutdown in {seconds} second(s) started; /shutdown cancel stops it"
    SHUTDOWN_CANCELLED_DONE = "shutdown cancelled"
    FOCUS_GROUP = "plain lines now go to #{group}; /focus alone returns to the main chat"
    FOCUS_MAIN = "plain lines now go to the main chat"
    YOUR_GROUPS = "your groups: {names} (/groups lists them; #name text writes to one)"
    RECEIPTS_ON = "read receipts are on: people you write to see when you have read their messages, and you see when they read yours (/receipts off stops both)"
    RECEIPTS_OFF = "read receipts are off: nobody sees when you have read their messages, and you do not see when they read yours (/receipts on)"
    IGNORED = "you ignore {name} now: their lines, actions, private messages, mentions and typing are not shown to you (/unignore {name} undoes it)"
    ALREADY_IGNORED = "you ignore {name} already"
    UNIGNORED = "you no longer ignore {name}"
    IGNORE_LIST = "you ignore: {names}"
    IGNORE_NONE = "you ignore nobody (/ignore NAME hides someone's lines from you)"
    RATE_WARNING = "slow down: at most {rate} lines per second; lines are being dropped and flooding on will disconnect you"

    @property
    def code(self) -> str:
        """The stable machine-readable code, e.g. ``"password_changed"``."""
        return self.name.lower()


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
    LOCKED_OUT = "too many attempts, try again in {seconds} s"
    LINE_TOO_LONG = "line too long (over {limit} bytes), discarded"
    BAD_ENCODING = "line is not valid UTF-8, discarded"
    CONTROL_CHARACTERS = "line contains control characters, discarded"
    MULTILINE_MESSAGE = "a WebSocket message must be one line: this one has a line break inside, discarded"
    PASSWORD_TOO_SHORT = "password too short: at least {minimum} characters"
    PASSWORD_BLANK = "a password cannot be only spaces"
    INVISIBLE_CHARACTERS = "line contains an invisible or text-direction character ({char}), discarded"
    TOO_SLOW = "you are not reading your messages, closing the connection"
    INTERNAL = "server error, please try again later"
    CLUSTER_UNAVAILABLE = "the cluster is unavailable, try again shortly"
    CLUSTER_LINE_LOCAL = "the cluster is unavailable: your line reached only the users of this server"
    UNKNOWN_COMMAND = "unknown command /{name} (try /help)"
    USAGE = "usage: {usage}"
    NO_SUCH_USER = "no such user: {name}"
    MAILBOX_FULL = "{name}'s mailbox is full ({limit} unread messages): your message was not sent"
    MESSAGE_TO_SELF = "you cannot send a private message to yourself"
    BAD_NAME = "invalid name {name!r}: 1 to 32 letters, digits, '_', '-' or '.'"
    LOOKALIKE_NAME = "that name looks too much like an existing one"
    MIXED_SCRIPT_NAME = "that name mixes Latin, Cyrillic or Greek letters: write it in one alphabet"
    PRECONFIGURED_ACCOUNT = "{name} is a preconfigured account: it belongs to the server's accounts file"
    NOT_ALONE = "the game is only for when nobody else is here"
    NO_SUCH_COMMAND_HELP = "no manual entry for /{name} (try /help)"
    NOT_ADMIN = "/{name} is for admins only"
    NOT_ONLINE = "{name} is not online"
    NOT_YOURSELF = "you cannot /{name} yourself"
    NOT_BANNED = "{name} is not banned"
    BANNED = "this account is banned {until}{reason}"
    BAD_DURATION = "invalid duration {text!r}: use a number with s, m, h or d (e.g. 30m, 2h, 7d)"
    NO_SHUTDOWN = "no shutdown is under way"
    SERVER_CLOSING = "the server is shutting down; try again later"
    TOO_MANY_CONNECTIONS = "too many connections from your address, closing this one"
    SERVER_BUSY = "the server has too many connections, try again later"
    REGISTER_RATE = "too many new accounts from your address, try again later"
    ADDRESS_BANNED = "your address is banned {until}{reason}"
    NO_NEW_ACCOUNTS = "this server takes no new accounts (it has {limit}, the most allowed)"
    DATABASE_UNAVAILABLE = "the account database is unavailable, try again shortly"
    LOGIN_TIMEOUT = "no login within {seconds} seconds, closing the connection"
    FLOODING = "too many lines too fast, closing the connection"
    ALREADY_LOGGED_IN = "you are already logged in; that line was not sent"
    BAD_GROUP_NAME = "invalid group name {name!r}: # then 1 to 32 letters, digits, '_', '-' or '.'"
    NO_SUCH_GROUP = "no such group: #{group}"
    GROUP_EXISTS = "#{group} exists already"
    NOT_MEMBER = "you are not a member of #{group}"
    NOT_MEMBER_LINE = "you are not a member of #{group}; that line was not sent (/join #{group} first)"
    NOT_IN_GROUP_LINE = "you are not in #{group}: that line was not sent (to say it to everyone anyway: /say #{group} ...)"
    ALREADY_MEMBER = "you are already a member of #{group}"
    NOT_GROUP_OWNER = "only the owner of #{group} (or an admin) can do that"
    GROUP_BANNED = "you are banned from #{group}"
    REQUEST_PENDING = "your request to join #{group} is already waiting for the owner"
    NO_REQUEST = "{name} has not asked to join #{group}"
    NOT_A_MEMBER = "{name} is not a member of #{group}"
    GROUP_NOT_BANNED = "{name} is not banned from #{group}"
    OWNER_PROTECTED = "{name} owns #{group}: the owner cannot be removed or banned"
    TOO_MANY_GROUPS = "you own {limit} group(s) already, the most allowed"
    GROUP_FULL = "#{group} is full ({limit} members)"
    TOO_MANY_REQUESTS = "#{group} has {limit} join request(s) waiting already; try again later"
    SAME_GROUP_NAME = "#{group} is already called that"
    GROUP_NEEDS_HASH = "#{group} is a group: write /{command} {name} #{group} (a one-word reason naming a group is not taken)"
    BAD_CURSOR = "bad cursor '{cursor}': give a message id, a time such as 2026-11-21T10:39:59.750Z, or now"
    BAD_TIME = "bad time '{time}': give a time such as 2026-11-21T10:39:59.750Z, or now"
    BAD_SEARCH = "search for at least one word of {minimum} or more letters or digits"
    TOO_MANY_SESSIONS = "this account is logged in on {limit} devices already, the most allowed: log out on one of them first"
    IGNORE_SELF = "you cannot ignore yourself"
    NOT_IGNORED = "you do not ignore {name}"
    BAD_LABEL = "bad label: write @label=ID then a space and the line (ID: 1 to {limit} letters, digits, '_', '-' or '.'); line discarded"

    @property
    def code(self) -> str:
        """The stable machine-readable code, e.g. ``"wrong_password"``."""
        return self.name.lower()


# --- Server command line ---------------------------------------------------------------
MAX_USERS_PROMPT = "enter the number of people the chat can have"
LISTENING = "listening on {host}:{port}"
TLS_LISTENING = "tls: listening on {host}:{port}"
WEB_CLIENT = "web client: {url}"
WEB_CLIENT_OTHERS = "web client from other machines: {urls}"
IRC_LISTENING = "{label}: listening on {host}:{port}"
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
# TLS (pollchat.client.tls): one line each, shown on stderr or in the TUI's login form.
CLIENT_TLS_VERIFY_FAILED = "TLS: certificate verify failed: {reason}{hint}"
CLIENT_TLS_HINT_CAFILE = " (use --cafile FILE to trust it)"
CLIENT_TLS_HINT_NAME = " (connect with a name the certificate lists)"
CLIENT_TLS_HANDSHAKE_FAILED = "TLS: handshake with {host}:{port} failed: {reason}{hint}"
CLIENT_TLS_HINT_NOT_TLS = " (not a TLS port? plain pollchat listens on 3490, TLS on 3491)"
CLIENT_TLS_PEER_CLOSED = "the server closed the connection"
CLIENT_TLS_TIMED_OUT = "timed out"
CLIENT_TLS_BAD_CAFILE = "cannot use --cafile {path}: {reason}"
CLIENT_TUI_TLS_MARK = "🔒 TLS"
# The full-screen client (pollchat.client.app, .screen, .tui):
# Login refusals told in words from the JSON error code (the seed's line stays as it is):
CLIENT_ALREADY_ONLINE = "{name} is already logged in elsewhere"
CLIENT_TOO_MANY_SESSIONS = "{name} is already logged in on as many devices as the server allows: log out on one of them first"
CLIENT_TUI_UNAVAILABLE = "the terminal UI cannot start here ({reason}); using line mode"
CLIENT_TUI_NEEDS_UTF8 = "the terminal UI needs a UTF-8 locale (check the output of `locale`); using line mode"
CLIENT_TUI_TOO_SMALL = "terminal too small: {width}x{height}"
CLIENT_TUI_TOO_SMALL_NEED = "make it at least {width}x{height}"
CLIENT_TUI_CONNECTING = "connecting to {host}:{port}..."
CLIENT_TUI_LOGGING_IN = "logging in as {name}..."
CLIENT_TUI_RECONNECTING = "{reason}: reconnecting in {seconds}s"
CLIENT_TUI_RECONNECT_NOW = "reconnecting now..."
CLIENT_TUI_CONNECTED_AGAIN = "connected again as {name}"
CLIENT_TUI_NOT_CONNECTED = "not connected: the line was kept, send it again once connected"
CLIENT_TUI_MAIN_CHAT = "main chat"
CLIENT_TUI_MAIN_TITLE = "main chat · {count} online"
CLIENT_TUI_PRIVATE_TITLE = "{name} · {status}"
CLIENT_TUI_ONLINE_TITLE = "online ({count})"
CLIENT_TUI_CHATS_TITLE = "chats"
CLIENT_TUI_OFFLINE_HEADER = "offline"
CLIENT_TUI_NOBODY = "nobody else yet"
CLIENT_TUI_FILTER = "find: "
CLIENT_TUI_FILTER_EMPTY = "type to find"
CLIENT_TUI_NEW_CHAT = "[+] New chat"
CLIENT_TUI_YOU = "you"
CLIENT_TUI_ME_LABEL = "{name} ({status})"
CLIENT_TUI_MENTION = "{name} mentioned you in {where}"
CLIENT_TUI_PRIVATE = "{name} wrote to you"
CLIENT_TUI_MORE_NOTICES = " (+{count} more)"
CLIENT_TUI_MISSED = "{count} missed"
CLIENT_TUI_NOTHING_NEW = "no new messages"
CLIENT_TUI_TYPING_TWO = "{first} and {second} are typing..."
CLIENT_TUI_TYPING_MANY = "several people are typing..."
CLIENT_TUI_HISTORY_BEGIN = "history"
CLIENT_HISTORY_START = "start of the history: nothing older is kept"
CLIENT_SENT = " ✓"
"""After a private message the server has stored (sent)."""
CLIENT_READ = " ✓✓"
"""After a private message its recipient has read (a read receipt)."""
CLIENT_TUI_HISTORY_END = "end of history"
CLIENT_TUI_MORE_BELOW = "{count} more below: PgDn"
CLIENT_TUI_PLACEHOLDER_MAIN = "Message everyone..."
CLIENT_TUI_PLACEHOLDER_PRIVATE = "Reply to {name}..."
CLIENT_TUI_PLACEHOLDER_OFFLINE = "(not connected)"
CLIENT_TUI_NEW_CHAT_PROMPT = "New chat with: type a name or #group, Enter opens, Esc cancels"
CLIENT_TUI_BAD_NAME = "invalid name {name!r}: 1 to {limit} letters, digits, '_', '-' or '.'"
CLIENT_TUI_NOT_YOURSELF = "that is you: pick someone else"
CLIENT_TUI_OFFLINE_MESSAGES = "{count} private messages arrived while you were away: see the chats pane"
CLIENT_TUI_OFFLINE_MESSAGE = "1 private message arrived while you were away: see the chats pane"
# Groups in the full-screen client:
CLIENT_TUI_CHATS_TITLE_GROUPS = "chats · 👥 {count}"
CLIENT_TUI_GROUP_LABEL = "#{name}"
CLIENT_TUI_GROUP_TITLE = "#{name} · {detail}"
CLIENT_TUI_GROUP_MEMBERS = "{count} members"
CLIENT_TUI_GROUP_MEMBER = "1 member"
CLIENT_TUI_GROUP_DETAIL = "group"
CLIENT_TUI_GROUP_GONE_MARK = " ✗"
CLIENT_TUI_GROUP_LEFT = "you left the group"
CLIENT_TUI_GROUP_REMOVED = "you were removed from the group"
CLIENT_TUI_GROUP_DELETED = "the group was deleted"
CLIENT_TUI_GROUP_NOT_MEMBER = "you are not a member"
CLIENT_TUI_GROUP_RENAMED = "renamed to #{name}"
CLIENT_TUI_PLACEHOLDER_GROUP = "Message #{name}..."
CLIENT_TUI_PLACEHOLDER_GONE = "#{name}: {reason} (/join #{name} to come back)"
CLIENT_TUI_NOT_IN_GROUP = "not sent: #{name}: {reason}"
CLIENT_TUI_BAD_GROUP = "invalid group name {name!r}: # then 1 to {limit} letters, digits, '_', '-' or '.'"
# Pasting several lines, and the group finder (F3):
CLIENT_TUI_PASTE_ASK = "send {count} pasted lines? Enter sends them, Esc cancels"
CLIENT_TUI_PASTE_PREVIEW = "{first} (+{more} more lines)"
CLIENT_TUI_PASTE_CANCELLED = "paste cancelled: nothing was sent"
CLIENT_TUI_PASTE_UNSENT = "{count} pasted line(s) were not sent: the connection was lost"
CLIENT_TUI_PASTE_SENDING = "sending the paste: {count} line(s) to go"
CLIENT_TUI_GROUPS_TITLE = "groups on this server"
CLIENT_TUI_SEARCH_TITLE = "search: {query}"
CLIENT_TUI_SEARCH_HINTS = "↑↓ pick · Enter open the conversation at the message · Esc close"
CLIENT_TUI_SEARCH_NONE = "no messages match: the newest 20 matches are listed, try other words"
CLIENT_TUI_SEARCH_MAIN = "main chat"
CLIENT_TUI_JUMP_TOO_FAR = "the message is further back than {pages} pages: PgUp at the top goes on"
CLIENT_TUI_GROUPS_HINTS = "↑↓ pick · Enter join or open · Esc close"
CLIENT_TUI_GROUPS_HEADER = "members  you"
CLIENT_TUI_GROUPS_ASKING = "asking the server for its groups..."
CLIENT_TUI_GROUPS_NONE = "no groups yet: /create #name starts one"
CLIENT_TUI_GROUPS_PRIVATE = "private"
CLIENT_TUI_GROUPS_ROLES = {"owner": "owner", "member": "member", "pending": "asked", "": "-"}
CLIENT_TUI_GROUPS_WAITING = "#{name}: your request to join is waiting for the owner"
CLIENT_TUI_SETTINGS_NOT_SAVED = "settings not saved: {reason}"
CLIENT_TUI_HINTS = "Tab panes · ↑↓ Enter open · PgUp/PgDn scroll · F3 groups · F1 help · Esc quit"
CLIENT_TUI_HINTS_SHORT = "Tab · F1 help · Esc quit"
CLIENT_TUI_LOGIN_TITLE = "pollchat · {host}:{port}"
CLIENT_TUI_LOGIN_ACTION = "({login}) log in   ({register}) register"
CLIENT_TUI_LOGIN_NAME = "name:     "
CLIENT_TUI_LOGIN_PASSWORD = "password: "
CLIENT_TUI_LOGIN_HIDDEN = "(not shown)"
CLIENT_TUI_LOGIN_HINTS = "Tab next · ←→ log in/register · Enter connect · Esc quit"
CLIENT_TUI_LOGIN_HINTS_NAME = "Tab next · ↑ log in/register · Enter connect · Esc quit"
CLIENT_TUI_NO_SUCH_PERSON = "no chat opened: nobody is called {name} here"
CLIENT_TUI_NEED_NAME = "type your user name"
CLIENT_TUI_NEED_PASSWORD = "type your password"
CLIENT_TUI_STATUS_OFFLINE = "offline"
CLIENT_TUI_IGNORED_MARK = " (ignored)"
"""After the name of someone the user ignores, in the online pane (F4 turns it over)."""
CLIENT_TUI_HELP_TITLE = "pollchat help (any key closes)"
CLIENT_TUI_HELP = """\
Tab, Shift+Tab   move between online, chats and the conversation
Up, Down         pick a person or a chat; in the input: earlier lines
Enter            open the person or chat picked; in the input: send
PgUp, PgDn       scroll; PgUp at the top loads older messages
F2, p in chats   pin or unpin a chat: pinned chats come first
F3               find groups (public ones, members, topics); Enter joins
F4               ignore (or unignore) the person picked or chatted with
F1               this help;  Esc or Ctrl+C: quit
Pasted lines are sent as lines, in order (above 5, you are asked first).
In the online pane, type to search by name.
In a private chat a line is sent to that person; in a #group to its
members; in the main chat to everyone. A line starting with / is a
command: /help lists them all (/msg NAME text, /me, /shrug, /away,
/status, /who, /whois, /nick...).
Groups: /create #name [private], /join #name (or [+] New chat, #name),
/leave #name, /groups, /members #name, /topic #name text; owners also
/accept NAME #name, /kick NAME #name, /rename #name #new, /delete #name.
Markers: + active  ! busy  ~ away  z inactive  - offline  (idle time)
         ✉(N) unread  ● new activity  📌 pinned  ▸ open chat
         #name a group  ✗ a group you are no longer in  👥 N your groups"""


# --- Values as the texts' placeholders show them ----------------------------------------------


def format_time(ts: float) -> str:
    """``ts`` (seconds since the epoch) as ``YYYY-MM-DD HH:MM`` UTC, for text mode and
    the texts above.

    Raises:
        ValueError, OverflowError, OSError: ``ts`` is not a time that can be shown.
    """
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def ban_period(until: float | None) -> str:
    """A ban's ``{until}`` placeholder: ``until 2026-11-21 12:00 UTC`` (``until`` in
    seconds since the epoch) or ``for good`` (``None``)."""
    return f"until {format_time(until)} UTC" if until is not None else "for good"
